"""`archtrain list models|data`: tables of what the shipped configs offer."""

import itertools

from hydra import compose, initialize_config_module
from omegaconf import OmegaConf
from rich.table import Table

from archtrain.catalog import CONF, options
from archtrain.errors import ArchtrainError
from archtrain.report.console import console


def description(group: str, name: str) -> str:
    """The comment lines that open a config file: a model's paper, a dataset's origin."""
    lines = (CONF / group / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
    opening = itertools.takewhile(lambda line: line.startswith("#"), lines)
    return " ".join(line.removeprefix("#").strip() for line in opening)


def models_table() -> Table:
    """Every model with its paper, its default data and its parameter count when built on that data."""
    from archtrain.data import build_datamodule          # torch loads only for this table
    from archtrain.models import build_net, count_parameters

    table = Table(title="models (archtrain model=NAME)")
    for column in ("model", "paper", "default data"):
        table.add_column(column)
    table.add_column("parameters", justify="right")
    specs = {}
    with initialize_config_module("archtrain.conf", version_base="1.3"):
        for name in options("model"):
            cfg = compose("config", overrides=[f"model={name}"])
            if cfg.data.name not in specs:
                specs[cfg.data.name] = build_datamodule(cfg.data, seed=cfg.seed).spec
            parameters = count_parameters(build_net(cfg.model, specs[cfg.data.name]))
            table.add_row(name, description("model", name), cfg.data.name, f"{parameters:,}")
    return table


def data_table() -> Table:
    """Every dataset with its modality and where it comes from."""
    table = Table(title="data (archtrain data=NAME)")
    for column in ("data", "modality", "description"):
        table.add_column(column)
    for name in options("data"):
        table.add_row(name, OmegaConf.load(CONF / "data" / f"{name}.yaml").modality, description("data", name))
    return table


TABLES = {"models": models_table, "data": data_table}


def show_listing(arguments: list[str]) -> None:
    """Print the tables that `arguments` name (all of them when none is named)."""
    unknown = [a for a in arguments if a not in TABLES]
    if unknown:
        raise ArchtrainError(f"archtrain list shows {' or '.join(TABLES)}, not {', '.join(unknown)}")
    for name in arguments or TABLES:
        console.print(TABLES[name]())
