"""Helpers that run archtrain the way a user does: through its command line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archtrain.cli import main

QUICK = [
    "progress_bar=false",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
]


def train(run_dir: Path, *overrides: str) -> dict:
    """Run `archtrain` in this process with its run directory at `run_dir`; return summary.json."""
    return _in_process(run_dir, ["progress_bar=false", *overrides, f"hydra.run.dir={run_dir}"])


def resume(run_dir: Path, *overrides: str) -> dict:
    """`archtrain resume=run_dir` in this process; return the run's summary.json."""
    return _in_process(run_dir, [f"resume={run_dir}", "progress_bar=false", *overrides])


def _in_process(run_dir: Path, argv: list[str]) -> dict:
    code = 0
    saved = sys.argv
    try:
        main(argv)
    except SystemExit as exit_:
        code = exit_.code
    finally:
        sys.argv = saved
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["exit_code"] = code
    return summary


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the `archtrain` command in a fresh process, as a shell would."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "archtrain", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def one_thread():
    """One torch thread for a test of small tensors (more only contend), the count restored after."""
    from archtrain.hardware import cpu_threads

    with cpu_threads(1):
        yield


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A fresh working directory, so that runs land in tmp_path/outputs."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
