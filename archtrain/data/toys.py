"""Toy 2-D point clouds for generative models: mixtures whose modes show at a glance whether a
generator covers them all. Each cloud is drawn from the run's seed and labelled by its mode."""

import math

import torch

from archtrain.data.base import ArrayDataModule, split_indices
from archtrain.data.spec import DataSpec


class PointCloud(ArrayDataModule):
    """`samples` 2-D points split into train, val and test; subclasses `draw` the points and their modes."""

    def __init__(self, modes: int, samples: int, batch_size: int, val_fraction: float, test_fraction: float,
                 seed: int = 0):
        super().__init__(batch_size, seed)
        self.modes, self.samples = modes, samples
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def draw(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Points (samples, 2) and the mode each was drawn from (samples,)."""
        raise NotImplementedError

    def load(self):
        x, y = self.draw(torch.Generator().manual_seed(self.seed))
        parts = split_indices(len(x), self.val_fraction, self.test_fraction, self.seed)
        return {k: (x[i], y[i]) for k, i in parts.items()}, DataSpec(in_features=2, num_classes=self.modes)


class Ring(PointCloud):
    """`modes` Gaussians of standard deviation `std` evenly spaced on a circle of `radius`: the
    mixture on which GANs show mode collapse (Metz et al., 2017)."""

    def __init__(self, modes: int = 8, radius: float = 2.0, std: float = 0.05, samples: int = 4000,
                 batch_size: int = 64, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0):
        super().__init__(modes, samples, batch_size, val_fraction, test_fraction, seed)
        self.radius, self.std = radius, std

    def draw(self, generator):
        mode = torch.randint(self.modes, (self.samples,), generator=generator)
        angle = 2 * math.pi * mode / self.modes
        centre = self.radius * torch.stack([angle.cos(), angle.sin()], dim=1)
        return centre + self.std * torch.randn(self.samples, 2, generator=generator), mode
