"""Every model trains a few steps on its own default data and writes a complete run."""

import pytest
from conftest import QUICK, train

from archtrain.catalog import shipped

# Diffusion samples through its whole reverse chain for each picture: a short DDIM chain keeps these runs quick.
SHORTER = {name: ["task.sampler=ddim", "task.sampling_steps=5"] for name in ("ddpm", "ddpm_mlp")}


@pytest.mark.parametrize("model", shipped("model"))
def test_model_trains_on_its_default_data(model, tmp_path):
    run = tmp_path / model
    summary = train(run, f"model={model}", *QUICK, *SHORTER.get(model, []))
    assert summary["status"] == "completed", summary["error"]
    assert summary["exit_code"] == 0
    assert summary["test"], "the best checkpoint was not evaluated on the test split"
    for name in (
        "config.yaml",
        "metrics.csv",
        "summary.json",
        "learning_curve.png",
        "train.log",
        "checkpoints/last.ckpt",
        "checkpoints/best.ckpt",
    ):
        assert (run / name).is_file(), name


def test_language_model_writes_a_text_sample(tmp_path):
    summary = train(tmp_path / "gpt", "model=gpt", *QUICK, "task.sample_length=50")
    sample = (tmp_path / "gpt" / "samples.txt").read_text()
    assert summary["files"]["samples"].endswith("samples.txt")
    assert len(sample) == 8 + 50  # the prompt and the generated characters
