"""Every bad input is answered in one line with exit 2; a config error before anything is written."""

import inspect
import json
import os
import shutil
import subprocess
import sys
import types
import typing

import pytest
from conftest import QUICK
from omegaconf import DictConfig, OmegaConf

from archtrain.catalog import CONF, shipped
from archtrain.checks import usable_cores
from archtrain.cli import main

TOO_MANY = max(64, usable_cores() + 1)
# (arguments, expected exit code, a fragment of the one-line message); {tmp} is the test's tmp_path.
CONFIG_ERRORS = [
    (["optim.lrr=0.1"], 2, "Could not override 'optim.lrr'"),
    (["model=resnet9000"], 2, "Could not find 'model/resnet9000'"),
    (["model=gpt", "data=iris"], 2, "but data=iris is vector data; data that fits:"),
    (["optim.lr=-0.1"], 2, "optim.lr=-0.1: must be positive"),
    (["optim.lr=abc"], 2, "optim.lr=abc: must be a number"),
    (["optim.lr=inf"], 2, "optim.lr=inf: must be a finite number"),
    (["trainer.limit_train_batches=nan"], 2, "trainer.limit_train_batches=nan: must be a finite number"),
    (["optim.lr=${nope}"], 2, "optim.lr: Interpolation key 'nope' not found"),
    (["optim.betas=[0.9,abc]"], 2, "optim.betas=[0.9, 'abc']: must be a number"),
    (["data.batch_size=0"], 2, "data.batch_size=0: must be at least 1"),
    (["data.batch_size=1.5"], 2, "data.batch_size=1.5: must be an integer"),
    (["seed=-1"], 2, "seed=-1: must be an integer from 0 to 4294967295"),
    (["seed=1099511627776"], 2, "seed=1099511627776: must be an integer from 0 to 4294967295"),
    (["trainer.max_epochs=abc"], 2, "could not be converted to Integer"),
    (["trainer.max_steps=-5"], 2, "trainer.max_steps=-5: must be an integer of at least 1 (or -1)"),
    (["trainer.limit_train_batches=-1"], 2, "trainer.limit_train_batches=-1: must be a count of batches"),
    (["trainer.limit_val_batches=abc"], 2, "trainer.limit_val_batches=abc: must be a count of batches"),
    (["model.width=0"], 2, "model.width=0: must be positive"),
    (["model.depth=-1"], 2, "model.depth=-1: must be at least 0"),
    (["model=gan_mlp", "task.discriminator_steps=0"], 2, "task.discriminator_steps=0: must be at least 1"),
    (["model=gan_mlp", "task.loss=hinge"], 2, "task.loss=hinge: choose from non_saturating, minimax, wasserstein"),
    (["model.activation=1"], 2, "model.activation=1: must be a string"),
    (["model.activation=swish"], 2, "model.activation=swish: choose from sigmoid, tanh, relu, leaky_relu"),
    (["model=rnn", "model.cell=lstn"], 2, "model.cell=lstn: choose from rnn, lstm, gru (did you mean lstm?)"),
    (["optim.lrr=0.1"], 2, "(did you mean optim.lr?)"),
    (["max_epochs=3"], 2, "(did you mean trainer.max_epochs?)"),
    (["model=resnet9000"], 2, "(did you mean model=resnet?)"),
    (["regularizer=[dropuot]"], 2, "(did you mean regularizer=dropout?)"),
    (["+trainer.gradient_clip_val=1"], 2, "archtrain sets this itself; use regularizer=grad_clip"),
    (["+trainer.precision=16"], 2, "trainer.precision: archtrain sets this itself; use hardware.precision="),
    (["regularizer=[dropout]", "regularizer.dropout=1.5"], 2, "regularizer.dropout=1.5: must be in [0, 1)"),
    (["~model"], 2, "a run needs a model; ~model removes it"),
    (["hardware.devices=0"], 2, "hardware.devices=0: must be a count (at least 1)"),
    ([f"hardware.devices={TOO_MANY}"], 2, f"CPU core(s), so at most {usable_cores()} processes"),
    (["hardware.accelerator=abacus"], 2, "hardware.accelerator=abacus: choose from"),
    (["-m", "optim.lr=0.1,abc"], 2, "optim.lr=abc: must be a number"),
    (["-m", "optim.lr=interval(0.001,0.1)"], 2, "interval() is a range to sample from"),
    (["-m", "optim.lr=interval(-1,0.1)", "hydra/sweeper=optuna"], 2, "optim.lr=-1"),
    (["resume="], 2, "resume= needs a run directory"),
    (["resume={tmp}/file.txt"], 2, "file.txt is a file; resume= takes a run directory"),
    (["resume={tmp}/no/such/run"], 2, "no such directory"),
    (["hydra.run.dir={tmp}/file.txt/run"], 2, "file.txt is a file, so no folder can be made under it"),
    (["hydra.run.dir=/proc/archtrain"], 2, "hydra.run.dir=/proc/archtrain: cannot make a folder in /proc"),
    (["-m", "hydra.sweep.dir={tmp}/file.txt/sweep", "optim.lr=0.1,0.2"], 2, "hydra.sweep.dir="),
    (["transform=[prune]", "transform.prune.amount=1.0"], 2, "transform.prune.amount=1.0: must be in [0, 1)"),
    (["transform=[quantize]", "transform.quantize.quantization=int4"], 2, "choose from dynamic, static, qat"),
    (["transform=[quantize]", "transform.quantize.bits=16"], 2, "transform.quantize.bits=16: must be 2 to 8"),
]


