"""The hardware a run asks for: checked against this machine, then handed to Lightning.

Strategies, precision plugins and launchers are Lightning's own; this module only refuses what
cannot work here with one plain sentence, instead of falling back to something else silently.
"""

import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import torch
from omegaconf import DictConfig

from archtrain.checks import check_cpu_devices, precision
from archtrain.cpu_busy import busy_elsewhere
from archtrain.errors import ArchtrainError

# The keys of the hardware config that are not Lightning Trainer arguments.
OWN_KEYS = ("threads", "compile", "loss_check_every")
GPU_LOSS_CHECK_EVERY = 50  # steps between the divergence guard's reads on a GPU (each read waits for it)


def wants_gpu(hardware: DictConfig) -> bool:
    return hardware.accelerator in ("gpu", "cuda")


def check_hardware(hardware: DictConfig) -> None:
    """Stop when this machine cannot give what the hardware config asks for."""
    if wants_gpu(hardware) and not torch.cuda.is_available():
        raise ArchtrainError(
            f"hardware asks for accelerator={hardware.accelerator}, but this machine has "
            "no usable GPU (torch.cuda.is_available() is False); use hardware=cpu"
        )
    on_gpu = wants_gpu(hardware) or (hardware.accelerator == "auto" and torch.cuda.is_available())
    if on_gpu and isinstance(hardware.devices, int) and hardware.devices > torch.cuda.device_count():
        raise ArchtrainError(
            f"hardware.devices={hardware.devices}, but this machine has {torch.cuda.device_count()} GPU(s)"
        )
    if not on_gpu:
        check_cpu_devices(hardware.devices)
    name = precision(hardware.precision)
    if not on_gpu and name == "16-mixed":
        raise ArchtrainError("hardware.precision=16-mixed needs a GPU; on the CPU use bf16-mixed")
    if not on_gpu and str(hardware.strategy).startswith("fsdp"):
        raise ArchtrainError(
            "hardware.strategy=fsdp shards a model across GPUs and needs them; on the CPU use hardware=ddp"
        )
    if name.startswith("bf16") and on_gpu and not torch.cuda.is_bf16_supported():
        raise ArchtrainError(f"hardware.precision={hardware.precision}: this GPU has no bfloat16 support; use 16-mixed")


def trainer_arguments(hardware: DictConfig, unused_parameters: bool = False) -> dict:
    """The hardware config as keyword arguments of pytorch_lightning.Trainer. With `unused_parameters`
    (a task whose backward passes each leave some parameters out, as a GAN's do), DDP looks for them."""
    arguments = {k: v for k, v in hardware.items() if k not in OWN_KEYS}
    arguments["precision"] = precision(hardware.precision)
    if unused_parameters and arguments["strategy"] == "ddp":
        arguments["strategy"] = "ddp_find_unused_parameters_true"
    return arguments


@contextmanager
def cpu_threads(count: int | None):
    """torch's CPU threads set to `count` (None: left as they are) while the block runs, then restored,
    so that the next job of a sweep, or the next run in the same process, starts from the default."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The CPUs a container's cgroup lets this process use (quota / period), None where unlimited."""
    files = [(root / "cpu.max", None), (root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us")]
    for quota_file, period_file in files:
        try:
            fields = quota_file.read_text().split() + ([period_file.read_text().strip()] if period_file else [])
        except OSError:
            continue
        quota, period = fields[0], fields[1]
        return None if quota in ("max", "-1") else int(quota) / int(period)
    return None


def usable_cpus() -> int:
    """The cores this process may run on: its affinity mask, capped by its cgroup's CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cores, math.floor(quota))) if quota else cores


def default_threads(workers: int = 0, processes: int = 1, busy: float | None = None) -> int:
    """torch's thread count when hardware.threads is null: the usable cores that other processes keep
    busy now (`busy` cores: archtrain.cpu_busy; a core counts as taken when more than half of it is),
    shared among this run's `processes`, less one core for each data-loader worker it starts; at
    least one, and never more than torch's own count (OMP_NUM_THREADS, or what the caller set).
    OpenMP threads wait for each other at every operation, so a thread whose core is taken by another
    process stalls all of them: on a 2-core machine with one busy process, two threads train the
    default job several times slower than one (docs/PERFORMANCE.md)."""
    busy = busy_elsewhere() if busy is None else busy
    free = max(1, usable_cpus() - math.floor(busy + 0.5))
    return max(1, min(free // max(1, processes) - workers, torch.get_num_threads()))


def loss_check_every(hardware: DictConfig) -> int:
    """Steps between the divergence guard's reads of its on-device check: hardware.loss_check_every, or
    when null every step on the CPU (a read costs nothing there) and every 50 on a GPU."""
    if hardware.get("loss_check_every"):
        return hardware.loss_check_every
    on_gpu = wants_gpu(hardware) or (hardware.accelerator == "auto" and torch.cuda.is_available())
    return GPU_LOSS_CHECK_EVERY if on_gpu else 1


def run_threads(cfg: DictConfig) -> int:
    """hardware.threads, or when null the default for the run's data workers and CPU processes."""
    if cfg.hardware.threads:
        return cfg.hardware.threads
    on_cpu = cfg.hardware.accelerator == "cpu" and isinstance(cfg.hardware.devices, int)
    return default_threads(workers=cfg.data.get("workers") or 0, processes=cfg.hardware.devices if on_cpu else 1)


def prepare(net: torch.nn.Module, hardware: DictConfig) -> None:
    """Compilation: the setting that acts on the net rather than on the Trainer."""
    if hardware.compile:
        net.compile()  # in place: parameter names, and so checkpoints, stay those of the model


def describe(trainer, hardware: DictConfig) -> dict:
    """The hardware a run actually used, for its summary."""
    used = {
        "accelerator": type(trainer.accelerator).__name__,
        "devices": trainer.num_devices,
        "nodes": trainer.num_nodes,
        "world_size": trainer.world_size,
        "strategy": type(trainer.strategy).__name__,
        "precision": trainer.precision,
        "cpu_threads": torch.get_num_threads(),
        "compiled": bool(hardware.compile),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
    }
    if used["accelerator"] == "CUDAAccelerator":
        used["gpu"] = torch.cuda.get_device_name()
    return used


def peak_memory() -> dict:
    """Peak resident memory (RSS) in MB of this process and of the largest of its children that have
    ended (data-loader workers), for the summary; empty where the OS does not say."""
    try:
        import resource
    except ImportError:  # Windows
        return {}
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    peaks = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if children:
        peaks["children_peak_rss_mb"] = children
    return {key: round(value * unit / 2**20, 1) for key, value in peaks.items()}
