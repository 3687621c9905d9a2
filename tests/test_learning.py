"""Models learn: they beat chance by a wide margin, and the classic limits show."""

import pytest
from conftest import train


def test_mlp_reaches_95_percent_on_digits(tmp_path):
    summary = train(tmp_path / "mlp", "model=mlp", "data=digits", "trainer.max_epochs=20")
    assert summary["test"]["test/acc"] >= 0.95


@pytest.mark.slow
def test_resnet_reaches_97_percent_on_digits(tmp_path):
    summary = train(tmp_path / "resnet", "model=resnet", "hardware.threads=1")  # its defaults: 20 epochs
    assert summary["test"]["test/acc"] >= 0.97


def test_mlp_solves_xor_where_the_perceptron_cannot(tmp_path):
    common = ["data=xor", "optim=adam", "optim.lr=0.05", "trainer.max_epochs=150"]
    mlp = train(tmp_path / "mlp", "model=mlp", "model.width=8", "model.activation=tanh", *common)
    perceptron = train(tmp_path / "perceptron", "model=perceptron", *common)
    assert mlp["test"]["test/acc"] == 1.0
    assert perceptron["test"]["test/acc"] <= 0.75  # no line separates XOR's classes


def test_lstm_beats_persistence_on_sunspots(tmp_path):
    summary = train(tmp_path / "lstm", "model=lstm", "data=sunspots", "optim.lr=0.01", "trainer.max_epochs=30")
    assert summary["test"]["test/mae"] < summary["test"]["test/persistence_mae"]


def test_transformer_learns_to_reverse_strings(tmp_path):
    summary = train(
        tmp_path / "transformer",
        "model=transformer",
        "data=seq2seq",
        "data.max_len=5",
        "data.train_size=4000",
        "model.dropout=0",
        "optim.lr=0.003",
        "scheduler=cosine",
        "trainer.max_epochs=8",
    )
    assert summary["test"]["test/exact"] >= 0.8


def test_gpt_loss_falls_well_below_uniform(tmp_path):
    summary = train(
        tmp_path / "gpt",
        "model=gpt",
        "model.num_layers=2",
        "model.d_model=64",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=150",
        "trainer.limit_val_batches=10",
    )
    uniform = 4.63  # ln(103 characters)
    assert summary["test"]["test/loss"] < uniform - 1.5
