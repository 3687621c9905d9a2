"""The verbs that act on finished runs: eval, predict, export and list runs."""

import csv
import json

import numpy as np
import pytest
import torch
from conftest import QUICK, train
from PIL import Image
from sklearn.datasets import load_digits

from archtrain.assemble import load_run
from archtrain.cli import VERBS, main
from archtrain.data.images import Digits

WHOLE_TEST = [o for o in QUICK if not o.startswith("trainer.limit_test_batches")]  # eval reads every test batch
RUNS = {
    "mlp": ["model=mlp"],
    "lenet5": ["model=lenet5"],
    "lstm": ["model=lstm"],
    "gpt": [
        "model=gpt",
        "model.d_model=32",
        "model.num_layers=1",
        "data.seq_len=16",
        "task.sample_length=0",
        "data.val_fraction=0.02",
        "data.test_fraction=0.01",
    ],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny trained run per model, by name."""
    root = tmp_path_factory.mktemp("outputs")
    for name, overrides in RUNS.items():
        assert train(root / name, *WHOLE_TEST, *overrides)["status"] == "completed"
    return root


def archtrain(capsys, *arguments: str) -> tuple[int, str, str]:
    """`archtrain ARGUMENTS` in this process: exit code, stdout and stderr."""
    capsys.readouterr()
    try:
        main(list(arguments))
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", RUNS)
def test_eval_reproduces_the_test_metrics_of_the_summary(runs, capsys, name):
    run = runs / name
    code, out, err = archtrain(capsys, "eval", f"run={run}")
    assert code == 0, err
    summary = json.loads((run / "summary.json").read_text())
    measured = json.loads((run / "eval.json").read_text())[f"{summary['data']}/test/best"]
    assert measured.keys() == {k.removeprefix("test/") for k in summary["test"]}
    for metric, value in summary["test"].items():
        assert measured[metric.removeprefix("test/")] == pytest.approx(value, rel=1e-5)
    assert "eval.json" in out


def test_eval_merges_other_splits_and_data_changes_into_eval_json(runs, capsys):
    run = runs / "mlp"
    assert archtrain(capsys, "eval", f"run={run}", "split=val", "checkpoint=last")[0] == 0
    assert archtrain(capsys, "eval", f"run={run}", "data=digits", "data.test_fraction=0.3")[0] == 0
    assert {"digits/val/last", "digits(test_fraction=0.3)/test/best"} <= set(
        json.loads((run / "eval.json").read_text())
    )


@pytest.fixture(scope="module")
def digit_images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    for i, image in enumerate(load_digits().images[:3]):
        Image.fromarray((image * 255 / 16).astype(np.uint8)).resize((20, 20)).save(folder / f"{i}.png")
    return folder


@pytest.mark.parametrize("name", ["mlp", "lenet5"])
def test_predict_classifies_a_folder_of_images(runs, capsys, digit_images, name):
    code, out, err = archtrain(capsys, "predict", f"run={runs / name}", f"input={digit_images}")
    assert code == 0, err
    rows = list(csv.DictReader((runs / name / "predictions.csv").open()))
    assert [row["input"] for row in rows] == [str(digit_images / f"{i}.png") for i in range(3)]
    assert all(
        0 <= int(row["class"]) < 10 and row["name"] == row["class"] and 0 < float(row["probability"]) <= 1
        for row in rows
    )
    assert "predictions.csv" in out


def test_predict_standardizes_images_as_training_did(tmp_path, capsys):
    digits = load_digits()
    run = tmp_path / "normalized"
    assert (
        train(
            run,
            *QUICK,
            "model=mlp",
            "data=digits",
            "data.normalize=true",
            "trainer.max_epochs=5",
            "trainer.limit_train_batches=1.0",
        )["status"]
        == "completed"
    )
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(digits.images[:100]):
        Image.fromarray((image * 255 / 16).round().astype(np.uint8)).save(folder / f"{i:03}.png")
    assert archtrain(capsys, "predict", f"run={run}", f"input={folder}")[0] == 0
    rows = list(csv.DictReader((run / "predictions.csv").open()))
    assert np.mean(np.array([int(row["class"]) for row in rows]) == digits.target[:100]) > 0.85
    # the same numbers as the net on pixels scaled by the raw train split's own mean and std
    parts = load_run(run)
    raw = Digits(batch_size=32, val_fraction=0.1, test_fraction=0.2)
    raw.setup()
    pixels = torch.tensor(
        np.stack([np.asarray(Image.open(folder / f"{i:03}.png")) for i in range(100)]) / 255, dtype=torch.float32
    ).unsqueeze(1)
    scaled = (pixels - raw.splits["train"][0].mean()) / raw.splits["train"][0].std()
    with torch.no_grad():
        expected = parts.net(scaled).softmax(-1).max(-1).values
    assert np.allclose([float(row["probability"]) for row in rows], expected.numpy(), atol=1e-5)


def test_predict_forecasts_in_the_series_units(runs, capsys, tmp_path):
    values = tmp_path / "past.csv"
    values.write_text("sunspots\n" + "\n".join(str(50.0 + i) for i in range(30)))
    output = tmp_path / "forecast.csv"
    assert archtrain(capsys, "predict", f"run={runs / 'lstm'}", f"input={values}", f"output={output}")[0] == 0
    rows = list(csv.DictReader(output.open()))
    assert [row["step"] for row in rows] == ["1"] and -50 < float(rows[0]["forecast"]) < 250


def test_predict_continues_a_text_prompt(runs, capsys, tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("The ")
    assert archtrain(capsys, "predict", f"run={runs / 'gpt'}", f"input={prompt}", "length=40")[0] == 0
    assert len((runs / "gpt" / "predictions.txt").read_text(encoding="utf-8")) == 40


def test_predict_standardizes_vector_rows_as_training_did(tmp_path, capsys):
    from sklearn.datasets import load_iris

    run = tmp_path / "iris"
    assert (
        train(
            run,
            *QUICK,
            "model=mlp",
            "data=iris",
            "trainer.max_epochs=8",
            "optim.lr=0.01",
            "trainer.limit_train_batches=1.0",
        )["status"]
        == "completed"
    )
    rows = tmp_path / "rows.csv"
    iris = load_iris()
    rows.write_text("a,b,c,d\n" + "\n".join(",".join(map(str, x)) for x in iris.data))
    assert archtrain(capsys, "predict", f"run={run}", f"input={rows}")[0] == 0
    predicted = [int(row["class"]) for row in csv.DictReader((run / "predictions.csv").open())]
    assert np.mean(np.array(predicted) == iris.target) > 0.8


@pytest.mark.parametrize(
    "name, format",
    [
        ("mlp", "onnx"),
        ("lenet5", "onnx"),
        ("lstm", "onnx"),
        ("gpt", "onnx"),
        ("lenet5", "torchscript"),
        ("gpt", "exported_program"),
    ],
)
def test_export_matches_pytorch(runs, capsys, name, format):
    code, out, err = archtrain(capsys, "export", f"run={runs / name}", f"format={format}")
    assert code == 0, err
    difference = float(out.rsplit(":", 1)[1])
    assert difference < 1e-4
    files = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt", "exported_program": "model.pt2"}
    assert (runs / name / "export" / files[format]).is_file()


def test_a_gan_exports_its_generator_which_maps_noise_to_points(tmp_path, capsys):
    run = tmp_path / "gan"
    assert train(run, *QUICK, "model=gan_mlp", "hardware.threads=1")["status"] == "completed"
    code, out, err = archtrain(capsys, "export", f"run={run}", "format=onnx")
    assert code == 0, err
    assert float(out.rsplit(":", 1)[1]) < 1e-4


def test_list_runs_shows_every_run(runs, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    code, out, err = archtrain(capsys, "list", "runs", str(runs))
    assert code == 0, err
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") == 11}
    assert set(RUNS) <= set(rows)
    assert "completed" in rows["mlp"] and "val/acc" in rows["mlp"] and "val/mae" in rows["lstm"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["eval", "run={tmp}"], "not an archtrain run"),
        (["eval", "run={runs}/mlp", "data=sunspots"], "model=mlp reads vector or image data"),
        (["eval", "run={runs}/mlp", "data=iris"], "its checkpoint does not fit"),
        (["export", "run={runs}/mlp", "format=tflite"], "format=tflite: choose from onnx"),
        (["predict", "run={runs}/mlp", "input={tmp}/missing.png"], "no such file"),
        (["eval", "run={runs}/mlp", "split=everything"], "split=everything"),
        (["predict", "run={runs}/gpt", "input={tmp}/prompt.txt", "length=3"], "never saw"),
    ],
)
def test_bad_input_is_one_line_and_leaves_the_run_alone(runs, capsys, tmp_path, arguments, message):
    (tmp_path / "prompt.txt").write_text("\u20ac")
    before = {path: path.stat().st_mtime_ns for path in runs.rglob("*")}
    code, out, err = archtrain(capsys, *[a.format(runs=runs, tmp=tmp_path) for a in arguments])
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert {path: path.stat().st_mtime_ns for path in runs.rglob("*")} == before


def test_help_lists_the_verbs_and_explains_each(capsys):
    code, out, _ = archtrain(capsys, "--help")
    assert code == 0 and all(f"  {verb} " in out for verb in VERBS)
    for verb in VERBS:
        code, out, _ = archtrain(capsys, verb, "--help")
        assert code == 0 and out.startswith(f"Usage: archtrain {verb}")
