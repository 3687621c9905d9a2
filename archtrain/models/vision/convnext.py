"""ConvNeXt (Liu et al., 2022): a ResNet modernized step by step towards the Swin Transformer's design."""

import torch
from torch import nn

from archtrain.models.blocks import depth_rates
from archtrain.models.vision.conv_blocks import (
    SMALLEST_STEM_MAP,
    FeatureMap,
    ImageClassifier,
    LayerNorm2d,
    Residual,
    channel_attention,
    classifier,
    fit_kernel,
)

STEM_HALVINGS = 2  # the paper's stem: 4x4 patches with stride 4
EXPANSION = 4  # the inverted bottleneck's hidden width


class ConvNeXtBranch(nn.Module):
    """Depthwise convolution, LayerNorm, 1x1 expansion, GELU, 1x1 projection, optional channel attention,
    and a learned per-channel layer scale that starts near zero (Touvron et al., 2021)."""

    def __init__(self, channels: int, kernel_size: int, layer_scale: float, attention: str):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(
            nn.Linear(channels, EXPANSION * channels), nn.GELU(), nn.Linear(EXPANSION * channels, channels)
        )
        self.attention = channel_attention(attention, channels)
        self.scale = nn.Parameter(torch.full((channels, 1, 1), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(self.depthwise(x).permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
        return self.scale * self.attention(y)


def downsample(in_channels: int, out_channels: int, stride: int, size: int) -> nn.Sequential:
    """A stride x stride convolution with stride `stride` (zero-padding odd sides first), as a patchify
    stem or between stages; `size` is the side of its input map."""
    pad = -size % stride
    return nn.Sequential(nn.ZeroPad2d((0, pad, 0, pad)), nn.Conv2d(in_channels, out_channels, stride, stride))


class ConvNeXt(ImageClassifier):
    """ConvNeXt with `depths` blocks per stage (ConvNeXt-T: 3, 3, 9, 3) and `width` channels in the
    first stage, doubled per stage (ConvNeXt-T: 96). The stem patchifies (4x4 on large images, less on
    small ones), stages downsample with LayerNorm and a 2x2 stride-2 convolution, depthwise kernels are
    `kernel_size` (7) or smaller on small maps; stochastic depth rises to `drop_path`."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        depths: tuple[int, ...] = (2, 2, 2, 2),
        width: int = 16,
        kernel_size: int = 7,
        layer_scale: float = 1e-6,
        attention: str = "none",
        dropout: float = 0.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        feature_map = FeatureMap(image_size)
        size = feature_map.size
        patch = 1
        for _ in range(STEM_HALVINGS):
            patch *= feature_map.stride(SMALLEST_STEM_MAP)
        layers: list[nn.Module] = [downsample(in_channels, width, patch, size), LayerNorm2d(width)]
        rates = iter(depth_rates(drop_path, sum(depths)))
        channels = width
        for stage, count in enumerate(depths):
            if stage > 0:
                size = feature_map.size
                layers += [LayerNorm2d(channels), downsample(channels, 2 * channels, feature_map.stride(), size)]
                channels *= 2
            kernel = fit_kernel(kernel_size, feature_map.size)
            layers += [
                Residual(ConvNeXtBranch(channels, kernel, layer_scale, attention), drop_path=next(rates))
                for _ in range(count)
            ]
        self.trunk = nn.Sequential(*layers)
        self.pre_logits, self.head = classifier(channels, num_classes, dropout, norm=True)
