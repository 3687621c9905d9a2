"""MobileNets: depthwise-separable convolutions (v1, Howard et al., 2017) and inverted residuals with
linear bottlenecks (v2, Sandler et al., 2018)."""

from torch import nn

from archtrain.errors import ArchtrainError
from archtrain.models.vision.conv_blocks import (
    ConvNormAct,
    FeatureMap,
    ImageClassifier,
    Stem,
    channel_attention,
    choose,
    classifier,
    inverted_residual_stages,
    make_divisible,
    scaled_repeats,
)

STEM = 32
# v1: (channels, blocks, stride of the first) per stage; v2: (expansion, channels, blocks, stride, kernel).
V1_STAGES = ((64, 1, 1), (128, 2, 2), (256, 2, 2), (512, 6, 2), (1024, 2, 2))
V2_STAGES = (
    (1, 16, 1, 1, 3),
    (6, 24, 2, 2, 3),
    (6, 32, 3, 2, 3),
    (6, 64, 4, 2, 3),
    (6, 96, 3, 1, 3),
    (6, 160, 3, 2, 3),
    (6, 320, 1, 1, 3),
)
V2_LAST = 1280  # the 1x1 convolution before pooling (v2)


def separable(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """A depthwise 3x3 convolution, then a pointwise 1x1 one, each with batch norm and ReLU."""
    return nn.Sequential(
        ConvNormAct(in_channels, in_channels, 3, stride, groups=in_channels), ConvNormAct(in_channels, out_channels, 1)
    )


class MobileNet(ImageClassifier):
    """MobileNet `version` 1 or 2 with the width multiplier `width` (alpha) on every channel count (here
    also on v2's last 1280) and `depth` multiplying the blocks of each stage. Version 2 takes channel
    `attention` after each depthwise convolution and stochastic depth on its residual blocks."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        version: int = 2,
        width: float = 0.25,
        depth: float = 0.5,
        attention: str = "none",
        dropout: float = 0.2,
        drop_path: float = 0.0,
    ):
        super().__init__()
        choose("version", version, (1, 2))
        if version == 1 and (attention != "none" or drop_path):
            raise ArchtrainError(
                "model.attention and model.drop_path apply to MobileNet version 2 "
                "(inverted residuals); version 1 has neither"
            )
        feature_map = FeatureMap(image_size)
        activation = nn.ReLU if version == 1 else nn.ReLU6
        channels = make_divisible(STEM * width)
        layers: list[nn.Module] = [Stem(in_channels, channels, feature_map, activation=activation)]
        if version == 1:
            for out, count, stride in V1_STAGES:
                for index in range(scaled_repeats(count, depth)):
                    block_stride = feature_map.stride() if index == 0 and stride == 2 else 1
                    layers.append(separable(channels, make_divisible(out * width), block_stride))
                    channels = make_divisible(out * width)
        else:
            blocks, channels = inverted_residual_stages(
                V2_STAGES,
                channels,
                feature_map,
                width,
                depth,
                drop_path,
                activation,
                lambda _, expanded: channel_attention(attention, expanded),
            )
            layers += blocks
            layers.append(ConvNormAct(channels, make_divisible(V2_LAST * width), 1, activation=activation))
            channels = make_divisible(V2_LAST * width)
        self.trunk = nn.Sequential(*layers)
        self.pre_logits, self.head = classifier(channels, num_classes, dropout)
