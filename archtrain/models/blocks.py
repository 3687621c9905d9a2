"""Layers shared across the zoo."""

import math

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "silu": nn.SiLU,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation '{name}'; choose from {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class Attention(nn.Module):
    """Multi-head attention through scaled_dot_product_attention; self- or cross-attention."""

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.num_heads, self.dropout = num_heads, dropout
        self.query = nn.Linear(d_model, d_model)
        self.key_value = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, causal: bool = False) -> torch.Tensor:
        """`mask` is True where a query may attend, broadcastable to (batch, heads, query, key)."""
        context = x if context is None else context
        q = self._heads(self.query(x))
        k, v = (self._heads(t) for t in self.key_value(context).chunk(2, dim=-1))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).flatten(2))

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        return t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)


class FeedForward(nn.Sequential):
    """The position-wise two-layer network of a Transformer block."""

    def __init__(self, d_model: int, mult: int = 4, dropout: float = 0.0):
        super().__init__(nn.Linear(d_model, mult * d_model), nn.GELU(),
                         nn.Linear(mult * d_model, d_model), nn.Dropout(dropout))


class DropPath(nn.Module):
    """Stochastic depth (Huang et al., 2016): zero a residual branch for whole examples at random."""

    def __init__(self, rate: float = 0.0):
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1 - self.rate)
        return x * keep / (1 - self.rate)


def depth_rates(rate: float, depth: int) -> list[float]:
    """Stochastic-depth rates rising linearly from 0 at the first block to `rate` at the last."""
    return [rate * i / max(1, depth - 1) for i in range(depth)]


class TransformerBlock(nn.Module):
    """Self-attention, optional cross-attention to a memory, and feed-forward, each a residual branch.

    `prenorm` normalizes each branch's input (Xiong et al., 2020), which trains stably without
    warmup; otherwise each sum is normalized, as in the original Transformer (post-norm).
    """

    def __init__(self, d_model: int, num_heads: int, ff_mult: int = 4, dropout: float = 0.0,
                 cross: bool = False, drop_path: float = 0.0, prenorm: bool = True):
        super().__init__()
        self.prenorm, self.cross = prenorm, cross
        self.norm1, self.attn = nn.LayerNorm(d_model), Attention(d_model, num_heads, dropout)
        if cross:
            self.norm_cross, self.cross_attn = nn.LayerNorm(d_model), Attention(d_model, num_heads, dropout)
        self.norm2, self.ff = nn.LayerNorm(d_model), FeedForward(d_model, ff_mult, dropout)
        self.drop = nn.Dropout(dropout)
        self.drop_path = DropPath(drop_path)

    def _residual(self, x: torch.Tensor, norm: nn.Module, branch) -> torch.Tensor:
        if self.prenorm:
            return x + self.drop_path(branch(norm(x)))
        return norm(x + self.drop_path(branch(x)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False,
                memory: torch.Tensor | None = None, memory_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self._residual(x, self.norm1, lambda h: self.drop(self.attn(h, mask=mask, causal=causal)))
        if self.cross:
            x = self._residual(x, self.norm_cross, lambda h: self.drop(self.cross_attn(h, memory, mask=memory_mask)))
        return self._residual(x, self.norm2, self.ff)


def sinusoidal_positions(length: int, d_model: int) -> torch.Tensor:
    """The fixed sine/cosine position table of Vaswani et al. (2017), shape (length, d_model)."""
    position = torch.arange(length).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


def sequence_input(width: int, in_features: int | None = None, vocab_size: int | None = None) -> nn.Module:
    """Token ids through an embedding, or feature vectors through a linear map, to `width` channels."""
    return nn.Embedding(vocab_size, width) if vocab_size is not None else nn.Linear(in_features, width)


def readout_size(out_features: int | None = None, num_classes: int | None = None,
                 vocab_size: int | None = None) -> int:
    """Outputs of a sequence model: next-token logits, class logits or forecast values."""
    return vocab_size or num_classes or out_features
