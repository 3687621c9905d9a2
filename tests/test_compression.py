"""Compression: int8 quantization (dynamic, static, qat), magnitude pruning (oneshot, gradual, lottery with
its control) and the footprint each compressed run records beside its source run's."""

import copy
import json
from types import SimpleNamespace

import pytest
import torch
from conftest import QUICK, train
from rich.console import Console
from torch import nn

from archtrain.cli import main
from archtrain.compression.footprint import saved_bytes
from archtrain.compression.prune import LotteryRounds, Prune, masked_weights, sparsity
from archtrain.compression.quantize import Quantize
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError
from archtrain.models.cnn import LeNet5
from archtrain.models.recurrent import RecurrentNet
from archtrain.models.vision.resnet import ResNet
from archtrain.models.vit import ViT
from archtrain.report.compare import comparison_table, find_runs
from archtrain.report.footprint import in_brief, side_by_side
from archtrain.report.listing import runs_table

MLP = ["model=mlp", "hardware.threads=1"]
SPEC = DataSpec()


@pytest.fixture(scope="module")
def dense(tmp_path_factory):
    """A digits MLP trained for 3 epochs: the source run of the compressed ones."""
    run = tmp_path_factory.mktemp("dense") / "run"
    summary = train(run, *MLP, "trainer.max_epochs=3")
    assert summary["test"]["test/acc"] > 0.9
    return run, summary


def evaluated(run) -> float:
    """`archtrain eval run=...`: the test accuracy of the run's model as the verb rebuilds it."""
    main(["eval", f"run={run}"])
    return next(iter(json.loads((run / "eval.json").read_text()).values()))["acc"]


@pytest.mark.parametrize("quantization, smaller", [("dynamic", 3.5), ("static", 3.5)])
def test_post_training_int8_keeps_accuracy_shrinks_the_file_and_reloads(quantization, smaller, dense, tmp_path):
    source_run, source = dense
    run = tmp_path / quantization
    summary = train(
        run,
        *MLP,
        "trainer.max_epochs=0",  # nothing trains: the source's weights are converted
        "transform=[weights,quantize]",
        f"transform.weights.path={source_run}",
        f"transform.quantize.quantization={quantization}",
    )
    assert summary["status"] == "completed", summary["error"]
    model, before = summary["footprint"]["model"], summary["footprint"]["source"]
    assert before["run"] == str(source_run) and before["value"] == source["test"]["test/acc"]
    assert abs(model["value"] - before["value"]) <= 0.01
    assert model["file_bytes"] * smaller <= before["file_bytes"]
    assert model["file_bytes"] == (run / "model.pt").stat().st_size
    assert set(model["latency_us"]) == {"batch_1", "batch_64"} and min(model["latency_us"].values()) > 0
    assert evaluated(run) == pytest.approx(model["value"], abs=1e-6)  # eval rebuilds the int8 net from model.pt


def test_quantization_aware_training_trains_and_converts(tmp_path):
    summary = train(
        tmp_path / "qat", *MLP, "trainer.max_epochs=2", "transform=[quantize]", "transform.quantize.quantization=qat"
    )
    assert summary["status"] == "completed", summary["error"]
    assert summary["test"]["test/acc"] > 0.85  # ten classes: chance is 0.1
    state = torch.load(tmp_path / "qat" / "model.pt", weights_only=True)
    packed = [v for name, v in state.items() if name.endswith("_packed_params._packed_params")]
    assert packed and all(weight.dtype == torch.qint8 for weight, _ in packed)  # int8 weights, float biases
    assert summary["footprint"]["source"] is None  # trained from scratch: nothing to compare with


class Batches:
    """A data module's stand-in for calibration: the same training batch, again and again."""

    def __init__(self, *inputs: torch.Tensor):
        self.batch = (*inputs, torch.zeros(len(inputs[0])))

    def split_loader(self, split):
        return [self.batch] * 4


FAMILIES = {  # a convolutional net, a residual one with batch norms, a transformer, a recurrent one
    "lenet5": (lambda: LeNet5(in_channels=1, image_size=8, num_classes=10), (16, 1, 8, 8), ("static", "qat")),
    "resnet": (lambda: ResNet(1, 8, 10, depth=18, width=4), (16, 1, 8, 8), ("static",)),
    "vit": (lambda: ViT(1, 8, 10, d_model=32, num_layers=1), (16, 1, 8, 8), ("static", "dynamic")),
    "lstm": (lambda: RecurrentNet(10, hidden_size=32, in_features=3), (16, 12, 3), ("dynamic",)),
}


