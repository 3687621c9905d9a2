"""The model zoo: plain torch.nn.Modules, built from a model config and a DataSpec."""

import inspect

from hydra.utils import get_class
from omegaconf import DictConfig
from torch import nn

from archtrain.config import instantiate_without
from archtrain.data.spec import DataSpec
from archtrain.models.init import initialize

METADATA = ("name", "inputs", "init", "pretrained")


def accepted_arguments(cfg: DictConfig) -> set[str]:
    """The constructor arguments of the model that `cfg` describes."""
    return set(inspect.signature(get_class(cfg._target_)).parameters)


def build_net(cfg: DictConfig, spec: DataSpec, overrides: dict | None = None) -> nn.Module:
    """Instantiate the model config, filling its data dimensions from `spec`.

    Special token ids (pad, eos, ...) go to arguments named `<name>_id`.
    `overrides` (set by regularizers, e.g. {'dropout': 0.2}) replace the config's values for the
    arguments this model has; the others are ignored. `model.init` picks the initialization.
    """
    accepted = accepted_arguments(cfg)
    kwargs = {k: v for k, v in spec.dimensions().items() if k in accepted}
    kwargs.update({f"{name}_id": i for name, i in spec.special.items() if f"{name}_id" in accepted})
    kwargs.update({k: v for k, v in (overrides or {}).items() if k in accepted})
    net = instantiate_without(cfg, METADATA, **kwargs)
    initialize(net, cfg.get("init", "default"))
    return net


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
