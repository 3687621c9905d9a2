"""Turning config nodes into objects."""

from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf


def instantiate_without(cfg: DictConfig, exclude: tuple[str, ...], **kwargs: Any) -> Any:
    """Instantiate `cfg._target_`, leaving out the metadata keys in `exclude`."""
    node = OmegaConf.to_container(cfg, resolve=True)
    for key in exclude:
        node.pop(key, None)
    return instantiate(node, **kwargs, _convert_="all")
