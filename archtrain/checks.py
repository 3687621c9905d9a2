"""Checks of a composed config that need no torch: they run in the CLI before anything starts."""

import math
import os
import tempfile
from pathlib import Path
from typing import Callable

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from archtrain.catalog import fitting_data, options
from archtrain.choices import KNOB_CHOICES
from archtrain.errors import ArchtrainError
from archtrain.suggest import closest

# The groups every run needs: deleting one (`~model`) leaves nothing to train.
REQUIRED_GROUPS = ("model", "data", "task", "optim", "hardware")
# The groups whose options are free-form: their knobs are checked by name (KNOB_RULES) and by the
# type of the value the option ships with (check_types).
KNOB_GROUPS = ("model", "data", "task", "optim", "scheduler", "regularizer", "tune", "debug", "transform")
MAX_SEED = 2**32 - 1  # Lightning's seed_everything takes a uint32
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu", "xla")


def check_fit(cfg: DictConfig) -> None:
    """Stop before any work if the model or the task cannot read this data, naming data that would fit."""
    data, model, task = cfg.data, cfg.model, cfg.task
    if data.modality not in model.inputs:
        raise ArchtrainError(
            f"model={model.name} reads {' or '.join(model.inputs)} data, but data={data.name} is "
            f"{data.modality} data; data that fits: {', '.join(fitting_data(model.inputs))}"
        )
    if data.modality not in task.inputs:
        both = [modality for modality in model.inputs if modality in task.inputs]
        raise ArchtrainError(
            f"task={task.name} reads {' or '.join(task.inputs)} data, but data={data.name} is "
            f"{data.modality} data; data that fits model={model.name} and task={task.name}: "
            f"{', '.join(fitting_data(both)) or 'none'}"
        )


# Trainer arguments that archtrain passes itself, and the archtrain key that sets each.
TRAINER_OWNED = {
    "gradient_clip_val": "regularizer=grad_clip (regularizer.grad_clip.value=...)",
    "gradient_clip_algorithm": "regularizer=grad_clip (regularizer.grad_clip.algorithm=norm|value)",
    "enable_progress_bar": "progress_bar=true|false",
    "default_root_dir": "hydra.run.dir=<folder>",
    "logger": "logger=[tensorboard,mlflow,wandb]",
    "callbacks": "the regularizer group (early_stopping, ema...)",
    "profiler": "debug=profile (debug.profiler=simple|advanced)",
    "fast_dev_run": "debug=fast",
    **{
        key: f"hardware.{key}=..."
        for key in ("accelerator", "devices", "strategy", "num_nodes", "precision", "deterministic")
    },
}
TRAINER_FIXED = {"enable_model_summary", "plugins", "use_distributed_sampler"}  # not for a user to change


def check_trainer_keys(cfg: DictConfig) -> None:
    """Refuse a trainer.X that archtrain passes to Lightning's Trainer itself, naming the key that sets it."""
    for key in cfg.trainer:
        if key in TRAINER_OWNED:
            raise ArchtrainError(f"trainer.{key}: archtrain sets this itself; use {TRAINER_OWNED[key]}")
        if key in TRAINER_FIXED:
            raise ArchtrainError(f"trainer.{key}: archtrain sets this itself, and it cannot be changed")


def check_values(cfg: DictConfig) -> None:
    """Stop on a missing group, an interpolation that cannot resolve, a Trainer argument that archtrain
    sets itself, or a value outside its range (a negative learning rate, a batch size of zero...)."""
    check_groups(cfg)
    check_resolvable(cfg)
    check_trainer_keys(cfg)
    for key, rule in FIXED_RULES.items():
        check_rule(key, OmegaConf.select(cfg, key), rule)
    for key, value in knobs(cfg):
        name = key.rsplit(".", 1)[-1]
        rule = KNOB_RULES.get(name)
        if rule and is_number(value):
            check_rule(key, value, rule)
        if name in KNOB_CHOICES and isinstance(value, str) and value not in KNOB_CHOICES[name]:
            hint = closest(value, list(KNOB_CHOICES[name]))
            raise ArchtrainError(
                f"{key}={value}: choose from {', '.join(KNOB_CHOICES[name])}"
                + (f" (did you mean {hint}?)" if hint else "")
            )
    precision(cfg.hardware.precision)


def check_groups(cfg: DictConfig) -> None:
    for group in REQUIRED_GROUPS:
        if not cfg.get(group):
            raise ArchtrainError(
                f"a run needs a {group}; ~{group} removes it, {group}=<option> picks another: "
                f"{', '.join(options(group))}"
            )
        if OmegaConf.is_missing(cfg[group], "_target_"):
            raise ArchtrainError(
                f"{group}._target_: {group}=custom needs your class, "
                f"e.g. {group}._target_=mypkg.module.Class (docs/CUSTOM.md)"
            )


