"""How close generated examples are to real ones, without labels."""

import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


def gaussian_mmd(x: torch.Tensor, y: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """Squared maximum mean discrepancy (Gretton et al., 2012) between the rows of `x` and of `y` under a
    Gaussian kernel of width `bandwidth`: the biased estimate, 0 for identical sets, at most 2."""

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.exp(-torch.cdist(a, b).pow(2) / (2 * bandwidth**2))

    return kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean()


class KernelMMD(Metric):
    """`gaussian_mmd` between every real and every generated example of a stage, each flattened to a vector."""

    higher_is_better, full_state_update = False, False

    def __init__(self, bandwidth: float, **kwargs):
        super().__init__(**kwargs)
        self.bandwidth = bandwidth
        self.add_state("real", default=[], dist_reduce_fx="cat")
        self.add_state("fake", default=[], dist_reduce_fx="cat")

    def update(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        self.real.append(real.flatten(1).float())
        self.fake.append(fake.flatten(1).float())

    def compute(self) -> torch.Tensor:
        return gaussian_mmd(dim_zero_cat(self.real), dim_zero_cat(self.fake), self.bandwidth)
