"""What a compressed model costs next to the model it came from: parameters, non-zero parameters, the
saved file's size, the key test metric, and CPU latency per example at batch 1 and batch 64."""

import io
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from archtrain.errors import ArchtrainError

BATCHES = (1, 64)
TIMING_S = 0.1  # seconds spent timing each batch size (at least 5 calls), after one warm-up call


def weight_counts(net: nn.Module) -> dict[str, int]:
    """Parameters and non-zero parameters of a float net; a pruned weight counts as its masked value."""
    total = nonzero = 0
    for module in net.modules():
        for name, parameter in module.named_parameters(recurse=False):
            value = getattr(module, name.removesuffix("_orig")) if name.endswith("_orig") else parameter
            total += value.numel()
            nonzero += int(value.count_nonzero())
    return {"parameters": total, "nonzero_parameters": nonzero}


def saved_bytes(net: nn.Module) -> int:
    """The size of the net's state_dict as torch.save writes it (model.pt for a compressed run)."""
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def example_inputs(data) -> tuple[torch.Tensor, ...] | None:
    """Inputs of real examples (every tensor of a split but the last, the targets); None for data that
    is not a tuple of tensors (graphs)."""
    for split in ("test", "val", "train"):
        tensors = (getattr(data, "splits", None) or {}).get(split)
        if isinstance(tensors, tuple) and tensors and all(isinstance(t, torch.Tensor) for t in tensors):
            return tuple(tensors[:-1]) or tuple(tensors)
    return None


def latency_us(net: nn.Module, inputs: tuple[torch.Tensor, ...]) -> dict[str, float]:
    """Median CPU time per example, in microseconds, of a forward pass at each batch size."""
    net.eval()
    found = {}
    with torch.inference_mode():
        for size in BATCHES:
            rows = torch.arange(size) % len(inputs[0])
            batch = tuple(t[rows].cpu() for t in inputs)
            net(*batch)
            times, spent = [], 0.0
            while spent < TIMING_S or len(times) < 5:
                start = time.perf_counter()
                net(*batch)
                times.append(time.perf_counter() - start)
                spent += times[-1]
            found[f"batch_{size}"] = round(statistics.median(times) / size * 1e6, 2)
    return found


def measure(net: nn.Module, data, counts: dict | None = None) -> dict:
    """The figures of one net (counts given where they were taken before int8 conversion)."""
    inputs = example_inputs(data)
    try:
        latency = latency_us(net, inputs) if inputs else None
    except (RuntimeError, TypeError, NotImplementedError):  # a net whose forward takes other inputs
        latency = None
    return {**(counts or weight_counts(net)), "file_bytes": saved_bytes(net), "latency_us": latency}


def key_metric(monitor: str, test: dict) -> dict:
    name = monitor.replace("val/", "test/", 1)
    return {"metric": name, "value": test.get(name)}


def run_folder(path: str) -> Path:
    """The run directory that `path` (a run, or a checkpoint inside one) belongs to."""
    for folder in (Path(path), *Path(path).parents):
        if (folder / "summary.json").is_file():
            return folder.resolve()
    raise ArchtrainError(f"{path}: not inside a run directory (no summary.json), so it has no figures to compare")


def source_figures(path: str, monitor: str) -> dict:
    """The figures of the source run: those it recorded itself, else measured on its best checkpoint."""
    from archtrain.assemble import load_run

    folder = run_folder(path)
    summary = json.loads((folder / "summary.json").read_text())
    own = (summary.get("footprint") or {}).get("model")
    if own is None:
        parts = load_run(str(folder))
        parts.data.setup("test")
        own = measure(parts.net, parts.data)
    return {"run": str(folder), **own, **key_metric(monitor, summary.get("test") or {})}


def source_run(reports: dict, task) -> str | None:
    """The run a model came from: the `source_run` of a transform's report (weights, mask_from...) or of
    the task (a distillation's teacher)."""
    found = [report["source_run"] for report in reports.values() if report.get("source_run")]
    return found[0] if found else getattr(task, "source_run", None)