def check_resolvable(cfg: DictConfig) -> None:
    """Every ${...} outside Hydra's own node resolves (Hydra resolves its node itself)."""
    ours = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
    try:
        OmegaConf.to_container(ours, resolve=True)
    except OmegaConfBaseException as err:
        raise ArchtrainError(f"{err.full_key}: {err.msg.splitlines()[0]}") from None


def knobs(cfg: DictConfig) -> list[tuple[str, object]]:
    """(dotted key, value) for every leaf of the free-form groups."""
    leaves = []

    def walk(node, prefix: str) -> None:
        for key, value in node.items():
            if isinstance(value, DictConfig):
                walk(value, f"{prefix}{key}.")
            else:
                leaves.append((f"{prefix}{key}", value))

    for group in KNOB_GROUPS:
        if isinstance(cfg.get(group), DictConfig):
            walk(cfg[group], f"{group}.")
    return leaves


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_rule(key: str, value, rule: tuple) -> None:
    ok, text = rule
    if is_number(value) and not math.isfinite(value):
        text = "must be a finite number"
    if value is not None and not ok(value):
        raise ArchtrainError(f"{key}={value}: {text}")


def count(least: int, or_minus_one: bool = False) -> tuple:
    """A rule for an integer of at least `least` (or -1, Lightning's 'no limit')."""
    text = f"must be an integer of at least {least}" + (" (or -1)" if or_minus_one else "")
    return (lambda v: is_count(v) and (v >= least or (or_minus_one and v == -1))), text


def batch_limit(least_count: int) -> tuple:
    """Lightning's limit_*_batches: a count of batches or a fraction of them."""

    def ok(v) -> bool:
        return (is_count(v) and v >= least_count) or (isinstance(v, float) and 0 < v <= 1)

    return ok, f"must be a count of batches (at least {least_count}) or a fraction in (0, 1]"


def devices_ok(v) -> bool:
    """'auto', a count, -1 (every GPU) or a list of GPU ids."""
    if isinstance(v, ListConfig | list):
        return len(v) > 0 and all(is_count(i) and i >= 0 for i in v) and len(set(v)) == len(v)
    return v == "auto" or (is_count(v) and (v >= 1 or v == -1))


def finite(ok: Callable) -> Callable:
    return lambda v: is_number(v) and math.isfinite(v) and ok(v)


