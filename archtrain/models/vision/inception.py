"""GoogLeNet (Szegedy et al., 2015): stages of inception modules, four parallel branches each."""

import torch
from torch import nn

from archtrain.models.vision.conv_blocks import (
    ConvNormAct,
    FeatureMap,
    ImageClassifier,
    Stem,
    classifier,
    scale_channels,
)

# The paper's Table 1 per stage: (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection) of each module.
STAGES = (
    ((64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64)),  # 3a, 3b
    (
        (192, 96, 208, 16, 48, 64),
        (160, 112, 224, 24, 64, 64),
        (128, 128, 256, 24, 64, 64),
        (112, 144, 288, 32, 64, 64),
        (256, 160, 320, 32, 128, 128),
    ),  # 4a-4e
    ((256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)),  # 5a, 5b
)


class InceptionModule(nn.Module):
    """1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pool then 1x1 projection; outputs concatenated.
    The 1x1 bottlenecks keep the wide 3x3 and 5x5 convolutions cheap."""

    def __init__(
        self, in_channels: int, ones: int, reduce3: int, threes: int, reduce5: int, fives: int, pool_projection: int
    ):
        super().__init__()
        self.branches = nn.ModuleList(
            [
                ConvNormAct(in_channels, ones, 1),
                nn.Sequential(ConvNormAct(in_channels, reduce3, 1), ConvNormAct(reduce3, threes, 3)),
                nn.Sequential(ConvNormAct(in_channels, reduce5, 1), ConvNormAct(reduce5, fives, 5)),
                nn.Sequential(nn.MaxPool2d(3, 1, padding=1), ConvNormAct(in_channels, pool_projection, 1)),
            ]
        )
        self.out_channels = ones + threes + fives + pool_projection

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def stage_rows(rows: tuple, count: int) -> list[tuple]:
    """`count` module rows of a stage: the paper's first ones, its last one repeated beyond them."""
    return [rows[min(index, len(rows) - 1)] for index in range(count)]


class GoogLeNet(ImageClassifier):
    """GoogLeNet with every channel count scaled by `width` and `modules` inception modules per stage
    (the paper: 2, 5, 2); batch norm after each convolution (as in Inception v2), no auxiliary classifiers."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        width: float = 0.25,
        modules: tuple[int, int, int] = (1, 2, 1),
        dropout: float = 0.4,
    ):
        super().__init__()
        feature_map = FeatureMap(image_size)
        stem, wide = scale_channels(64, width), scale_channels(192, width)  # the paper's 64 and 192
        layers: list[nn.Module] = [
            Stem(in_channels, stem, feature_map, kernel_size=7, pool=True),
            ConvNormAct(stem, stem, 1),
            ConvNormAct(stem, wide, 3),
        ]
        channels = wide
        for rows, count in zip(STAGES, modules):
            if feature_map.stride() == 2:
                layers.append(nn.MaxPool2d(3, 2, padding=1))
            for row in stage_rows(rows, count):
                module = InceptionModule(channels, *(scale_channels(c, width) for c in row))
                layers.append(module)
                channels = module.out_channels
        self.trunk = nn.Sequential(*layers)
        self.pre_logits, self.head = classifier(channels, num_classes, dropout)
