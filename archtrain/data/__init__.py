"""Data modules: each loads one kind of data, exposes a DataSpec and knows nothing of models."""

from omegaconf import DictConfig

from archtrain.config import instantiate_without
from archtrain.data.base import ArrayDataModule
from archtrain.errors import ArchtrainError

METADATA = ("name", "modality")


def build_datamodule(cfg: DictConfig, seed: int) -> ArrayDataModule:
    """The data module that `cfg` (the `data` group) describes; no data is read yet."""
    data = instantiate_without(cfg, (*METADATA, "labelled_fraction"), seed=seed)
    if not isinstance(data, ArrayDataModule):
        raise ArchtrainError(
            f"data._target_={cfg._target_} is not a data module archtrain can train from: "
            f"subclass archtrain.data.base.ArrayDataModule (see docs/CUSTOM.md)"
        )
    data.labelled_fraction = cfg.get("labelled_fraction", 1.0)
    return data
