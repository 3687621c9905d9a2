"""Attention models: the encoder-decoder Transformer and the decoder-only GPT."""

import torch
from torch import nn

from archtrain.models.blocks import TransformerBlock, depth_rates, sinusoidal_positions


class Transformer(nn.Module):
    """Transformer (Vaswani et al., 2017): encoder, decoder with cross-attention, sinusoidal positions."""

    def __init__(self, vocab_size: int, max_len: int, d_model: int = 64, num_heads: int = 4,
                 encoder_layers: int = 2, decoder_layers: int = 2, ff_mult: int = 4,
                 dropout: float = 0.1, drop_path: float = 0.0, prenorm: bool = True, pad_id: int = 0):
        super().__init__()
        self.pad_id, self.scale = pad_id, d_model ** 0.5
        self.embed = nn.Embedding(vocab_size, d_model)
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model), persistent=False)
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.ModuleList(TransformerBlock(d_model, num_heads, ff_mult, dropout, drop_path=rate,
                                                      prenorm=prenorm)
                                     for rate in depth_rates(drop_path, encoder_layers))
        self.decoder = nn.ModuleList(TransformerBlock(d_model, num_heads, ff_mult, dropout, cross=True,
                                                      drop_path=rate, prenorm=prenorm)
                                     for rate in depth_rates(drop_path, decoder_layers))
        self.norm_enc, self.norm_dec = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.drop(self.embed(ids) * self.scale + self.positions[: ids.shape[1]])

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's memory and the mask of its non-padding positions."""
        mask = (src != self.pad_id)[:, None, None, :]
        x = self._embed(src)
        for block in self.encoder:
            x = block(x, mask=mask)
        return self.norm_enc(x), mask

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor) -> torch.Tensor:
        x = self._embed(tgt)
        for block in self.decoder:
            x = block(x, causal=True, memory=memory, memory_mask=memory_mask)
        return self.head(self.norm_dec(x))

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Next-token logits for every decoder position (teacher forcing)."""
        return self.decode(tgt, *self.encode(src))

    @torch.no_grad()
    def generate(self, src: torch.Tensor, bos_id: int, max_len: int) -> torch.Tensor:
        """Greedy decoding: `max_len` tokens after <s>, encoding the source once."""
        memory, mask = self.encode(src)
        out = torch.full((len(src), 1), bos_id, dtype=torch.long, device=src.device)
        for _ in range(max_len):
            next_id = self.decode(out, memory, mask)[:, -1].argmax(-1, keepdim=True)
            out = torch.cat([out, next_id], dim=1)
        return out[:, 1:]


class GPT(nn.Module):
    """GPT (Radford et al., 2018): causal self-attention blocks with learned positions and tied weights."""

    def __init__(self, vocab_size: int, seq_len: int, num_layers: int = 4, num_heads: int = 4,
                 d_model: int = 128, dropout: float = 0.0, drop_path: float = 0.0, prenorm: bool = True):
        super().__init__()
        self.seq_len = seq_len
        self.token = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(seq_len, d_model)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(TransformerBlock(d_model, num_heads, 4, dropout, drop_path=rate, prenorm=prenorm)
                                    for rate in depth_rates(drop_path, num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.token.weight            # weight tying (Press & Wolf, 2017)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.drop(self.token(ids) + self.position(positions))
        for block in self.blocks:
            x = block(x, causal=True)
        return self.head(self.norm(x))
