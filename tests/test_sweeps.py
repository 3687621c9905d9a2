"""Optuna searches through Hydra's sweeper plugin: ranges sampled, the key metric returned as a float in
the right direction, a seeded sampler, the history beside sweep.csv."""

import csv
import math

import pytest
import yaml
from omegaconf import OmegaConf

from archtrain.cli import main
from archtrain.sweeps import optuna_overrides, sweep_objective

FAST = ["data=iris", "trainer.max_epochs=2", "trainer.limit_train_batches=3", "hardware.threads=1"]


def optuna_sweep(sweep, *overrides: str) -> tuple[list[dict], dict]:
    """Run `archtrain -m hparams_search=mlp_digits ...` in this process with its sweep folder at `sweep`;
    the rows of sweep.csv and Optuna's result."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    main(["-m", "hparams_search=mlp_digits", *FAST, *overrides, f"hydra.sweep.dir={sweep}"])
    assert (sweep / "history.png").stat().st_size > 0
    with open(sweep / "sweep.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows, yaml.safe_load((sweep / "optimization_results.yaml").read_text())


def test_an_optuna_search_samples_ranges_and_maximizes_accuracy(tmp_path):
    rows, result = optuna_sweep(tmp_path, "hydra.sweeper.n_trials=3", "optim.lr=tag(log, interval(0.001, 0.1))")
    assert len(rows) == 3 and {row["status"] for row in rows} == {"completed"}
    rates = [
        float(next(o for o in row["overrides"].split() if o.startswith("optim.lr=")).split("=")[1]) for row in rows
    ]
    assert all(0.001 <= rate <= 0.1 for rate in rates) and len(set(rates)) == 3
    assert result["best_value"] == max(float(row["best"]) for row in rows)  # val/acc: maximized


def test_the_same_seed_samples_the_same_trials(tmp_path):
    first, _ = optuna_sweep(tmp_path / "a", "hydra.sweeper.n_trials=2", "trainer.max_epochs=1")
    second, _ = optuna_sweep(tmp_path / "b", "hydra.sweeper.n_trials=2", "trainer.max_epochs=1")
    assert [row["overrides"] for row in first] == [row["overrides"] for row in second]


def test_the_direction_follows_the_tasks_key_metric_and_the_seed_seeds_the_sampler():
    def task(target: str):
        return OmegaConf.create(
            {"seed": 3, "task": {"_target_": target}, "hydra": {"sweeper": {"sampler": {"seed": None}}}}
        )

    seeded = "hydra.sweeper.sampler.seed=3"
    assert optuna_overrides(task("archtrain.tasks.classify.Classify"), []) == [
        "hydra.sweeper.direction=maximize",
        seeded,
    ]
    assert optuna_overrides(task("archtrain.tasks.regress.Regress"), []) == ["hydra.sweeper.direction=minimize", seeded]
    given = ["hydra.sweeper.direction=maximize", "hydra.sweeper.sampler.seed=5"]
    assert optuna_overrides(task("archtrain.tasks.regress.Regress"), given) == []


def test_a_failed_job_scores_the_worst_value_so_the_search_goes_on():
    assert sweep_objective({"status": "completed", "best": {"value": 0.9}}, "maximize") == 0.9
    assert sweep_objective({"status": "failed", "best": {}}, "maximize") == -math.inf
    assert sweep_objective({"status": "diverged", "best": {"value": 1.0}}, "minimize") == math.inf
