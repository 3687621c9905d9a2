"""The export formats: how each writes a net to a file, and how the file is run again to check it.
`load` returns a callable that takes the net's input tensors and returns its output as a tensor."""

import inspect
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class Exporter:
    file: str
    save: Callable[..., None]  # (net, inputs, path)
    load: Callable[[Path], Callable]


def batch_dimension(net, inputs: tuple) -> tuple:
    """torch.export's dynamic shapes for `net(*inputs)`: the first dimension of every input, nested
    once more where forward gathers its inputs as *inputs (the zoo's Network) than where it names them."""
    from torch.export import Dim

    batch = tuple({0: Dim.AUTO} for _ in inputs)
    gathered = any(p.kind is p.VAR_POSITIONAL for p in inspect.signature(net.forward).parameters.values())
    return (batch,) if gathered else batch


def save_onnx(net, inputs: tuple, path: Path) -> None:
    import torch

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # e.g. "torchvision is not installed"
    torch.onnx.export(net, inputs, str(path), dynamo=True, dynamic_shapes=batch_dimension(net, inputs), verbose=False)


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

    torch.export.save(torch.export.export(net, inputs, dynamic_shapes=batch_dimension(net, inputs)), str(path))


def load_exported_program(path: Path) -> Callable:
    import torch

    return torch.export.load(str(path)).module()


EXPORTERS = {
    "onnx": Exporter("model.onnx", save_onnx, load_onnx),
    "torchscript": Exporter("model.torchscript.pt", save_torchscript, load_torchscript),
    "exported_program": Exporter("model.pt2", save_exported_program, load_exported_program),
}
