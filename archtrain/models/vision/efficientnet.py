"""EfficientNet (Tan & Le, 2019): MBConv blocks with squeeze-excitation, scaled in depth, width and
resolution together by one compound coefficient."""

import torch
import torch.nn.functional as F
from torch import nn

from archtrain.models.vision.conv_blocks import (
    ConvNormAct,
    FeatureMap,
    ImageClassifier,
    SqueezeExcite,
    Stem,
    classifier,
    inverted_residual_stages,
    make_divisible,
)

ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15  # depth, width and resolution per unit of phi (the paper's grid search)
STEM, LAST = 32, 1280
SQUEEZE = 0.25  # SE squeezes to this fraction of a block's input channels
# EfficientNet-B0, per stage: (expansion, channels, blocks, stride of the first, kernel).
STAGES = (
    (1, 16, 1, 1, 3),
    (6, 24, 2, 2, 3),
    (6, 40, 2, 2, 5),
    (6, 80, 3, 2, 3),
    (6, 112, 3, 1, 5),
    (6, 192, 4, 2, 5),
    (6, 320, 1, 1, 3),
)


def scaled_resolution(image_size: int, phi: float) -> int:
    """The side the network resizes its input to: round(image_size * GAMMA ** phi)."""
    return round(image_size * GAMMA**phi)


class Resize(nn.Module):
    """Bilinear interpolation of the input images to `size` x `size`."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] == self.size and x.shape[-2] == self.size:
            return x
        return F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)


class EfficientNet(ImageClassifier):
    """EfficientNet-B0's layout at base multipliers `width` and `depth`, scaled by the compound
    coefficient `phi`: blocks per stage x ALPHA**phi (rounded up), channels x BETA**phi, and the input
    resized (bilinear) from image_size to round(image_size * GAMMA**phi) px before the stem. The
    blocks are MBConv with SiLU and squeeze-excitation; stochastic depth rises to `drop_path`."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        phi: float = 0.0,
        width: float = 0.25,
        depth: float = 0.5,
        dropout: float = 0.2,
        drop_path: float = 0.0,
    ):
        super().__init__()
        width, depth = width * BETA**phi, depth * ALPHA**phi
        resolution = scaled_resolution(image_size, phi)
        feature_map = FeatureMap(resolution)
        channels = make_divisible(STEM * width)
        layers: list[nn.Module] = [Resize(resolution), Stem(in_channels, channels, feature_map, activation=nn.SiLU)]
        blocks, channels = inverted_residual_stages(
            STAGES,
            channels,
            feature_map,
            width,
            depth,
            drop_path,
            nn.SiLU,
            lambda narrow, expanded: SqueezeExcite(expanded, max(1, int(narrow * SQUEEZE)), activation=nn.SiLU),
        )
        layers += blocks
        layers.append(ConvNormAct(channels, make_divisible(LAST * width), 1, activation=nn.SiLU))
        self.trunk = nn.Sequential(*layers)
        self.pre_logits, self.head = classifier(make_divisible(LAST * width), num_classes, dropout)