POSITIVE = (finite(lambda v: v > 0), "must be positive")
AT_LEAST_ONE = (finite(lambda v: v >= 1), "must be at least 1")
NON_NEGATIVE = (finite(lambda v: v >= 0), "must be at least 0")
FRACTION = (finite(lambda v: 0 <= v < 1), "must be in [0, 1)")
FIXED_RULES = {
    "seed": ((lambda v: is_count(v) and 0 <= v <= MAX_SEED), f"must be an integer from 0 to {MAX_SEED} (2**32 - 1)"),
    "trainer.max_epochs": count(0, or_minus_one=True),  # 0: nothing trains (post-training quantization)
    "trainer.max_steps": count(1, or_minus_one=True),
    "trainer.limit_train_batches": batch_limit(1),
    "trainer.limit_val_batches": batch_limit(0),
    "trainer.limit_test_batches": batch_limit(0),
    "trainer.check_val_every_n_epoch": count(1),
    "trainer.accumulate_grad_batches": count(1),
    "trainer.overfit_batches": batch_limit(0),
    "checkpoint.every_n_steps": count(1),
    "hardware.accelerator": ((lambda v: v in ACCELERATORS), f"choose from {', '.join(ACCELERATORS)}"),
    "hardware.devices": (devices_ok, "must be a count (at least 1), -1 (every GPU), a list of GPU ids or auto"),
    "hardware.num_nodes": count(1),
    "hardware.threads": count(1),
    "hardware.loss_check_every": count(1),
}
# Knobs of the free-form groups, by name wherever they appear (model.width, data.batch_size, ...).
# Only names whose meaning is the same in every option that has them; the rest are left to the
# constructor that takes them.
KNOB_RULES = {
    **dict.fromkeys(
        (
            "lr",
            "width",
            "temperature",
            "mmd_bandwidth",
            "div_factor",
            "final_div_factor",
            "spacing",
            "turn_scale",
            "decoder_std",
        ),
        POSITIVE,
    ),
    **dict.fromkeys(("min_lr", "max_lr"), POSITIVE),  # the tune group's
    **dict.fromkeys(
        (
            "hidden",
            "hidden_size",
            "d_model",
            "num_heads",
            "ff_mult",
            "channels",
            "image_size",
            "patch_size",
            "kernel_size",
            "growth_rate",
            "latent_size",
            "bottleneck",
            "fires",
            "beam_size",
            "batch_size",
            "seq_len",
            "window",
            "horizon",
            "samples",
            "length",
            "symbols",
            "modes",
            "max_len",
            "min_len",
            "eval_size",
            "train_size",
            "samples_per_epoch",
            "stride",
            "max_iter",
            "history_size",
            "step_size",
            "discriminator_steps",
            "side",
            "modes_per_moon",
            "code_size",
            "stages",
        ),
        AT_LEAST_ONE,
    ),
    **dict.fromkeys(("num_training", "init_val", "max_trials", "steps_per_trial", "max_val"), AT_LEAST_ONE),
    **dict.fromkeys(
        (
            "depth",
            "num_layers",
            "encoder_layers",
            "decoder_layers",
            "levels",
            "moe_experts",
            "warmup_steps",
            "sample_length",
            "top_k",
            "patience",
            "l1",
            "noise",
            "std",
            "radius",
            "momentum",
            "min_delta",
            "noise_level",
            "sparsity",
            "beta",
            "pictures_every",
        ),
        NON_NEGATIVE,
    ),
    **dict.fromkeys(
        ("dropout", "drop_path", "stochastic_depth", "label_smoothing", "val_fraction", "test_fraction", "pct_start"),
        FRACTION,
    ),
    "mask_rate": (finite(lambda v: 0 < v < 1), "must be between 0 and 1"),
    **dict.fromkeys(("gradient_penalty", "guidance"), NON_NEGATIVE),
    **dict.fromkeys(("sampling_steps", "embedding_size"), AT_LEAST_ONE),
    "timesteps": count(2),
    "label_dropout": (finite(lambda v: 0 <= v <= 1), "must be in [0, 1]"),
    "soft_weight": (finite(lambda v: 0 <= v <= 1), "must be in [0, 1]"),  # task=distill
    # graphs (archtrain/data/graphs.py, archtrain/models/graph.py)
    **dict.fromkeys(
        ("heads", "nodes", "communities", "feature_size", "graphs", "train_per_class", "min_nodes", "max_nodes"),
        AT_LEAST_ONE,
    ),
    **dict.fromkeys(("degree", "signal"), NON_NEGATIVE),
    "attention_dropout": FRACTION,
    "homophily": (finite(lambda v: 0 <= v <= 1), "must be in [0, 1]"),
    **dict.fromkeys(
        ("centres", "time_steps", "gibbs_steps", "sample_steps", "recall_sweeps", "neurons", "patterns"), AT_LEAST_ONE
    ),
    **dict.fromkeys(("surrogate_slope", "inverse_temperature"), POSITIVE),
    **dict.fromkeys(("membrane_decay", "flip_fraction"), FRACTION),
    "workers": count(0),  # data-loader processes
    # self-supervised learning (archtrain/tasks/self_supervised.py, archtrain/training/views.py)
    **dict.fromkeys(
        ("projection", "queue_size", "decoder_dim", "decoder_layers", "decoder_heads", "train_classes", "ways"),
        AT_LEAST_ONE,
    ),
    **dict.fromkeys(("probe_every",), NON_NEGATIVE),
    **dict.fromkeys(("target_momentum", "jitter", "mask"), FRACTION),
    "margin": POSITIVE,
    "mask_ratio": (finite(lambda v: 0 < v < 1), "must be between 0 and 1"),
    **dict.fromkeys(
        ("jitter_probability", "greyscale_probability", "blur_probability"),
        (finite(lambda v: 0 <= v <= 1), "must be in [0, 1]"),
    ),
    **dict.fromkeys(("labelled_fraction", "crop_scale"), (finite(lambda v: 0 < v <= 1), "must be in (0, 1]")),
    # compression (archtrain/compression)
    "amount": FRACTION,
    "bits": (finite(lambda v: 2 <= v <= 8), "must be 2 to 8 (int8 kernels)"),
    **dict.fromkeys(("calibration_batches", "rounds"), AT_LEAST_ONE),
    **dict.fromkeys(("start_epoch", "end_epoch", "rewind_epoch"), NON_NEGATIVE),
    # neural ODEs, CfC, K-FAC, Swin (models/ode.py, models/liquid.py, training/kfac.py, models/vision/swin.py)
    **dict.fromkeys(("integration_time", "rtol", "atol", "solver_step", "time_step", "dt", "kl_clip"), POSITIVE),
    **dict.fromkeys(
        ("trajectories", "eval_trajectories", "units", "backbone_units", "inverse_every", "window_size"), AT_LEAST_ONE
    ),
    **dict.fromkeys(("backbone_layers", "damping"), NON_NEGATIVE),
    "factor_decay": FRACTION,
    # architecture search (archtrain/models/darts.py, archtrain/tasks/darts.py)
    "cells": AT_LEAST_ONE,
    "arch_lr": POSITIVE,
    **dict.fromkeys(("arch_weight_decay", "genotype_seed"), NON_NEGATIVE),
    # CLIP (archtrain/models/clip.py)
    **dict.fromkeys(("embed_dim", "text_width", "text_layers", "text_heads"), AT_LEAST_ONE),
}