@pytest.mark.parametrize(
    "family, quantization", [(f, q) for f, (_, _, methods) in FAMILIES.items() for q in methods], ids=str
)
def test_zoo_families_quantize_to_int8_and_reload(family, quantization, one_thread):
    build, shape, _ = FAMILIES[family]
    torch.manual_seed(0)
    net, x = build().eval(), torch.randn(*shape)
    fresh = copy.deepcopy(net)
    with torch.no_grad():
        expected = net(x)
    before = saved_bytes(net)
    transform = Quantize(quantization)
    transform(net, SPEC)
    if quantization == "qat":  # the fake quantizers learn their ranges while training
        net.train()(x)
    transform.finish(net, Batches(x))
    with torch.no_grad():
        got = net(x)
    assert (got - expected).abs().max() < 0.1 * expected.abs().max()  # int8 error, not another function
    assert saved_bytes(net) < 0.7 * before  # the quantized layers' share of the file shrinks 4x
    again = Quantize(quantization)
    again(fresh, SPEC)
    again.restore(fresh)
    fresh.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), got)


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


def pruned(net: nn.Module) -> nn.Module:
    Prune(amount=0.5)(net, SPEC)
    return net


def test_a_pruned_checkpoint_loads_into_a_plain_net(one_thread):
    source, plain = pruned(tiny()), tiny()
    weights = masked_weights(source.state_dict(), plain.state_dict().keys())
    plain.load_state_dict(weights)
    assert torch.equal(plain[0].weight, source[0].weight) and (plain[0].weight == 0).float().mean() > 0.4


def test_list_runs_and_compare_show_a_compressed_run_beside_its_source(tmp_path):
    figures = {"parameters": 100, "nonzero_parameters": 10, "latency_us": {"batch_1": 5.0, "batch_64": 1.0}}
    model = {**figures, "file_bytes": 1000, "metric": "test/acc", "value": 0.9}
    source = {**figures, "nonzero_parameters": 100, "file_bytes": 4000, "metric": "test/acc", "value": 0.95}
    summary = {"status": "completed", "footprint": {"model": model, "source": {**source, "run": "dense"}}}
    assert in_brief(summary) == "4.0x smaller, 10% non-zero, test/acc -0.050"
    assert side_by_side(summary) == ["1,000 (4,000)", "10 (100)", "5 (5)", "1 (1)", "0.9 (0.95)"]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "summary.json").write_text(json.dumps(summary))
    console = Console(width=300, record=True)
    console.print(runs_table(str(tmp_path)))
    console.print(comparison_table(find_runs([str(tmp_path / "run")])))
    text = console.export_text()
    assert "4.0x smaller, 10% non-zero, test/acc -0.050" in text and "1,000 (4,000)" in text


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_magnitude_pruning_reaches_its_target(scope, one_thread):
    net = tiny()
    pruning = Prune(amount=0.75, scope=scope)
    report = pruning(net, SPEC)
    assert report["sparsity"] == pytest.approx(0.75, abs=0.01)
    if scope == "layer":
        assert all((m.weight == 0).float().mean() == pytest.approx(0.75, abs=0.02) for m in (net[0], net[2]))
    kept = net[0].weight[net[0].weight != 0].abs()
    assert kept.min() >= net[0].weight_orig[net[0].weight == 0].abs().max() or scope == "global"
    pruning.finish(net, None)
    assert not hasattr(net[0], "weight_orig") and isinstance(net[0].weight, nn.Parameter)  # permanent


def test_channel_pruning_removes_whole_output_channels(one_thread):
    net = tiny()
    Prune(amount=0.5, structure="channels", scope="layer")(net, SPEC)
    rows = (net[0].weight == 0).all(dim=1)
    assert int(rows.sum()) == 8 and ((net[0].weight != 0).all(dim=1) | rows).all()


def test_gradual_pruning_follows_the_cubic_schedule(one_thread):
    net = tiny()
    pruning = Prune(amount=0.8, pruning="gradual", start_epoch=1, end_epoch=3)
    pruning(net, SPEC)
    (schedule,) = pruning.callbacks()
    seen = []
    for epoch in range(5):
        schedule.on_train_epoch_start(SimpleNamespace(current_epoch=epoch), None)
        seen.append(round(sparsity(pruning.layers), 2))
    assert seen == [0.0, 0.0, 0.7, 0.8, 0.8]  # 0.8 * (1 - (1 - 1/2)^3) = 0.7 halfway


