"""The net's layers, their output shapes and parameters: Lightning's ModelSummary, as model_summary.txt."""

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.utilities.model_summary import ModelSummary

FILE = "model_summary.txt"
DEPTH = 3  # module nesting shown: net.encoder.layers (-1: every module)


class _Summarized(pl.LightningModule):
    """The net alone (no task metrics), with an example input so that ModelSummary records shapes."""

    def __init__(self, net, example: tuple | None):
        super().__init__()
        self.net = net
        self.example_input_array = example

    def forward(self, *inputs):
        return self.net(*inputs)


def example_inputs(parts, examples: int = 2) -> tuple:
    """What the net's forward takes, for the first `examples` examples of a training batch."""
    from archtrain.verbs.runs import net_inputs

    batch = next(iter(parts.data.train_dataloader()))
    return net_inputs(parts, tuple(tensor[:examples] for tensor in batch))


def model_summary(parts, depth: int = DEPTH) -> str:
    """The table of the net's modules down to `depth`: type, parameters, mode, FLOPs and, from a
    forward pass of two training examples in eval mode, the input and output sizes."""
    title = (
        f"{parts.cfg.model.name} ({parts.cfg.model._target_}) for task={parts.cfg.task.name} "
        f"on data={parts.cfg.data.name}"
    )
    modes = {module: module.training for module in parts.net.modules()}
    try:
        table = ModelSummary(_Summarized(parts.net, example_inputs(parts)), max_depth=depth)
        note = "sizes: (examples, ...) from a forward pass of 2 training examples"
    except Exception as err:  # a net whose forward takes what net_inputs cannot build: layers without sizes
        for module, training in modes.items():  # ModelSummary leaves the net in eval mode when it fails
            module.train(training)
        table = ModelSummary(_Summarized(parts.net, None), max_depth=depth)
        note = f"no sizes: the forward pass of an example failed ({type(err).__name__}: {err})"
    return f"{title}\n{note}\n\n{table}\n"


def write_model_summary(parts, run_dir: Path, depth: int = DEPTH) -> Path:
    path = Path(run_dir) / FILE
    path.write_text(model_summary(parts, depth), encoding="utf-8")
    return path
