"""Noise predictors for denoising diffusion: networks that read a noised example x_t, its timestep t
and optionally a class label, and predict the noise that was added. The `diffusion` task trains them."""

import torch
from torch import nn

from archtrain.models.blocks import sinusoidal_embedding
from archtrain.models.feedforward import MLP
from archtrain.models.vision.unet import UNetTrunk


class TimestepEmbedding(nn.Module):
    """A vector per example from its timestep (sinusoidal features through a two-layer MLP, as in DDPM)
    plus, where there are `num_classes`, a learned vector of its class; label `num_classes` is the empty
    label that classifier-free guidance trains the unconditional prediction with."""

    def __init__(self, size: int, num_classes: int | None = None):
        super().__init__()
        self.size, self.null_label = size, num_classes
        self.mlp = nn.Sequential(nn.Linear(size, size), nn.SiLU(), nn.Linear(size, size))
        self.labels = nn.Embedding(num_classes + 1, size) if num_classes else None

    def forward(self, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        embedding = self.mlp(sinusoidal_embedding(t, self.size))
        if self.labels is None:
            return embedding
        if labels is None:
            labels = torch.full_like(t, self.null_label)
        return embedding + self.labels(labels)


class NoisePredictor(nn.Module):
    """forward(x_t, t, labels=None) -> the predicted noise, shaped like x_t; labels None: unconditional."""

    embed: TimestepEmbedding
    null_label: int | None


class DenoisingMLP(NoisePredictor):
    """For vectors (2-D toys): an MLP of `depth` hidden layers of `width` that reads x_t beside the
    timestep (and label) embedding of `embedding_size`."""

    def __init__(
        self,
        in_features: int,
        num_classes: int | None = None,
        width: int = 128,
        depth: int = 3,
        embedding_size: int = 32,
        activation: str = "silu",
    ):
        super().__init__()
        self.embed = TimestepEmbedding(embedding_size, num_classes)
        self.null_label = num_classes
        self.mlp = MLP(in_features + embedding_size, in_features, depth, width, activation)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.mlp(torch.cat([x, self.embed(t, labels)], dim=1))


class DenoisingUNet(UNetTrunk, NoisePredictor):
    """For images: DDPM's U-Net in small, from the vision zoo's U-Net (group norm, since batch statistics
    would mix noise levels), with the timestep (and label) embedding added to every level and a 1x1
    convolution from the full-resolution map to the predicted noise."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int | None = None,
        depth: int = 2,
        width: int = 32,
        embedding_size: int = 128,
    ):
        super().__init__(in_channels, image_size, depth, width, norm="group", embedding_size=embedding_size)
        self.embed = TimestepEmbedding(embedding_size, num_classes)
        self.null_label = num_classes
        self.out = nn.Conv2d(width, in_channels, 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.pixel_features(x, self.embed(t, labels)))
