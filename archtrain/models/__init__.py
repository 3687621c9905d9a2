"""The model zoo: plain torch.nn.Modules, built from a model config and a DataSpec."""

import inspect

from hydra.utils import get_class
from omegaconf import DictConfig
from torch import nn

from archtrain.config import instantiate_without
from archtrain.data.spec import DataSpec

METADATA = ("name", "inputs")


def build_net(cfg: DictConfig, spec: DataSpec, dropout: float | None = None) -> nn.Module:
    """Instantiate the model config, filling its data dimensions from `spec`.

    `dropout`, when given (regularizer=dropout), replaces the model's own dropout rate; models
    without dropout are left as they are.
    """
    accepted = inspect.signature(get_class(cfg._target_)).parameters
    kwargs = {k: v for k, v in spec.dimensions().items() if k in accepted}
    if "pad_id" in accepted and "pad" in spec.special:
        kwargs["pad_id"] = spec.special["pad"]
    if dropout is not None and "dropout" in accepted:
        kwargs["dropout"] = dropout
    return instantiate_without(cfg, METADATA, **kwargs)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
