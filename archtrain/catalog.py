"""What the shipped configs offer, read from the conf folder without importing torch."""

from pathlib import Path

from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parent / "conf"


def options(group: str) -> list[str]:
    """The choices of a config group, e.g. options('model') -> ['gpt', 'lenet5', ...]."""
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


def is_template(group: str, name: str) -> bool:
    """Whether an option leaves its class to the user (model=custom: model._target_=mypkg.MyNet)."""
    return OmegaConf.is_missing(OmegaConf.load(CONF / group / f"{name}.yaml"), "_target_")


def shipped(group: str) -> list[str]:
    """The options of a group that name their class: every option but the templates."""
    return [name for name in options(group) if not is_template(group, name)]


def fitting_data(inputs: list[str]) -> list[str]:
    """The data configs whose modality a model with these `inputs` can read."""
    return [name for name in shipped("data") if OmegaConf.load(CONF / "data" / f"{name}.yaml").modality in inputs]


def flatten(config: dict, prefix: str = "") -> dict:
    """A nested config as one level of dotted keys: {'optim.lr': 0.001, ...}."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
