"""Turning config nodes into objects."""

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from archtrain.errors import ArchtrainError


def target_class(target: str) -> type:
    """The class a config's `_target_` names; one that cannot be imported is a user error."""
    try:
        return get_class(target)
    except (ImportError, ValueError) as err:
        cause = err.__cause__ or err
        raise ArchtrainError(f"{target}: cannot import it ({next(iter(str(cause).splitlines()), '')})") from None


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
        cause = err.__cause__
        if isinstance(cause, ArchtrainError):
            raise cause from None
        if isinstance(cause, (ImportError, TypeError)):  # no such class, or arguments it does not take
            first_line = next(iter(str(cause).strip().splitlines()), type(cause).__name__)
            raise ArchtrainError(f"{node.get('_target_')}: {first_line}") from None
        raise
