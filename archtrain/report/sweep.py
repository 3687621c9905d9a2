"""The table at the end of a sweep (each job's overrides, status and key metric) and its history plot."""

import csv
import json
from pathlib import Path

import yaml
from hydra.experimental.callback import Callback
from rich.console import Console
from rich.table import Table

from archtrain.report.plots import sweep_history
from archtrain.sweeps import is_optuna

COLUMNS = ("job", "overrides", "status", "metric", "best", "test", "seconds", "error")


def job_row(job_dir: Path) -> dict:
    overrides = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    summary_file = job_dir / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    best = summary.get("best") or {}
    metric = best.get("metric", "")
    test_metric = metric.replace("val/", "test/", 1)
    return {
        "job": job_dir.name,
        "overrides": " ".join(overrides),
        "status": summary.get("status", "missing"),
        "metric": metric,
        "best": best.get("value"),
        "test": (summary.get("test") or {}).get(test_metric),
        "seconds": (summary.get("durations") or {}).get("total_s"),
        "error": summary.get("error") or "",
    }


def _cell(value) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


class SweepReport(Callback):
    """Writes sweep.csv and history.png in the sweep directory and prints the table; exits non-zero
    if any job failed."""

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = sorted(
            (d for d in sweep_dir.iterdir() if (d / ".hydra" / "overrides.yaml").exists()),
            key=lambda d: int(d.name.split("_", 1)[0]) if d.name.split("_", 1)[0].isdigit() else 0,
        )
        rows = [job_row(d) for d in jobs]
        path = sweep_dir / "sweep.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        shared = set.intersection(*(set(row["overrides"].split()) for row in rows)) if rows else set()
        table = Table(title=f"sweep: {len(rows)} jobs, all with: {' '.join(sorted(shared)) or '-'}")
        for column in COLUMNS:
            table.add_column(column, overflow="fold")
        for row in rows:
            style = None if row["status"] == "completed" else "red"
            varying = " ".join(o for o in row["overrides"].split() if o not in shared)
            table.add_row(*(_cell(varying if c == "overrides" else row[c]) for c in COLUMNS), style=style)
        console = Console()
        console.print(table)
        console.print(f"written to {path}", highlight=False)
        metric = next((row["metric"] for row in rows if row["metric"]), "")
        if metric:
            direction = str(config.hydra.sweeper.get("direction", "")) if is_optuna(config.hydra.sweeper) else ""
            history = sweep_history(
                [row["best"] for row in rows],
                metric,
                sweep_dir / "history.png",
                maximize="max" in direction if direction else None,
            )
            console.print(f"history in {history}", highlight=False)
        failed = sum(row["status"] != "completed" for row in rows)
        if failed:
            raise SystemExit(f"error: {failed} of {len(rows)} sweep jobs did not complete; see {path}")
