"""Checkpoint files that survive crashes and cannot run code when loaded."""

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from archtrain.errors import ArchtrainError


class CorruptCheckpoint(ArchtrainError):
    """A checkpoint file that cannot be read: truncated, or not a checkpoint at all."""


class UnsafeCheckpoint(ArchtrainError):
    """A checkpoint that carries pickled objects, which loading would run as code."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load tensors and plain data only (`weights_only=True`); never unpickle objects."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpoint(f"refusing checkpoint {path}: it carries pickled objects that loading would run "
                               f"as code ({str(err).strip().splitlines()[-1][:160]})") from None
    except FileNotFoundError:
        raise ArchtrainError(f"no checkpoint at {path}") from None
    except Exception as err:  # torch raises RuntimeError, EOFError, zipfile errors... for a damaged file
        raise CorruptCheckpoint(f"checkpoint {path} is damaged or truncated ({type(err).__name__}: "
                                f"{str(err).strip().splitlines()[0][:160]})") from None


def write_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Write to a temporary file in the same folder, fsync it, rename it over `path`, fsync the folder:
    a crash at any moment leaves either the old checkpoint or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        torch.save(checkpoint, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, with atomic durable writes and weights-only reads."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any = None) -> None:
        write_checkpoint(checkpoint, path)

    def load_checkpoint(self, path, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return read_checkpoint(path)
