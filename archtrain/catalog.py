"""What the shipped configs offer, read from the conf folder without importing torch."""

from importlib.resources import files
from pathlib import Path

from omegaconf import OmegaConf

CONF = Path(str(files("archtrain.conf")))  # the top-level conf/, installed as the package archtrain.conf
USER_DIRS: list[Path] = []  # config folders the user adds (--config-dir, hydra.searchpath), after CONF


def use_config_dirs(folders: list[str]) -> None:
    """Let the catalog see the options of these folders too (each laid out like conf/)."""
    USER_DIRS[:] = [Path(folder).expanduser().resolve() for folder in folders]


def search_overrides() -> list[str]:
    """The override that shows Hydra's compose API the user's config folders."""
    return [f"hydra.searchpath=[{','.join(folder.as_uri() for folder in USER_DIRS)}]"] if USER_DIRS else []


def options(group: str) -> list[str]:
    """The choices of a config group, e.g. options('model') -> ['gpt', 'lenet5', ...]."""
    return sorted({path.stem for folder in (CONF, *USER_DIRS) for path in (folder / group).glob("*.yaml")})


def option_file(group: str, name: str) -> Path:
    """The YAML file of an option: the user's folders first, as Hydra searches them."""
    return next(
        (folder / group / f"{name}.yaml" for folder in USER_DIRS if (folder / group / f"{name}.yaml").is_file()),
        CONF / group / f"{name}.yaml",
    )


def is_template(group: str, name: str) -> bool:
    """Whether an option leaves its class to the user (model=custom: model._target_=mypkg.MyNet)."""
    cfg = OmegaConf.load(option_file(group, name))
    return "_target_" in cfg.keys() and OmegaConf.is_missing(cfg, "_target_")


def shipped(group: str) -> list[str]:
    """The options of a group that name their class: every option but the templates."""
    return [name for name in options(group) if not is_template(group, name)]


def fitting_data(inputs: list[str]) -> list[str]:
    """The data configs whose modality a model with these `inputs` can read."""
    return [name for name in shipped("data") if OmegaConf.load(option_file("data", name)).get("modality") in inputs]


def flatten(config: dict, prefix: str = "") -> dict:
    """A nested config as one level of dotted keys: {'optim.lr': 0.001, ...}."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
