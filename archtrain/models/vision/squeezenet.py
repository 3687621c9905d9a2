"""SqueezeNet (Iandola et al., 2016): AlexNet-level accuracy from fire modules with few parameters."""

import torch
from torch import nn

from archtrain.models.blocks import depth_rates
from archtrain.models.vision.conv_blocks import (
    ConvNormAct,
    FeatureMap,
    ImageClassifier,
    Residual,
    Stem,
    scale_channels,
)

STEM = 96
BASE_EXPAND, EXPAND_INCREMENT, FREQUENCY = 128, 128, 2  # expand channels grow by 128 every 2 modules
SQUEEZE_RATIO = 0.125  # squeeze channels / expand channels
POOL_EVERY = 4  # max pools follow fire4, fire8, ...


class Fire(nn.Module):
    """A 1x1 squeeze layer feeding parallel 1x1 and 3x3 expand layers, concatenated; ReLU after each."""

    def __init__(self, in_channels: int, squeeze: int, expand: int):
        super().__init__()
        self.squeeze = ConvNormAct(in_channels, squeeze, 1, norm=False)
        self.expand1 = ConvNormAct(squeeze, expand // 2, 1, norm=False)
        self.expand3 = ConvNormAct(squeeze, expand - expand // 2, 3, norm=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = self.squeeze(x)
        return torch.cat([self.expand1(squeezed), self.expand3(squeezed)], dim=1)


class SqueezeNet(ImageClassifier):
    """SqueezeNet v1.0 from the paper's metaparameters, with every channel count scaled by `width` and
    `fires` fire modules (the paper: 8). `bypass` adds the paper's simple bypass (a residual connection)
    around modules whose input and output widths match. No dense layers: the head is the paper's 1x1
    convolution to one map per class, ReLU and global average pooling, so the features it reads are the
    trunk's feature map (batch, channels, height, width), after dropout."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        width: float = 0.25,
        fires: int = 8,
        bypass: bool = False,
        dropout: float = 0.5,
        drop_path: float = 0.0,
    ):
        super().__init__()
        feature_map = FeatureMap(image_size)
        channels = scale_channels(STEM, width)
        layers: list[nn.Module] = [Stem(in_channels, channels, feature_map, kernel_size=7, pool=True, norm=False)]
        rates = iter(depth_rates(drop_path, fires))
        for index in range(fires):
            expand = scale_channels(BASE_EXPAND + EXPAND_INCREMENT * (index // FREQUENCY), width)
            fire = Fire(channels, scale_channels(expand, SQUEEZE_RATIO), expand)
            rate = next(rates)
            layers.append(Residual(fire, drop_path=rate) if bypass and expand == channels else fire)
            channels = expand
            if (index + 2) % POOL_EVERY == 0 and index < fires - 1 and feature_map.stride() == 2:
                layers.append(nn.MaxPool2d(3, 2, padding=1))
        self.trunk = nn.Sequential(*layers)
        self.pre_logits = nn.Dropout(dropout)
        self.head = conv_head(channels, num_classes)

    @property
    def num_features(self) -> int:
        return self.head[0].in_channels

    def reset_head(self, outputs: int) -> None:
        self.head = conv_head(self.num_features, outputs)


def conv_head(channels: int, num_classes: int) -> nn.Sequential:
    """One map per class from a 1x1 convolution, ReLU, then the mean of each map: the class logits."""
    return nn.Sequential(nn.Conv2d(channels, num_classes, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
