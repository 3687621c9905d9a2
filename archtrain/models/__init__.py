"""The model zoo: Networks (features, then a head), built from a model config, a DataSpec and a task's Head."""

import inspect

from omegaconf import DictConfig
from torch import nn

from archtrain.config import instantiate_without, target_class
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError
from archtrain.models.init import initialize
from archtrain.models.protocol import Head, Network

METADATA = ("name", "inputs", "init", "pretrained")


def accepted_arguments(cfg: DictConfig) -> set[str]:
    """The constructor arguments of the model that `cfg` describes."""
    return set(inspect.signature(target_class(cfg._target_)).parameters)


def build_net(cfg: DictConfig, spec: DataSpec, head: Head | None = None, overrides: dict | None = None) -> Network:
    """Instantiate the model config, filling its data dimensions from `spec`.

    With `head`, the model's head gets `head.outputs` outputs (the `num_classes` argument, whatever the
    task) and reads per example or per step as the head asks; a model that cannot is a user error.
    Without it, `num_classes` comes from `spec`. Special token ids (pad, eos, ...) go to arguments named
    `<name>_id`. `overrides` (set by regularizers, e.g. {'dropout': 0.2}) replace the config's values for
    the arguments this model has; the others are ignored. `model.init` picks the initialization.
    """
    accepted = accepted_arguments(cfg)
    kwargs = {k: v for k, v in spec.dimensions().items() if k in accepted}
    if head is not None:
        kwargs.update(head_arguments(cfg, head, accepted))
    kwargs.update({f"{name}_id": i for name, i in spec.special.items() if f"{name}_id" in accepted})
    kwargs.update({k: v for k, v in (overrides or {}).items() if k in accepted})
    net = instantiate_without(cfg, METADATA, **kwargs)
    initialize(net, cfg.get("init", "default"))
    return net


def head_arguments(cfg: DictConfig, head: Head, accepted: set[str]) -> dict:
    """The constructor arguments that size the model's head to `head`."""
    model = target_class(cfg._target_)
    if not issubclass(model, Network) and "num_classes" not in accepted:
        raise ArchtrainError(
            f"model={cfg.name} has no output head, which this task needs; its config names "
            f"the task it is made for (archtrain model={cfg.name} without task=), and a "
            f"model of your own takes num_classes, the number of outputs"
        )
    kwargs = {"num_classes": head.outputs} if "num_classes" in accepted else {}
    if "per_step" in accepted:
        kwargs["per_step"] = head.per_step
    elif getattr(model, "per_step", False) != head.per_step:
        per = {False: "example", True: "position"}
        raise ArchtrainError(
            f"model={cfg.name} gives one output per {per[not head.per_step]}; "
            f"this task needs one per {per[head.per_step]}"
        )
    return kwargs


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
