"""Checks of a composed config that need no torch: they run in the CLI before anything starts."""

from omegaconf import DictConfig

from archtrain.catalog import fitting_data
from archtrain.errors import ArchtrainError


def check_fit(cfg: DictConfig) -> None:
    """Stop before any work if the model or the task cannot read this data, naming data that would fit."""
    data, model, task = cfg.data, cfg.model, cfg.task
    if data.modality not in model.inputs:
        raise ArchtrainError(f"model={model.name} reads {' or '.join(model.inputs)} data, but data={data.name} is "
                             f"{data.modality} data; data that fits: {', '.join(fitting_data(model.inputs))}")
    if data.modality not in task.inputs:
        both = [modality for modality in model.inputs if modality in task.inputs]
        raise ArchtrainError(f"task={task.name} reads {' or '.join(task.inputs)} data, but data={data.name} is "
                             f"{data.modality} data; data that fits model={model.name} and task={task.name}: "
                             f"{', '.join(fitting_data(both)) or 'none'}")


def check_values(cfg: DictConfig) -> None:
    """Stop on values outside their range, e.g. a negative learning rate or a batch size of zero."""
    rules = [
        ("optim.lr", cfg.optim.get("lr"), lambda v: v > 0, "must be positive"),
        ("data.batch_size", cfg.data.get("batch_size"), lambda v: v >= 1, "must be at least 1"),
        ("trainer.max_epochs", cfg.trainer.max_epochs, lambda v: v >= 1 or v == -1, "must be at least 1 (or -1)"),
        ("trainer.accumulate_grad_batches", cfg.trainer.accumulate_grad_batches, lambda v: v >= 1, "must be at least 1"),
        ("checkpoint.every_n_steps", cfg.checkpoint.every_n_steps, lambda v: v >= 1, "must be at least 1"),
        ("hardware.threads", cfg.hardware.threads, lambda v: v >= 1, "must be at least 1"),
        ("task.mask_rate", cfg.task.get("mask_rate"), lambda v: 0 < v < 1, "must be between 0 and 1"),
        ("task.sample_length", cfg.task.get("sample_length"), lambda v: v >= 0, "must be at least 0"),
    ]
    rules += [(f"data.{name}", cfg.data.get(name), lambda v: 0 <= v < 1, "must be in [0, 1)")
              for name in ("val_fraction", "test_fraction")]
    for key, value, ok, rule in rules:
        if value is not None and not isinstance(value, bool) and isinstance(value, (int, float)) and not ok(value):
            raise ArchtrainError(f"{key}={value}: {rule}")
    precision(cfg.hardware.precision)


PRECISIONS = ("64-true", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true")
SHORT_PRECISIONS = {"64": "64-true", "32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed"}


def precision(value) -> str:
    """Lightning's name for a precision given as 64, 32, 16-mixed, bf16-mixed, ..."""
    name = SHORT_PRECISIONS.get(str(value), str(value))
    if name not in PRECISIONS:
        raise ArchtrainError(f"hardware.precision={value}: choose from 64, 32, {', '.join(PRECISIONS[2:])}")
    return name
