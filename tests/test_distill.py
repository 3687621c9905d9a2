"""task=distill: a student classifier learns from a teacher run's soft targets; the teacher stays frozen and
out of the student's checkpoints, resume reloads it, and a teacher that does not fit the data is refused."""

import json

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from conftest import QUICK, resume, train
from omegaconf import OmegaConf
from test_verbs import archtrain

from archtrain.data.spec import DataSpec
from archtrain.tasks.distill import Distill, soft_target_loss

FULL_EPOCHS = ["progress_bar=false", "hardware.threads=1"]
STUDENT = ["model=mlp", "model.depth=1", "model.width=16", "optim.lr=0.01", "task=distill", "task.temperature=2"]


def test_the_soft_target_loss_is_the_scaled_kl_divergence_of_softened_distributions():
    teacher, student = torch.randn(5, 4), torch.randn(5, 4)
    assert soft_target_loss(teacher, teacher, 3.0).abs() < 1e-6
    expected = (
        (F.softmax(teacher / 3, -1) * (F.log_softmax(teacher / 3, -1) - F.log_softmax(student / 3, -1))).sum(-1).mean()
    )
    assert torch.isclose(soft_target_loss(student, teacher, 3.0), expected * 9)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    run = tmp_path_factory.mktemp("distill") / "teacher"
    summary = train(run, *FULL_EPOCHS, "model=mlp", "model.width=64", "trainer.max_epochs=3")
    assert summary["test"]["test/acc"] > 0.8
    return run


def test_a_student_learns_the_classes_from_the_teacher_alone_and_resumes(teacher, tmp_path, capsys, one_thread):
    run = tmp_path / "student"
    knobs = [*STUDENT, f"task.teacher={teacher}", "task.soft_weight=1.0"]  # no label reaches the loss
    assert train(run, *FULL_EPOCHS, *knobs, "trainer.max_epochs=2")["status"] == "completed"
    summary = resume(run, "trainer.max_epochs=4")
    assert summary["status"] == "completed", summary["error"]
    assert summary["source_run"] == str(teacher)
    soft = pd.read_csv(run / "metrics.csv").groupby("epoch")["train/soft_loss"].mean()
    assert list(soft.index[:4]) == [0, 1, 2, 3] and soft[3] < 0.2 * soft[0]
    taught = json.loads((teacher / "summary.json").read_text())["test"]["test/acc"]
    assert summary["test"]["test/acc"] > max(0.7, taught - 0.1)  # ten classes: chance is 0.1
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert all(name.startswith("net.") for name in state) and "net.layers.0.weight" in state  # the student only
    assert state["net.layers.0.weight"].shape == (16, 64)

    code, out, err = archtrain(capsys, "export", f"run={run}", "format=onnx")
    assert code == 0, err
    assert float(out.rsplit(":", 1)[1]) < 1e-4


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["data=wine"], "does not fit this data"),  # 3 classes of 13 features, the teacher: 10 of 8x8 images
        (["task.teacher=/no/such/run"], "task.teacher=/no/such/run: run=/no/such/run: no such directory"),
    ],
)
def test_a_teacher_that_does_not_fit_is_refused_in_one_line(teacher, tmp_path, capsys, overrides, message):
    run = tmp_path / "refused"
    summary = train(run, *QUICK, *STUDENT, f"task.teacher={teacher}", *overrides)
    assert summary["exit_code"] == 2 and message in summary["error"]
    assert "\n" not in summary["error"]


def test_a_student_needs_a_teacher_and_labels_the_teacher_can_follow():
    cfg = OmegaConf.create(
        {"task": {"name": "distill", "teacher": None}, "data": {"name": "digits", "modality": "image"}}
    )
    assert Distill.problems(cfg, DataSpec(num_classes=10)) == [
        "task.teacher: give the run directory of a trained classifier of this data"
    ]
    cfg.task.teacher, cfg.regularizer = "runs/teacher", {"mixup": {"alpha": 0.2}}
    assert "regularizer=mixup mixes labels" in Distill.problems(cfg, DataSpec(num_classes=10))[0]
    cfg.task.teacher_checkpoint, cfg.regularizer = "first", {}
    assert Distill.problems(cfg, DataSpec(num_classes=10)) == ["task.teacher_checkpoint=first: choose from best, last"]
