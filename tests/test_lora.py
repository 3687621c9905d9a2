"""transform=lora: peft adapters on a pretrained run's net; only they train, and merged they compute what
the adapted net computes."""

import copy
import json

import pytest
import torch
from conftest import QUICK, resume, train
from test_protocol import SPECS, inputs, model_config, readouts
from test_verbs import archtrain

from archtrain.assemble import assemble, load_run
from archtrain.errors import ArchtrainError
from archtrain.models import build_net
from archtrain.models.protocol import Head
from archtrain.training.lora import LoRA, is_adapted, merge_adapters

pytest.importorskip("peft")

# model -> the layers a default LoRA adapts (the zoo's attention projections, else the linear layers)
FAMILIES = {
    "gpt": ["blocks.0.attn.in_proj", "blocks.0.attn.out"],
    "vit": ["blocks.0.attn.in_proj", "blocks.0.attn.out"],
    "bert": ["encoder.blocks.0.attn.in_proj", "encoder.blocks.0.attn.out"],
    "transformer": [
        "decoder.0.attn.in_proj",
        "decoder.0.attn.out",
        "decoder.0.cross_attn.out",  # not its in_proj, which slices its weight past an adapter
        "encoder.0.attn.in_proj",
        "encoder.0.attn.out",
    ],
    "mlp": ["layers.0", "layers.3"],
}
GPT = ["model=gpt", "model.num_layers=1", "model.d_model=128", "data.seq_len=16", "task.sample_length=0"]
SHORT = [*QUICK, "data.val_fraction=0.02", "data.test_fraction=0.01", "hardware.threads=1"]


def tiny_net(name: str, **knobs):
    cfg = model_config(name)
    spec = SPECS[cfg.inputs[0]]
    head = Head(spec.num_classes or spec.vocab_size or spec.out_features, readouts(name)[0])
    return build_net(cfg, spec, head, overrides=knobs), inputs(cfg.inputs[0])


def perturb_adapters(net) -> None:
    """peft starts lora_B at zero (the adapted net equals the base); give the adapters something to add."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, parameter in net.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)


@pytest.mark.parametrize("name", FAMILIES)
def test_merged_adapters_compute_what_the_adapted_net_computes(one_thread, name):
    net, x = tiny_net(name)
    report = LoRA(rank=4)(net, SPECS["text"])
    assert report["adapted"] == sorted(FAMILIES[name])
    assert all("lora_" in n for n, p in net.named_parameters() if p.requires_grad)
    perturb_adapters(net)
    net.eval()
    merged = copy.deepcopy(net)
    assert merge_adapters(merged) == len(FAMILIES[name])
    assert not any(is_adapted(module) for module in merged.modules())
    with torch.no_grad():
        adapted, plain = net(*x), merged(*x)
    assert (adapted - plain).abs().max() < 1e-5
    assert set(merged.state_dict()) == set(tiny_net(name)[0].state_dict())  # a plain net of the family again


def test_also_train_keeps_the_named_parameters_learning_beside_the_adapters(one_thread):
    net, x = tiny_net("gpt")
    report = LoRA(rank=4, also_train=["norm", "bias"])(net, SPECS["text"])
    trainable = {n: p.numel() for n, p in net.named_parameters() if p.requires_grad}
    extra = {n for n in trainable if "lora_" not in n}
    assert extra and all("norm" in n or n.endswith("bias") for n in extra)
    assert {"norm.weight", "blocks.0.attn.in_proj.base_layer.bias"} <= extra
    assert report["trainable_parameters"] == sum(trainable.values())


def test_a_convolution_adapts_when_named(one_thread):
    net, x = tiny_net("lenet5")
    report = LoRA(rank=2, target_modules=["trunk.0"])(net, SPECS["image"])
    assert report["adapted"] == ["trunk.0"]
    perturb_adapters(net)
    merged = copy.deepcopy(net.eval())
    merge_adapters(merged)
    with torch.no_grad():
        assert (net(*x) - merged(*x)).abs().max() < 1e-5


@pytest.mark.parametrize(
    "name, knobs, message",
    [
        ("lstm", {"target_modules": ["rnn"]}, "transform.lora.target_modules: "),  # peft has no LSTM layer
        ("mlp", {"target_modules": ["nothing"]}, "transform.lora.target_modules: "),
        ("transformer", {"target_modules": ["cross_attn.in_proj"]}, "slices of its weight"),
        ("mlp", {"rank": 0}, "transform.lora.rank=0: must be an integer of at least 1"),
        ("mlp", {"also_train": ["nothing"]}, "transform.lora.also_train: no parameter name contains nothing"),
        ("gpt", {"target_modules": ["token"]}, "token shares its weight with head.weight"),  # tied to the head
    ],
)
def test_what_peft_cannot_adapt_is_refused_in_one_line(name, knobs, message):
    net, _ = tiny_net(name)
    with pytest.raises(ArchtrainError, match=message) as err:
        LoRA(**knobs)(net, SPECS["text"])
    assert "\n" not in str(err.value)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    run = tmp_path_factory.mktemp("lora") / "pretrained"
    assert train(run, *SHORT, *GPT)["status"] == "completed"
    return run


def test_lora_trains_only_the_adapters_of_a_pretrained_gpt_and_its_run_exports_merged(
    pretrained, tmp_path, capsys, one_thread
):
    run = tmp_path / "adapted"
    overrides = [*SHORT, *GPT, "transform=[weights,lora]", f"transform.weights.path={pretrained}"]
    summary = train(run, *overrides, "trainer.max_epochs=1")
    assert summary["status"] == "completed", summary["error"]
    report = summary["transforms"]["lora"]
    assert report["trainable_fraction"] < 0.05 and summary["trainable_parameters"] == report["trainable_parameters"]
    assert report["source_run"] == str(pretrained)
    before = torch.load(pretrained / "checkpoints" / "best.ckpt", weights_only=False)["state_dict"]
    after = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    base = {name.replace(".base_layer", ""): tensor for name, tensor in after.items() if "lora_" not in name}
    assert base.keys() == before.keys()
    assert all(torch.equal(before[name], tensor) for name, tensor in base.items())  # the pretrained net is frozen
    assert any(tensor.abs().sum() > 0 for name, tensor in after.items() if "lora_B" in name)  # the adapters learned

    assert resume(run, "trainer.max_epochs=2")["status"] == "completed"  # the adapters are made again
    cfg = load_run(str(run)).cfg
    adapted = assemble(cfg, resume=True)
    adapted.task.load_state_dict(torch.load(run / "checkpoints" / "best.ckpt", weights_only=False)["state_dict"])
    merged = load_run(str(run)).net  # a run loaded as a model has its adapters merged
    assert not any(is_adapted(module) for module in merged.modules())
    ids = torch.randint(0, merged.token.num_embeddings, (4, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (adapted.net.eval()(ids) - merged(ids)).abs().max() < 1e-5

    code, out, err = archtrain(capsys, "export", f"run={run}", "format=onnx")
    assert code == 0, err
    assert float(out.rsplit(":", 1)[1]) < 1e-4
    assert json.loads((run / "summary.json").read_text())["transforms"]["lora"]["adapted"]
