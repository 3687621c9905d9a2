"""One training run: data, model, task and trainer meet here and nowhere else."""

import contextlib
import os
import signal
import time
import traceback
from pathlib import Path

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.utilities import rank_zero_only
from pytorch_lightning.utilities.exceptions import SIGTERMException

from archtrain.assemble import assemble
from archtrain.compression.finishing import finish_run, footprint, transform_callbacks
from archtrain.distributed import check_relaunchable
from archtrain.errors import ArchtrainError, Diverged, Stopped
from archtrain.hardware import (
    check_hardware,
    cpu_threads,
    describe,
    loss_check_every,
    peak_memory,
    prepare,
    run_threads,
    trainer_arguments,
)
from archtrain.models import count_parameters
from archtrain.report import console, plots
from archtrain.report.model_summary import write_model_summary
from archtrain.runs import RunDir, environment
from archtrain.tasks import Task
from archtrain.tasks.generative import Generative
from archtrain.training.callbacks import (
    AveragedWeights,
    DivergenceGuard,
    LastCheckpoint,
    RichBar,
    RunState,
    SamplePictures,
    StopOnSignal,
)
from archtrain.training.checkpoint_io import SafeCheckpointIO
from archtrain.training.compat import avoid_deprecated_leafspec, quiet_lightning
from archtrain.training.debugging import profiler
from archtrain.training.loggers import RUN_LOG, LogFileLogger, RunCSVLogger, chosen_loggers
from archtrain.training.regularizers import regularizers
from archtrain.training.tuning import tune


def build_trainer(cfg: DictConfig, run: RunDir, task: Task, extra: tuple = ()) -> pl.Trainer:
    regularizer = regularizers(cfg)
    callbacks = [
        ModelCheckpoint(
            dirpath=run.checkpoints, filename="best", monitor=task.monitor, mode=task.mode, enable_version_counter=False
        ),
        LastCheckpoint(run.last_checkpoint),  # at every epoch's end and at the end of training
        RunState(OmegaConf.to_container(cfg, resolve=True)),
        DivergenceGuard(loss_check_every(cfg.hardware)),
        StopOnSignal(run.last_checkpoint),
        *extra,  # the model transforms' own (a pruning schedule)
    ]
    if cfg.checkpoint.every_n_steps:  # last.ckpt also every N steps, so a crash loses at most N steps
        callbacks.append(
            ModelCheckpoint(
                dirpath=run.checkpoints,
                every_n_train_steps=cfg.checkpoint.every_n_steps,
                save_top_k=0,
                save_last=True,
                enable_version_counter=False,
            )
        )
    if cfg.progress_bar:
        callbacks.append(RichBar())
    if isinstance(task, Generative):  # sample pictures at validations
        callbacks.append(SamplePictures(run.pictures))
    if "early_stopping" in regularizer:
        callbacks.append(EarlyStopping(monitor=task.monitor, mode=task.mode, **regularizer.early_stopping))
    if "ema" in regularizer:
        callbacks.append(AveragedWeights(**regularizer.ema))
    loggers = [
        RunCSVLogger(run.path),
        LogFileLogger(),
        *chosen_loggers(cfg.get("logger"), run.path, OmegaConf.to_container(cfg, resolve=True)),
    ]
    # Lightning refuses Trainer-level clipping under manual optimization: such a task clips in its own step.
    clip = (regularizer.get("grad_clip") or {}) if task.automatic_optimization else {}
    return pl.Trainer(
        **trainer_arguments(cfg.hardware, task.unused_parameters),
        **cfg.trainer,
        callbacks=callbacks,
        logger=loggers,
        gradient_clip_val=clip.get("value"),
        gradient_clip_algorithm=clip.get("algorithm"),
        enable_progress_bar=cfg.progress_bar,
        enable_model_summary=False,
        default_root_dir=run.path,
        plugins=[SafeCheckpointIO()],
        profiler=profiler(cfg.get("debug"), run.path),
        use_distributed_sampler=False,  # the data modules shard by rank themselves (data/base.py)
    )


