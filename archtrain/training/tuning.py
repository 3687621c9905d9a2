"""The tune group: Lightning's batch-size finder, then its learning-rate finder, before training.

Each applies what it finds to the run's config (data.batch_size, optim.lr), which is stored again, so
that config.yaml, the checkpoints and a resumed run all hold the values that trained. Tuning runs on a
Trainer of its own and leaves no trace in the run but what it reports: the weights are restored by
Lightning, and torch's random state by `fork_rng`, so a tuned run trains exactly as a run given the
found values on the command line would.
"""

from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.tuner import Tuner

from archtrain.errors import ArchtrainError
from archtrain.hardware import trainer_arguments
from archtrain.runs import RunDir
from archtrain.training.loggers import RUN_LOG

SKIPPED = (10, 1)  # the finder's first and last steps, which its suggestion ignores (Lightning's default)
MODES = {"lr": ("exponential", "linear"), "batch_size": ("power", "binsearch")}


def tuning_problems(
    tune: DictConfig, task: pl.LightningModule, data: pl.LightningDataModule, cfg: DictConfig, world_size: int
) -> list[str]:
    """Why the tuners that `tune` names cannot work on this run (empty when they can)."""
    found = [
        f"tune.{name}.mode={tune[name].mode}: choose from {', '.join(MODES[name])}"
        for name in MODES
        if name in tune and tune[name].mode not in MODES[name]
    ]
    if world_size > 1:
        found.append(
            f"tune={','.join(tune)} runs in one process; tune with hardware.devices=1, then train on "
            f"{world_size} with the values it finds"
        )
    if "lr" in tune and not task.automatic_optimization:
        found.append(
            f"tune=lr varies the rate of one optimizer that Lightning steps; task={cfg.task.name} "
            f"steps its own optimizers"
        )
    if "batch_size" in tune and not isinstance(getattr(data, "batch_size", None), int):
        found.append(
            f"tune=batch_size changes the data module's batch_size attribute, and data={cfg.data.name} has none"
        )
    return found


def tuning_trainer(cfg: DictConfig, run: RunDir, task: pl.LightningModule) -> pl.Trainer:
    """A Trainer with the run's hardware and batch limits, and no callbacks, loggers or checkpoints of its
    own (the tuners write a temporary checkpoint in the run directory and remove it). The tuners count
    their own steps, across as many epochs as they need: the run's length does not bound them."""
    length = {"max_epochs": -1, "max_steps": -1}
    return pl.Trainer(
        **trainer_arguments(cfg.hardware, task.unused_parameters),
        **{**cfg.trainer, **length},
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=run.path,
        use_distributed_sampler=False,
    )


def tune(cfg: DictConfig, run: RunDir, parts) -> dict:
    """Run the tuners that cfg.tune names on the run's task and data, apply and record what they find.
    Returns the report for summary.json: {"batch_size": {...}, "lr": {...}}."""
    task, data, tune_cfg = parts.task, parts.data, cfg.tune
    trainer = tuning_trainer(cfg, run, task)
    problems = tuning_problems(tune_cfg, task, data, cfg, trainer.world_size)
    if problems:
        raise ArchtrainError("; ".join(problems))
    report = {}
    with torch.random.fork_rng():
        if "batch_size" in tune_cfg:
            report["batch_size"] = find_batch_size(Tuner(trainer), cfg, parts)
        if "lr" in tune_cfg:
            report["lr"] = find_lr(Tuner(trainer), cfg, parts, run.path / "lr_find.png")
    run.save_config(cfg)
    RUN_LOG.info(
        "tuned: %s", "; ".join(f"{name} {values['was']} -> {values['found']}" for name, values in report.items())
    )
    return report


def find_batch_size(tuner: Tuner, cfg: DictConfig, parts) -> dict:
    knobs = cfg.tune.batch_size
    was = parts.data.batch_size
    found = tuner.scale_batch_size(
        parts.task,
        datamodule=parts.data,
        mode=knobs.mode,
        init_val=knobs.init_val,
        max_trials=knobs.max_trials,
        steps_per_trial=knobs.steps_per_trial,
        max_val=knobs.max_val,
    )
    examples = len(parts.data.train_dataloader().dataset)  # Lightning stops doubling past it, but keeps the size
    parts.data.batch_size = cfg.data.batch_size = min(int(found), examples)
    return {"was": was, "found": parts.data.batch_size, "training_examples": examples}


def find_lr(tuner: Tuner, cfg: DictConfig, parts, plot: Path) -> dict:
    knobs = cfg.tune.lr
    finder = tuner.lr_find(
        parts.task,
        datamodule=parts.data,
        min_lr=knobs.min_lr,
        max_lr=knobs.max_lr,
        num_training=knobs.num_training,
        mode=knobs.mode,
        update_attr=False,
    )
    losses = torch.tensor(finder.results["loss"][SKIPPED[0] : -SKIPPED[1]])
    if int(losses.isfinite().sum()) < 2:  # Lightning's suggestion() would log an error and return None
        raise ArchtrainError(
            f"tune=lr: the finder ran {len(finder.results['loss'])} steps, too few to suggest a rate "
            f"(it needs {sum(SKIPPED) + 2} with a finite loss): raise tune.lr.num_training (now "
            f"{knobs.num_training}), or lower tune.lr.max_lr if the loss diverged early"
        )
    suggested = finder.suggestion(*SKIPPED)
    was = cfg.optim.lr
    cfg.optim.lr = float(suggested)
    parts.task.make_optimizer = instantiate(cfg.optim)
    save_plot(finder, plot, f"learning-rate finder: {cfg.model.name} on {cfg.data.name}")
    return {"was": was, "found": float(suggested), "steps": len(finder.results["lr"]), "plot": str(plot)}


def save_plot(finder, path: Path, title: str) -> None:
    """Lightning's loss-by-rate plot with the suggested rate marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = finder.plot(suggest=True)
    figure.suptitle(title)
    figure.savefig(path, dpi=110)
    plt.close(figure)
