"""The hardware a run asks for: checked against this machine, then handed to Lightning.

Strategies, precision plugins and launchers are Lightning's own; this module only refuses what
cannot work here with one plain sentence, instead of falling back to something else silently.
"""

from contextlib import contextmanager

import torch
from omegaconf import DictConfig

from archtrain.checks import check_cpu_devices, precision
from archtrain.errors import ArchtrainError

# The keys of the hardware config that are not Lightning Trainer arguments.
OWN_KEYS = ("threads", "compile")


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
