"""Trajectories of a known ODE: the spiral that Chen et al. (2018) fit with a neural ODE."""

import torch

from archtrain.data.base import ArrayDataModule
from archtrain.data.spec import DataSpec

SPIRAL = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])  # dz/dt = (z ** 3) @ SPIRAL, torchdiffeq's ode_demo


def spiral_derivative(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return (z**3) @ SPIRAL


def spirals(count: int, length: int, dt: float, generator: torch.Generator) -> torch.Tensor:
    """(count, length, 2) states of the spiral sampled every `dt`, from random starts at radius 1.5 to 2.5."""
    import torchdiffeq  # the neural-ODE extra, loaded only by this data

    radius = 1.5 + torch.rand(count, generator=generator)
    angle = 2 * torch.pi * torch.rand(count, generator=generator)
    start = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
    times = torch.arange(length) * dt
    with torch.no_grad():
        states = torchdiffeq.odeint(spiral_derivative, start, times, rtol=1e-7, atol=1e-9, method="dopri5")
    return states.transpose(0, 1)


def segments(paths: torch.Tensor, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (state, the next `horizon` states flattened) pair along each path."""
    starts = paths[:, :-horizon].reshape(-1, paths.shape[-1])
    after = paths.unfold(1, horizon, 1)[:, 1:]  # (count, windows, 2, horizon)
    return starts, after.transpose(-1, -2).reshape(len(starts), -1)


class SpiralTrajectories(ArrayDataModule):
    """States of the spiral dz/dt = z³A sampled every `dt`, cut into (state, next `horizon` states)
    pairs; each split has trajectories of its own. Observations get Gaussian noise of std `noise`."""

    def __init__(
        self,
        trajectories: int,
        eval_trajectories: int,
        length: int,
        dt: float,
        horizon: int,
        noise: float,
        batch_size: int,
        seed: int = 0,
    ):
        super().__init__(batch_size, seed)
        self.counts = {"train": trajectories, "val": eval_trajectories, "test": eval_trajectories}
        self.length, self.dt, self.horizon, self.noise = length, dt, horizon, noise

    def load(self):
        splits = {}
        for offset, (split, count) in enumerate(self.counts.items()):
            generator = torch.Generator().manual_seed(self.seed * 1000 + offset)
            paths = spirals(count, self.length, self.dt, generator)
            paths = paths + self.noise * torch.randn(paths.shape, generator=generator)
            splits[split] = segments(paths, self.horizon)
        return splits, DataSpec(in_features=2, out_features=2 * self.horizon)
