"""The step after training that makes a run's net compressed (each transform's `finish`: int8
conversion, permanent pruning masks), model.pt that holds it, and reading it back."""

import os
from pathlib import Path

import torch

from archtrain.compression.footprint import key_metric, measure, source_figures, source_run, weight_counts
from archtrain.compression.quantize import quiet
from archtrain.errors import ArchtrainError
from archtrain.files import fsync_folder, temporary_beside
from archtrain.training.checkpoint_io import read_checkpoint

MODEL_FILE = "model.pt"  # the compressed net's state_dict, in the run directory


def finishing(parts) -> list:
    return [transform for transform in parts.applied if hasattr(transform, "finish")]


def finish_run(parts, run_dir: Path, best: str | None) -> dict | None:
    """Load the best weights, compress the net and save it to model.pt; None for a run that compresses
    nothing. The counts are taken before int8 conversion (packed int8 weights count the same)."""
    steps = finishing(parts)
    if not steps:
        return None
    if best:
        parts.task.load_state_dict(read_checkpoint(best)["state_dict"])
    counts = weight_counts(parts.net)
    reports = {transform.name: transform.finish(parts.net, parts.data) for transform in steps}
    path = Path(run_dir) / MODEL_FILE
    with temporary_beside(path) as handle:
        torch.save(parts.net.state_dict(), handle)
        handle.flush()
        os.fsync(handle.fileno())
        os.replace(handle.name, path)
    fsync_folder(path.parent)
    return {"steps": reports, "counts": counts, "model": str(path)}


def footprint(parts, compressed: dict | None, test: dict, reports: dict) -> dict:
    """summary.json's `footprint` of a compressed run (or one whose task names a source run): this
    model's figures and its source's side by side. Empty for other runs."""
    if compressed is None and not hasattr(parts.task, "source_run"):
        return {}
    source, monitor = source_run(reports, parts.task), parts.task.monitor
    return {
        "footprint": {
            "model": {**measure(parts.net, parts.data, (compressed or {}).get("counts")), **key_metric(monitor, test)},
            "source": source_figures(source, monitor) if source else None,
        }
    }


def restore_compressed(parts, file: Path, checkpoint: str, where: str) -> None:
    """Rebuild the compressed net of a run (its transforms' structure, then model.pt's tensors)."""
    if checkpoint != "best":
        raise ArchtrainError(
            f"{where}: the run is compressed; its model is {MODEL_FILE} (from its best checkpoint), "
            f"so checkpoint={checkpoint} does not apply"
        )
    for transform in finishing(parts):
        transform.restore(parts.net)
    with quiet():
        parts.net.load_state_dict(torch.load(file, weights_only=True))
    parts.task.eval()


def transform_callbacks(parts) -> tuple:
    """The Lightning callbacks that the model transforms bring (a pruning schedule)."""
    return tuple(callback for transform in parts.applied for callback in getattr(transform, "callbacks", list)())
