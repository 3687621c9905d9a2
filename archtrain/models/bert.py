"""BERT (Devlin et al., 2018): a bidirectional Transformer encoder under a masked-LM or a classification head.

The encoder's parameters live under `encoder.` whichever head sits on top, so that the encoder of a
masked-LM pretraining run loads into a classifier (`models/pretrained.py`).
"""

import torch
from torch import nn

from archtrain.errors import ArchtrainError
from archtrain.models.blocks import PositionalEncoding, TransformerBlock, depth_rates
from archtrain.models.protocol import Network

POOLINGS = ("cls", "mean")


class BertEncoder(nn.Module):
    """Token embeddings and positions, then Transformer blocks that see every position but padding."""

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        num_layers: int,
        num_heads: int,
        d_model: int,
        ff_mult: int,
        dropout: float,
        drop_path: float,
        prenorm: bool,
        pad_id: int,
        positions: str,
        moe_experts: int,
        moe_top_k: int,
        moe_aux_weight: float,
    ):
        super().__init__()
        self.pad_id = pad_id
        self.token = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.token.weight, std=0.02)  # small, as the table is also the MLM output layer
        self.positions = PositionalEncoding(positions, seq_len, d_model, num_heads)
        self.embed_norm, self.drop = nn.LayerNorm(d_model), nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                d_model,
                num_heads,
                ff_mult,
                dropout,
                drop_path=rate,
                prenorm=prenorm,
                rotary=self.positions.rotary,
                moe_experts=moe_experts,
                moe_top_k=moe_top_k,
                moe_aux_weight=moe_aux_weight,
            )
            for rate in depth_rates(drop_path, num_layers)
        )
        self.norm = nn.LayerNorm(d_model) if prenorm else nn.Identity()  # post-norm blocks end normalized

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(batch, seq) token ids -> (batch, seq, d_model) hidden states."""
        mask = (ids != self.pad_id)[:, None, None, :]
        x = self.drop(self.embed_norm(self.positions(self.token(ids))))
        for block in self.blocks:
            x = block(x, mask=mask)
        return self.norm(x)


class MaskedLMHead(nn.Module):
    """Token logits at every position: dense, GELU, LayerNorm, then the token embedding (tied weights)."""

    def __init__(self, token: nn.Embedding):
        super().__init__()
        width = token.embedding_dim
        self.transform = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.LayerNorm(width))
        self.decoder = nn.Linear(width, token.num_embeddings)
        self.decoder.weight = token.weight

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden))


class ClassificationHead(nn.Module):
    """Class logits from one vector per sequence, through BERT's tanh pooler layer."""

    def __init__(self, width: int, num_classes: int, dropout: float):
        super().__init__()
        self.dense, self.drop, self.out = nn.Linear(width, width), nn.Dropout(dropout), nn.Linear(width, num_classes)

    def forward(self, summary: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(torch.tanh(self.dense(summary))))


class BERT(Network):
    """The encoder and one head. With `per_step` the head predicts the token at every position (masked
    LM; its output layer is the token embedding, so `num_classes`, if given, must be `vocab_size`); else
    it classifies each sequence into `num_classes` from the [CLS] (first) position's state, or with
    `pooling='mean'` from the mean over the positions that are not padding. Learned positions by default,
    as in BERT; optionally sinusoidal or rotary positions and mixture-of-experts feed-forward networks, as in GPT."""

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        num_classes: int | None = None,
        per_step: bool = False,
        num_layers: int = 4,
        num_heads: int = 4,
        d_model: int = 128,
        ff_mult: int = 4,
        dropout: float = 0.1,
        drop_path: float = 0.0,
        prenorm: bool = True,
        pad_id: int = 0,
        positions: str = "learned",
        moe_experts: int = 0,
        moe_top_k: int = 2,
        moe_aux_weight: float = 0.01,
        pooling: str = "cls",
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ArchtrainError(f"unknown pooling '{pooling}'; choose from {', '.join(POOLINGS)}")
        if per_step and num_classes not in (None, vocab_size):
            raise ArchtrainError(
                f"BERT's masked-LM head predicts the {vocab_size} tokens of the vocabulary, "
                f"not {num_classes} outputs per position"
            )
        if not per_step and num_classes is None:
            raise ArchtrainError("BERT's classifier needs num_classes (or per_step=True for the masked-LM head)")
        self.per_step, self.pooling, self.dropout = per_step, pooling, dropout
        self.encoder = BertEncoder(
            vocab_size,
            seq_len,
            num_layers,
            num_heads,
            d_model,
            ff_mult,
            dropout,
            drop_path,
            prenorm,
            pad_id,
            positions,
            moe_experts,
            moe_top_k,
            moe_aux_weight,
        )
        self.head = MaskedLMHead(self.encoder.token) if per_step else ClassificationHead(d_model, num_classes, dropout)

    @property
    def num_features(self) -> int:
        return self.encoder.token.embedding_dim

    def reset_head(self, outputs: int) -> None:
        self.head = ClassificationHead(self.num_features, outputs, self.dropout)

    def features(self, ids: torch.Tensor) -> torch.Tensor:
        """The hidden states (batch, seq, d_model) with per_step, else one summary (batch, d_model) per sequence."""
        hidden = self.encoder(ids)
        return hidden if self.per_step else self.summary(hidden, ids != self.encoder.pad_id)

    def summary(self, hidden: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """One vector per sequence from the hidden states and the mask of real (non-padding) tokens."""
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = real.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1)