def run_main(argv: list[str]) -> int:
    """`archtrain argv` in this process; its exit code."""
    saved = sys.argv
    try:
        main(argv)
    except SystemExit as exit_:
        return exit_.code
    finally:
        sys.argv = saved
    return 0


def one_error_line(capsys) -> str:
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    return lines[0]


@pytest.mark.parametrize(
    "args, code, message", CONFIG_ERRORS, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_a_config_error_is_one_line_and_writes_nothing(args, code, message, workdir, capsys):
    (workdir / "file.txt").write_text("not a folder")
    argv = [arg.replace("{tmp}", str(workdir)) for arg in args]
    assert run_main(argv) == code
    assert message in one_error_line(capsys)
    assert sorted(p.name for p in workdir.iterdir()) == ["file.txt"], "nothing may be written"


def test_a_config_error_does_not_import_torch(workdir):
    code = (
        "import sys; from archtrain.cli import main\n"
        "try: main(['optim.lr=abc'])\nexcept SystemExit as e: assert e.code == 2\n"
        "heavy = [m for m in ('torch', 'pytorch_lightning', 'lightning') if m in sys.modules]; assert not heavy, heavy"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "optim.lr=abc: must be a number" in out.stderr


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody can write in: a read-only tmpfs where mounting is allowed (tests often run as
    root, for whom chmod stops nothing), else a folder without write permission."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)]
    mounted = shutil.which("mount") and subprocess.run(mount, capture_output=True).returncode == 0
    if not mounted:
        folder.chmod(0o500)
    if os.access(folder, os.W_OK):
        pytest.skip("no way to make a read-only folder here")
    yield folder
    if mounted:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_output_folder_is_one_line(read_only_folder, capsys):
    assert run_main([f"hydra.run.dir={read_only_folder}/run"]) == 2
    assert f"cannot make a folder in {read_only_folder}" in one_error_line(capsys)


# Bad data found only when the data is read: one line, exit 2, and the run recorded as failed.
DATA_ERRORS = [
    (["model=gpt", "data=text", "data.path={tmp}"], "is a folder, not a file (data=text expects a UTF-8 text file)"),
    (["model=tcn", "data=csv_series", "data.path={tmp}"], "is a folder, not a file (data=csv_series reads"),
    (
        ["data=image_folder", "data.root={tmp}/images"],
        "only one class folder (cat), and a classifier needs two or more",
    ),
]


@pytest.mark.parametrize("args, message", DATA_ERRORS, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_data_is_one_line_and_a_failed_run(args, message, tmp_path, capsys):
    from PIL import Image

    (tmp_path / "images" / "cat").mkdir(parents=True)
    for shade in range(4):
        Image.new("RGB", (8, 8), (shade * 60, 0, 0)).save(tmp_path / "images" / "cat" / f"{shade}.png")
    run = tmp_path / "run"
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    assert run_main([*argv, *QUICK, f"hydra.run.dir={run}"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and message in err.splitlines()[0]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "failed" and message in summary["error"]


def test_too_many_cpu_processes_are_refused_once_torch_knows_there_is_no_gpu():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU machine runs accelerator=auto on its GPUs")
    from archtrain.errors import ArchtrainError
    from archtrain.hardware import check_hardware

    hardware = OmegaConf.create({"accelerator": "auto", "devices": TOO_MANY, "strategy": "ddp", "precision": "32-true"})
    with pytest.raises(ArchtrainError, match=f"hardware.devices={TOO_MANY}: this machine has"):
        check_hardware(hardware)


def allowed_types(annotation) -> set:
    """The classes an annotation admits: int | None -> {int, NoneType}; tuple[int, ...] -> {tuple}."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set().union(*map(allowed_types, typing.get_args(annotation)))
    return {typing.get_origin(annotation) or annotation}


def shipped_knobs():
    """(option, key, shipped value, constructor annotation) for each knob an option's _target_ annotates."""
    from hydra.utils import get_object

    for group in ("model", "data", "task", "optim", "scheduler", "transform"):
        for name in shipped(group):
            config = OmegaConf.load(CONF / group / f"{name}.yaml")
            nodes = [config] if "_target_" in config else [v for v in config.values() if isinstance(v, DictConfig)]
            for node in nodes:
                target = get_object(node._target_)
                hints = typing.get_type_hints(target.__init__ if inspect.isclass(target) else target)
                for key, value in node.items():
                    if key in hints and value is not None and not OmegaConf.is_config(value):
                        yield f"{group}/{name}", key, value, hints[key]


def test_shipped_values_have_their_constructors_types():
    """The CLI checks an overridden knob against the type of the value its option ships with
    (checks.check_types); this keeps that a sound stand-in for the constructor's annotation:
    a knob annotated float must not ship as an int, or `model.phi=0.5` would be refused."""
    wrong = []
    for option, key, value, annotation in shipped_knobs():
        allowed = allowed_types(annotation)
        if type(value) not in allowed and typing.Any not in allowed:
            wrong.append(f"{option}: {key}={value!r} but the constructor takes {annotation}")
    assert not wrong, wrong


def test_knob_choices_are_what_the_code_offers():
    """checks.py refuses a knob value outside choices.KNOB_CHOICES before torch loads; the registries
    that act on those values must offer exactly those names."""
    import torch

    from archtrain.choices import KNOB_CHOICES
    from archtrain.compression import prune, quantize
    from archtrain.data.captions import CAPTIONS
    from archtrain.models import blocks, init, ode, recurrent
    from archtrain.models.clip import TEXT_ENCODERS
    from archtrain.tasks.self_supervised import MOMENTUM_SCHEDULES
    from archtrain.tasks.siamese import CRITERIA
    from archtrain.training.adversarial import ADVERSARIAL_LOSSES
    from archtrain.training.debugging import PROFILERS

    offered = {
        "activation": blocks.ACTIVATIONS,
        "init": ("default", *init.SCHEMES),
        "positions": blocks.POSITIONS,
        "cell": recurrent.CELLS,
        "loss": ADVERSARIAL_LOSSES,
        "profiler": PROFILERS,
        "criterion": CRITERIA,
        "momentum_schedule": MOMENTUM_SCHEDULES,
        "quantization": quantize.QUANTIZATIONS,
        "pruning": prune.PRUNINGS,
        "structure": prune.STRUCTURES,
        "scope": prune.SCOPES,
        "solver": ode.ADAPTIVE + ode.FIXED,
        "captions": CAPTIONS,
        "text_encoder": TEXT_ENCODERS,
    }
    choices = dict(KNOB_CHOICES)
    for nonlinearity in choices.pop("nonlinearity"):  # what torch's Elman RNN takes
        torch.nn.RNN(2, 2, nonlinearity=nonlinearity)
    assert {name: set(names) for name, names in offered.items()} == {
        name: set(names) for name, names in choices.items()
    }