def test_lottery_rounds_prune_rewind_and_forget(one_thread, tmp_path):
    net = tiny()
    pruning = Prune(amount=0.75, pruning="lottery", rounds=2, rewind_epoch=0)
    pruning(net, SPEC)
    (rounds,) = pruning.callbacks()
    assert isinstance(rounds, LotteryRounds)
    optimizer = torch.optim.Adam(net.parameters())
    checkpoint = SimpleNamespace(monitor="val/loss", mode="min", best_k_models={"a": 1}, best_model_score=1.0)
    trainer = SimpleNamespace(max_epochs=6, current_epoch=0, optimizers=[optimizer], checkpoint_callbacks=[checkpoint])
    module = SimpleNamespace(net=net)
    rounds.setup(trainer, module, "fit")
    initial = {name: t.detach().clone() for name, t in net.named_parameters()}
    for epoch, expected in ((0, 0.0), (1, 0.0), (2, 0.5), (3, 0.5), (4, 0.75)):
        trainer.current_epoch = epoch
        rounds.on_train_epoch_start(trainer, module)
        assert sparsity(pruning.layers) == pytest.approx(expected, abs=0.01)
        if epoch in (2, 4):  # rewound: the survivors are back at their initial values, Adam starts afresh
            for name, parameter in net.named_parameters():
                assert torch.equal(parameter, initial[name])
            assert not optimizer.state and checkpoint.best_model_score is None and not checkpoint.best_k_models
        net(torch.randn(4, 8)).sum().backward()  # a "training" step that moves every weight
        optimizer.step()
    # the control: the same masks on a fresh init
    file = tmp_path / "ticket.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}}, file)
    torch.manual_seed(1)
    fresh = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    Prune(mask_from=str(file))(fresh, SPEC)
    assert torch.equal(fresh[0].weight_mask, net[0].weight_mask)
    assert not torch.equal(fresh[0].weight_orig, net[0].weight_orig)


def test_pruned_run_records_its_non_zeros_and_saves_plain_tensors(dense, tmp_path):
    source_run, _ = dense
    run = tmp_path / "pruned"
    summary = train(
        run,
        *MLP,
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=4",
        "transform=[weights,prune]",
        f"transform.weights.path={source_run}",
        "transform.prune.amount=0.8",
        "transform.prune.pruning=gradual",
        "transform.prune.end_epoch=1",
    )
    assert summary["status"] == "completed", summary["error"]
    model, before = summary["footprint"]["model"], summary["footprint"]["source"]
    assert model["parameters"] == before["parameters"] == before["nonzero_parameters"]
    biases = 256 + 256 + 10
    assert model["nonzero_parameters"] - biases == pytest.approx(0.2 * (model["parameters"] - biases), abs=2)
    assert summary["compression"]["prune"]["sparsity"] == pytest.approx(0.8, abs=1e-3)
    state = torch.load(run / "model.pt", weights_only=True)
    assert not any(name.endswith(("_orig", "_mask")) for name in state)
    assert "train/sparsity" in (run / "metrics.csv").read_text()
    assert evaluated(run) == pytest.approx(summary["test"]["test/acc"], abs=1e-6)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Quantize(bits=4), "dynamic quantization is int8"),
        (lambda: Prune(structure="channels"), "set scope=layer"),
        (lambda: Prune(pruning="gradual", start_epoch=3, end_epoch=2), "must come after start_epoch=3"),
        (lambda: Prune(pruning="gradual", mask_from="run"), "use pruning=oneshot"),
        (lambda: LotteryRounds(Prune(rounds=3)).setup(SimpleNamespace(max_epochs=6), None, "fit"), "multiple of 4"),
        (lambda: Quantize("qat")(pruned(tiny()), SPEC), "quantization=qat cannot train pruned layers"),
    ],
)
def test_settings_that_cannot_work_are_refused_in_one_line(make, message):
    with pytest.raises(ArchtrainError, match=message) as refusal:
        make()
    assert "\n" not in str(refusal.value)


def test_a_refusal_while_building_is_a_failed_run_with_one_line(tmp_path, capsys):
    summary = train(tmp_path / "run", *MLP, *QUICK, "transform=[prune]", "transform.prune.mask_from=/no/such/run")
    assert summary["exit_code"] == 2 and summary["status"] == "failed"
    assert "transform.prune.mask_from: no checkpoint at" in summary["error"]
    assert "Traceback" not in capsys.readouterr().err
