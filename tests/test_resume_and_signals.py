"""Resume checks its overrides before writing anything, last.ckpt is the run's last state, L-BFGS stays
finite, and a signal in any phase stops the run where it resumes exactly."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import QUICK, resume, train

import archtrain.train
from archtrain.tasks.base import Task
from archtrain.tasks.classify import Classify

# Dropout and shuffling on (the cases where a naive resume differs), two short epochs.
SHORT = [
    "model=mlp",
    "data=digits",
    "model.width=32",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=8",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
]
DROPOUT = ["regularizer=[dropout]"]
ACCUMULATE = ["regularizer=[dropout,accumulate]"]  # windows of 4 batches


def checkpoint(run_dir, name="last"):
    return torch.load(run_dir / "checkpoints" / f"{name}.ckpt", weights_only=True)


def same_weights(a, b) -> bool:
    a, b = checkpoint(Path(a))["state_dict"], checkpoint(Path(b))["state_dict"]
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def metric_rows(run_dir) -> list[dict]:
    with open(run_dir / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


# --- resume overrides ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished quick run on iris."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    assert train(run_dir, "data=iris", *QUICK)["status"] == "completed"
    return run_dir


def files_of(run_dir) -> dict:
    return {path.name: path.read_bytes() for path in run_dir.iterdir() if path.is_file()}


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.max_epochs=abc", "trainer.max_epochs=abc: must be an integer"),
        ("trainer.max_steps=-5", "trainer.max_steps=-5: must be an integer of at least 1"),
        ("trainer.limit_train_batches=-1", "trainer.limit_train_batches=-1"),
        ("checkpoint.every_n_steps=0", "checkpoint.every_n_steps=0"),
        ("trainer.nope=1", "cannot apply trainer.nope=1"),
        ("seed=3", "resume cannot change seed=3: the seed decides the data split"),
        ("task.label_smoothing=0.1", "resume cannot change task.label_smoothing=0.1"),
        ("transform=[weights]", "resume cannot change transform=[weights]"),
    ],
)
def test_a_bad_resume_override_is_one_line_and_writes_nothing(finished, override, message, capsys):
    before = files_of(finished)
    summary = resume(finished, override)
    err = capsys.readouterr().err
    assert summary["exit_code"] == 2 and message in err, err
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert files_of(finished) == before  # config.yaml and summary.json untouched
    assert summary["status"] == "completed"


def test_a_config_yaml_that_cannot_be_parsed_is_one_line_naming_it(finished, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    (run_dir / "config.yaml").write_text("trainer: [max_epochs: 3\n")
    summary = resume(run_dir)
    err = capsys.readouterr().err
    assert summary["exit_code"] == 2 and f"{run_dir / 'config.yaml'} cannot be read" in err
    assert err.strip().count("\n") == 0


def test_a_fixed_length_schedule_refuses_a_new_length_and_resumes_with_its_own(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(run_dir, "data=iris", "scheduler=onecycle", *QUICK)
    summary = resume(run_dir, "trainer.max_epochs=3")
    assert summary["exit_code"] == 2 and summary["status"] == "completed"
    assert "the run's onecycle schedule was fixed to its length" in capsys.readouterr().err
    assert resume(run_dir, "trainer.max_epochs=1")["status"] == "completed"  # the same length is fine


# --- last.ckpt ----------------------------------------------------------------------------------


def test_last_checkpoint_is_the_last_state_and_an_extension_appends_only_new_epochs(tmp_path):
    """With this rate, iris's validation loss is best at epoch 3 of 10: Lightning's save_last would
    leave last.ckpt there. Extended to 12 epochs, the run ends as one trained for 12 at once."""
    run_dir, common = tmp_path / "run", ["data=iris", "optim.lr=0.1", "scheduler=step", "regularizer=[dropout]"]
    summary = train(run_dir, *common, "trainer.max_epochs=10")
    last, best = checkpoint(run_dir), checkpoint(run_dir, "best")
    assert best["global_step"] < summary["steps"]  # validation stopped improving
    assert (last["epoch"], last["global_step"]) == (summary["epochs"], summary["steps"]) == (10, 60)
    rows = metric_rows(run_dir)

    extended = resume(run_dir, "trainer.max_epochs=12")
    assert extended["status"] == "completed" and extended["steps"] == 72
    new_rows = metric_rows(run_dir)[len(rows) :]
    assert metric_rows(run_dir)[: len(rows)] == rows
    assert sorted({row["epoch"] for row in new_rows if not row["test/acc"]}) == ["10", "11"]  # each once
    assert checkpoint(run_dir)["global_step"] == 72
    assert same_weights(run_dir, train(tmp_path / "whole", *common, "trainer.max_epochs=12")["files"]["run"])


# --- signals in every phase ---------------------------------------------------------------------


def signal_once(monkeypatch, owner, name: str, number: int, when=lambda *args: True) -> None:
    """Make `owner.name` send `number` to this process the first time `when(*its arguments)` holds."""
    original, sent = getattr(owner, name), []

    def wrapper(*args, **kwargs):
        if not sent and when(*args):
            sent.append(number)
            os.kill(os.getpid(), number)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """Uninterrupted runs to compare with: one plain, one with gradient accumulation."""
    root = tmp_path_factory.mktemp("whole")
    train(root / "plain", *SHORT, *DROPOUT)
    train(root / "accumulate", *SHORT, *ACCUMULATE)
    return root


def sanity_checking(task, batch, batch_idx):
    return task.trainer.sanity_checking


PHASES = {  # where the signal lands: (owner, the function that sends it, when)
    "start-up": (archtrain.train, "assemble", lambda *args: True),
    "sanity check": (Task, "validation_step", sanity_checking),
    "test": (Classify, "test_step", lambda *args: True),  # the runs here classify
}


@pytest.mark.parametrize(
    "phase, number",
    [("start-up", signal.SIGINT), ("sanity check", signal.SIGTERM), ("test", signal.SIGTERM), ("test", signal.SIGINT)],
)
def test_a_signal_in_any_phase_stops_as_interrupted_and_resumes_exactly(phase, number, whole, tmp_path, monkeypatch):
    signal_once(monkeypatch, *PHASES[phase][:2], number, PHASES[phase][2])
    stopped = train(tmp_path / "run", *SHORT, *DROPOUT)
    assert stopped["exit_code"] == 128 + number
    assert stopped["status"] == "interrupted" and "resume=" in stopped["error"]
    monkeypatch.undo()
    assert checkpoint(tmp_path / "run")["global_step"] == (16 if phase == "test" else 0)
    resumed = resume(tmp_path / "run")
    assert resumed["status"] == "completed" and resumed["steps"] == 16
    assert same_weights(tmp_path / "run", whole / "plain")
    assert resumed["test"] == json.loads((whole / "plain" / "summary.json").read_text())["test"]


def test_a_signal_inside_an_accumulation_window_stops_at_its_end_and_resumes_exactly(whole, tmp_path, monkeypatch):
    signal_once(monkeypatch, Task, "training_step", signal.SIGTERM, lambda task, batch, index: index == 5)
    stopped = train(tmp_path / "run", *SHORT, *ACCUMULATE)
    assert stopped["exit_code"] == 143 and "stopped at step 2 (epoch 0)" in stopped["error"]  # after batch 7
    monkeypatch.undo()
    assert resume(tmp_path / "run")["status"] == "completed"
    assert same_weights(tmp_path / "run", whole / "accumulate")


def test_ctrl_c_at_start_up_is_one_line_and_the_run_resumes(workdir):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "archtrain", "data=iris", *QUICK, "hydra.run.dir=run"],
        cwd=workdir,
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not (workdir / "run").exists() and time.monotonic() < deadline:  # Hydra has made the run's folder
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err[-3000:]
    assert "SIGINT received" in err and "Traceback" not in err
    assert json.loads((workdir / "run" / "summary.json").read_text())["status"] == "interrupted"
    assert resume(workdir / "run")["status"] == "completed"


# --- optimizers ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_lbfgs_on_digits_stays_finite_at_the_default_thread_count(tmp_path):
    """The documented run (`archtrain optim=lbfgs data=digits`, ~45 s): it ended as NaN at step 305
    with two threads while its curvature memory was kept across batches."""
    summary = train(tmp_path / "run", "optim=lbfgs", "data=digits")
    assert summary["status"] == "completed", summary["error"]
    assert summary["test"]["test/acc"] > 0.9