def _numbers(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in sorted(metrics.items())}


def fit_and_test(cfg: DictConfig, run: RunDir, summary: dict, resume: bool = False) -> dict:
    """Train, test the best checkpoint, write the run's files. Fills `summary` as it goes."""
    started = time.perf_counter()
    avoid_deprecated_leafspec()
    quiet_lightning()
    check_hardware(cfg.hardware)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    parts = assemble(cfg, resume=resume)
    data, task = parts.data, parts.task
    layers = write_model_summary(parts, run.path) if rank_zero_only.rank == 0 else None  # before compiling
    prepare(task.net, cfg.hardware)
    if parts.transforms:
        summary["transforms"] = parts.transforms
    summary.update(
        task=cfg.task.name,
        parameters=count_parameters(task.net),
        trainable_parameters=sum(p.numel() for p in task.net.parameters() if p.requires_grad),
        files={
            "run": str(run.path),
            "config": str(run.config),
            "metrics": str(run.metrics),
            "summary": str(run.summary),
            "log": str(run.log),
        },
    )
    if layers:
        summary["files"]["model_summary"] = str(layers)
    if cfg.get("tune") and not resume:  # applied to cfg (and config.yaml) before the trainer stores it
        summary["tune"] = tune(cfg, run, parts)
    trainer = build_trainer(cfg, run, task, transform_callbacks(parts))
    summary["hardware"] = describe(trainer, cfg.hardware)
    if trainer.world_size > 1 and "LOCAL_RANK" not in os.environ:  # Lightning will launch the other ranks
        check_relaunchable()

    fit_start = time.perf_counter()
    try:
        trainer.fit(task, datamodule=data, ckpt_path=str(run.resume_checkpoint(task.state_dict())) if resume else None)
    except SIGTERMException:  # Lightning's handler, in the moments before training starts
        raise Stopped("SIGTERM received before training started", signal.SIGTERM) from None
    fit_s = time.perf_counter() - fit_start
    final = _numbers(trainer.callback_metrics)
    checkpoint = trainer.checkpoint_callback

    test_start = time.perf_counter()
    best_path = checkpoint.best_model_path or None
    compressed = finish_run(parts, run.path, best_path)  # None for a run that compresses nothing
    tested = None if compressed else best_path  # a compressed net is tested as it is
    testable = (best_path or compressed) and "test" in data.splits  # text may be split into train and val only
    test = trainer.test(task, datamodule=data, ckpt_path=tested, verbose=False)[0] if testable else {}
    test_s = time.perf_counter() - test_start

    files = summary["files"]
    files.update(best_checkpoint=best_path, last_checkpoint=str(run.last_checkpoint))
    if compressed:
        summary["compression"], files["model"] = compressed["steps"], compressed["model"]
    series = plots.read_epoch_metrics(run.metrics) if run.metrics.exists() else {}
    if trainer.is_global_zero:
        for extra in task.write_extras(run.path):
            files[extra.stem] = str(extra)
        summary.update(task.test_report())
        summary.update(footprint(parts, compressed, _numbers(test), parts.transforms))
        curve = plots.learning_curve(series, run.learning_curve, task.monitor, f"{cfg.model.name} on {cfg.data.name}")
        if curve:  # none when nothing trained
            files["learning_curve"] = str(curve)
    best_score = checkpoint.best_model_score
    summary.update(
        status="completed",
        epochs=trainer.current_epoch,
        steps=trainer.global_step,
        best={
            "metric": task.monitor,
            "value": float(best_score) if best_score is not None else None,
            "epoch": _epoch_of(series.get(task.monitor, {}), best_score),
        },
        final=final,
        test=_numbers(test),
        durations={
            "fit_s": round(fit_s, 3),
            "test_s": round(test_s, 3),
            "total_s": round(time.perf_counter() - started, 3),
        },
    )
    return summary


