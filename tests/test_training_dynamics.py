"""Optimizers, schedules and regularizers: each composes, and the classic observations hold."""

import csv

import pytest
import torch
from conftest import QUICK, train
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf
from test_bad_input import run_main

from archtrain.assemble import load_run
from archtrain.catalog import options
from archtrain.models import build_net
from archtrain.schema import register
from archtrain.training.optim import parameter_groups

register()


def accuracy_on(run_dir, split: str) -> float:
    """Accuracy of the run's last weights on one split, with dropout off."""
    parts = load_run(run_dir, checkpoint="last")
    x, y = parts.data.splits[split]
    with torch.no_grad():
        return (parts.net(x).argmax(1) == y).float().mean().item()


def test_every_optimizer_learns_digits_in_one_sweep(workdir):
    general = [name for name in options("optim") if name != "adam_gan"]  # adam_gan: Adam as the DCGAN paper set it
    optimizers = ",".join(general)
    assert run_main(["-m", f"optim={optimizers}", "data=digits", "trainer.max_epochs=3", "progress_bar=false"]) == 0
    rows = list(csv.DictReader(next(workdir.glob("outputs/multirun/*/*/sweep.csv")).open()))
    assert len(rows) == len(general) >= 9  # sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, lbfgs, kfac
    for row in rows:
        assert row["status"] == "completed", row
        assert float(row["test"]) > 0.8, row  # chance is 0.1


def test_momentum_beats_plain_sgd_at_equal_steps(tmp_path):
    common = ["data=digits", "optim.lr=0.01", "trainer.max_epochs=3"]
    plain = train(tmp_path / "sgd", "optim=sgd", *common)
    heavy = train(tmp_path / "momentum", "optim=momentum", *common)
    assert heavy["steps"] == plain["steps"]
    assert heavy["test"]["test/loss"] < 0.5 * plain["test"]["test/loss"]


@pytest.mark.slow
def test_dropout_and_weight_decay_narrow_the_train_test_gap(tmp_path):
    small = [
        "model=mlp",
        "data=moons",
        "model.width=512",
        "model.depth=3",
        "optim.lr=0.003",
        "trainer.max_epochs=300",
    ]  # 100 noisy training points, a 530k-parameter network
    runs = {
        "plain": [],
        "dropout": ["regularizer=[dropout]", "regularizer.dropout=0.5"],
        "weight_decay": ["optim=adamw", "regularizer=[weight_decay]", "regularizer.weight_decay.value=1.0"],
    }
    gap = {}
    for name, extra in runs.items():
        train(tmp_path / name, *small, *extra)
        gap[name] = accuracy_on(tmp_path / name, "train") - accuracy_on(tmp_path / name, "test")
    assert gap["plain"] > 0.04, f"the unregularized network should overfit: {gap}"
    assert gap["dropout"] < gap["plain"] - 0.01, gap
    assert gap["weight_decay"] < gap["plain"] - 0.01, gap


@pytest.mark.slow  # the default suite's time: see README's Development
def test_warmup_keeps_a_post_norm_transformer_stable(tmp_path):
    common = [
        "model=transformer",
        "model.prenorm=false",
        "model.dropout=0",
        "data.max_len=5",
        "data.train_size=4000",
        "optim.lr=0.01",
        "trainer.max_epochs=6",
        "scheduler.min_lr_ratio=0.1",
    ]
    cold = train(tmp_path / "cold", *common, "scheduler=cosine")
    warm = train(tmp_path / "warm", *common, "scheduler=warmup_cosine", "scheduler.warmup_steps=300")
    assert warm["test"]["test/exact"] > 0.8
    assert cold["test"]["test/exact"] < warm["test"]["test/exact"] - 0.4


def compose_regularizers(names: str) -> dict:
    with initialize_config_module("archtrain.conf", version_base="1.3"):
        cfg = compose("config", overrides=[f"regularizer=[{names}]"])
    return {"regularizer": OmegaConf.to_container(cfg.regularizer), "trainer": OmegaConf.to_container(cfg.trainer)}


def test_regularizer_lists_compose_in_any_order():
    names = options("regularizer")
    forward, backward = compose_regularizers(",".join(names)), compose_regularizers(",".join(reversed(names)))
    assert forward == backward
    assert set(forward["regularizer"]) == set(names) - {"accumulate"}
    assert forward["trainer"]["accumulate_grad_batches"] == 4


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["optim=lbfgs", "regularizer=[accumulate]"], "cannot accumulate"),
        (["scheduler=plateau", "trainer.limit_val_batches=0"], "never validates"),
        (["model=lstm", "regularizer=[label_smoothing]"], "cross-entropy objectives"),
        (["data=iris", "regularizer=[mixup]"], "image classification"),
        (["model=mlp", "regularizer=[stochastic_depth]"], "needs residual blocks"),
    ],
)
def test_combinations_that_cannot_work_stop_with_a_clear_message(overrides, message, tmp_path):
    summary = train(tmp_path / "run", *QUICK, *overrides)
    assert summary["exit_code"] == 2 and message in summary["error"]


def test_every_schedule_and_init_trains(tmp_path):
    for scheduler in options("scheduler"):
        assert train(tmp_path / scheduler, f"scheduler={scheduler}", *QUICK)["status"] == "completed"
    for init in ("xavier", "kaiming", "orthogonal"):
        assert train(tmp_path / init, "model=lstm", f"model.init={init}", *QUICK)["status"] == "completed"


def test_all_regularizers_together_still_learn(tmp_path):
    everything = ",".join(r for r in options("regularizer") if r != "stochastic_depth")
    summary = train(tmp_path / "all", "model=lenet5", f"regularizer=[{everything}]", "trainer.max_epochs=12")
    assert summary["test"]["test/acc"] > 0.5  # chance is 0.1


def test_ema_weights_are_the_ones_saved_and_tested(tmp_path):
    train(tmp_path / "ema", "regularizer=[ema]", "trainer.max_epochs=2")
    checkpoint = torch.load(tmp_path / "ema" / "checkpoints" / "best.ckpt", weights_only=True)
    averaged, live = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert any(not torch.equal(averaged[k], live[k]) for k in averaged)


def test_weight_decay_skips_biases_and_norms_unless_asked():
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 2))
    decay, plain = parameter_groups(net, 0.1)
    assert [p.ndim for p in decay["params"]] == [2, 2] and decay["weight_decay"] == 0.1
    assert all(p.ndim == 1 for p in plain["params"]) and plain["weight_decay"] == 0.0
    (everything,) = parameter_groups(net, 0.1, decay_all=True)
    assert len(everything["params"]) == 6


def test_orthogonal_init_gives_orthogonal_weights():
    with initialize_config_module("archtrain.conf", version_base="1.3"):
        cfg = compose("config", overrides=["model=mlp", "model.init=orthogonal", "model.width=64"])
    from archtrain.data.spec import DataSpec

    net = build_net(cfg.model, DataSpec(in_features=64, num_classes=10))
    square = net.layers[3].weight
    assert torch.allclose(square @ square.T, torch.eye(64), atol=1e-5)
