"""What the benchmark scripts share: archtrain runs in this process, and their per-epoch metrics."""

import json
import sys
from pathlib import Path

import pandas as pd

from archtrain.cli import main as archtrain


def train(run_dir: Path, *overrides: str, arguments: list[str] | None = None) -> dict:
    """One archtrain run (or, with `arguments`, any archtrain command) in this process, one thread, its
    files in `run_dir`; the run's summary."""
    argv = sys.argv
    try:
        archtrain(arguments or [*overrides, "progress_bar=false", "hardware.threads=1", f"hydra.run.dir={run_dir}"])
    except SystemExit:
        pass
    finally:
        sys.argv = argv
    return json.loads((run_dir / "summary.json").read_text())


def per_epoch(run_dir: Path) -> pd.DataFrame:
    """A run's metrics.csv, one row per epoch."""
    return pd.read_csv(run_dir / "metrics.csv").groupby("epoch").mean()