def check_types(cfg: DictConfig, shipped: DictConfig, keys: list[str]) -> None:
    """Each key a user sets keeps the type of the value its config ships with (`model.width: 256`
    takes integers, `optim.lr: 0.001` numbers; a key shipped as null takes anything), and every
    number is finite. tests/test_bad_input.py checks that the shipped values have their
    constructors' annotated types, so that the shipped value is a sound declaration."""
    for key in keys:
        value = OmegaConf.select(cfg, key, throw_on_missing=False)
        problem = type_problem(OmegaConf.select(shipped, key, throw_on_missing=False), value)
        if problem:
            shown = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
            raise ArchtrainError(f"{key}={shown}: {problem}")


TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def type_problem(shipped, value) -> str | None:
    """What is wrong with `value` where the option ships `shipped` (None: nothing)."""
    if is_number(value) and not math.isfinite(value):
        return "must be a finite number"
    if shipped is None or value is None:
        return None
    if isinstance(shipped, ListConfig):
        if not isinstance(value, ListConfig):
            return "must be a list"
        homogeneous = len({type(item) for item in shipped}) == 1
        problems = [type_problem(shipped[0], item) for item in value] if homogeneous else []
        return next(filter(None, problems), None)
    if isinstance(shipped, DictConfig):
        return None if isinstance(value, DictConfig) else "must be a mapping"
    expected = type(shipped)
    fits = is_number(value) if expected is float else (type(value) is expected)
    return None if fits else f"must be {TYPE_NAMES.get(expected, expected.__name__)}"


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_cpu_devices(devices) -> None:
    """A CPU run starts one process per device: a count of processes this machine has cores for."""
    if devices == "auto":
        return
    if not is_count(devices) or devices < 1:
        raise ArchtrainError(f"hardware.devices={devices}: on the CPU devices is a number of processes (at least 1)")
    cores = usable_cores()
    if devices > cores:
        raise ArchtrainError(
            f"hardware.devices={devices}: this machine has {cores} CPU core(s), "
            f"so at most {cores} processes can train on the CPU"
        )


def check_machine(hardware: DictConfig) -> None:
    """What can be known about the machine without torch: the CPU's cores for a CPU run."""
    if hardware.accelerator == "cpu":
        check_cpu_devices(hardware.devices)


def check_output_folder(key: str, setting: str) -> None:
    """The folder that Hydra's `key` (hydra.run.dir, hydra.sweep.dir) makes can be made: the part of
    its `setting` before the first ${...} is fixed, and its nearest existing folder is tried by
    making and removing a temporary folder in it."""
    fixed = setting.split("${")[0]
    path = Path(fixed if "${" not in setting or fixed.endswith("/") else Path(fixed).parent).expanduser()
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    if not existing.is_dir():
        raise ArchtrainError(f"{key}={setting}: {existing} is a file, so no folder can be made under it")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".archtrain-probe-", dir=existing))
    except OSError as err:
        raise ArchtrainError(f"{key}={setting}: cannot make a folder in {existing} ({err.strerror})") from None


def check_resume_path(value: str) -> None:
    """resume= names a run directory: not nothing, and not a file (a checkpoint names its run)."""
    if not value:
        raise ArchtrainError("resume= needs a run directory, e.g. resume=outputs/runs/<date>/<time>_<model>-<data>")
    path = Path(value).expanduser()
    if path.is_file():
        hint = f" (this checkpoint's run: resume={path.parent.parent})" if path.parent.name == "checkpoints" else ""
        raise ArchtrainError(f"resume={value} is a file; resume= takes a run directory{hint}")


PRECISIONS = ("64-true", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true")
SHORT_PRECISIONS = {"64": "64-true", "32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed"}


def precision(value) -> str:
    """Lightning's name for a precision given as 64, 32, 16-mixed, bf16-mixed, ..."""
    name = SHORT_PRECISIONS.get(str(value), str(value))
    if name not in PRECISIONS:
        raise ArchtrainError(f"hardware.precision={value}: choose from 64, 32, {', '.join(PRECISIONS[2:])}")
    return name
