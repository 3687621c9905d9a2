"""Generative adversarial networks (Goodfellow et al., 2014): a generator that maps noise to data and a
discriminator that scores data as real (one logit per example). The `gan` task trains the pair."""

import torch
from torch import nn

from archtrain.models.feedforward import MLP


class Adversarial(nn.Module):
    """A generator and a discriminator; subclasses build both. `forward(noise)` generates, and
    `sample(n)` draws n examples from `latent_size`-dimensional standard normal noise."""

    generator: nn.Module
    discriminator: nn.Module
    latent_size: int

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.generator(noise)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n generated examples; `generator` (a torch RNG) fixes the noise, else the global RNG draws it."""
        device = next(self.parameters()).device
        return self(torch.randn(n, self.latent_size, generator=generator, device=device))


class GAN(Adversarial):
    """The fully connected GAN of Goodfellow et al. (2014): generator and discriminator are MLPs with
    `depth` hidden layers of `width` units; the generator reads `latent_size` noise values."""

    def __init__(self, in_features: int, latent_size: int = 8, width: int = 128, depth: int = 2,
                 activation: str = "leaky_relu"):
        super().__init__()
        self.latent_size = latent_size
        self.generator = MLP(latent_size, in_features, depth, width, activation)
        self.discriminator = MLP(in_features, 1, depth, width, activation)
