"""Int8 quantization through PyTorch's eager-mode stack (torch.ao.quantization).

`transform=[quantize]` (after `weights`, to start from a run) quantizes the net's linear and
convolutional layers (dynamic: also LSTM and GRU layers):

    dynamic   weights int8 now, activations quantized on the fly (quantize_dynamic) after training
    static    weights and activations int8: observers calibrate on a few training batches, then convert
    qat       fake quantization while the run trains (prepare_qat), converted to int8 after training

Each layer is wrapped in a QuantWrapper (quantize its input, dequantize its output), so every zoo model
quantizes whatever its other operations (residual sums, attention, norms stay float).
"""

import contextlib
import warnings
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError

CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
STATIC_LAYERS = (nn.Linear, *CONVOLUTIONS)
DYNAMIC_LAYERS = (nn.Linear, nn.LSTM, nn.GRU)
QUANTIZATIONS = ("dynamic", "static", "qat")
ENGINE = "x86"  # the CPU engine of torch's int8 kernels (fbgemm and oneDNN)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """torch.ao.quantization warns that it is deprecated (for torchao) and that observers start empty."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"torch\.ao\.")
        warnings.filterwarnings("ignore", message=r"(?s).*(deprecated|reduce_range|observer|quant_min)")
        yield


def qconfig(bits: int, per_channel: bool, training: bool):
    """Symmetric `bits`-bit weights (one scale per tensor, or per output channel) and 7-bit unsigned
    activations (x86's reduced range): observers for post-training calibration, fake quantizers for
    quantization-aware training."""
    from torch.ao import quantization as q

    scheme = torch.per_channel_symmetric if per_channel else torch.per_tensor_symmetric
    weight = dict(dtype=torch.qint8, qscheme=scheme, quant_min=-(2 ** (bits - 1)) + 1, quant_max=2 ** (bits - 1) - 1)
    if per_channel:
        weight["ch_axis"] = 0
    activation = dict(dtype=torch.quint8, quant_min=0, quant_max=127)
    if training:
        observer = q.MovingAveragePerChannelMinMaxObserver if per_channel else q.MovingAverageMinMaxObserver
        return q.QConfig(
            activation=q.FakeQuantize.with_args(observer=q.MovingAverageMinMaxObserver, **activation),
            weight=q.FakeQuantize.with_args(observer=observer, **weight),
        )
    observer = q.PerChannelMinMaxObserver if per_channel else q.MinMaxObserver
    return q.QConfig(activation=q.HistogramObserver.with_args(**activation), weight=observer.with_args(**weight))


def fold_batch_norms(net: nn.Module) -> None:
    """Fold each batch norm that directly follows a convolution in a Sequential into its weights (eval mode)."""
    from torch.ao.quantization import fuse_modules

    pairs = []
    for name, module in net.named_modules():
        if isinstance(module, nn.Sequential):
            children = list(module.named_children())
            for (first, conv), (second, norm) in zip(children, children[1:]):
                if isinstance(conv, CONVOLUTIONS) and isinstance(norm, NORMS):
                    pairs.append([".".join(filter(None, (name, first))), ".".join(filter(None, (name, second)))])
    if pairs:
        fuse_modules(net, pairs, inplace=True)


def layers(net: nn.Module, kinds: tuple[type, ...]) -> list[str]:
    return [name for name, module in net.named_modules() if name and type(module) in kinds]


def wrap(net: nn.Module, names: list[str], config) -> None:
    """Put each named layer inside a QuantWrapper that carries `config`."""
    from torch.ao.quantization import QuantWrapper

    for name in names:
        parent, _, child = name.rpartition(".")
        wrapper = QuantWrapper(net.get_submodule(name))
        wrapper.qconfig = config
        setattr(net.get_submodule(parent), child, wrapper)


def batches(data, count: int) -> Iterator[tuple]:
    """The first `count` training batches' inputs (every tensor but the last, the targets)."""
    for index, batch in enumerate(data.split_loader("train")):
        if index == count:
            return
        yield tuple(batch[:-1]) or tuple(batch)


@dataclass
class Quantize:
    """The model transform: `quantization` dynamic, static or qat; `bits` for the weights of static and
    qat (8: int8; fewer simulate a narrower integer in int8 storage), with one scale per tensor or
    `per_channel`; `calibration_batches` for static, which also folds batch norms into convolutions."""

    quantization: str = "dynamic"
    bits: int = 8
    per_channel: bool = False
    calibration_batches: int = 8
    name: str = "quantize"
    on_resume = True  # qat's fake quantizers are part of the net that the checkpoint restores

    def __post_init__(self):
        if self.bits != 8 and self.quantization == "dynamic":  # the ranges and names: checks.py, choices.py
            raise ArchtrainError(
                f"transform.{self.name}.bits={self.bits}: dynamic quantization is int8; fewer bits need "
                f"quantization=static or qat"
            )

    def __call__(self, net: nn.Module, spec: DataSpec) -> dict:
        torch.backends.quantized.engine = ENGINE
        kinds = DYNAMIC_LAYERS if self.quantization == "dynamic" else STATIC_LAYERS
        self.names = layers(net, kinds)
        if not self.names:
            shown = ", ".join(kind.__name__ for kind in kinds)
            raise ArchtrainError(
                f"transform.{self.name}: the net has no layers that {self.quantization} quantization converts ({shown})"
            )
        if self.quantization == "qat":
            from torch.ao.quantization import prepare_qat

            if any(hasattr(net.get_submodule(name), "weight_orig") for name in self.names):
                raise ArchtrainError(
                    f"transform.{self.name}: quantization=qat cannot train pruned layers (its modules drop the "
                    f"masks); after prune use quantization=static or dynamic"
                )

            wrap(net, self.names, qconfig(self.bits, self.per_channel, training=True))
            mode = net.training
            with quiet():
                prepare_qat(net.train(), inplace=True)
            net.train(mode)
        return {"quantization": self.quantization, "bits": self.bits, "layers": self.names}

    def finish(self, net: nn.Module, data) -> dict:
        """Convert the trained net to int8 (static: after calibrating on training batches)."""
        from torch.ao import quantization as q

        net.eval()
        with quiet():
            if self.quantization == "dynamic":
                q.quantize_dynamic(net, set(DYNAMIC_LAYERS), dtype=torch.qint8, inplace=True)
            elif self.quantization == "static":
                self.prepare_static(net)
                with torch.inference_mode():
                    seen = sum(len(net(*inputs)) for inputs in batches(data, self.calibration_batches))
                q.convert(net, inplace=True)
                return {"calibration_examples": seen}
            else:
                q.convert(net, inplace=True)
        return {}

    def prepare_static(self, net: nn.Module) -> None:
        from torch.ao.quantization import prepare

        fold_batch_norms(net)
        wrap(net, self.names, qconfig(self.bits, self.per_channel, training=False))
        prepare(net, inplace=True)

    def restore(self, net: nn.Module) -> None:
        """Give a freshly built net the int8 structure that `finish` made, for model.pt's tensors to fill."""
        from torch.ao import quantization as q

        net.eval()
        with quiet():
            if self.quantization == "static":
                self.prepare_static(net)
                q.convert(net, inplace=True)
            else:
                self.finish(net, None)
