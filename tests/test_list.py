"""`archtrain list models|data`: what the zoo and the datasets offer, as tables."""

from conftest import cli
from omegaconf import OmegaConf

import archtrain.data
import archtrain.models
from archtrain.catalog import CONF, model_defaults, options, shipped, use_config_dirs
from archtrain.data.images import Digits
from archtrain.models import build_net, count_parameters
from archtrain.report.listing import models_table
from archtrain.report.model_sizes import fingerprint, recorded


def test_list_models_shows_every_model_with_its_paper_and_size(workdir):
    out = cli("list", "models", cwd=workdir)
    assert out.returncode == 0, out.stderr
    rows = {line.split("│")[1].strip(): line for line in out.stdout.splitlines() if line.count("│") == 6}
    assert set(options("model")) <= set(rows)
    resnet = OmegaConf.load(CONF / "model" / "resnet.yaml")
    resnet.pop("defaults")
    parameters = count_parameters(build_net(resnet, Digits(batch_size=32, val_fraction=0.1, test_fraction=0.2).spec))
    assert f"{parameters:,}" in rows["resnet"] and "digits" in rows["resnet"] and "He et al." in rows["resnet"]
    assert not (workdir / "outputs").exists()


def test_the_size_table_is_current_for_every_shipped_model():
    table = recorded()
    stale = [
        name
        for name in shipped("model")
        if table.get(name, {}).get("fingerprint") != fingerprint(name, *model_defaults(name))
    ]
    assert not stale, f"{stale}: run python -m archtrain.report.model_sizes"


def test_listing_the_shipped_models_builds_no_model_and_reads_no_data(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("archtrain list models built a model or read data")

    monkeypatch.setattr(archtrain.models, "build_net", forbidden)
    monkeypatch.setattr(archtrain.data, "build_datamodule", forbidden)
    table = models_table()
    sizes = dict(zip(table.columns[0].cells, table.columns[4].cells))
    assert set(sizes) == set(options("model")) and sizes["perceptron"] == "15"


def test_a_model_the_table_does_not_know_is_built_for_its_data(tmp_path):
    (tmp_path / "model").mkdir()
    perceptron = (CONF / "model" / "perceptron.yaml").read_text()
    (tmp_path / "model" / "wide_perceptron.yaml").write_text(
        perceptron.replace("name: perceptron", "name: wide_perceptron")
    )
    use_config_dirs([str(tmp_path)])
    try:
        table = models_table()
    finally:
        use_config_dirs([])
    sizes = dict(zip(table.columns[0].cells, table.columns[4].cells))
    assert sizes["wide_perceptron"] == sizes["perceptron"] == "15"


def test_list_data_shows_every_dataset_and_its_modality(workdir):
    out = cli("list", "data", cwd=workdir)
    assert out.returncode == 0, out.stderr
    rows = {line.split("│")[1].strip(): line for line in out.stdout.splitlines() if line.count("│") == 4}
    for name in options("data"):
        assert OmegaConf.load(CONF / "data" / f"{name}.yaml").modality in rows[name]


def test_list_of_something_else_is_one_line_and_help_mentions_list(workdir):
    out = cli("list", "optimizers", cwd=workdir)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: archtrain list shows models, data or runs, not optimizers"
    assert "archtrain list models" in cli("--help", cwd=workdir).stdout
