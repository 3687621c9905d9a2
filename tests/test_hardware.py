"""Hardware presets and distributed training, on the CPU: DDP over Gloo, and torchrun "nodes"."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli, train
from test_bad_input import run_main

SMALL = ["progress_bar=false", "model.width=32", "trainer.max_epochs=2"]


def run_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("outputs/**/config.yaml") if p.parent.name != ".hydra")


def summary_of(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def assert_same_numbers(one: dict, other: dict) -> None:
    for part in ("final", "test"):
        assert one[part].keys() == other[part].keys()
        for name, value in one[part].items():
            assert other[part][name] == pytest.approx(value, rel=1e-4, abs=1e-6), f"{part} {name}"


def test_ddp_writes_one_run_that_matches_one_process_with_the_same_global_batch(workdir):
    result = cli("hardware=ddp", "data.batch_size=32", *SMALL, cwd=workdir)
    assert result.returncode == 0, result.stderr[-2000:]
    runs = run_dirs(workdir)
    assert len(runs) == 1, runs  # not one directory per process
    ddp = summary_of(runs[0])
    assert ddp["status"] == "completed"
    assert ddp["hardware"]["world_size"] == 2 and ddp["hardware"]["strategy"] == "DDPStrategy"
    assert sorted(p.name for p in runs[0].glob("*.csv")) == ["metrics.csv", "per_class.csv"]  # one of each
    rows = (runs[0] / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2 + 1, rows  # header, train and val per epoch, test: once each

    single = train(workdir / "single", "data.batch_size=64", *SMALL)
    assert single["steps"] == ddp["steps"]
    assert_same_numbers(single, ddp)


@pytest.mark.slow
def test_a_sweep_of_ddp_jobs_writes_one_directory_per_job(workdir):
    result = cli("-m", "hardware=ddp", "optim.lr=0.001,0.003", *SMALL[:2], "trainer.max_epochs=1", cwd=workdir)
    assert result.returncode == 0, result.stderr[-2000:]
    sweeps = list(workdir.glob("outputs/multirun/*/*"))
    assert len(sweeps) == 1
    jobs = run_dirs(workdir)
    assert [job.parent for job in jobs] == [sweeps[0]] * 2
    assert all(summary_of(job)["status"] == "completed" for job in jobs)
    assert {summary_of(job)["hardware"]["world_size"] for job in jobs} == {2}
    assert (sweeps[0] / "sweep.csv").read_text().count("completed") == 2


@pytest.mark.slow
def test_a_sweep_runs_through_the_submitit_launcher(workdir):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    result = cli(
        "-m", "hydra/launcher=submitit_local", "optim.lr=0.001,0.003", *SMALL[:2], "trainer.max_epochs=1", cwd=workdir
    )
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = run_dirs(workdir)
    assert len(jobs) == 2 and all(summary_of(job)["status"] == "completed" for job in jobs)


@pytest.mark.slow
def test_a_ddp_run_resumes_under_ddp(workdir):
    first = cli(
        "hardware=ddp", "data.batch_size=32", *SMALL[:2], "trainer.max_epochs=1", "hydra.run.dir=run", cwd=workdir
    )
    assert first.returncode == 0, first.stderr[-2000:]
    resumed = cli("resume=run", "trainer.max_epochs=2", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = summary_of(workdir / "run")
    assert summary["status"] == "completed" and summary["epochs"] == 2
    assert summary["hardware"]["world_size"] == 2
    straight = train(workdir / "straight", "data.batch_size=64", *SMALL)
    assert_same_numbers(straight, summary)


def test_several_devices_need_the_archtrain_command(tmp_path):
    summary = train(tmp_path / "run", "hardware=ddp", *SMALL)  # in this process, whose program is pytest
    assert summary["status"] == "failed" and summary["exit_code"] == 2
    assert "run it with the archtrain command" in summary["error"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # the default suite's time; DDP on one machine stays in it
def test_two_torchrun_nodes_train_one_run(workdir):
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes=2",
                "--nproc-per-node=1",
                f"--node-rank={rank}",
                "--master-addr=127.0.0.1",
                f"--master-port={port}",
                "--rdzv-id=test-job",
                "-m",
                "archtrain",
                "hardware=multi_node",
                *SMALL,
            ],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=400)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    runs = run_dirs(workdir)
    assert [run.name for run in runs] == ["torchrun-test-job_mlp-digits"]
    summary = summary_of(runs[0])
    assert summary["status"] == "completed"
    assert summary["hardware"]["nodes"] == 2 and summary["hardware"]["world_size"] == 2


def test_torchrun_without_a_job_id_is_refused_plainly(workdir):
    env = {**os.environ, "TORCHELASTIC_RUN_ID": "none", "RANK": "0", "WORLD_SIZE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "archtrain", "hardware=multi_node"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "--rdzv-id" in result.stderr and "Traceback" not in result.stderr
    assert not (workdir / "outputs").exists()


@pytest.mark.parametrize("preset", ["gpu", "multi_gpu", "fsdp"])
def test_gpu_presets_stop_plainly_without_a_gpu(preset, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    summary = train(tmp_path / preset, f"hardware={preset}", *SMALL)
    assert summary["status"] == "failed" and summary["exit_code"] == 2
    assert "no usable GPU" in summary["error"]
    assert "hardware" not in summary  # nothing ran, on the CPU or elsewhere


@pytest.mark.parametrize("precision, dtype", [("64", "torch.float64"), ("bf16-mixed", "torch.float32")])
def test_precisions_train_on_the_cpu(precision, dtype, tmp_path):
    import torch

    run = tmp_path / precision
    summary = train(run, f"hardware.precision={precision}", *SMALL[:2], "trainer.max_epochs=1")
    assert summary["status"] == "completed", summary["error"]
    assert summary["hardware"]["precision"] == {"64": "64-true"}.get(precision, precision)
    weights = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert str(next(iter(weights.values())).dtype) == dtype


@pytest.mark.parametrize(
    "override, message",
    [
        ("hardware.precision=8", "hardware.precision=8: choose from 64, 32"),
        ("hardware.precision=16-mixed", "16-mixed needs a GPU"),
        ("hardware.strategy=fsdp", "fsdp shards a model across GPUs"),
    ],
)
def test_impossible_hardware_is_one_line(override, message, workdir, capsys):
    assert run_main([override]) == 2
    err = capsys.readouterr().err
    assert message in err.splitlines()[0] and "Traceback" not in err


def test_deterministic_mode_reaches_torch_and_repeats_exactly(tmp_path):
    runs = [
        train(tmp_path / str(i), "hardware.deterministic=true", *SMALL[:2], "trainer.max_epochs=1") for i in range(2)
    ]
    assert all(run["hardware"]["deterministic"] for run in runs)
    assert runs[0]["final"] == runs[1]["final"]
    after = train(tmp_path / "after", *SMALL[:2], "trainer.max_epochs=1")
    assert after["hardware"]["deterministic"] is False  # the mode ends with its run


def test_a_run_s_thread_count_does_not_outlive_it(tmp_path):
    import torch

    before = torch.get_num_threads()
    summary = train(tmp_path / "run", *SMALL, "data=iris", f"hardware.threads={before + 1}")
    assert summary["hardware"]["cpu_threads"] == before + 1
    assert torch.get_num_threads() == before  # the next run in this process, or sweep job, starts afresh
