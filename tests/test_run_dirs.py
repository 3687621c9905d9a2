"""Every run gets a directory of its own, no two processes train in one, and names stay inside outputs/."""

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import torch
from conftest import cli, resume, train
from omegaconf import OmegaConf

from archtrain.cli import main
from archtrain.errors import ArchtrainError
from archtrain.runs import new_dir

STARTED = datetime(2030, 1, 2, 3, 4, 5)  # the second every run below starts in
TINY = [
    "progress_bar=false",
    "model.width=16",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
]


# A clock stopped at STARTED, for Hydra's ${now:...}: in this process (monkeypatched) and, as a
# sitecustomize.py loaded before anything else, in a fresh `python -m archtrain`.
CLOCK = f"""
import datetime

class FrozenClock(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls{STARTED.timetuple()[:6]}
"""
SITECUSTOMIZE = (
    CLOCK
    + """
import hydra.core.utils
hydra.core.utils.datetime = FrozenClock
"""
)


def frozen_clock() -> type:
    namespace: dict = {}
    exec(CLOCK, namespace)
    return namespace["FrozenClock"]


def start(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.Popen:
    """`archtrain ARGS` in a new process, its stderr kept."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "archtrain", *args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_processes_started_in_the_same_second_get_their_own_directories(workdir):
    clock = workdir / "clock"
    clock.mkdir()
    (clock / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {"PYTHONPATH": os.pathsep.join([str(clock), os.environ.get("PYTHONPATH", "")])}
    processes = [start([*TINY, f"seed={seed}"], workdir, env) for seed in (1, 2)]
    errors = [process.communicate(timeout=300)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], errors
    runs = sorted((workdir / "outputs" / "runs" / "2030-01-02").iterdir())
    assert [run.name for run in runs] == ["03-04-05_mlp-digits", "03-04-05_mlp-digits-2"]
    assert sorted(OmegaConf.load(run / "config.yaml").seed for run in runs) == [1, 2]  # one run each
    for run in runs:
        rows = (run / "metrics.csv").read_text().splitlines()
        assert summary(run)["status"] == "completed" and len(rows) == 1 + 2 + 1, rows  # header, epoch, test


def test_runs_and_sweeps_in_one_process_in_the_same_second_get_their_own_directories(workdir, monkeypatch):
    monkeypatch.setattr("hydra.core.utils.datetime", frozen_clock())
    for _ in range(2):
        main([*TINY])
        main(["-m", *TINY])
    runs = workdir / "outputs" / "runs" / "2030-01-02"
    sweeps = workdir / "outputs" / "multirun" / "2030-01-02"
    assert sorted(p.name for p in runs.iterdir()) == ["03-04-05_mlp-digits", "03-04-05_mlp-digits-2"]
    assert sorted(p.name for p in sweeps.iterdir()) == ["03-04-05", "03-04-05-2"]
    assert all((sweep / "0_mlp-digits" / "summary.json").is_file() for sweep in sweeps.iterdir())


def test_a_chosen_run_directory_is_used_as_given(workdir):
    assert train(workdir / "mine", *TINY)["status"] == "completed"
    assert not (workdir / "outputs").exists()


def checkpoint_epoch(run: Path) -> int:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]


def test_a_live_run_is_locked_and_a_killed_one_is_not(workdir):
    run = workdir / "run"
    process = start([*TINY, "trainer.max_epochs=10000", "hydra.run.dir=run"], workdir)
    deadline = time.monotonic() + 120
    while not (run / "checkpoints" / "last.ckpt").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process.poll() is None, process.communicate()[1][-2000:]

    refused = cli("resume=run", cwd=workdir)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"archtrain process {process.pid} is training in it" in refused.stderr
    same_dir = train(run, *TINY)  # a new run told to use the same directory
    assert same_dir["exit_code"] == 2 and same_dir["status"] == "running"  # the live run's summary, untouched

    process.kill()
    process.communicate(timeout=60)
    resumed = resume(run, f"trainer.max_epochs={checkpoint_epoch(run) + 2}")
    assert resumed["status"] == "completed" and resumed["exit_code"] == 0


@pytest.mark.parametrize("override", ["model.name=../../x", "data.name=/etc", "model.name=.."])
def test_a_name_that_leaves_the_runs_folder_is_refused_before_anything_is_written(workdir, override):
    result = cli(override, cwd=workdir)
    assert result.returncode == 2 and result.stderr.startswith(f"error: {override.split('=')[0]}="), result.stderr
    assert "plain folder name" in result.stderr and result.stderr.count("\n") == 1
    assert not (workdir / "outputs").exists()


def test_the_run_directory_is_always_inside_its_parent(tmp_path):
    with pytest.raises(ArchtrainError, match="plain folder name"):
        new_dir(str(tmp_path / "runs"), "12-00-00_../../x-digits")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "every_n_steps, message",
    [
        ("null", "it stopped before any checkpoint was written"),
        ("1", "the checkpoints before it are kept"),
    ],
)
def test_divergence_says_whether_a_checkpoint_is_left(tmp_path, every_n_steps, message):
    ended = train(tmp_path / "run", *TINY, "optim=sgd", "optim.lr=1e30", f"checkpoint.every_n_steps={every_n_steps}")
    assert ended["status"] == "diverged" and ended["exit_code"] == 3
    assert message in ended["error"], ended["error"]
