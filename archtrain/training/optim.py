"""Optimizers from the `optim` config group, with weight decay kept off biases and norms."""

from typing import Callable

import torch
from torch import nn


def parameter_groups(net: nn.Module, weight_decay: float) -> list[dict]:
    """Weights of matrices and kernels decay; biases, norm scales and other vectors do not."""
    params = [p for p in net.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    plain = [p for p in params if p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def build_optimizer(make: Callable[..., torch.optim.Optimizer], net: nn.Module,
                    weight_decay: float) -> torch.optim.Optimizer:
    """`make` is the partially applied optimizer class from the config (lr, betas, momentum...)."""
    return make(parameter_groups(net, weight_decay))
