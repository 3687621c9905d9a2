"""archtrain never loses a run, and resumes it exactly."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import QUICK, cli, resume, train

# Dropout and shuffling on: the cases where a naive resume diverges.
# One thread: the uninterrupted run and the restarted processes must compute alike, and a default
# chosen from what else keeps the cores busy may differ between them (resume= reuses the recorded one).
RUN = [
    "model=mlp",
    "data=digits",
    "model.width=64",
    "regularizer=[dropout]",
    "trainer.max_epochs=3",
    "hardware.threads=1",
]


def weights(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def same_weights(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_from_the_middle_of_an_epoch_is_exact(tmp_path):
    whole = train(tmp_path / "whole", *RUN)
    part = train(tmp_path / "part", *RUN, "checkpoint.every_n_steps=7", "trainer.max_steps=63")
    assert part["steps"] == 63 and 63 % 40 != 0  # stopped inside the second epoch
    resumed = resume(tmp_path / "part", "trainer.max_steps=-1")
    assert resumed["steps"] == whole["steps"] == 120
    assert same_weights(weights(tmp_path / "whole"), weights(tmp_path / "part"))
    assert resumed["test"] == whole["test"]


def start(args, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "archtrain", *args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for_training(process, run_dir, timeout=120):
    deadline = time.monotonic() + timeout
    while not (run_dir / "metrics.csv").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)


def test_sigterm_saves_exits_143_and_resumes_exactly(workdir):
    long = [*RUN, "trainer.max_epochs=40", "progress_bar=false"]
    train(workdir / "whole", *long)
    process = start([*long, "hydra.run.dir=run"], workdir)
    wait_for_training(process, workdir / "run")
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, f"exit code {process.returncode}; stderr ends:\n{err[-3000:]}"
    assert "SIGTERM received" in err and "Traceback" not in err
    summary = json.loads((workdir / "run" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and "resume=" in summary["error"]
    assert resume(workdir / "run")["status"] == "completed"
    assert same_weights(weights(workdir / "whole"), weights(workdir / "run"))


def test_sigkill_at_random_moments_never_loses_the_run(workdir):
    long = [*RUN, "trainer.max_epochs=25", "checkpoint.every_n_steps=5", "progress_bar=false"]
    train(workdir / "whole", *long)
    chance = random.Random(7)
    args = [*long, "hydra.run.dir=run"]
    kills = 0
    while True:
        process = start(args, workdir)
        if kills < 3:
            wait_for_training(process, workdir / "run")
            time.sleep(chance.uniform(0.2, 2.0))
            if process.poll() is None:
                process.kill()
                kills += 1
        process.communicate(timeout=300)
        if process.returncode == 0:
            break
        args = ["resume=run"]
    assert kills >= 2, "the runs ended before they could be killed"
    assert same_weights(weights(workdir / "whole"), weights(workdir / "run"))


def test_a_damaged_last_checkpoint_falls_back_to_an_intact_one(tmp_path):
    train(tmp_path / "run", *RUN)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # truncated
    summary = resume(tmp_path / "run", "trainer.max_epochs=4")
    assert summary["status"] == "completed" and summary["epochs"] == 4
    assert torch.load(last, weights_only=True)["epoch"] == 4  # rewritten whole, at the run's end


class Payload:
    """Stands for any object whose unpickling would run code."""


def test_a_checkpoint_carrying_pickled_objects_is_refused(tmp_path):
    train(tmp_path / "run", "data=iris", *QUICK)
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "best.ckpt", weights_only=True)
    checkpoint["extra"] = Payload()
    torch.save(checkpoint, tmp_path / "evil.ckpt")
    summary = train(
        tmp_path / "new", "data=iris", "transform=[weights]", f"transform.weights.path={tmp_path / 'evil.ckpt'}", *QUICK
    )
    assert summary["exit_code"] == 2 and "pickled objects" in summary["error"]


def test_checkpoints_carry_the_config_and_are_written_atomically(tmp_path):
    train(tmp_path / "run", "data=iris", *QUICK)
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["archtrain_config"]["data"]["name"] == "iris"
    assert not list((tmp_path / "run" / "checkpoints").glob(".*.tmp"))


def test_a_non_finite_loss_stops_the_run_as_diverged(tmp_path):
    summary = train(tmp_path / "run", *RUN, "optim=sgd", "optim.lr=1e30", "checkpoint.every_n_steps=1")
    assert summary["status"] == "diverged" and summary["exit_code"] == 3
    assert "at step" in summary["error"]
    kept = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert kept["global_step"] >= 1  # the steps before it are kept
    assert all(torch.isfinite(t).all() for t in kept["state_dict"].values())


def test_resume_refuses_to_change_what_the_checkpoint_restores(tmp_path, capsys):
    train(tmp_path / "run", "data=iris", *QUICK)
    before = (tmp_path / "run" / "summary.json").read_text()
    summary = resume(tmp_path / "run", "optim.lr=0.5")
    assert summary["exit_code"] == 2 and "resume cannot change optim.lr=0.5" in capsys.readouterr().err
    assert (tmp_path / "run" / "summary.json").read_text() == before  # the finished run is untouched


@pytest.mark.parametrize(
    "override, message",
    [
        ("optim.lr=-0.1", "optim.lr=-0.1: must be positive"),
        ("data.batch_size=0", "data.batch_size=0: must be at least 1"),
        ("trainer.max_epochs=abc", "could not be converted to Integer"),
    ],
)
def test_out_of_range_and_mistyped_values_are_one_line(override, message, workdir):
    out = cli(override, cwd=workdir)
    assert out.returncode == 2 and message in out.stderr
    assert out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr


def test_resume_needs_only_the_checkpoints(tmp_path):
    train(tmp_path / "run", *RUN, "trainer.max_epochs=1")
    (tmp_path / "run" / "config.yaml").unlink()  # the config inside the checkpoint suffices
    summary = resume(tmp_path / "run", "trainer.max_epochs=2")
    assert summary["status"] == "completed" and summary["epochs"] == 2


def test_a_text_file_that_is_not_utf8_is_a_clear_error(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 ".encode("latin-1") * 100)
    summary = train(tmp_path / "run", "model=gpt", "data=text", f"data.path={bad}", *QUICK)
    assert summary["exit_code"] == 2 and "is not UTF-8 text" in summary["error"]


def test_weights_that_are_no_longer_finite_are_never_saved():
    """A step can blow up the weights while its loss, computed before the update, was finite."""
    from types import SimpleNamespace

    from archtrain.errors import Diverged
    from archtrain.training.callbacks import DivergenceGuard

    net = torch.nn.Linear(2, 2)
    trainer = SimpleNamespace(
        global_step=7,
        current_epoch=0,
        checkpoint_callbacks=[],
        world_size=1,
        strategy=SimpleNamespace(),
    )
    DivergenceGuard().on_save_checkpoint(trainer, net, {})  # finite: saved as usual
    with torch.no_grad():
        net.weight[0, 0] = float("inf")
    with pytest.raises(Diverged, match="weights became non-finite by step 7"):
        DivergenceGuard().on_save_checkpoint(trainer, net, {})
