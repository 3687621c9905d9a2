"""A run stopped after some epochs and resumed ends exactly where the uninterrupted run ends."""

import torch
from conftest import resume, train

COMMON = ["model=mlp", "data=digits", "regularizer=[dropout]", "model.width=64"]


def weights(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def test_resumed_run_matches_the_uninterrupted_run(tmp_path):
    whole = train(tmp_path / "whole", *COMMON, "trainer.max_epochs=4")
    train(tmp_path / "part", *COMMON, "trainer.max_epochs=2")
    resumed = resume(tmp_path / "part", "trainer.max_epochs=4")

    assert resumed["status"] == "completed"
    assert resumed["files"]["run"] == str(tmp_path / "part")  # the same directory goes on
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "part")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["test"] == whole["test"]
