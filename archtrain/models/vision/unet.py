"""U-Net (Ronneberger, Fischer & Brox, 2015): a contracting path, an expanding path, and skip
connections that hand each resolution's features across."""

import torch
import torch.nn.functional as F
from torch import nn

from archtrain.models.protocol import Network
from archtrain.models.vision.conv_blocks import ConvNormAct, FeatureMap, choose, group_norm

NORMS = {"batch": True, "group": group_norm}


def double_conv(in_channels: int, out_channels: int, norm=True) -> nn.Sequential:
    """Two 3x3 convolutions with normalization and ReLU: the unit of every U-Net level."""
    return nn.Sequential(
        ConvNormAct(in_channels, out_channels, 3, norm=norm), ConvNormAct(out_channels, out_channels, 3, norm=norm)
    )


class UNetTrunk(nn.Module):
    """The U-Net's two paths: `depth` levels with `width` channels at full resolution, doubled per level.
    Levels halve the map (2x2 max pool) while it stays at least 2 px wide; the expanding path undoes each
    halving with a 2x2 transposed convolution and concatenates the skip connection. `norm` is batch or
    group norm. With `embedding_size`, every level adds a per-channel shift projected from an embedding
    of each example (a diffusion model's timestep) to its output."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        depth: int = 2,
        width: int = 16,
        norm: str = "batch",
        embedding_size: int = 0,
    ):
        super().__init__()
        choose("norm", norm, NORMS)
        feature_map = FeatureMap(image_size)
        widths = [width * 2**level for level in range(depth + 1)]
        self.encoders = nn.ModuleList(
            double_conv(c_in, c_out, NORMS[norm]) for c_in, c_out in zip([in_channels] + widths, widths)
        )
        halves = [feature_map.stride() == 2 for _ in range(depth)]
        self.pools = nn.ModuleList(nn.MaxPool2d(2, ceil_mode=True) if half else nn.Identity() for half in halves)
        self.ups = nn.ModuleList(  # undo each halving; a 1x1 convolution where a level could not halve
            nn.ConvTranspose2d(wide, narrow, 2, stride=2) if half else nn.Conv2d(wide, narrow, 1)
            for wide, narrow, half in zip(widths[1:], widths, halves)
        )
        self.decoders = nn.ModuleList(double_conv(2 * narrow, narrow, NORMS[norm]) for narrow in widths[:-1])
        if embedding_size:
            self.encoder_shifts = nn.ModuleList(nn.Linear(embedding_size, c) for c in widths)
            self.decoder_shifts = nn.ModuleList(nn.Linear(embedding_size, c) for c in widths[:-1])

    def encode_decode(
        self, x: torch.Tensor, embedding: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The bottleneck map and the full-resolution output map of the expanding path."""
        skips = []
        for level, (encoder, pool) in enumerate(zip(self.encoders, self.pools)):
            x = self._shift(encoder(x), embedding, "encoder_shifts", level)
            skips.append(x)
            x = pool(x)
        bottleneck = x = self._shift(self.encoders[-1](x), embedding, "encoder_shifts", -1)
        for level, (up, decoder, skip) in reversed(list(enumerate(zip(self.ups, self.decoders, skips)))):
            x = up(x)[..., : skip.shape[-2], : skip.shape[-1]]  # crop where a ceil-mode pool rounded an odd side up
            x = self._shift(decoder(torch.cat([skip, x], dim=1)), embedding, "decoder_shifts", level)
        return bottleneck, x

    def _shift(self, x: torch.Tensor, embedding: torch.Tensor | None, shifts: str, level: int) -> torch.Tensor:
        return x if embedding is None else x + getattr(self, shifts)[level](embedding)[:, :, None, None]

    def pixel_features(self, x: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        """(N, width, H, W): per-pixel features at the input's resolution."""
        return self.encode_decode(x, embedding)[1]


class UNet(UNetTrunk, Network):
    """A U-Net classifier: its features are the globally pooled bottleneck and full-resolution maps
    together. `pixel_features(x)` is the full-resolution map of the expanding path, for dense prediction."""

    def __init__(
        self, in_channels: int, image_size: int, num_classes: int, depth: int = 2, width: int = 16, dropout: float = 0.0
    ):
        super().__init__(in_channels, image_size, depth, width)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(width * 2**depth + width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        pooled = [F.adaptive_avg_pool2d(m, 1).flatten(1) for m in self.encode_decode(x)]
        return self.drop(torch.cat(pooled, dim=1))
