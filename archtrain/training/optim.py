"""Optimizers from the `optim` config group, with weight decay kept off biases and norms."""

from typing import Callable

import torch
from torch import nn


def parameter_groups(net: nn.Module, weight_decay: float, decay_all: bool = False) -> list[dict]:
    """Weights of matrices and kernels decay; biases, norm scales and other vectors do not,
    unless `decay_all`."""
    params = [p for p in net.parameters() if p.requires_grad]
    if decay_all or not weight_decay:
        return [{"params": params, "weight_decay": weight_decay}]
    decay = [p for p in params if p.ndim >= 2]
    plain = [p for p in params if p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def build_optimizer(
    make: Callable[..., torch.optim.Optimizer], net: nn.Module, weight_decay: float, decay_all: bool = False
) -> torch.optim.Optimizer:
    """`make` is the partially applied optimizer class from the config (lr, betas, momentum...).
    L-BFGS takes a single parameter group and no weight decay; K-FAC (`takes_net`) hooks the net's layers."""
    if getattr(getattr(make, "func", make), "takes_net", False):
        return make(net, weight_decay=weight_decay)
    if getattr(make, "func", make) is torch.optim.LBFGS:
        return MinibatchLBFGS([p for p in net.parameters() if p.requires_grad], **getattr(make, "keywords", {}))
    return make(parameter_groups(net, weight_decay, decay_all))


class MinibatchLBFGS(torch.optim.LBFGS):
    """torch's L-BFGS with its curvature memory cleared at each step, so that each step minimizes its
    own batch. Kept across steps, the memory pairs one batch's gradient with another's (and with a
    step the last line search never took): the directions it makes can blow the weights up to NaN."""

    def step(self, closure):
        self.state.clear()
        return super().step(closure)
