"""Data modules: each loads one kind of data, exposes a DataSpec and knows nothing of models."""

from omegaconf import DictConfig

from archtrain.config import instantiate_without
from archtrain.data.base import ArrayDataModule

METADATA = ("name", "modality")


def build_datamodule(cfg: DictConfig, seed: int) -> ArrayDataModule:
    """The data module that `cfg` (the `data` group) describes; no data is read yet."""
    return instantiate_without(cfg, METADATA, seed=seed)
