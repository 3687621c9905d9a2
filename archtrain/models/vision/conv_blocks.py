"""Building blocks shared by the image classifiers of the vision zoo."""

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from archtrain.errors import ArchtrainError
from archtrain.models.blocks import DropPath, depth_rates
from archtrain.models.protocol import Network

Activation = Callable[[], nn.Module] | None

SMALLEST_MAP = 2  # stages downsample only while the feature map stays at least this wide
SMALLEST_STEM_MAP = 14  # stems downsample only while the map stays this wide: 28-32 px images once, 8 px never
LARGE_IMAGE = 64  # from this size on, stems use their paper's large kernel; smaller images get 3x3


def choose(knob: str, value, allowed) -> None:
    """Stop with one clear line when a model knob has a value the model does not offer."""
    if value not in allowed:
        raise ArchtrainError(f"model.{knob}={value} is not offered; choose from {', '.join(map(str, allowed))}")


class FeatureMap:
    """The side of the feature map while a network is built, so that downsampling stops before it vanishes."""

    def __init__(self, size: int):
        self.size = size

    def stride(self, smallest: int = SMALLEST_MAP) -> int:
        """2 (and halve the map) if the halved map is still `smallest` px wide, else 1."""
        halved = math.ceil(self.size / 2)
        if halved < smallest:
            return 1
        self.size = halved
        return 2


def fit_kernel(kernel: int, size: int) -> int:
    """The kernel, shrunk (kept odd) where its outer taps could only ever see padding on a `size` px map."""
    return min(kernel, 2 * size - 1)


def scaled_repeats(count: int, multiplier: float) -> int:
    """A stage's block count scaled by a depth multiplier, rounded up (MobileNet, EfficientNet)."""
    return math.ceil(count * multiplier)


def scale_channels(channels: int, multiplier: float) -> int:
    """A channel count times a width multiplier, rounded, at least 1."""
    return max(1, round(channels * multiplier))


def make_divisible(channels: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of `divisor`, never more than 10% below it (MobileNet's rule)."""
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * channels else rounded


def group_norm(channels: int, groups: int = 8) -> nn.GroupNorm:
    """Group normalization (Wu & He, 2018) in up to `groups` groups: statistics of each example alone."""
    return nn.GroupNorm(math.gcd(groups, channels), channels)


class ConvNormAct(nn.Sequential):
    """Convolution, normalization and activation: the unit that every CNN here is made of. `norm` is True
    for batch norm, False for none, or a function from the channel count to a normalization layer."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        dilation: int = 1,
        norm: bool | Callable[[int], nn.Module] = True,
        activation: Activation = nn.ReLU,
    ):
        layers = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                dilation * (kernel_size - 1) // 2,
                dilation=dilation,
                groups=groups,
                bias=not norm,
            )
        ]
        if norm:
            layers.append(norm(out_channels) if callable(norm) else nn.BatchNorm2d(out_channels))
        if activation is not None:
            layers.append(activation())
        super().__init__(*layers)


class Stem(nn.Sequential):
    """The first convolution, stride 2, and (with `pool`) a stride-2 max pool, each only where the image is
    large enough: the paper's stem on large images, a stride-1 3x3 convolution on tiny ones."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        feature_map: FeatureMap,
        kernel_size: int = 3,
        pool: bool = False,
        norm: bool = True,
        activation: Activation = nn.ReLU,
    ):
        kernel = kernel_size if feature_map.size >= LARGE_IMAGE else 3
        stride = feature_map.stride(SMALLEST_STEM_MAP)
        layers = [ConvNormAct(in_channels, out_channels, kernel, stride, norm=norm, activation=activation)]
        if pool and feature_map.stride(SMALLEST_STEM_MAP) == 2:
            layers.append(nn.MaxPool2d(3, 2, padding=1))
        super().__init__(*layers)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2018): rescale channels by gates computed from their global means."""

    def __init__(
        self, channels: int, squeeze_channels: int | None = None, reduction: int = 16, activation: Activation = nn.ReLU
    ):
        super().__init__()
        squeeze = squeeze_channels or max(1, channels // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, squeeze, 1),
            activation(),
            nn.Conv2d(squeeze, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class CBAM(nn.Module):
    """Convolutional block attention (Woo et al., 2018): channel attention from average- and max-pooled
    descriptors through one shared MLP, then spatial attention from a convolution over channel statistics."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7):
        super().__init__()
        squeeze = max(1, channels // reduction)
        self.mlp = nn.Sequential(nn.Conv2d(channels, squeeze, 1), nn.ReLU(), nn.Conv2d(squeeze, channels, 1))
        self.spatial = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * torch.sigmoid(self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1)))
        statistics = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(statistics))


