"""Optuna sweeps through Hydra's sweeper plugin: the direction of the task's key metric, and the
float each job returns for it."""

import importlib
import math

from omegaconf import DictConfig


def is_optuna(sweeper: DictConfig) -> bool:
    return "optuna" in str(sweeper.get("_target_", "")).lower()


def optuna_direction(cfg: DictConfig, overrides: list[str]) -> list[str]:
    """hydra.sweeper.direction set from the task's key metric (maximize an accuracy, minimize a loss),
    unless the command line sets it."""
    if any(o.lstrip("+").startswith("hydra.sweeper.direction=") for o in overrides):
        return []
    module, name = cfg.task._target_.rsplit(".", 1)
    mode = getattr(importlib.import_module(module), name).mode
    return [f"hydra.sweeper.direction={'maximize' if mode == 'max' else 'minimize'}"]


def sweep_objective(summary: dict, direction) -> float:
    """What a job returns to Optuna: the best value of its key metric; a job that failed or
    diverged scores the worst value there is, so that the search goes on."""
    value = (summary.get("best") or {}).get("value")
    if summary.get("status") == "completed" and value is not None and math.isfinite(value):
        return float(value)
    return -math.inf if "max" in str(direction).lower() else math.inf
