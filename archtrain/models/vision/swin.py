"""Swin Transformer (Liu et al., 2021): self-attention inside local windows, shifted by half a window in
every second block so that neighbouring windows exchange information, a learned bias for each relative
position inside a window, and patch merging between stages (a hierarchy like a CNN's)."""

import torch
import torch.nn.functional as F
from torch import nn

from archtrain.errors import ArchtrainError
from archtrain.models.blocks import Attention, DropPath, FeedForward, depth_rates
from archtrain.models.vision.conv_blocks import ImageClassifier, classifier


def windows(x: torch.Tensor, size: int) -> torch.Tensor:
    """(batch, H, W, C) -> (batch * windows, size * size, C): non-overlapping size x size windows."""
    b, h, w, c = x.shape
    x = x.view(b, h // size, size, w // size, size, c).transpose(2, 3)
    return x.reshape(-1, size * size, c)


def merge_windows(x: torch.Tensor, size: int, h: int, w: int) -> torch.Tensor:
    """The inverse of `windows`."""
    c = x.shape[-1]
    x = x.view(-1, h // size, w // size, size, size, c).transpose(2, 3)
    return x.reshape(-1, h, w, c)


def relative_index(size: int) -> torch.Tensor:
    """(size², size²): the row of the bias table for each pair of positions in a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")).flatten(1)
    delta = (coords[:, :, None] - coords[:, None, :]) + (size - 1)
    return delta[0] * (2 * size - 1) + delta[1]


def shift_mask(h: int, w: int, size: int, shift: int) -> torch.Tensor:
    """(windows, size², size²) True where two positions of a shifted window came from the same region of
    the map, so that tokens wrapped around by the cyclic shift attend only within their own region."""
    regions = torch.zeros(1, h, w, 1)
    cuts = (slice(0, -size), slice(-size, -shift), slice(-shift, None))
    for label, (rows, cols) in enumerate((r, c) for r in cuts for c in cuts):
        regions[:, rows, cols] = label
    labels = windows(regions, size).squeeze(-1)
    return labels[:, :, None] == labels[:, None, :]


class SwinBlock(nn.Module):
    """(Shifted-)window multi-head self-attention with a relative position bias, then an MLP; pre-norm
    residual branches on a (batch, H, W, C) map."""

    def __init__(self, dim: int, heads: int, resolution: int, window: int, shift: int, ff_mult: int, drop_path: float):
        super().__init__()
        self.window, self.shift, self.heads = window, shift, heads
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm2, self.ff = nn.LayerNorm(dim), FeedForward(dim, ff_mult)
        self.drop_path = DropPath(drop_path)
        self.bias_table = nn.Parameter(torch.randn((2 * window - 1) ** 2, heads) * 0.02)
        self.register_buffer("index", relative_index(window), persistent=False)
        padded = -(-resolution // window) * window
        mask = shift_mask(padded, padded, window, shift) if shift else None
        self.register_buffer("mask", mask, persistent=False)

    def attention_bias(self) -> torch.Tensor:
        """(windows or 1, heads, N, N): the relative position bias, -inf across shifted-in regions."""
        bias = self.bias_table[self.index].permute(2, 0, 1).unsqueeze(0)
        if self.mask is None:
            return bias
        return bias.masked_fill(~self.mask.unsqueeze(1), float("-inf"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        pad = -h % self.window  # a map the windows do not tile is padded with zeros, then cropped
        y = F.pad(self.norm1(x), (0, 0, 0, pad, 0, pad))
        if self.shift:
            y = torch.roll(y, (-self.shift, -self.shift), (1, 2))
        bias = self.attention_bias()
        if bias.shape[0] > 1:  # one mask per window: repeat it for every image in the batch
            bias = bias.repeat(b, 1, 1, 1)
        out = merge_windows(self.attn(windows(y, self.window), mask=bias), self.window, h + pad, w + pad)
        if self.shift:
            out = torch.roll(out, (self.shift, self.shift), (1, 2))
        x = x + self.drop_path(out[:, :h, :w])
        return x + self.drop_path(self.ff(self.norm2(x)))


class PatchMerging(nn.Module):
    """Each 2x2 group of tokens concatenated (4C) and projected to 2C: half the resolution, twice the width."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm, self.reduce = nn.LayerNorm(4 * dim), nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduce(self.norm(x))


class ChannelsLast(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1)


class ChannelsFirst(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2)


class SwinTransformer(ImageClassifier):
    """Patch embedding, then stages of Swin blocks (alternating plain and shifted windows), each stage after
        the first starting with patch merging; global average pooling and a linear head. A window never
        exceeds the map: where it would, it covers the whole map and is not shifted (as in the paper); a map
    the windows do not tile is padded (as in the paper's code)."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        patch_size: int = 2,
        width: int = 32,
        depths: tuple[int, ...] = (2, 2),
        num_heads: tuple[int, ...] = (2, 4),
        window_size: int = 2,
        ff_mult: int = 2,
        dropout: float = 0.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        if len(num_heads) != len(depths):
            raise ArchtrainError(
                f"model.num_heads={list(num_heads)} needs one count per stage of depths={list(depths)}"
            )
        resolution = image_size // patch_size
        if image_size % patch_size or resolution % 2 ** (len(depths) - 1):
            raise ArchtrainError(
                f"model.patch_size={patch_size} must divide the {image_size}px images into a map that halves "
                f"{len(depths) - 1} times"
            )
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, patch_size, stride=patch_size), ChannelsLast()]
        layers.append(nn.LayerNorm(width))
        rates, dim = iter(depth_rates(drop_path, sum(depths))), width
        for stage, (depth, heads) in enumerate(zip(depths, num_heads)):
            if stage:
                layers.append(PatchMerging(dim))
                dim, resolution = 2 * dim, resolution // 2
            window = min(window_size, resolution)
            for i in range(depth):
                shift = window // 2 if i % 2 and window < resolution else 0
                layers.append(SwinBlock(dim, heads, resolution, window, shift, ff_mult, next(rates)))
        layers += [nn.LayerNorm(dim), ChannelsFirst()]
        self.trunk = nn.Sequential(*layers)
        self.pre_logits, self.head = classifier(dim, num_classes, dropout)
