"""archtrain export: a run's net as ONNX, TorchScript or an ExportedProgram, checked against PyTorch."""

import re
from pathlib import Path

from archtrain.errors import ArchtrainError
from archtrain.verbs.arguments import choice, parse
from archtrain.verbs.exporters import EXPORTERS
from archtrain.verbs.runs import load_parts, net_inputs, split_tensors

USAGE = """Usage: archtrain export run=<dir> format=onnx|torchscript|exported_program [checkpoint=best|last]

Writes the net of a run's best (or last) checkpoint, in eval mode, beside the run:

  format=onnx               <run>/export/model.onnx (torch.onnx.export, dynamic batch size)
  format=torchscript        <run>/export/model.torchscript.pt (torch.jit.trace)
  format=exported_program   <run>/export/model.pt2 (torch.export)

then runs the file (onnxruntime, torch.jit.load, torch.export.load) and the PyTorch net on a batch of
the run's test split (else val), prints the largest absolute difference of their outputs, and fails
(exit code 1) if it exceeds 1e-4. The onnx format needs the export extra: pip install 'archtrain[export]'.
"""
KEYS = {"run": None, "format": None, "checkpoint": "best"}
TOLERANCE = 1e-4
EXAMPLES = 8  # the batch size of the parity check
GRAPH_MODALITIES = ("graph", "graphs")  # nets that read a PyG Data, not tensors


class ExportMismatch(ArchtrainError):
    """The exported file computes something else than the PyTorch net."""

    exit_code = 1


def run(arguments: list[str]) -> None:
    args, _ = parse("export", arguments, KEYS, required=("run", "format"))
    exporter = EXPORTERS[choice("format", args["format"], tuple(EXPORTERS))]
    checkpoint = choice("checkpoint", args["checkpoint"], ("best", "last"))
    parts = load_parts(args["run"], checkpoint)
    if parts.cfg.data.modality in GRAPH_MODALITIES:
        raise ArchtrainError(
            f"archtrain export writes nets that take tensors; model={parts.cfg.model.name} "
            f"takes a PyG graph (data={parts.cfg.data.name}), which it cannot export"
        )
    split = "test" if "test" in parts.data.splits else "val"
    inputs = net_inputs(parts, tuple(t[:EXAMPLES] for t in split_tensors(parts, split)))
    net = parts.net.eval()
    path = Path(args["run"]) / "export" / exporter.file
    path.parent.mkdir(exist_ok=True)
    try:
        exporter.save(net, inputs, path)
        exported = exporter.load(path)
    except Exception as err:  # each exporter raises its own kinds of error for an unsupported model
        raise ArchtrainError(
            f"model={parts.cfg.model.name} cannot be exported to {args['format']}: {first_line(err)}"
        ) from None
    difference = largest_difference(net, exported, inputs)
    print(
        f"exported to {path}; largest absolute difference from PyTorch on {len(inputs[0])} {split} "
        f"examples: {difference:.3g}"
    )
    if not difference <= TOLERANCE:
        raise ExportMismatch(f"{path} differs from the PyTorch net by {difference:.3g} (more than {TOLERANCE})")


def first_line(err: Exception) -> str:
    """The exporter's message in one line, without the terminal colours torch.onnx puts in it."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def largest_difference(net, exported, inputs: tuple) -> float:
    """The largest absolute difference between the outputs of `net` and `exported` on `inputs`."""
    import torch

    with torch.no_grad():
        return float((torch.as_tensor(exported(*inputs)) - net(*inputs)).abs().max())
