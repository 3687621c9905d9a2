"""Debugging, tuning and reporting tools: debug=, tune=, the model summary, compare, the confusion matrix."""

import csv
import json
import shutil
import sys
from types import SimpleNamespace

import pytest
from conftest import train
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf
from pytorch_lightning.utilities.model_summary.model_summary import get_human_readable_count

from archtrain.assemble import assemble
from archtrain.catalog import options
from archtrain.cli import main
from archtrain.report.model_summary import model_summary
from archtrain.schema import register as register_schema
from archtrain.training.tuning import tuning_problems

FAST = [
    "hardware.threads=1",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=6",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=4",
]


def archtrain(capsys, *arguments: str) -> tuple[int, str, str]:
    """`archtrain ARGUMENTS` in this process: exit code, stdout and stderr."""
    capsys.readouterr()
    saved = sys.argv
    try:
        main(list(arguments))
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    finally:
        sys.argv = saved
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two small classifier runs that differ in their learning rate, as the jobs of a sweep folder."""
    sweep = tmp_path_factory.mktemp("sweep")
    for job, lr in enumerate(("0.003", "0.0003")):
        assert train(sweep / f"{job}_mlp-digits", *FAST, f"optim.lr={lr}")["status"] == "completed"
    return sweep


# -- debug ------------------------------------------------------------------------------------------


def test_debug_fast_runs_one_batch_of_each_split_and_writes_a_complete_run(tmp_path):
    summary = train(tmp_path / "run", "hardware.threads=1", "debug=fast")
    assert summary["status"] == "completed" and summary["exit_code"] == 0
    assert summary["steps"] == 1 and summary["epochs"] == 1
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").is_file()
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    assert summary["test"]["test/acc"] is not None
    assert sum(summary["per_class"]["support"]) == 32  # one test batch of data.batch_size=32


def test_debug_overfit_drives_the_training_loss_of_a_few_batches_towards_zero(tmp_path):
    summary = train(tmp_path / "run", "hardware.threads=1", "debug=overfit", "trainer.max_epochs=10", "optim.lr=0.01")
    assert summary["status"] == "completed" and summary["steps"] == 10 * 2
    losses = [
        float(row["train/loss"])
        for row in csv.DictReader(open(tmp_path / "run" / "metrics.csv"))
        if row.get("train/loss")
    ]
    assert losses[0] > 2.0 and losses[-1] < 0.01 * losses[0], losses  # measured: 2.26 -> 0.0008


def test_debug_limit_and_profile_write_the_profilers_report_of_a_short_run(tmp_path):
    summary = train(
        tmp_path / "run",
        "hardware.threads=1",
        "debug=[limit,profile]",
        "debug.profiler=advanced",
        "trainer.max_epochs=1",
    )
    assert summary["status"] == "completed"
    assert summary["steps"] == 10 and sum(summary["per_class"]["support"]) == 5 * 32  # debug=limit's batches
    for stage in ("fit", "test"):
        report = (tmp_path / "run" / f"{stage}-profile.txt").read_text()
        assert f"{stage.upper()} Profiler Report" in report and "function calls" in report  # cProfile's


@pytest.mark.parametrize(
    "args, message",
    [
        (["debug=profile", "debug.profiler=line"], "debug.profiler=line: choose from simple, advanced"),
        (["+trainer.profiler=simple"], "trainer.profiler: archtrain sets this itself; use debug=profile"),
        (["+trainer.fast_dev_run=true"], "trainer.fast_dev_run: archtrain sets this itself; use debug=fast"),
        (["debug=overfit", "trainer.overfit_batches=-2"], "trainer.overfit_batches=-2: must be a count of batches"),
        (["tune=lr", "tune.lr.num_training=0"], "tune.lr.num_training=0: must be at least 1"),
        (["tune=lr", "tune.lr.max_lr=-1"], "tune.lr.max_lr=-1: must be positive"),
        (["debug=fsat"], "(did you mean debug=fast?)"),
    ],
)
def test_bad_debug_and_tune_values_are_one_line_before_anything_runs(args, message, workdir, capsys):
    code, out, err = archtrain(capsys, *args)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (workdir / "outputs").exists()


def test_help_lists_the_debug_and_tune_options(capsys):
    _, out, _ = archtrain(capsys, "--help")
    assert "  debug " in out and all(name in out for name in options("debug"))
    assert "  tune " in out and "batch_size, lr" in out


# -- tune -------------------------------------------------------------------------------------------

LR_FIND = [
    "hardware.threads=1",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=10",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
]


def test_tune_lr_applies_the_finders_suggestion_as_if_given_on_the_command_line(tmp_path):
    tuned = train(tmp_path / "tuned", *LR_FIND, "tune=lr", "tune.lr.num_training=20")
    assert tuned["status"] == "completed", tuned["error"]
    found = tuned["tune"]["lr"]
    assert found["was"] == 0.001 and found["found"] != 0.001
    assert 13 <= found["steps"] <= 20  # it stops early once the loss is 4 times its best
    assert (tmp_path / "tuned" / "lr_find.png").stat().st_size > 10_000
    stored = OmegaConf.load(tmp_path / "tuned" / "config.yaml")
    assert stored.optim.lr == found["found"]
    # the finder leaves weights and random state as they were: the same run as with optim.lr=<found>
    given = train(tmp_path / "given", *LR_FIND, f"optim.lr={found['found']!r}")
    assert given["test"] == tuned["test"] and given["final"] == tuned["final"]


def test_tune_batch_size_applies_the_largest_size_that_ran(tmp_path):
    summary = train(
        tmp_path / "run",
        "hardware.threads=1",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=3",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "tune=batch_size",
        "tune.batch_size.init_val=4",
        "tune.batch_size.max_val=8",
        "tune.batch_size.steps_per_trial=1",
    )
    assert summary["status"] == "completed", summary["error"]
    assert summary["tune"]["batch_size"]["was"] == 32 and summary["tune"]["batch_size"]["found"] == 8
    assert OmegaConf.load(tmp_path / "run" / "config.yaml").data.batch_size == 8
    assert sum(summary["per_class"]["support"]) == 8  # the test batch has the found size


def test_tune_lr_is_refused_for_a_task_that_steps_its_own_optimizers(tmp_path, capsys):
    summary = train(tmp_path / "run", "hardware.threads=1", "model=gan_mlp", "tune=lr")
    assert summary["exit_code"] == 2 and summary["status"] == "failed"
    assert summary["error"] == (
        "tune=lr varies the rate of one optimizer that Lightning steps; task=gan steps its own optimizers"
    )


def test_tuning_refuses_data_without_a_batch_size_and_more_than_one_process():
    cfg = OmegaConf.create(
        {
            "task": {"name": "classify"},
            "data": {"name": "mine"},
            "tune": {"batch_size": {"mode": "power"}, "lr": {"mode": "exponential"}},
        }
    )
    task = SimpleNamespace(automatic_optimization=True)
    problems = tuning_problems(cfg.tune, task, SimpleNamespace(), cfg, world_size=2)
    assert problems == [
        "tune=batch_size,lr runs in one process; tune with hardware.devices=1, then train on 2 with "
        "the values it finds",
        "tune=batch_size changes the data module's batch_size attribute, and data=mine has none",
    ]


def test_too_few_finder_steps_are_one_line(tmp_path):
    summary = train(tmp_path / "run", *LR_FIND, "tune=lr", "tune.lr.num_training=5")
    assert summary["exit_code"] == 2
    assert summary["error"].startswith("tune=lr: the finder ran 5 steps, too few to suggest a rate (it needs 13")


def test_the_finders_are_not_bounded_by_the_runs_length(tmp_path):
    summary = train(tmp_path / "run", "hardware.threads=1", "debug=fast", "tune=lr", "tune.lr.num_training=15")
    assert summary["status"] == "completed", summary["error"]
    assert summary["tune"]["lr"]["steps"] == 15 and summary["steps"] == 1  # 15 epochs of one batch, then one


# -- model summary ----------------------------------------------------------------------------------

SUMMARIZED = ("mlp", "lstm", "gpt", "seq2seq_attention", "gan_mlp", "bert", "resnet")  # one per kind of input
# Nets whose forward does not take a slice of a training batch: graphs (a PyG batch), denoisers (noisy
# inputs and their timesteps), the RBM (binarised visible units).
NO_EXAMPLE_FORWARD = {"gcn", "gat", "gin", "graphsage", "graph_mlp", "ddpm", "ddpm_mlp", "rbm"}


@pytest.mark.parametrize(
    "model",
    [pytest.param(m, marks=() if m in SUMMARIZED else pytest.mark.slow) for m in options("model") if m != "custom"],
)  # custom: a user's class
def test_every_model_has_a_summary_with_output_sizes(model, one_thread):
    register_schema()
    with initialize_config_module("archtrain.conf", version_base="1.3"):
        cfg = compose("config", overrides=[f"model={model}"])
    parts = assemble(cfg, resume=True)
    text = model_summary(parts)
    if model in NO_EXAMPLE_FORWARD:  # the layers and parameters, and why there are no sizes
        assert "no sizes: the forward pass of an example failed" in text and "Out sizes" not in text
    else:
        assert "from a forward pass of 2 training examples" in text and "Out sizes" in text
    parameters = get_human_readable_count(sum(p.numel() for p in parts.net.parameters()))
    assert f"\n{parameters:<10}Total params" in text
    assert parts.net.training  # the example's forward pass leaves the net in training mode


def test_a_run_writes_its_summary_and_the_verb_shows_it(runs, capsys):
    run = runs / "0_mlp-digits"
    stored = (run / "model_summary.txt").read_text()
    assert "net.head" in stored and "[2, 10]" in stored  # the head's output: 2 examples, 10 classes
    code, out, _ = archtrain(capsys, "summary", f"run={run}")
    assert code == 0 and out == stored
    code, out, _ = archtrain(capsys, "summary", f"run={run}", "depth=1")
    assert code == 0 and "net.head" not in out and "MLP" in out
    code, out, _ = archtrain(capsys, "summary", "model=lstm", "data=adding", "model.hidden_size=8")
    assert code == 0 and "LSTM" in out and "Out sizes" in out


# -- compare ----------------------------------------------------------------------------------------


def test_compare_a_sweep_folder_tables_the_runs_and_overlays_their_curves(runs, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = archtrain(capsys, "compare", str(runs))
    assert code == 0, err
    rows = [line for line in out.splitlines() if "mlp" in line and "digits" in line]
    assert len(rows) == 2 and "optim.lr=0.003" in rows[0] and "optim.lr=0.0003" in rows[1]
    assert "best val/acc" in out and "test/acc" in out and "85,002" in out
    assert (runs / "compare.png").stat().st_size > 10_000


def test_compare_named_runs_writes_where_out_says(runs, capsys, tmp_path):
    out_file = tmp_path / "both.png"
    code, out, err = archtrain(
        capsys, "compare", str(runs / "0_mlp-digits"), str(runs / "1_mlp-digits"), f"out={out_file}"
    )
    assert code == 0, err
    assert out_file.is_file() and "2 runs" in out


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["compare", "{tmp}/nope"], "archtrain compare: no such directory"),
        (["compare", "{tmp}"], "is not a run (no summary.json) and holds no runs"),
        (["compare"], "archtrain compare needs run directories or a folder of runs"),
        (["compare", "{runs}", "out={tmp}/no/such/folder/x.png"], "out={tmp}/no/such/folder/x.png: no such folder"),
        (["compare", "{runs}", "out={tmp}/x.jpg"], "the picture is a PNG"),
        (["compare", "{runs}", "{mixed}"], "the runs pick their best checkpoints by different metrics (val/acc: "),
        (["summary", "run={tmp}"], "not an archtrain run"),
        (["summary", "run={runs}/0_mlp-digits", "depth=0"], "depth=0: must be a whole number of at least 1"),
    ],
)
def test_bad_compare_and_summary_input_is_one_line(runs, capsys, tmp_path, arguments, message):
    mixed = tmp_path / "mixed" / "run"
    shutil.copytree(runs / "0_mlp-digits", mixed)
    summary = json.loads((mixed / "summary.json").read_text())
    summary["best"]["metric"] = "val/loss"
    (mixed / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "empty").mkdir()
    names = {"tmp": tmp_path / "empty", "runs": runs, "mixed": mixed.parent}
    code, out, err = archtrain(capsys, *[a.format(**names) for a in arguments])
    assert code == 2 and message.format(**names) in err and err.count("\n") == 1, err


# -- classifiers' confusion matrix and per-class metrics ------------------------------------------------


def test_a_classifier_writes_its_confusion_matrix_and_per_class_metrics(runs):
    run = runs / "0_mlp-digits"
    summary = json.loads((run / "summary.json").read_text())
    per_class = summary["per_class"]
    assert per_class["classes"] == [str(i) for i in range(10)]
    assert sum(per_class["support"]) == 4 * 32  # every example of the 4 test batches
    # accuracy is the support-weighted mean of the recalls
    recalled = sum(r * n for r, n in zip(per_class["recall"], per_class["support"])) / sum(per_class["support"])
    assert recalled == pytest.approx(summary["test"]["test/acc"], abs=1e-3)
    with open(run / "per_class.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["class"] for row in rows] == per_class["classes"]
    assert [float(row["f1"]) for row in rows] == pytest.approx(per_class["f1"], abs=1e-4)
    assert (run / "confusion_matrix.png").stat().st_size > 10_000
    assert summary["files"]["confusion_matrix"] == str(run / "confusion_matrix.png")
