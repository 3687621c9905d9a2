"""ResNet (He et al., 2016): stages of residual blocks, basic or bottleneck."""

from torch import nn

from archtrain.models.blocks import depth_rates
from archtrain.models.vision.conv_blocks import (
    ConvNormAct,
    FeatureMap,
    ImageClassifier,
    Residual,
    Stem,
    channel_attention,
    choose,
    classifier,
)

# depth -> (block, blocks per stage), the paper's Table 1.
LAYOUTS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
EXPANSION = {"basic": 1, "bottleneck": 4}


def residual_branch(block: str, in_channels: int, planes: int, stride: int, dilation: int) -> list[nn.Module]:
    """Two 3x3 convolutions (basic), or 1x1 reduce, 3x3, 1x1 expand (bottleneck); linear at the end."""
    if block == "basic":
        return [
            ConvNormAct(in_channels, planes, 3, stride, dilation=dilation),
            ConvNormAct(planes, planes, 3, dilation=dilation, activation=None),
        ]
    return [
        ConvNormAct(in_channels, planes, 1),
        ConvNormAct(planes, planes, 3, stride, dilation=dilation),
        ConvNormAct(planes, planes * EXPANSION[block], 1, activation=None),
    ]


class ResNet(ImageClassifier):
    """ResNet-18/34/50/101/152 at `width` base channels (the paper's 64), with optional channel attention
    on each residual branch (SE-ResNet, CBAM), and `dilation` in place of the last stage's stride, which
    keeps that stage's resolution (Yu & Koltun, 2016)."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        depth: int = 18,
        width: int = 16,
        attention: str = "none",
        dilation: bool = False,
        dropout: float = 0.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        choose("depth", depth, LAYOUTS)
        block, counts = LAYOUTS[depth]
        feature_map = FeatureMap(image_size)
        layers: list[nn.Module] = [Stem(in_channels, width, feature_map, kernel_size=7, pool=True)]
        rates = iter(depth_rates(drop_path, sum(counts)))
        channels = width
        for stage, count in enumerate(counts):
            dilated = dilation and stage == len(counts) - 1
            stride = 1 if stage == 0 or dilated else feature_map.stride()
            planes = width * 2**stage
            out_channels = planes * EXPANSION[block]
            for index in range(count):
                block_stride = stride if index == 0 else 1
                shortcut = None
                if block_stride != 1 or channels != out_channels:
                    shortcut = ConvNormAct(channels, out_channels, 1, block_stride, activation=None)
                branch = nn.Sequential(
                    *residual_branch(block, channels, planes, block_stride, 2 if dilated else 1),
                    channel_attention(attention, out_channels),
                )
                layers.append(Residual(branch, shortcut, next(rates), after=nn.ReLU()))
                channels = out_channels
        self.trunk = nn.Sequential(*layers)
        self.pre_logits, self.head = classifier(channels, num_classes, dropout)
