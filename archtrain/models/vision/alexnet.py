"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012): five ReLU convolutions and three dense layers."""

from torch import nn

from archtrain.models.vision.conv_blocks import (
    ConvNormAct,
    FeatureMap,
    ImageClassifier,
    Stem,
    classifier,
    fit_kernel,
    scale_channels,
)

CHANNELS = (96, 256, 384, 384, 256)  # the paper's five convolutions
KERNELS = (11, 5, 3, 3, 3)
POOLED = (0, 1, 4)  # overlapping 3x3 max pools follow these convolutions


class AlexNet(ImageClassifier):
    """AlexNet with `width` channels in the first convolution (the paper: 96) and the others in the
    paper's proportions; local response normalization after the first two is optional."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        width: int = 24,
        local_response_norm: bool = True,
        hidden: int = 128,
        dropout: float = 0.5,
    ):
        super().__init__()
        feature_map = FeatureMap(image_size)
        channels = [scale_channels(c, width / CHANNELS[0]) for c in CHANNELS]
        layers: list[nn.Module] = [Stem(in_channels, channels[0], feature_map, KERNELS[0], pool=True, norm=False)]
        for index in range(len(CHANNELS)):
            if index > 0:
                kernel = fit_kernel(KERNELS[index], feature_map.size)
                layers.append(ConvNormAct(channels[index - 1], channels[index], kernel, norm=False))
            if local_response_norm and index < 2:
                layers.append(nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0))
            if index in POOLED and feature_map.stride() == 2:
                layers.append(nn.MaxPool2d(3, 2, padding=1))
        self.trunk = nn.Sequential(*layers)
        self.pre_logits, self.head = classifier(channels[-1], num_classes, dropout, hidden=(hidden, hidden))
