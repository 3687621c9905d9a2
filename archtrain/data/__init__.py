"""Data modules by modality; each exposes a DataSpec and knows nothing of models."""

from pathlib import Path

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from archtrain.config import instantiate_without
from archtrain.data.base import ArrayDataModule
from archtrain.errors import ArchtrainError

CONF_DIR = Path(__file__).resolve().parent.parent / "conf" / "data"


def build_datamodule(cfg: DictConfig, seed: int) -> ArrayDataModule:
    """The data module that `cfg` (the `data` group) describes; no data is read yet."""
    return instantiate_without(cfg, ("name",), seed=seed)


def data_modality(target: str) -> str:
    return get_class(target).modality


def fitting_data(inputs: list[str]) -> list[str]:
    """Names of the bundled data configs whose modality is one of `inputs`."""
    names = []
    for file in sorted(CONF_DIR.glob("*.yaml")):
        target = OmegaConf.load(file).get("_target_")
        if target and data_modality(target) in inputs:
            names.append(file.stem)
    return names


def check_fit(model_cfg: DictConfig, data_cfg: DictConfig) -> None:
    """Stop before any work if the model cannot read this data, naming data that would fit."""
    modality = data_modality(data_cfg._target_)
    inputs = list(model_cfg.inputs)
    if modality not in inputs:
        raise ArchtrainError(
            f"model={model_cfg.name} reads {' or '.join(inputs)} data, but data={data_cfg.name} is "
            f"{modality} data; data that fits: {', '.join(fitting_data(inputs))}")
