"""Layers shared across the zoo."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from archtrain.errors import ArchtrainError

ACTIVATIONS = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
POSITIONS = ("sinusoidal", "learned", "rotary")


def activation(name: str) -> nn.Module:
    """A fresh activation module by name."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation '{name}'; choose from {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def sinusoidal_positions(length: int, d_model: int) -> torch.Tensor:
    """The fixed sine/cosine position table of Vaswani et al. (2017), shape (length, d_model)."""
    return sinusoidal_embedding(torch.arange(length), d_model)


def sinusoidal_embedding(positions: torch.Tensor, d_model: int) -> torch.Tensor:
    """Vaswani et al.'s sines and cosines of any positions (a diffusion model's timesteps too): (n, d_model)."""
    angle = positions.float().unsqueeze(1) * torch.exp(
        torch.arange(0, d_model, 2, device=positions.device) * (-math.log(10000.0) / d_model)
    )
    table = torch.zeros(len(positions), d_model, device=positions.device)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return table


class Rotary(nn.Module):
    """Rotary position embedding (Su et al., 2021): each pair of channels of a head's queries and keys
    turns by an angle proportional to the position, so attention scores depend on relative offsets."""

    def __init__(self, head_dim: int, length: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ArchtrainError(f"rotary positions need an even head size (d_model / num_heads), not {head_dim}")
        angle = torch.arange(length).unsqueeze(1) * base ** (-torch.arange(0, head_dim, 2) / head_dim)
        self.register_buffer("cos", angle.cos(), persistent=False)
        self.register_buffer("sin", angle.sin(), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Rotate `x` (batch, heads, time, head_dim) whose first step is at position `offset`."""
        cos, sin = self.cos[offset : offset + x.shape[-2]], self.sin[offset : offset + x.shape[-2]]
        first, second = x.chunk(2, dim=-1)
        return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


class PositionalEncoding(nn.Module):
    """Where a token is, for `length` positions of one of three kinds.

    sinusoidal (a fixed table) and learned (a trained table, drawn first with std `learned_std`)
    are added to the embeddings; rotary adds nothing and turns queries and keys instead: give
    `self.rotary` to the TransformerBlocks.
    """

    def __init__(self, kind: str, length: int, d_model: int, num_heads: int, learned_std: float = 0.02):
        super().__init__()
        if kind not in POSITIONS:
            raise ArchtrainError(f"unknown positions '{kind}'; choose from {', '.join(POSITIONS)}")
        self.rotary = Rotary(d_model // num_heads, length) if kind == "rotary" else None
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(length, d_model) * learned_std)
        else:
            self.register_buffer(
                "table", sinusoidal_positions(length, d_model) if kind == "sinusoidal" else None, persistent=False
            )

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """`x` (batch, time, d_model) with its positions, the first being `offset`."""
        return x if self.table is None else x + self.table[offset : offset + x.shape[1]]


class KVCache:
    """The keys and values one self-attention layer has computed so far, for step-by-step decoding."""

    def __init__(self):
        self.keys = self.values = None

    @property
    def length(self) -> int:
        return 0 if self.keys is None else self.keys.shape[2]

    def extend(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new steps' keys and values; return all of them."""
        if self.keys is not None:
            keys, values = torch.cat([self.keys, keys], dim=2), torch.cat([self.values, values], dim=2)
        self.keys, self.values = keys, values
        return keys, values

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep the batch rows `rows`, in that order (beam search follows its surviving hypotheses)."""
        self.keys, self.values = self.keys[rows], self.values[rows]


class Attention(nn.Module):
    """Multi-head attention through scaled_dot_product_attention; self- or cross-attention.

    With `rotary`, queries and keys are rotated by position (self-attention only). With a `cache`,
    `x` holds the newest steps and attends to every step cached before them as well. `bias=False`
    leaves the projections without biases.
    """

    def __init__(
        self, d_model: int, num_heads: int, dropout: float = 0.0, rotary: Rotary | None = None, bias: bool = True
    ):
        super().__init__()
        if d_model % num_heads:
            raise ArchtrainError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.num_heads, self.dropout, self.rotary = num_heads, dropout, rotary
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)  # queries, keys and values together
        self.out = nn.Linear(d_model, d_model, bias=bias)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """`mask` is True where a query may attend, broadcastable to (batch, heads, query, key)."""
        q, k, v = (self._heads(t) for t in self._project(x, context))
        past = 0 if cache is None else cache.length
        if self.rotary is not None:
            q, k = self.rotary(q, past), self.rotary(k, past)
        if cache is not None:
            k, v = cache.extend(k, v)
        if causal and past:  # is_causal would align the queries with the first keys, not the last
            mask, causal = torch.ones(q.shape[2], k.shape[2], dtype=torch.bool, device=x.device).tril(past), False
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(y.transpose(1, 2).flatten(2))

    def _project(self, x: torch.Tensor, context: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        """Queries from `x`, keys and values from `context`: one matrix product for self-attention."""
        if context is None:
            return self.in_proj(x).chunk(3, dim=-1)
        d_model = x.shape[-1]
        weight, bias = self.in_proj.weight, self.in_proj.bias
        q = F.linear(x, weight[:d_model], None if bias is None else bias[:d_model])
        return q, *F.linear(context, weight[d_model:], None if bias is None else bias[d_model:]).chunk(2, dim=-1)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        return t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)


class FeedForward(nn.Sequential):
    """The position-wise two-layer network of a Transformer block."""

    def __init__(self, d_model: int, mult: int = 4, dropout: float = 0.0, bias: bool = True):
        super().__init__(
            nn.Linear(d_model, mult * d_model, bias=bias),
            nn.GELU(),
            nn.Linear(mult * d_model, d_model, bias=bias),
            nn.Dropout(dropout),
        )


def load_balancing_loss(probs: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Switch/GShard's num_experts * sum_i f_i P_i for router probabilities `probs` (tokens, experts) and the
    experts `chosen` (tokens, top_k): f_i is the share of choices that went to expert i, P_i its mean
    probability. It is 1 when the router is uniform and grows as routing collapses onto few experts."""
    num_experts = probs.shape[-1]
    share = F.one_hot(chosen, num_experts).float().mean(dim=(0, 1))
    return num_experts * (share * probs.mean(dim=0)).sum()


class MoEFeedForward(nn.Module):
    """A mixture of experts (Shazeer et al., 2017) in place of the feed-forward network: a router sends each
    token to its `top_k` of `num_experts` feed-forward networks and mixes their outputs by the router's
    probabilities, renormalized over the chosen experts. Each training forward keeps the load-balancing
    loss; `auxiliary_loss()` is `aux_weight` times it, for the task to add to its objective."""

    def __init__(
        self,
        d_model: int,
        num_experts: int,
        top_k: int = 2,
        mult: int = 4,
        dropout: float = 0.0,
        aux_weight: float = 0.01,
        bias: bool = True,
    ):
        super().__init__()
        if not 1 <= top_k <= num_experts:
            raise ArchtrainError(f"moe_top_k={top_k} must be between 1 and moe_experts={num_experts}")
        self.top_k, self.aux_weight = top_k, aux_weight
        self.router = nn.Linear(d_model, num_experts, bias=False)
        self.experts = nn.ModuleList(FeedForward(d_model, mult, dropout, bias) for _ in range(num_experts))
        self.balance = None

    def route(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Router probabilities (tokens, experts), and each token's chosen experts and gate weights (tokens, top_k)."""
        probs = F.softmax(self.router(tokens), dim=-1)
        weights, chosen = probs.topk(self.top_k, dim=-1)
        return probs, chosen, weights / weights.sum(dim=-1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(0, -2)
        probs, chosen, gates = self.route(tokens)
        out = torch.zeros_like(tokens)
        for index, expert in enumerate(self.experts):
            rows, slots = (chosen == index).nonzero(as_tuple=True)
            out.index_add_(0, rows, (gates[rows, slots, None] * expert(tokens[rows])).to(out.dtype))
        if self.training:
            self.balance = load_balancing_loss(probs, chosen)
        return out.view_as(x)

    def auxiliary_loss(self) -> torch.Tensor:
        return self.aux_weight * self.balance


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
    `rotary` turns the self-attention's queries and keys by position; `moe_experts` > 0 replaces the
    feed-forward network by a mixture of that many experts, each token using `moe_top_k` of them.
    `bias=False` leaves every projection and normalization without a bias (as nanoGPT's GPT).
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        ff_mult: int = 4,
        dropout: float = 0.0,
        cross: bool = False,
        drop_path: float = 0.0,
        prenorm: bool = True,
        rotary: Rotary | None = None,
        moe_experts: int = 0,
        moe_top_k: int = 2,
        moe_aux_weight: float = 0.01,
        bias: bool = True,
    ):
        super().__init__()
        self.prenorm, self.cross = prenorm, cross
        self.norm1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = Attention(d_model, num_heads, dropout, rotary, bias)
        if cross:
            self.norm_cross = nn.LayerNorm(d_model, bias=bias)
            self.cross_attn = Attention(d_model, num_heads, dropout, bias=bias)
        self.norm2 = nn.LayerNorm(d_model, bias=bias)
        self.ff = (
            MoEFeedForward(d_model, moe_experts, moe_top_k, ff_mult, dropout, moe_aux_weight, bias)
            if moe_experts
            else FeedForward(d_model, ff_mult, dropout, bias)
        )
        self.drop = nn.Dropout(dropout)
        self.drop_path = DropPath(drop_path)

    def _residual(self, x: torch.Tensor, norm: nn.Module, branch) -> torch.Tensor:
        if self.prenorm:
            return x + self.drop_path(branch(norm(x)))
        return norm(x + self.drop_path(branch(x)))

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        x = self._residual(x, self.norm1, lambda h: self.drop(self.attn(h, mask=mask, causal=causal, cache=cache)))
        if self.cross:
            x = self._residual(x, self.norm_cross, lambda h: self.drop(self.cross_attn(h, memory, mask=memory_mask)))
        return self._residual(x, self.norm2, self.ff)


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """One token id per row of next-token `logits` (batch, vocab), shape (batch, 1): drawn from the softmax
    at `temperature`, among the `top_k` likeliest tokens only when top_k is set."""
    logits = logits / max(temperature, 1e-6)
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(F.softmax(logits, dim=-1), 1)


def sequence_input(width: int, in_features: int | None = None, vocab_size: int | None = None) -> nn.Module:
    """Token ids through an embedding, or feature vectors through a linear map, to `width` channels."""
    return nn.Embedding(vocab_size, width) if vocab_size is not None else nn.Linear(in_features, width)
