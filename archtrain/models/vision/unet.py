"""U-Net (Ronneberger, Fischer & Brox, 2015): a contracting path, an expanding path, and skip
connections that hand each resolution's features across."""

import torch
import torch.nn.functional as F
from torch import nn

from archtrain.models.protocol import Network
from archtrain.models.vision.conv_blocks import ConvNormAct, FeatureMap


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 convolutions with batch norm and ReLU: the unit of every U-Net level."""
    return nn.Sequential(ConvNormAct(in_channels, out_channels, 3), ConvNormAct(out_channels, out_channels, 3))


class UNet(Network):
    """A U-Net of `depth` levels with `width` channels at full resolution, doubled per level. Levels
    halve the map (2x2 max pool) while it stays at least 2 px wide; the expanding path undoes each
    halving with a 2x2 transposed convolution and concatenates the skip connection.

    `pixel_features(x)` is the full-resolution map of the expanding path, for dense prediction. As a
    classifier its features are the globally pooled bottleneck and full-resolution maps together."""

    def __init__(self, in_channels: int, image_size: int, num_classes: int, depth: int = 2, width: int = 16,
                 dropout: float = 0.0):
        super().__init__()
        feature_map = FeatureMap(image_size)
        widths = [width * 2 ** level for level in range(depth + 1)]
        self.encoders = nn.ModuleList(double_conv(c_in, c_out) for c_in, c_out in zip([in_channels] + widths, widths))
        halves = [feature_map.stride() == 2 for _ in range(depth)]
        self.pools = nn.ModuleList(nn.MaxPool2d(2, ceil_mode=True) if half else nn.Identity() for half in halves)
        self.ups = nn.ModuleList(   # undo each halving; a 1x1 convolution where a level could not halve
            nn.ConvTranspose2d(wide, narrow, 2, stride=2) if half else nn.Conv2d(wide, narrow, 1)
            for wide, narrow, half in zip(widths[1:], widths, halves))
        self.decoders = nn.ModuleList(double_conv(2 * narrow, narrow) for narrow in widths[:-1])
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(widths[-1] + width, num_classes)

    def encode_decode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The bottleneck map and the full-resolution output map of the expanding path."""
        skips = []
        for encoder, pool in zip(self.encoders, self.pools):
            x = encoder(x)
            skips.append(x)
            x = pool(x)
        bottleneck = x = self.encoders[-1](x)
        for up, decoder, skip in reversed(list(zip(self.ups, self.decoders, skips))):
            x = up(x)[..., :skip.shape[-2], :skip.shape[-1]]       # crop where a ceil-mode pool rounded an odd side up
            x = decoder(torch.cat([skip, x], dim=1))
        return bottleneck, x

    def pixel_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, width, H, W): per-pixel features at the input's resolution."""
        return self.encode_decode(x)[1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        pooled = [F.adaptive_avg_pool2d(m, 1).flatten(1) for m in self.encode_decode(x)]
        return self.drop(torch.cat(pooled, dim=1))
