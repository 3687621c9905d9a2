"""Toy 2-D point clouds for generative models: mixtures of Gaussians whose modes show at a glance
whether a generator covers them all. Each cloud is drawn from the run's seed and labelled by its mode;
its DataSpec carries the modes' centres and standard deviation, which the toy judges read
(archtrain/judges/toys.py)."""

import math

import torch

from archtrain.data.base import ArrayDataModule, split_indices
from archtrain.data.spec import DataSpec


class PointCloud(ArrayDataModule):
    """`samples` 2-D points, each drawn from one of `modes` Gaussians of standard deviation `std`, chosen
    uniformly, split into train, val and test; subclasses place the modes (`centres`)."""

    def __init__(
        self,
        modes: int,
        std: float,
        samples: int,
        batch_size: int,
        val_fraction: float,
        test_fraction: float,
        seed: int = 0,
    ):
        super().__init__(batch_size, seed)
        self.modes, self.std, self.samples = modes, std, samples
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def centres(self) -> torch.Tensor:
        """The modes' centres, (modes, 2)."""
        raise NotImplementedError

    def draw(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Points (samples, 2) and the mode each was drawn from (samples,)."""
        mode = torch.randint(self.modes, (self.samples,), generator=generator)
        return self.centres()[mode] + self.std * torch.randn(self.samples, 2, generator=generator), mode

    def load(self):
        x, y = self.draw(torch.Generator().manual_seed(self.seed))
        parts = split_indices(len(x), self.val_fraction, self.test_fraction, self.seed)
        centres = tuple(tuple(point) for point in self.centres().tolist())
        spec = DataSpec(in_features=2, num_classes=self.modes, modes=centres, mode_std=self.std)
        return {k: (x[i], y[i]) for k, i in parts.items()}, spec


class Ring(PointCloud):
    """`modes` Gaussians evenly spaced on a circle of `radius`: the mixture on which GANs show mode
    collapse (Metz et al., 2017)."""

    def __init__(
        self,
        modes: int = 8,
        radius: float = 2.0,
        std: float = 0.05,
        samples: int = 4000,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
    ):
        super().__init__(modes, std, samples, batch_size, val_fraction, test_fraction, seed)
        self.radius = radius

    def centres(self):
        angle = 2 * math.pi * torch.arange(self.modes) / self.modes
        return self.radius * torch.stack([angle.cos(), angle.sin()], dim=1)


class Grid(PointCloud):
    """`side` x `side` Gaussians on a square grid `spacing` apart, centred on the origin (the 25-Gaussian
    benchmark of Srivastava et al., 2017)."""

    def __init__(
        self,
        side: int = 5,
        spacing: float = 1.0,
        std: float = 0.05,
        samples: int = 4000,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
    ):
        super().__init__(side * side, std, samples, batch_size, val_fraction, test_fraction, seed)
        self.side, self.spacing = side, spacing

    def centres(self):
        axis = (torch.arange(self.side) - (self.side - 1) / 2) * self.spacing
        return torch.cartesian_prod(axis, axis)


class MoonPoints(PointCloud):
    """Two interleaving half circles of radius 1 (scikit-learn's make_moons layout), each a chain of
    `modes_per_moon` Gaussians evenly spaced along it; with `std` near the spacing they blur into moons."""

    def __init__(
        self,
        modes_per_moon: int = 8,
        std: float = 0.1,
        samples: int = 4000,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
    ):
        super().__init__(2 * modes_per_moon, std, samples, batch_size, val_fraction, test_fraction, seed)
        self.modes_per_moon = modes_per_moon

    def centres(self):
        angle = torch.linspace(0, math.pi, self.modes_per_moon)
        upper = torch.stack([angle.cos(), angle.sin()], dim=1)
        lower = torch.stack([1 - angle.cos(), 0.5 - angle.sin()], dim=1)
        return torch.cat([upper, lower]) - torch.tensor([0.5, 0.25])  # centred on the origin


class SwissRoll(PointCloud):
    """A 2-D swiss roll (scikit-learn's make_swiss_roll seen from above): `modes` Gaussians evenly spaced
    in angle along the spiral r = angle / `turn_scale`, from 1.5 pi to 4.5 pi."""

    def __init__(
        self,
        modes: int = 24,
        turn_scale: float = 5.0,
        std: float = 0.1,
        samples: int = 4000,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
    ):
        super().__init__(modes, std, samples, batch_size, val_fraction, test_fraction, seed)
        self.turn_scale = turn_scale

    def centres(self):
        angle = torch.linspace(1.5 * math.pi, 4.5 * math.pi, self.modes)
        return torch.stack([angle * angle.cos(), angle * angle.sin()], dim=1) / self.turn_scale
