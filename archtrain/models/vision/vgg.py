"""VGG (Simonyan & Zisserman, 2015): stacks of 3x3 convolutions between max pools."""

from torch import nn

from archtrain.models.vision.conv_blocks import ConvNormAct, FeatureMap, ImageClassifier, choose, classifier

# depth (weight layers) -> 3x3 convolutions in each of the five stages: configurations A, B, D and E.
CONFIGURATIONS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
WIDEST = 8  # channels double per stage up to 8x the first stage's (the paper: 64 to 512)


class VGG(ImageClassifier):
    """VGG-11/13/16/19 at `width` first-stage channels (the paper: 64), with optional batch norm
    (Ioffe & Szegedy, 2015); three fully connected layers with dropout classify."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        depth: int = 11,
        width: int = 8,
        batch_norm: bool = True,
        hidden: int = 64,
        dropout: float = 0.5,
    ):
        super().__init__()
        choose("depth", depth, CONFIGURATIONS)
        feature_map = FeatureMap(image_size)
        layers: list[nn.Module] = []
        channels = in_channels
        for stage, convolutions in enumerate(CONFIGURATIONS[depth]):
            out_channels = width * min(2**stage, WIDEST)
            for _ in range(convolutions):
                layers.append(ConvNormAct(channels, out_channels, 3, norm=batch_norm))
                channels = out_channels
            if feature_map.stride() == 2:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
        self.trunk = nn.Sequential(*layers)
        self.pre_logits, self.head = classifier(channels, num_classes, dropout, hidden=(hidden, hidden))
