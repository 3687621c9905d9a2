"""A user's own model and data module, from a package in the directory archtrain runs in."""

import json
import sys
import textwrap

import pytest

from archtrain.catalog import use_config_dirs
from archtrain.cli import main

PACKAGE = '''
import torch
from torch import nn

from archtrain.data.base import ArrayDataModule
from archtrain.data.spec import DataSpec


class TwoLayer(nn.Module):
    def __init__(self, in_features: int, num_classes: int, hidden: int):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.layers(x)


class Quadrants(ArrayDataModule):
    """2-D points labelled by their quadrant."""

    def __init__(self, batch_size: int, seed: int = 0, samples: int = 800):
        super().__init__(batch_size, seed)
        self.samples = samples

    def load(self):
        x = torch.randn(self.samples, 2, generator=torch.Generator().manual_seed(self.seed))
        y = (x[:, 0] > 0).long() * 2 + (x[:, 1] > 0).long()
        train, val = int(0.7 * self.samples), int(0.85 * self.samples)
        splits = {"train": (x[:train], y[:train]), "val": (x[train:val], y[train:val]), "test": (x[val:], y[val:])}
        return splits, DataSpec(in_features=2, num_classes=4)


class NotData:
    def __init__(self, batch_size, seed):
        pass
'''


@pytest.fixture
def project(workdir, monkeypatch):
    """A user's project directory holding the package `mypkg`; the import state is restored after."""
    (workdir / "mypkg").mkdir()
    (workdir / "mypkg" / "__init__.py").write_text("")
    (workdir / "mypkg" / "nets.py").write_text(textwrap.dedent(PACKAGE))
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield workdir
    for name in [name for name in sys.modules if name.startswith("mypkg")]:
        del sys.modules[name]


def run(*overrides: str) -> int:
    try:
        main(["progress_bar=false", "hardware.threads=1", *overrides])
    except SystemExit as exit_:
        return exit_.code
    return 0


def test_a_users_model_and_data_train_with_only_their_own_arguments(project):
    assert (
        run(
            "model=custom",
            "model._target_=mypkg.nets.TwoLayer",
            "+model.hidden=32",
            "data=custom",
            "data._target_=mypkg.nets.Quadrants",
            "optim.lr=0.01",
            "trainer.max_epochs=8",
        )
        == 0
    )
    [run_dir] = project.glob("outputs/runs/*/*")
    assert run_dir.name.endswith("_twolayer-quadrants")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["model"] == "twolayer"
    assert summary["test"]["test/acc"] > 0.9  # four classes: chance is 0.25


def test_a_users_model_trains_on_shipped_data(project):
    assert (
        run(
            "model=custom",
            "model._target_=mypkg.nets.TwoLayer",
            "+model.hidden=16",
            "data=iris",
            "trainer.max_epochs=2",
            "hydra.run.dir=run",
        )
        == 0
    )
    assert json.loads((project / "run" / "summary.json").read_text())["status"] == "completed"


def test_a_users_model_without_its_class_is_one_line_before_anything_runs(project, capsys):
    assert run("model=custom") == 2
    assert (
        "model._target_: model=custom needs your class, e.g. model._target_=mypkg.module.Class"
        in capsys.readouterr().err
    )
    assert not (project / "outputs").exists()


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["data=custom", "data._target_=mypkg.nets.NotData"], "data._target_=mypkg.nets.NotData is not a data module"),
        (["model=custom", "model._target_=mypkg.nets.TwoLayer"], "missing 1 required positional argument: 'hidden'"),
        (["model=custom", "model._target_=mypkg.nets.Nothing"], "mypkg.nets.Nothing: cannot import it"),
    ],
)
def test_a_users_part_that_cannot_train_fails_in_one_line(overrides, message, project):
    assert run(*overrides, "hydra.run.dir=run") == 2
    summary = json.loads((project / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and message in summary["error"]


@pytest.fixture
def config_dir(tmp_path):
    """A user's config folder laid out like conf/: one model of its own, built on a shipped one."""
    (tmp_path / "myconf" / "model").mkdir(parents=True)
    (tmp_path / "myconf" / "model" / "wide_mlp.yaml").write_text(
        "# A wide MLP of my own\ndefaults:\n  - mlp\nname: wide_mlp\nwidth: 300\n"
    )
    yield tmp_path / "myconf"
    use_config_dirs([])  # the catalog forgets the folder, as a new process would


@pytest.mark.parametrize("where", ["--config-dir", "hydra.searchpath"])
def test_a_users_config_folder_adds_options(where, config_dir, tmp_path):
    added = (
        ["--config-dir", str(config_dir)] if where == "--config-dir" else [f"hydra.searchpath=[file://{config_dir}]"]
    )
    assert run(*added, "model=wide_mlp", "data=iris", "trainer.max_epochs=1", f"hydra.run.dir={tmp_path / 'run'}") == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["model"] == "wide_mlp" and summary["parameters"] == 4 * 300 + 300 + 300 * 300 + 300 + 300 * 3 + 3


def test_help_and_list_show_a_users_options(config_dir, capsys):
    main(["--help", "--config-dir", str(config_dir)])
    assert "wide_mlp" in next(
        line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("model ")
    )
    main(["list", "models", "--config-dir", str(config_dir)])
    assert "│ wide_mlp " in capsys.readouterr().out
