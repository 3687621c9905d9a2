"""`archtrain list models|data`: what the zoo and the datasets offer, as tables."""

from conftest import cli
from omegaconf import OmegaConf

from archtrain.catalog import CONF, options
from archtrain.data.images import Digits
from archtrain.models import build_net, count_parameters


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