def _epoch_of(values: dict[int, float], score) -> int | None:
    """The epoch at which a metric took the value `score`."""
    if score is None:
        return None
    return min(values, key=lambda epoch: abs(values[epoch] - float(score)), default=None)


def run_job(cfg: DictConfig, run_dir: Path, resume_overrides: list[str], multirun: bool) -> dict:
    """Run one job and record how it ended. A single run exits non-zero on failure; a sweep
    job returns its summary so that the other jobs go on."""
    run = RunDir(run_dir)
    resume = bool(cfg.resume)
    main_process = rank_zero_only.rank == 0  # under DDP, rank 0 alone writes the run's files
    summary: dict = {"status": "running"}
    code = 0
    try:
        if resume:
            cfg = run.load_config(resume_overrides)
            cfg.resume = str(run.path)
        summary.update(
            run.read_summary() if resume else {},
            status="running",
            model=cfg.model.name,
            data=cfg.data.name,
            environment=environment(),
            error=None,
        )
        cfg.hardware.threads = run_threads(cfg)  # recorded in config.yaml: resume= computes with as many threads
        if main_process:
            run.save_config(cfg)
            run.write_summary(summary)
            RUN_LOG.info(
                "%s %s: model=%s data=%s task=%s\n%s",
                "resuming" if resume else "starting",
                run.path,
                cfg.model.name,
                cfg.data.name,
                cfg.task.name,
                OmegaConf.to_yaml(cfg, resolve=True).rstrip(),
            )
            if not multirun:
                console.show_config(cfg)
        with cpu_threads(cfg.hardware.threads):
            fit_and_test(cfg, run, summary, resume=resume)
    except Stopped as err:
        summary.update(status="interrupted", error=f"{err}; continue with: archtrain resume={run.path}")
        code = err.exit_code
    except Diverged as err:
        summary.update(status="diverged", error=str(err))
        code = err.exit_code
    except ArchtrainError as err:
        summary.update(status="failed", error=str(err))
        code = err.exit_code
    except Exception as err:  # a bug, not a user error: keep the trace in train.log, show one line
        with contextlib.suppress(OSError), open(run.log, "a", encoding="utf-8") as handle:  # a full disk refuses it
            traceback.print_exc(file=handle)
        first_line = next(iter(str(err).strip().splitlines()), "")
        summary.update(status="failed", error=f"{type(err).__name__}: {first_line}".rstrip(": "))
        code = 1
        if _debugging():
            raise
    if main_process:
        RUN_LOG.info(_outcome(summary))
        summary["memory"] = peak_memory()
        try:
            run.write_summary(summary)
        except OSError as err:  # a full disk: the console is the only record left
            code, summary["error"] = code or 1, _unrecorded(run, summary, err)
        if code:
            console.show_error(summary["error"], run.path)
        elif multirun:
            console.show_job_line(summary)
        else:
            console.show_results(summary)
    if code and not multirun:
        raise SystemExit(code)
    return summary


def _outcome(summary: dict) -> str:
    """How a run ended, in one line of train.log."""
    if summary.get("error"):
        return f"{summary['status']}: {summary['error']}"
    best = summary.get("best") or {}
    value = "none" if best.get("value") is None else f"{best['value']:.6g}"
    return (
        f"{summary['status']} after {summary.get('epochs')} epochs and {summary.get('steps')} steps in "
        f"{(summary.get('durations') or {}).get('total_s')} s; best {best.get('metric')} {value} "
        f"at epoch {best.get('epoch')}"
    )


def _unrecorded(run: RunDir, summary: dict, err: OSError) -> str:
    """The line that stands for a summary.json that could not be written: how the run ended, and why."""
    ended = f"{summary['status']} ({summary['error']})" if summary.get("error") else summary["status"]
    return f"cannot write {run.summary} ({err.strerror}); the run ended {ended}"


def _debugging() -> bool:
    return os.environ.get("HYDRA_FULL_ERROR") == "1" or os.environ.get("ARCHTRAIN_DEBUG") == "1"
