"""`archtrain list models|data|runs`: tables of what the shipped configs offer, and of the runs made."""

import itertools
from pathlib import Path

from rich.table import Table

from archtrain.catalog import is_template, model_defaults, option_file, options, read_yaml
from archtrain.errors import ArchtrainError
from archtrain.report.console import console
from archtrain.report.footprint import in_brief
from archtrain.report.model_sizes import parameter_counts
from archtrain.runs import RunDir


def description(group: str, name: str) -> str:
    """The comment lines that open a config file: a model's paper, a dataset's origin."""
    lines = option_file(group, name).read_text(encoding="utf-8").splitlines()
    opening = itertools.takewhile(lambda line: line.startswith("#"), lines)
    return " ".join(line.removeprefix("#").strip() for line in opening)


def models_table() -> Table:
    """Every model with its paper, its default data and task, and its parameter count when built for them
    (from report/model_sizes.json: no model is built and no data read for the shipped ones)."""
    table = Table(title="models (archtrain model=NAME)")
    for column in ("model", "paper", "default data", "task"):
        table.add_column(column)
    table.add_column("parameters", justify="right")
    models = [name for name in options("model") if not is_template("model", name)]
    counts = parameter_counts(models)
    for name in options("model"):
        if name not in counts:
            table.add_row(name, description("model", name), "", "", "")
            continue
        data, task = model_defaults(name)
        table.add_row(name, description("model", name), data, task, f"{counts[name]:,}")
    return table


def data_table() -> Table:
    """Every dataset with its modality and where it comes from."""
    table = Table(title="data (archtrain data=NAME)")
    for column in ("data", "modality", "description"):
        table.add_column(column)
    for name in options("data"):
        table.add_row(name, read_yaml(option_file("data", name)).get("modality", ""), description("data", name))
    return table


def runs_table(folder: str = "outputs") -> Table:
    """Every run under `folder` (each directory with a summary.json), in path order: for dated run
    directories, the order they were made."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ArchtrainError(f"archtrain list runs: no such folder '{folder}'")
    table = Table(title=f"runs under {folder}")
    for column in ("run", "status", "task", "model", "data", "metric"):
        table.add_column(column, overflow="fold")
    for column in ("best", "test", "epochs", "time"):
        table.add_column(column, justify="right")
    runs = [(file, RunDir(file.parent).read_summary()) for file in sorted(root.rglob("summary.json"))]
    compressed = any(summary.get("footprint") for _, summary in runs)
    if compressed:
        table.add_column("compressed (vs source)", overflow="fold")
    for summary_file, summary in runs:
        best = summary.get("best") or {}
        metric = best.get("metric") or ""
        test = (summary.get("test") or {}).get(metric.replace("val/", "test/", 1))
        total = (summary.get("durations") or {}).get("total_s")
        table.add_row(
            str(summary_file.parent.relative_to(root)) or ".",
            summary.get("status"),
            summary.get("task"),
            summary.get("model"),
            summary.get("data"),
            metric,
            _number(best.get("value")),
            _number(test),
            _number(summary.get("epochs")),
            "" if total is None else f"{total:.1f} s",
            *([in_brief(summary)] if compressed else []),
        )
    return table


def _number(value) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


TABLES = {"models": models_table, "data": data_table, "runs": runs_table}
DEFAULT = ("models", "data")  # the catalog; runs are listed when asked for


def show_listing(arguments: list[str]) -> None:
    """Print the tables that `arguments` name (models and data when none is named); `runs` may be
    followed by the folder to search."""
    folders = [a for previous, a in zip([None, *arguments], arguments) if previous == "runs" and a not in TABLES]
    unknown = [a for a in arguments if a not in TABLES and a not in folders]
    if unknown:
        *others, last = TABLES
        raise ArchtrainError(f"archtrain list shows {', '.join(others)} or {last}, not {', '.join(unknown)}")
    for name in arguments or DEFAULT:
        if name in TABLES:
            console.print(TABLES[name](*folders) if name == "runs" else TABLES[name]())
