"""What a run writes and where it can start from."""

import json

import pytest
import torch
from conftest import QUICK, train


def test_summary_records_the_run(tmp_path):
    summary = train(tmp_path / "run", "model=mlp", "data=iris", *QUICK)
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert on_disk["status"] == "completed"
    assert on_disk["best"]["metric"] == "val/acc" and on_disk["best"]["value"] is not None
    assert set(on_disk["test"]) == {"test/acc", "test/loss"}
    assert on_disk["files"]["best_checkpoint"].endswith("checkpoints/best.ckpt")
    assert on_disk["environment"]["versions"]["torch"] in torch.__version__
    assert on_disk["durations"]["total_s"] > 0 and summary["parameters"] > 0
    assert "val/acc" in (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0]


def test_train_log_tells_the_run_from_start_to_end(tmp_path):
    train(tmp_path / "run", "model=mlp", "data=iris", "trainer.max_epochs=2")
    lines = (tmp_path / "run" / "train.log").read_text().splitlines()
    assert "starting" in lines[0] and "model=mlp data=iris task=classify" in lines[0]
    assert "lr:" in "\n".join(lines)  # the config follows
    epochs = [line for line in lines if "] epoch " in line]
    assert any("epoch 1," in line and "val/acc" in line for line in epochs)
    assert any("train/loss" in line for line in epochs)
    assert any("test of the best checkpoint: test/acc" in line for line in lines)
    assert "completed after 2 epochs" in lines[-1]


def test_the_weights_transform_starts_a_new_run_from_those_weights(tmp_path):
    train(tmp_path / "first", "model=mlp", "data=digits", "trainer.max_epochs=5")
    best = tmp_path / "first" / "checkpoints" / "best.ckpt"
    fresh = train(tmp_path / "fresh", "model=mlp", "data=digits", *QUICK)
    warm = train(
        tmp_path / "warm", "model=mlp", "data=digits", "transform=[weights]", f"transform.weights.path={best}", *QUICK
    )
    assert warm["status"] == "completed"
    assert warm["final"]["val/acc"] > fresh["final"]["val/acc"] + 0.2


def test_weights_of_another_model_are_a_clear_error(tmp_path):
    train(tmp_path / "mlp", "model=mlp", "data=iris", *QUICK)
    best = tmp_path / "mlp" / "checkpoints" / "best.ckpt"
    summary = train(
        tmp_path / "lenet",
        "model=lenet5",
        "data=digits",
        "transform=[weights]",
        f"transform.weights.path={best}",
        *QUICK,
    )
    assert summary["exit_code"] == 2
    assert "another shape" in summary["error"]


def test_tensorboard_logger_adds_event_files(tmp_path):
    train(tmp_path / "tb", "model=mlp", "data=iris", "logger=tensorboard", *QUICK)
    assert list((tmp_path / "tb" / "tensorboard").glob("events.out.tfevents.*"))
    assert (tmp_path / "tb" / "metrics.csv").exists()


def test_mlflow_and_wandb_loggers_record_the_run(workdir):
    """MLflow in a local store under outputs/ (read back through MLflow's own client), W&B offline in the run."""
    mlflow = pytest.importorskip("mlflow")
    pytest.importorskip("wandb")
    run = workdir / "run"
    train(
        run,
        "model=mlp",
        "data=iris",
        "logger=[mlflow,wandb]",
        "scheduler=cosine",
        "trainer.max_epochs=3",
        "trainer.limit_train_batches=2",
    )
    client = mlflow.MlflowClient(tracking_uri=(workdir / "outputs" / "mlruns").as_uri())
    [logged] = client.search_runs([client.get_experiment_by_name("archtrain").experiment_id])
    assert logged.info.run_name == "run"
    assert logged.data.params["model.name"] == "mlp" and logged.data.params["optim.lr"] == "0.001"
    rates = [m.value for m in client.get_metric_history(logged.info.run_id, "train/lr")]
    assert len(rates) == 3 and rates[0] > rates[-1]  # the schedule, epoch by epoch
    assert "val/acc" in logged.data.metrics
    assert list((run / "wandb").glob("offline-run-*/run-*.wandb"))


def test_a_logger_without_its_package_is_one_line(tmp_path, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else find_spec(name, *a))
    summary = train(tmp_path / "run", "model=mlp", "data=iris", "logger=mlflow", *QUICK)
    assert summary["exit_code"] == 2
    assert summary["error"] == "logger=mlflow needs the mlflow package: pip install 'archtrain[mlflow]'"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_preset_without_a_gpu_says_so(tmp_path):
    summary = train(tmp_path / "gpu", "hardware=gpu", *QUICK)
    assert summary["exit_code"] == 2
    assert "no usable GPU" in summary["error"]
