"""The judges of generated examples: toy judges that count modes, the domain FID through a classifier
archtrain trains and caches itself, and the sample verb that draws from any generative run."""

import json

import pytest
import torch
from conftest import QUICK, train

from archtrain.cli import main
from archtrain.data.toys import Grid, MoonPoints, Ring, SwissRoll
from archtrain.judges.classifier import judge_folder
from archtrain.judges.toys import judge_points, modes_covered, near_mode_share


@pytest.mark.parametrize("cloud", [Ring, Grid, MoonPoints, SwissRoll])
def test_real_toy_data_covers_every_mode_and_a_collapsed_set_one(cloud):
    data = cloud()
    data.setup()
    (points, modes), fresh = data.splits["val"], data.splits["test"][0]
    real = judge_points(points, data.spec, fresh)
    assert real["modes_covered"] == real["modes"] == data.modes
    assert real["near_mode"] > 0.97 and real["mmd"] < 0.02
    collapsed = judge_points(points[modes == 0], data.spec, fresh)
    assert collapsed["modes_covered"] == 1 and collapsed["mmd"] > 0.5


def test_a_mode_counts_only_with_enough_samples_near_it():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    near_first = torch.zeros(100, 2)
    one_stray = torch.cat([near_first, torch.tensor([[10.0, 0.0]])])  # 1 of 101: under a fifth of 50
    assert modes_covered(near_first, centres, std=0.1) == 1 == modes_covered(one_stray, centres, std=0.1)
    far = torch.full((100, 2), 5.0)
    assert near_mode_share(far, centres, std=0.1) == 0.0 and modes_covered(far, centres, std=0.1) == 0


@pytest.fixture(scope="module")
def digits_judge(tmp_path_factory):
    """The digits judge classifier, trained once for this module in a cache of its own."""
    import os

    from hydra import compose, initialize_config_module

    from archtrain.judges.classifier import judge_classifier
    from archtrain.schema import register

    register()
    os.environ["ARCHTRAIN_JUDGES"] = str(tmp_path_factory.mktemp("judges"))
    with initialize_config_module("archtrain.conf", version_base="1.3"):
        data = compose("config", overrides=["data=digits"]).data
    yield data, judge_classifier(data)
    del os.environ["ARCHTRAIN_JUDGES"]


def test_the_domain_fid_floor_is_far_below_the_noise_baseline(digits_judge):
    from archtrain.data import build_datamodule
    from archtrain.judges.classifier import judge_classifier
    from archtrain.judges.images import judge_images

    data, judge = digits_judge
    assert judge.cfg.model.name == "mlp" and judge_classifier(data).cfg == judge.cfg  # cached: the same run
    digits = build_datamodule(data, seed=0)
    digits.setup()
    real = judge_images(digits.splits["val"][0], digits.splits, digits.spec, judge)
    assert real["fid_floor"] < 0.2 * real["fid_baseline"] and real["fid"] < 0.3 * real["fid_baseline"]
    assert real["confidence"] > 0.9 and real["classes_present"] == 10
    assert real["class_entropy"] > 0.95 * real["max_class_entropy"]
    noise = judge_images(torch.rand(180, 1, 8, 8), digits.splits, digits.spec, judge)
    assert noise["fid"] > 5 * real["fid"]


def sample(*arguments: str) -> int:
    try:
        main(["sample", *arguments])
    except SystemExit as exit_:
        return exit_.code
    return 0


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("gan") / "run"
    assert train(run, "model=gan_mlp", "model.width=16", *QUICK, "hardware.threads=1")["status"] == "completed"
    return run


def test_a_run_draws_its_pictures_at_validation_and_at_the_end(gan_run):
    assert (gan_run / "final_samples.png").is_file() and (gan_run / "pictures" / "epoch_000_samples.png").is_file()
    summary = json.loads((gan_run / "summary.json").read_text())
    assert {"test/mmd", "test/modes_covered", "test/near_mode"} <= summary["test"].keys()


def test_sample_writes_a_tensor_and_a_picture_and_judges_them(gan_run, tmp_path, capsys):
    assert sample(f"run={gan_run}", "n=300", f"out={tmp_path}", "judge=auto") == 0
    points = torch.load(tmp_path / "samples.pt")
    assert points.shape == (300, 2) and (tmp_path / "samples.png").is_file()
    scores = json.loads((tmp_path / "samples_judge.json").read_text())
    assert scores.keys() == {"modes_covered", "modes", "near_mode", "mmd"} and scores["modes"] == 8
    assert sample(f"run={gan_run}", "n=300", f"out={tmp_path / 'again'}") == 0
    assert torch.equal(torch.load(tmp_path / "again" / "samples.pt"), points)  # the same seed, the same samples


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["n=0"], "n=0: must be a whole number of at least 1"),
        (["class=3"], "class=3: model=gan_mlp is not conditional"),
        (["class=-1"], "class=-1: must be a whole number of at least 0"),
        (["colour=red"], "archtrain sample takes run=, n=,"),
    ],
)
def test_bad_sample_arguments_are_one_line(gan_run, arguments, message, capsys):
    assert sample(f"run={gan_run}", *arguments) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_a_run_that_does_not_generate_is_refused_in_one_line(digits_judge, capsys):
    _, judge = digits_judge  # the judge is an ordinary classify run
    assert sample(f"run={judge_folder(judge.cfg.data)}") == 2
    error = capsys.readouterr().err
    assert "is a task=classify run, which does not generate" in error and error.count("\n") == 1


def test_the_inception_fid_without_its_weights_is_one_line(gan_run, capsys):
    import importlib.util

    if importlib.util.find_spec("torch_fidelity") is not None:
        pytest.skip("torch-fidelity is installed here")
    digits_run = gan_run.parent / "no_inception"
    train(digits_run, "model=autoencoder", "model.width=8", *QUICK, "hardware.threads=1")
    assert sample(f"run={digits_run}", "n=4", "judge=inception") == 2
    error = capsys.readouterr().err
    assert "the Inception FID needs torch-fidelity and its InceptionV3 weights" in error and error.count("\n") == 1
