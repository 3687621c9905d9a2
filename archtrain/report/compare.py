"""Runs side by side: a table of their key figures and their learning curves overlaid in one picture."""

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.markup import escape
from rich.table import Table

from archtrain.errors import ArchtrainError
from archtrain.report.footprint import FIGURES, side_by_side
from archtrain.report.plots import read_epoch_metrics
from archtrain.runs import RunDir


@dataclass
class Compared:
    """One run as the comparison shows it: its directory, summary and a label that tells it apart."""

    path: Path
    summary: dict
    label: str = ""

    @property
    def monitor(self) -> str | None:
        return (self.summary.get("best") or {}).get("metric")


def find_runs(paths: list[str]) -> list[Compared]:
    """The runs that `paths` name: run directories (with a summary.json) and folders of runs (a sweep,
    outputs/...), searched for summary.json; each refused in one line if it is neither."""
    if not paths:
        raise ArchtrainError(
            "archtrain compare needs run directories or a folder of runs (see archtrain compare --help)"
        )
    found: list[Path] = []
    for name in paths:
        path = Path(name).expanduser()
        if not path.is_dir():
            raise ArchtrainError(f"archtrain compare: no such directory '{name}'")
        inside = [path] if (path / "summary.json").is_file() else sorted(f.parent for f in path.rglob("summary.json"))
        if not inside:
            raise ArchtrainError(f"archtrain compare: '{name}' is not a run (no summary.json) and holds no runs")
        found += [run for run in inside if run not in found]
    runs = [Compared(path, RunDir(path).read_summary()) for path in found]
    monitors = {run.monitor for run in runs if run.monitor}
    if len(monitors) > 1:
        named = "; ".join(f"{m}: {', '.join(r.path.name for r in runs if r.monitor == m)}" for m in sorted(monitors))
        raise ArchtrainError(
            f"archtrain compare: the runs pick their best checkpoints by different metrics ({named}); "
            f"compare runs of one task"
        )
    for run, label in zip(runs, labels(runs)):
        run.label = label
    return runs


def labels(runs: list[Compared]) -> list[str]:
    """What tells each run apart: the overrides it does not share with the others (a sweep's jobs), else
    its directory's name."""
    overrides = [_overrides(run.path) for run in runs]
    shared = set.intersection(*map(set, overrides)) if all(overrides) else set()
    varying = [" ".join(o for o in own if o not in shared) for own in overrides]
    if all(varying) and len(set(varying)) == len(varying):
        return varying
    names = [run.path.name for run in runs]
    if len(set(names)) == len(names):
        return names
    common = Path(os.path.commonpath([run.path.resolve() for run in runs]))
    return [str(run.path.resolve().relative_to(common)) for run in runs]


def _overrides(path: Path) -> list[str]:
    file = path / ".hydra" / "overrides.yaml"
    return [o for o in (yaml.safe_load(file.read_text()) or []) if not o.startswith("hydra.")] if file.is_file() else []


def _number(value) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def comparison_table(runs: list[Compared]) -> Table:
    metric = next((run.monitor for run in runs if run.monitor), "")
    tests = sorted({name for run in runs for name in run.summary.get("test") or {}})
    table = Table(title=f"{len(runs)} runs, best by {metric or '-'}")
    for column in ("run", "model", "data", "task", "status"):
        table.add_column(column, overflow="fold")
    for column in (f"best {metric}".strip(), "epoch", *tests, "parameters", "epochs", "time"):
        table.add_column(column, justify="right")
    compressed = any(run.summary.get("footprint") for run in runs)
    for column in FIGURES if compressed else ():  # a compressed run's figures (its source run's)
        table.add_column(f"{column} (source)", justify="right")
    for run in runs:
        s, best = run.summary, run.summary.get("best") or {}
        total = (s.get("durations") or {}).get("total_s")
        table.add_row(
            escape(run.label),
            s.get("model"),
            s.get("data"),
            s.get("task"),
            s.get("status"),
            _number(best.get("value")),
            _number(best.get("epoch")),
            *(_number((s.get("test") or {}).get(name)) for name in tests),
            "" if s.get("parameters") is None else f"{s['parameters']:,}",
            _number(s.get("epochs")),
            "" if total is None else f"{total:.1f} s",
            *(side_by_side(s) if compressed else ()),
            style=None if s.get("status") == "completed" else "red",
        )
    return table


def overlaid_curves(runs: list[Compared], out: Path) -> Path | None:
    """Validation (solid) and training (dashed) loss by epoch for every run, one colour per run, and
    the monitored metric beside them when it is not a loss. None when no run has metrics."""
    series = {
        run.label: read_epoch_metrics(run.path / "metrics.csv") for run in runs if (run.path / "metrics.csv").is_file()
    }
    series = {label: values for label, values in series.items() if values}
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    monitor = next((run.monitor for run in runs if run.monitor), "val/loss")
    panels = {"loss": ("val/loss", "train/loss")}
    if not monitor.endswith("loss"):
        panels[monitor.split("/", 1)[1]] = (monitor, monitor.replace("val/", "train/", 1))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (label, (solid, dashed)) in zip(axes[0], panels.items()):
        for i, (run, values) in enumerate(series.items()):
            colour = colours[i % len(colours)]
            for name, style in ((solid, "-"), (dashed, "--")):
                if name in values:
                    epochs = sorted(values[name])
                    label = run if name == solid or solid not in values else None  # one legend entry per run
                    ax.plot(epochs, [values[name][e] for e in epochs], style, marker=".", color=colour, label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"{label} (solid: val, dashed: train)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(f"{len(series)} runs compared")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
