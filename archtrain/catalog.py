"""What the shipped configs offer, read from the conf folder without importing torch."""

import functools
from importlib.resources import files
from pathlib import Path

import yaml

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
    return read_yaml(option_file(group, name)).get("_target_") == "???"


def shipped(group: str) -> list[str]:
    """The options of a group that name their class: every option but the templates."""
    return [name for name in options(group) if not is_template(group, name)]


def fitting_data(inputs: list[str]) -> list[str]:
    """The data configs whose modality a model with these `inputs` can read."""
    return [name for name in shipped("data") if read_yaml(option_file("data", name)).get("modality") in inputs]


def flatten(config: dict, prefix: str = "") -> dict:
    """A nested config as one level of dotted keys: {'optim.lr': 0.001, ...}."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def default_choice(group: str, name: str, chosen: str) -> str | None:
    """The option of group `chosen` that option `name` of `group` picks in its defaults list
    (`- override /data@_global_.data: digits` -> 'digits'), or None where it picks none."""
    return _picks(option_file(group, name)).get(f"override /{chosen}@_global_.{chosen}")


def model_defaults(model: str) -> tuple[str, str]:
    """The data and task `archtrain model=<model>` trains on, read from the configs' defaults lists
    as Hydra composes them (the model picks its data, the data its task, the model may pin the task)."""
    top = _picks(CONF / "config.yaml")
    data = default_choice("model", model, "data") or top["data"]
    task = default_choice("model", model, "task") or default_choice("data", data, "task") or top["task"]
    return data, task


def _picks(file: Path) -> dict:
    """The `group: option` entries of a config file's defaults list."""
    defaults = read_yaml(file).get("defaults") or []
    return {key: value for item in defaults if isinstance(item, dict) for key, value in item.items()}


def read_yaml(file: Path) -> dict:
    """A config file's contents as plain Python values, read once per version of the file (PyYAML's C
    loader: ten times faster than OmegaConf.load, for listings that read every option)."""
    return _read_yaml(file, file.stat().st_mtime_ns)


@functools.cache
def _read_yaml(file: Path, version: int) -> dict:
    return yaml.load(file.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
