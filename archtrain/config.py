"""Turning config nodes into objects."""

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from archtrain.errors import ArchtrainError


def instantiate_without(cfg: DictConfig, exclude: tuple[str, ...], **kwargs: Any) -> Any:
    """Instantiate `cfg._target_`, leaving out the metadata keys in `exclude`.

    A user error the constructor raises comes out as itself, not wrapped by Hydra.
    """
    node = OmegaConf.to_container(cfg, resolve=True)
    for key in exclude:
        node.pop(key, None)
    try:
        return instantiate(node, **kwargs, _convert_="all")
    except InstantiationException as err:
        if isinstance(err.__cause__, ArchtrainError):
            raise err.__cause__ from None
        raise
