"""Sequence models and data: forecasting against baselines, long memory, user CSV series."""

import math

import pytest
from conftest import QUICK, train
from hydra import compose, initialize_config_module

from archtrain.schema import register

register()


@pytest.mark.parametrize("model", ["rnn", "gru", "lstm", "tcn"])
def test_sequence_models_beat_persistence_on_sunspots(model, tmp_path):
    test = train(tmp_path / model, f"model={model}", "data=sunspots")["test"]
    assert test["test/mae"] < 0.75 * test["test/persistence_mae"]


def test_multi_step_forecast_reports_both_baselines(tmp_path):
    test = train(tmp_path / "h3", "model=lstm", "data=sunspots", "data.horizon=3")["test"]
    assert {"test/mae", "test/rmse", "test/persistence_mae", "test/ar_mae"} <= set(test)
    assert test["test/ar_mae"] < test["test/persistence_mae"]  # the AR fit is a real baseline
    assert test["test/mae"] < test["test/persistence_mae"]


@pytest.mark.parametrize("data", ["nile", "co2", "elnino"])
def test_bundled_series_load_and_train(data, tmp_path):
    assert train(tmp_path / data, "model=gru", f"data={data}", *QUICK)["status"] == "completed"


def write_csv(path, rows):
    path.write_text("day,value,note\n" + "".join(f"{i},{v},x\n" for i, v in enumerate(rows)))


def test_a_csv_column_is_a_series_to_forecast(tmp_path):
    csv = tmp_path / "wave.csv"
    write_csv(csv, [10 + 5 * math.sin(i / 4) for i in range(400)])
    summary = train(tmp_path / "run", "model=lstm", "data=csv_series", f"data.path={csv}", "data.column=value")
    assert summary["test"]["test/mae"] < summary["test"]["test/persistence_mae"]


@pytest.mark.parametrize(
    "column, rows, message",
    [
        ("price", [1.0] * 50, "has no column 'price'; its columns are day, value, note"),
        ("value", [1.0] * 20 + ["n/a"] + [1.0] * 29, "non-numeric value at line 22"),
    ],
)
def test_a_bad_csv_series_is_a_clear_error(column, rows, message, tmp_path):
    csv = tmp_path / "bad.csv"
    write_csv(csv, rows)
    summary = train(tmp_path / "run", "model=lstm", "data=csv_series", f"data.path={csv}", f"data.column={column}")
    assert summary["exit_code"] == 2 and message in summary["error"]


def test_lstm_learns_a_short_adding_problem(tmp_path):
    summary = train(
        tmp_path / "run", "model=lstm", "data=adding", "data.length=20", "data.train_size=4000", "trainer.max_epochs=4"
    )
    assert summary["test"]["test/loss"] < 0.02  # predicting 1 scores 0.167


@pytest.mark.slow
def test_adding_problem_at_100_steps_needs_gates(tmp_path):
    mse = {
        model: train(tmp_path / model, f"model={model}", "data=adding", "trainer.max_epochs=15")["test"]["test/loss"]
        for model in ("lstm", "gru", "rnn")
    }
    assert mse["lstm"] < 0.01 and mse["gru"] < 0.01, mse
    assert mse["rnn"] > 0.1, mse


def test_recurrent_models_clip_gradients_by_default():
    with initialize_config_module("archtrain.conf", version_base="1.3"):
        for model in ("rnn", "lstm", "gru"):
            assert "grad_clip" in compose("config", overrides=[f"model={model}"]).regularizer
        assert not compose("config", overrides=["model=lstm", "regularizer=[dropout]"]).regularizer.get("grad_clip")


def test_a_bidirectional_language_model_is_refused(tmp_path):
    summary = train(tmp_path / "run", "model=lstm", "data=text", "model.bidirectional=true", *QUICK)
    assert summary["exit_code"] == 2 and "reads one way" in summary["error"]


def test_attention_seq2seq_learns_to_reverse(tmp_path):
    summary = train(
        tmp_path / "run",
        "model=seq2seq_attention",
        "data.min_len=4",
        "data.max_len=6",
        "data.train_size=3000",
        "optim.lr=0.003",
        "trainer.max_epochs=4",
    )
    assert summary["test"]["test/exact"] > 0.8


@pytest.mark.slow
def test_additive_attention_reverses_20_digit_strings(tmp_path):
    summary = train(
        tmp_path / "run",
        "model=seq2seq_attention",
        "model.attention=additive",
        "data.min_len=20",
        "data.max_len=20",
        "optim.lr=0.003",
        "trainer.max_epochs=8",
    )
    assert summary["test"]["test/exact"] >= 0.95


@pytest.mark.parametrize(
    "model", ["lstm", pytest.param("tcn", marks=pytest.mark.slow)]
)  # the TCN learns sunspots by default
def test_sequence_classification_of_waveforms(model, tmp_path):
    summary = train(tmp_path / model, f"model={model}", "data=waveforms", "trainer.max_epochs=3")
    assert summary["test"]["test/acc"] > 0.8  # chance is 0.25


def test_copy_task_trains_per_step_labels(tmp_path):
    summary = train(tmp_path / "run", "model=lstm", "data=copy", "data.delay=5", *QUICK)
    assert summary["status"] == "completed" and {"test/acc", "test/exact"} <= set(summary["test"])


def test_character_language_model_with_an_lstm_writes_samples(tmp_path):
    train(tmp_path / "run", "model=lstm", "data=text", *QUICK, "task.sample_length=30")
    assert len((tmp_path / "run" / "samples.txt").read_text()) == 8 + 30
