"""The export formats: how each writes a net to a file, and how the file is run again to check it.
`load` returns a callable that takes the net's input tensors and returns its output as a tensor."""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class Exporter:
    file: str
    save: Callable[..., None]            # (net, inputs, path)
    load: Callable[[Path], Callable]


def batch_dimension(inputs: tuple) -> tuple:
    """torch.export's dynamic shapes for `forward(*inputs)`: the first dimension of every input."""
    from torch.export import Dim

    return (tuple({0: Dim.AUTO} for _ in inputs),)


def save_onnx(net, inputs: tuple, path: Path) -> None:
    import torch

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)     # e.g. "torchvision is not installed"
    torch.onnx.export(net, inputs, str(path), dynamo=True, dynamic_shapes=batch_dimension(inputs),
                      verbose=False)


def load_onnx(path: Path) -> Callable:
    import onnxruntime
    import torch

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [node.name for node in session.get_inputs()]
    return lambda *inputs: torch.from_numpy(session.run(None, {name: x.numpy() for name, x in zip(names, inputs)})[0])


def save_torchscript(net, inputs: tuple, path: Path) -> None:
    import torch

    torch.jit.save(torch.jit.trace(net, inputs), str(path))


def load_torchscript(path: Path) -> Callable:
    import torch

    return torch.jit.load(str(path))


def save_exported_program(net, inputs: tuple, path: Path) -> None:
    import torch

    torch.export.save(torch.export.export(net, inputs, dynamic_shapes=batch_dimension(inputs)), str(path))


def load_exported_program(path: Path) -> Callable:
    import torch

    return torch.export.load(str(path)).module()


EXPORTERS = {
    "onnx": Exporter("model.onnx", save_onnx, load_onnx),
    "torchscript": Exporter("model.torchscript.pt", save_torchscript, load_torchscript),
    "exported_program": Exporter("model.pt2", save_exported_program, load_exported_program),
}
