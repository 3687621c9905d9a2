"""Generative adversarial networks (Goodfellow et al., 2014): a generator that maps noise to data and a
discriminator that scores data as real (one logit per example, or a critic's score). The `gan` and
`wgan_gp` tasks train the pair."""

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as spectrally_normalized

from archtrain.errors import ArchtrainError
from archtrain.models.feedforward import MLP
from archtrain.models.vision.conv_blocks import ConvNormAct, choose

DISCRIMINATOR_NORMS = ("batch", "none")


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

    def normalize_spectrally(self) -> None:
        """Divide every weight of the discriminator by its largest singular value (Miyato et al., 2018),
        estimated by a power iteration each training step: the discriminator becomes 1-Lipschitz per layer."""
        for module in list(self.discriminator.modules()):
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                spectrally_normalized(module)


class GAN(Adversarial):
    """The fully connected GAN of Goodfellow et al. (2014): generator and discriminator are MLPs with
    `depth` hidden layers of `width` units; the generator reads `latent_size` noise values."""

    def __init__(
        self,
        in_features: int,
        latent_size: int = 8,
        width: int = 128,
        depth: int = 2,
        activation: str = "leaky_relu",
        spectral_norm: bool = False,
    ):
        super().__init__()
        self.latent_size = latent_size
        self.generator = MLP(latent_size, in_features, depth, width, activation)
        self.discriminator = MLP(in_features, 1, depth, width, activation)
        if spectral_norm:
            self.normalize_spectrally()


def halvings(size: int, most: int) -> int:
    """How often a side of `size` px halves exactly (at most `most` times) while it stays 2 px or wider."""
    count = 0
    while count < most and size % 2 == 0 and size // 2 >= 2:
        size, count = size // 2, count + 1
    return count


class Rescale(nn.Module):
    """x * scale + shift: maps pixels between the data's [0, 1] and the networks' [-1, 1]."""

    def __init__(self, scale: float, shift: float):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


def leaky_relu() -> nn.Module:
    return nn.LeakyReLU(0.2)


class DCGAN(Adversarial):
    """Deep convolutional GAN (Radford, Metz & Chintala, 2016) and its architecture rules: strided
    convolutions in place of pooling (4x4, stride 2: transposed in the generator), batch norm everywhere
    but the discriminator's input layer and the generator's output layer, ReLU in the generator with a
    tanh output, LeakyReLU (slope 0.2) in the discriminator, and no hidden dense layers.

    The image side halves `depth` times at most (8x8 digits: twice, 28 px: twice, 32 px: three times);
    the generator projects the noise to the smallest map with `width` * 2**(halvings - 1) channels and
    doubles the map while halving the channels. Pixels are in [0, 1] outside, [-1, 1] inside: the
    generator's tanh is mapped to the data's scale and the discriminator maps it back.
    `discriminator_norm=none` drops batch norm from the discriminator (WGAN-GP's critic must have none)."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        latent_size: int = 64,
        width: int = 32,
        depth: int = 3,
        discriminator_norm: str = "batch",
        spectral_norm: bool = False,
    ):
        super().__init__()
        choose("discriminator_norm", discriminator_norm, DISCRIMINATOR_NORMS)
        levels = halvings(image_size, depth)
        if levels == 0:
            raise ArchtrainError(
                f"model=dcgan halves the image side with strided convolutions (at most "
                f"model.depth={depth} times, while the side is even); a {image_size} px side "
                f"gives none"
            )
        self.latent_size, base = latent_size, image_size >> levels
        channels = [width * 2**level for level in range(levels)]  # at each map size, largest map first
        self.generator = nn.Sequential(
            nn.Linear(latent_size, channels[-1] * base * base, bias=False),
            nn.Unflatten(1, (channels[-1], base, base)),
            nn.BatchNorm2d(channels[-1]),
            nn.ReLU(),
            *[
                layer
                for wide, narrow in zip(channels[:0:-1], channels[-2::-1])
                for layer in (nn.ConvTranspose2d(wide, narrow, 4, 2, 1, bias=False), nn.BatchNorm2d(narrow), nn.ReLU())
            ],
            nn.ConvTranspose2d(channels[0], in_channels, 4, 2, 1),
            nn.Tanh(),
            Rescale(0.5, 0.5),
        )
        norm = discriminator_norm == "batch"
        self.discriminator = nn.Sequential(
            Rescale(2.0, -1.0),
            ConvNormAct(in_channels, channels[0], 4, 2, norm=False, activation=leaky_relu),
            *[
                ConvNormAct(narrow, wide, 4, 2, norm=norm, activation=leaky_relu)
                for narrow, wide in zip(channels, channels[1:])
            ],
            nn.Flatten(),
            nn.Linear(channels[-1] * base * base, 1),
        )
        if spectral_norm:
            self.normalize_spectrally()
