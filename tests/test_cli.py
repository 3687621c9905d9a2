"""The command line: fast help, and one clear line with a non-zero exit for bad input."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import cli
from test_bad_input import run_main


def test_help_does_not_import_torch_or_lightning():
    code = (
        "import sys; from archtrain.cli import main; main(['--help']); "
        "heavy = [m for m in ('torch', 'pytorch_lightning', 'lightning') if m in sys.modules]; assert not heavy, heavy"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "model" in out.stdout and "transformer" in out.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["optim.lrr=0.1"], "Could not override 'optim.lrr'"),
        (["model=resnet9000"], "Could not find 'model/resnet9000'"),
        (["model=gpt", "data=iris"], "but data=iris is vector data; data that fits:"),
    ],
)
def test_bad_input_is_one_line_before_any_training(args, expected, workdir):
    out = cli(*args, cwd=workdir)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert expected in out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert not (workdir / "outputs").exists(), "nothing should run"


def test_missing_data_file_fails_the_run_cleanly(workdir, capsys):
    assert run_main(["model=gpt", "data=text", "data.path=no/such/file.txt", "progress_bar=false"]) == 2
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert "no such file 'no/such/file.txt'" in out.err
    summary = json.loads(next(workdir.glob("outputs/runs/*/*/summary.json")).read_text())
    assert summary["status"] == "failed" and "no such file" in summary["error"]


def test_resume_of_a_directory_that_is_not_a_run(workdir):
    out = cli(f"resume={workdir}", cwd=workdir)
    assert out.returncode == 2
    assert "not an archtrain run" in out.stderr and "Traceback" not in out.stderr


def test_sweep_runs_every_job_and_reports_the_failed_one(workdir):
    out = cli(
        "-m",
        "model=lenet5",
        "data=digits,iris",
        "trainer.max_epochs=1",
        "progress_bar=false",
        "trainer.limit_train_batches=3",
        cwd=workdir,
    )
    assert out.returncode == 1
    assert "1 of 2 sweep jobs did not complete" in out.stderr
    table = next(workdir.glob("outputs/multirun/*/*/sweep.csv")).read_text().splitlines()
    assert table[0].startswith("job,overrides,status,metric")
    assert "data=digits" in table[1] and ",completed," in table[1]
    assert "data=iris" in table[2] and ",failed," in table[2] and "data that fits" in table[2]


def test_ctrl_c_marks_the_run_interrupted_and_it_resumes(workdir):
    args = ["model=mlp", "data=digits", "trainer.max_epochs=500", "progress_bar=false", "hydra.run.dir=run"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # A shell's background job inherits SIGINT ignored; give the child a terminal's default back.
    process = subprocess.Popen(
        [sys.executable, "-m", "archtrain", *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    last = workdir / "run" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while not last.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, f"exit code {process.returncode}; stderr ends:\n{err[-3000:]}"
    assert "Traceback" not in err and "SIGINT received" in err
    summary = json.loads((workdir / "run" / "summary.json").read_text())
    assert summary["status"] == "interrupted"

    out = cli("resume=run", "trainer.max_epochs=" + str(summary_epochs(workdir) + 1), cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert json.loads((workdir / "run" / "summary.json").read_text())["status"] == "completed"


def summary_epochs(workdir) -> int:
    import torch

    return torch.load(workdir / "run" / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]


@pytest.mark.parametrize("argv", [["experiment=digits_mlp", "--cfg", "job"], ["--cfg", "job", "experiment=digits_mlp"]])
def test_flags_keep_their_values_wherever_they_stand(argv, workdir):
    out = cli(*argv, cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "max_epochs: 30" in out.stdout  # the experiment's setting
    assert not (workdir / "outputs").exists()  # --cfg prints and trains nothing
