"""Judges of samples from a 2-D toy mixture whose modes are known (DataSpec.modes and mode_std): how
many modes the samples cover and how many samples land near a mode (Srivastava et al., 2017), and a
kernel MMD to fresh data."""

import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from archtrain.data.spec import DataSpec
from archtrain.training.sample_quality import gaussian_mmd

NEAR = 3.0  # a sample is near a mode within this many standard deviations of its centre
FAIR_SHARE = 0.2  # a mode is covered when it holds at least this fraction of its fair share (n / modes)


def near_mode_counts(samples: torch.Tensor, centres: torch.Tensor, std: float) -> torch.Tensor:
    """For each mode, how many samples lie within NEAR standard deviations of its centre (each sample
    counted for its nearest mode only)."""
    distance, nearest = torch.cdist(samples.float(), centres.float()).min(dim=1)
    near = distance <= NEAR * std
    return torch.bincount(nearest[near], minlength=len(centres))


def modes_covered(samples: torch.Tensor, centres: torch.Tensor, std: float) -> int:
    """The modes that hold at least FAIR_SHARE of their fair share of near samples (and at least one)."""
    least = max(1.0, FAIR_SHARE * len(samples) / len(centres))
    return int((near_mode_counts(samples, centres, std) >= least).sum())


def near_mode_share(samples: torch.Tensor, centres: torch.Tensor, std: float) -> float:
    """The share of samples within NEAR standard deviations of some mode."""
    return float(near_mode_counts(samples, centres, std).sum()) / max(1, len(samples))


def judge_points(samples: torch.Tensor, spec: DataSpec, fresh: torch.Tensor, bandwidth: float = 0.5) -> dict:
    """modes_covered (of `modes`), near_mode (share) and mmd (to `fresh` real points) of 2-D samples."""
    centres = torch.tensor(spec.modes)
    return {
        "modes_covered": modes_covered(samples, centres, spec.mode_std),
        "modes": len(centres),
        "near_mode": near_mode_share(samples, centres, spec.mode_std),
        "mmd": float(gaussian_mmd(fresh.float(), samples.float(), bandwidth)),
    }


class ModeJudge(Metric):
    """Collects a stage's generated points (`update(real, fake)`, as KernelMMD) and judges them against
    the known modes; subclasses say how."""

    full_state_update = False

    def __init__(self, centres: tuple, std: float, **kwargs):
        super().__init__(**kwargs)
        self.register_buffer("centres", torch.tensor(centres, dtype=torch.float32), persistent=False)
        self.std = std
        self.add_state("fake", default=[], dist_reduce_fx="cat")

    def update(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        self.fake.append(fake.flatten(1).float())


class ModesCovered(ModeJudge):
    """How many modes the stage's samples cover (see `modes_covered`)."""

    higher_is_better = True

    def compute(self) -> torch.Tensor:
        return torch.tensor(float(modes_covered(dim_zero_cat(self.fake), self.centres, self.std)))


class NearModeShare(ModeJudge):
    """The share of the stage's samples near some mode."""

    higher_is_better = True

    def compute(self) -> torch.Tensor:
        return torch.tensor(near_mode_share(dim_zero_cat(self.fake), self.centres, self.std))


def toy_metrics(spec: DataSpec) -> dict[str, Metric]:
    """modes_covered and near_mode metrics where the data is a toy mixture with known modes, else none."""
    if not spec.modes:
        return {}
    return {
        "modes_covered": ModesCovered(spec.modes, spec.mode_std),
        "near_mode": NearModeShare(spec.modes, spec.mode_std),
    }
