"""Optuna sweeps through Hydra's sweeper plugin: the direction of the task's key metric, and the
float each job returns for it."""

import importlib
import math

from omegaconf import DictConfig


def is_optuna(sweeper: DictConfig) -> bool:
    return "optuna" in str(sweeper.get("_target_", "")).lower()


def optuna_overrides(cfg: DictConfig, overrides: list[str]) -> list[str]:
    """hydra.sweeper.direction from the task's key metric (maximize an accuracy, minimize a loss) and
    the sampler seeded by the run's seed, each unless the command line or the recipe sets it."""
    given = [o.lstrip("+").split("=", 1)[0] for o in overrides]
    added = []
    if "hydra.sweeper.direction" not in given:
        module, name = cfg.task._target_.rsplit(".", 1)
        mode = getattr(importlib.import_module(module), name).mode
        added.append(f"hydra.sweeper.direction={'maximize' if mode == 'max' else 'minimize'}")
    if "hydra.sweeper.sampler.seed" not in given and cfg.hydra.sweeper.sampler.get("seed") is None:
        added.append(f"hydra.sweeper.sampler.seed={cfg.seed}")
    return added


def sweep_objective(summary: dict, direction) -> float:
    """What a job returns to Optuna: the best value of its key metric; a job that failed or
    diverged scores the worst value there is, so that the search goes on."""
    value = (summary.get("best") or {}).get("value")
    if summary.get("status") == "completed" and value is not None and math.isfinite(value):
        return float(value)
    return -math.inf if "max" in str(direction).lower() else math.inf