ATTENTION = ("none", "se", "cbam")


def channel_attention(kind: str, channels: int) -> nn.Module:
    """The `attention` knob: none, squeeze-excitation or CBAM on a block's output."""
    choose("attention", kind, ATTENTION)
    return {"none": nn.Identity, "se": SqueezeExcite, "cbam": CBAM}[kind](channels)


class Residual(nn.Module):
    """after(shortcut(x) + drop_path(branch(x))): a residual block around any branch; the shortcut is the
    identity unless given (a projection where the shapes differ)."""

    def __init__(
        self,
        branch: nn.Module,
        shortcut: nn.Module | None = None,
        drop_path: float = 0.0,
        after: nn.Module | None = None,
    ):
        super().__init__()
        self.branch, self.drop_path = branch, DropPath(drop_path)
        self.shortcut = shortcut or nn.Identity()
        self.after = after or nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after(self.shortcut(x) + self.drop_path(self.branch(x)))


def inverted_residual(
    in_channels: int,
    out_channels: int,
    stride: int,
    expansion: int,
    kernel_size: int = 3,
    activation: Activation = nn.ReLU6,
    attention: nn.Module | None = None,
    drop_path: float = 0.0,
) -> nn.Module:
    """MobileNetV2's inverted residual with a linear bottleneck (Sandler et al., 2018), also EfficientNet's
    MBConv: a 1x1 expansion, a depthwise convolution, optional attention, a 1x1 projection without an
    activation; residual where input and output shapes match."""
    hidden = in_channels * expansion
    layers = [ConvNormAct(in_channels, hidden, 1, activation=activation)] if expansion != 1 else []
    layers += [
        ConvNormAct(hidden, hidden, kernel_size, stride, groups=hidden, activation=activation),
        attention or nn.Identity(),
        ConvNormAct(hidden, out_channels, 1, activation=None),
    ]
    branch = nn.Sequential(*layers)
    return Residual(branch, drop_path=drop_path) if stride == 1 and in_channels == out_channels else branch


def inverted_residual_stages(
    stages: tuple,
    in_channels: int,
    feature_map: FeatureMap,
    width: float,
    depth: float,
    drop_path: float,
    activation: Activation,
    attention: Callable[[int, int], nn.Module],
) -> tuple[list[nn.Module], int]:
    """The blocks of MobileNetV2 and EfficientNet, and their output channels. `stages` holds rows of
    (expansion, channels, blocks, stride of the first block, kernel); `width` scales the channels, `depth`
    the blocks; `attention(in_channels, expanded_channels)` makes each block's attention module; stochastic
    depth rises linearly to `drop_path` over all blocks."""
    counts = [scaled_repeats(count, depth) for _, _, count, _, _ in stages]
    rates = iter(depth_rates(drop_path, sum(counts)))
    blocks, channels = [], in_channels
    for (expansion, out, _, stride, kernel), count in zip(stages, counts):
        out = make_divisible(out * width)
        for index in range(count):
            kernel_size = fit_kernel(kernel, feature_map.size)
            block_stride = feature_map.stride() if index == 0 and stride == 2 else 1
            blocks.append(
                inverted_residual(
                    channels,
                    out,
                    block_stride,
                    expansion,
                    kernel_size,
                    activation,
                    attention(channels, channels * expansion),
                    next(rates),
                )
            )
            channels = out
    return blocks, channels


def classifier(
    in_channels: int, num_classes: int, dropout: float = 0.0, hidden: tuple[int, ...] = (), norm: bool = False
) -> tuple[nn.Sequential, nn.Linear]:
    """An image classifier's pre-logits (global average pooling, optional LayerNorm, then hidden layers,
    each after dropout, or dropout alone) and its head, the linear layer to class logits."""
    layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if norm:
        layers.append(nn.LayerNorm(in_channels))
    size = in_channels
    for width in hidden:
        layers += [nn.Dropout(dropout), nn.Linear(size, width), nn.ReLU()]
        size = width
    if not hidden:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers), nn.Linear(size, num_classes)


class ImageClassifier(Network):
    """A convolutional `trunk` that maps images to a feature map, `pre_logits` that turn the map into one
    vector per image (the features), and a linear `head` from those to class logits."""

    trunk: nn.Module
    pre_logits: nn.Module

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pre_logits(self.trunk(x))
