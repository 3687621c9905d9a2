"""What a run shows in the terminal: the config tree at the start, result tables at the end."""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table
from rich.tree import Tree

console = Console()
errors = Console(stderr=True, soft_wrap=True, highlight=False)


def show_error(message: str, run_dir: Path) -> None:
    errors.print(f"[red]error:[/red] {escape(message)}")
    errors.print(f"[dim]the run's files are in {run_dir} (full log: train.log)[/dim]")


def show_config(cfg: DictConfig) -> None:
    tree = Tree("config", guide_style="dim")
    for key, value in cfg.items():
        branch = tree.add(f"[bold]{key}")
        text = OmegaConf.to_yaml(value, resolve=True) if isinstance(value, DictConfig) else str(value)
        branch.add(Syntax(text.rstrip() or "null", "yaml", theme="ansi_dark", background_color="default"))
    console.print(tree)


def _format(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def show_job_line(summary: dict) -> None:
    """One line per sweep job; the sweep table at the end has the rest."""
    best = summary.get("best") or {}
    metric = best.get("metric", "")
    test = (summary.get("test") or {}).get(metric.replace("val/", "test/", 1))
    score = f"{metric.replace('val/', 'test/', 1)} {_format(test)}" if test is not None else ""
    console.print(f"{summary.get('model')} on {summary.get('data')}: {summary.get('status')} {score}", highlight=False)


def show_results(summary: dict) -> None:
    metrics = Table(title=f"{summary.get('model')} on {summary.get('data')}: {summary.get('status')}")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    best = summary.get("best") or {}
    if best:
        metrics.add_row(f"best {best['metric']} (epoch {best.get('epoch')})", _format(best["value"]))
    for section in ("test", "final"):
        for name, value in (summary.get(section) or {}).items():
            metrics.add_row(f"{section} {name}" if section == "final" else name, _format(value))
    for name in ("epochs", "steps", "parameters"):
        if summary.get(name) is not None:
            metrics.add_row(name, _format(summary[name]))
    if summary.get("durations"):
        metrics.add_row("time", f"{summary['durations'].get('total_s', 0):.1f} s")
    console.print(metrics)
    paths = dict(summary.get("files") or {})
    run_dir = Path(paths.pop("run", "."))
    files = Table(show_header=False)
    files.add_column("what")
    files.add_column("file", overflow="fold")
    for what, where in paths.items():
        if where and Path(where).exists():
            path = Path(where)
            files.add_row(what, str(path.relative_to(run_dir)) if path.is_relative_to(run_dir) else str(path))
    console.print(f"[bold]run directory[/bold] {run_dir}", soft_wrap=True)
    console.print(files)
