"""Learning-rate schedules. Each takes the optimizer and the run's `ScheduleContext` and returns
Lightning's scheduler dict (when to step it, and what it watches)."""

import math
from dataclasses import dataclass

import torch
from torch.optim import lr_scheduler

# The schedules shaped by the run's total number of steps (`ScheduleContext.total_steps`): their length
# is fixed when the run starts, and a resumed run keeps it (runs.check_schedule_length).
FIXED_LENGTH = ("warmup_cosine", "onecycle")


@dataclass(frozen=True)
class ScheduleContext:
    total_steps: int  # optimizer steps in the whole run
    monitor: str  # the validation metric that picks the best checkpoint
    mode: str  # "min" or "max" for that metric


def warmup_cosine(
    optimizer: torch.optim.Optimizer, context: ScheduleContext, warmup_steps: int = 0, min_lr_ratio: float = 0.0
) -> dict:
    """Linear warmup over `warmup_steps`, then cosine decay to `min_lr_ratio` times the base rate."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, context.total_steps - warmup_steps))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return {"scheduler": lr_scheduler.LambdaLR(optimizer, factor), "interval": "step"}


def step(optimizer: torch.optim.Optimizer, context: ScheduleContext, step_size: int = 10, gamma: float = 0.1) -> dict:
    """Multiply the rate by `gamma` every `step_size` epochs."""
    return {"scheduler": lr_scheduler.StepLR(optimizer, step_size, gamma), "interval": "epoch"}


def exponential(optimizer: torch.optim.Optimizer, context: ScheduleContext, gamma: float = 0.9) -> dict:
    """Multiply the rate by `gamma` every epoch."""
    return {"scheduler": lr_scheduler.ExponentialLR(optimizer, gamma), "interval": "epoch"}


def onecycle(
    optimizer: torch.optim.Optimizer,
    context: ScheduleContext,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> dict:
    """The 1cycle policy (Smith & Topin, 2019): up to the configured rate, then far below it."""
    peaks = [group["lr"] for group in optimizer.param_groups]
    scheduler = lr_scheduler.OneCycleLR(
        optimizer,
        peaks,
        total_steps=context.total_steps,
        pct_start=pct_start,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
    )
    return {"scheduler": scheduler, "interval": "step"}


def plateau(optimizer: torch.optim.Optimizer, context: ScheduleContext, factor: float = 0.5, patience: int = 3) -> dict:
    """Cut the rate by `factor` when the validation metric stops improving for `patience` epochs."""
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, mode=context.mode, factor=factor, patience=patience)
    return {"scheduler": scheduler, "interval": "epoch", "monitor": context.monitor}
