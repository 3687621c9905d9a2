"""DenseNet (Huang et al., 2017): every layer of a dense block reads the maps of all layers before it."""

import torch
from torch import nn

from archtrain.models.vision.conv_blocks import FeatureMap, ImageClassifier, Stem, classifier


def norm_act_conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """Batch norm, ReLU, then convolution: DenseNet's pre-activation order."""
    return nn.Sequential(
        nn.BatchNorm2d(in_channels),
        nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
    )


class DenseLayer(nn.Module):
    """A 1x1 bottleneck to bottleneck x growth_rate channels, then a 3x3 convolution to growth_rate new
    channels, concatenated to its input."""

    def __init__(self, in_channels: int, growth_rate: int, bottleneck: int):
        super().__init__()
        self.new = nn.Sequential(
            norm_act_conv(in_channels, bottleneck * growth_rate, 1),
            norm_act_conv(bottleneck * growth_rate, growth_rate, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.new(x)], dim=1)


class DenseNet(ImageClassifier):
    """DenseNet-BC: dense blocks of `blocks` layers each (DenseNet-121: 6, 12, 24, 16) that add
    `growth_rate` channels per layer; transitions between them compress the channels by `compression`
    with a 1x1 convolution and halve the map with 2x2 average pooling."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        growth_rate: int = 12,
        blocks: tuple[int, ...] = (3, 3, 3),
        bottleneck: int = 4,
        compression: float = 0.5,
        dropout: float = 0.0,
    ):
        super().__init__()
        feature_map = FeatureMap(image_size)
        channels = 2 * growth_rate
        layers: list[nn.Module] = [
            Stem(in_channels, channels, feature_map, kernel_size=7, pool=True, norm=False, activation=None)
        ]
        for index, count in enumerate(blocks):
            for _ in range(count):
                layers.append(DenseLayer(channels, growth_rate, bottleneck))
                channels += growth_rate
            if index < len(blocks) - 1:
                compressed = int(channels * compression)
                layers.append(norm_act_conv(channels, compressed, 1))
                if feature_map.stride() == 2:
                    layers.append(nn.AvgPool2d(2, ceil_mode=True))
                channels = compressed
        layers += [nn.BatchNorm2d(channels), nn.ReLU()]
        self.trunk = nn.Sequential(*layers)
        self.pre_logits, self.head = classifier(channels, num_classes, dropout)
