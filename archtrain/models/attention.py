"""Attention models: the encoder-decoder Transformer and the decoder-only GPT."""

from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from archtrain.models.blocks import KVCache, PositionalEncoding, TransformerBlock, depth_rates, sample_next
from archtrain.models.protocol import Network


def length_norm(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """GNMT's length normalization (Wu et al., 2016): ((5 + length) / 6) ** alpha; alpha=0 ranks by log-probability."""
    return ((5 + lengths) / 6) ** alpha


class Transformer(Network):
    """Transformer (Vaswani et al., 2017): encoder, decoder with cross-attention, sinusoidal positions by
    default; decodes greedily or, with `beam_size` > 1, by beam search."""

    per_step = True

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        d_model: int = 64,
        num_heads: int = 4,
        encoder_layers: int = 2,
        decoder_layers: int = 2,
        ff_mult: int = 4,
        dropout: float = 0.1,
        drop_path: float = 0.0,
        prenorm: bool = True,
        positions: str = "sinusoidal",
        beam_size: int = 1,
        length_penalty: float = 0.6,
        pad_id: int = 0,
        eos_id: int | None = None,
    ):
        super().__init__()
        self.pad_id, self.eos_id, self.scale = pad_id, eos_id, d_model**0.5
        self.beam_size, self.length_penalty = beam_size, length_penalty
        self.embed = nn.Embedding(vocab_size, d_model)
        self.positions = PositionalEncoding(positions, max_len, d_model, num_heads)
        self.drop = nn.Dropout(dropout)

        def blocks(depth: int, cross: bool) -> nn.ModuleList:
            return nn.ModuleList(
                TransformerBlock(
                    d_model,
                    num_heads,
                    ff_mult,
                    dropout,
                    cross=cross,
                    drop_path=rate,
                    prenorm=prenorm,
                    rotary=self.positions.rotary,
                )
                for rate in depth_rates(drop_path, depth)
            )

        self.encoder, self.decoder = blocks(encoder_layers, cross=False), blocks(decoder_layers, cross=True)
        self.norm_enc, self.norm_dec = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def _embed(self, ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        return self.drop(self.positions(self.embed(ids) * self.scale, offset))

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's memory and the mask of its non-padding positions."""
        mask = (src != self.pad_id)[:, None, None, :]
        x = self._embed(src)
        for block in self.encoder:
            x = block(x, mask=mask)
        return self.norm_enc(x), mask

    def run_decoder(
        self, tgt: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor, caches: list[KVCache] | None = None
    ) -> torch.Tensor:
        """The decoder's final states for `tgt`; with `caches` (one per decoder layer), `tgt` holds only the
        new steps."""
        caches = caches or [None] * len(self.decoder)
        x = self._embed(tgt, caches[0].length if caches[0] else 0)
        for block, cache in zip(self.decoder, caches):
            x = block(x, causal=True, memory=memory, memory_mask=memory_mask, cache=cache)
        return self.norm_dec(x)

    def features(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """The decoder's final states at every target position (teacher forcing)."""
        return self.run_decoder(tgt, *self.encode(src))

    @torch.no_grad()
    def decode(
        self,
        src: torch.Tensor,
        bos_id: int,
        max_len: int,
        beam_size: int | None = None,
        eos_id: int | None = None,
        length_penalty: float | None = None,
    ) -> torch.Tensor:
        """Decode `max_len` tokens after <s> by beam search (beam_size=1 is greedy decoding), encoding the
        source once and caching the decoder's keys and values. A hypothesis ends at `eos_id`: it keeps its
        </s> and pad ids follow. The best final hypothesis by log-probability / length_penalty wins.
        Arguments left None take the model's own settings."""
        beams = beam_size or self.beam_size
        eos = self.eos_id if eos_id is None else eos_id
        alpha = self.length_penalty if length_penalty is None else length_penalty
        batch, vocab, device = len(src), self.head.out_features, src.device
        memory, mask = (t.repeat_interleave(beams, dim=0) for t in self.encode(src))
        caches = [KVCache() for _ in self.decoder]
        first_row = torch.arange(batch, device=device).unsqueeze(1) * beams  # of each source's beams
        ended = torch.full((vocab,), float("-inf"), device=device)
        ended[self.pad_id] = 0.0  # a finished hypothesis only continues with pad
        tokens = torch.full((batch * beams, 1), bos_id, dtype=torch.long, device=device)
        out = tokens[:, :0]
        scores = torch.full((batch, beams), float("-inf"), device=device)
        scores[:, 0] = 0.0  # one live hypothesis per source to begin with
        lengths = torch.zeros(batch, beams, device=device)
        done = torch.zeros(batch, beams, dtype=torch.bool, device=device)
        for _ in range(max_len):
            logits = self.head(self.run_decoder(tokens, memory, mask, caches)[:, -1])
            logp = F.log_softmax(logits.float(), dim=-1)
            total = scores.unsqueeze(2) + torch.where(done.unsqueeze(2), ended, logp.view(batch, beams, vocab))
            grown = (lengths + ~done).unsqueeze(2)
            best = (total / length_norm(grown, alpha)).flatten(1).topk(beams, dim=1).indices
            origin, token = best // vocab, best % vocab
            scores, lengths = total.flatten(1).gather(1, best), grown.squeeze(2).gather(1, origin)
            done = done.gather(1, origin) | (token == eos)
            keep = (first_row + origin).flatten()
            out, tokens = torch.cat([out[keep], token.view(-1, 1)], dim=1), token.view(-1, 1)
            for cache in caches:
                cache.reorder(keep)
            if done.all():
                break
        winner = first_row.squeeze(1) + (scores / length_norm(lengths, alpha)).argmax(dim=1)
        return F.pad(out[winner], (0, max_len - out.shape[1]), value=self.pad_id)


def eager_decoding():
    """Run a compiled net eagerly inside the block (torch >= 2.6; a no-op on older torch)."""
    return torch.compiler.set_stance("force_eager") if hasattr(torch.compiler, "set_stance") else nullcontext()


class GPT(Network):
    """GPT (Radford et al., 2018): causal self-attention blocks with learned positions and tied weights;
    optionally sinusoidal or rotary positions, mixture-of-experts feed-forward networks, and no biases
    in its linear maps and layer norms (`bias=False`, as nanoGPT's default)."""

    per_step = True

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        num_layers: int = 4,
        num_heads: int = 4,
        d_model: int = 128,
        dropout: float = 0.0,
        drop_path: float = 0.0,
        prenorm: bool = True,
        positions: str = "learned",
        moe_experts: int = 0,
        moe_top_k: int = 2,
        moe_aux_weight: float = 0.01,
        bias: bool = True,
    ):
        super().__init__()
        self.seq_len = seq_len
        self.token = nn.Embedding(vocab_size, d_model)
        self.positions = PositionalEncoding(positions, seq_len, d_model, num_heads)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                d_model,
                num_heads,
                4,
                dropout,
                drop_path=rate,
                prenorm=prenorm,
                rotary=self.positions.rotary,
                moe_experts=moe_experts,
                moe_top_k=moe_top_k,
                moe_aux_weight=moe_aux_weight,
                bias=bias,
            )
            for rate in depth_rates(drop_path, num_layers)
        )
        self.norm = nn.LayerNorm(d_model, bias=bias)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.token.weight  # weight tying (Press & Wolf, 2017)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def features(self, ids: torch.Tensor, caches: list[KVCache] | None = None) -> torch.Tensor:
        """The final states; with `caches` (one per layer), `ids` holds only the steps not cached yet."""
        caches = caches or [None] * len(self.blocks)
        x = self.drop(self.positions(self.token(ids), caches[0].length if caches[0] else 0))
        for block, cache in zip(self.blocks, caches):
            x = block(x, causal=True, cache=cache)
        return self.norm(x)

    @torch.no_grad()
    def sample(
        self, prompt_ids: torch.Tensor, length: int, temperature: float = 1.0, top_k: int | None = None
    ) -> torch.Tensor:
        """Extend `prompt_ids` (batch, time) by `length` sampled tokens. The prompt runs once, then each new
        token runs alone against the cached keys and values. A window longer than seq_len tokens drops
        its oldest token, which moves every position, so the cache is then rebuilt from the last seq_len.
        A compiled net (hardware.compile) decodes eagerly: every step has new shapes to compile for."""
        ids, fresh, caches = prompt_ids, prompt_ids, None
        with eager_decoding():
            for _ in range(length):
                if caches is None or caches[0].length + fresh.shape[1] > self.seq_len:
                    caches, fresh = [KVCache() for _ in self.blocks], ids[:, -self.seq_len :]
                fresh = sample_next(self(fresh, caches)[:, -1], temperature, top_k)
                ids = torch.cat([ids, fresh], dim=1)
        return ids
