"""Export parity by family: every zoo network that takes tensors (graph nets read PyG
graphs, which `archtrain export` refuses), built small, exported to ONNX and run in
onnxruntime on real examples (digit images, wine measurements, Python's documentation as characters),
gives the PyTorch outputs within 1e-4. The families that cannot be exported are refused in one line.
`archtrain export` of trained runs is in test_verbs.py; a LoRA-merged net's in test_lora.py, a distilled
student's in test_distill.py."""

import pytest
import torch
from sklearn.datasets import load_digits, load_wine
from test_protocol import ADVERSARIAL, DENOISERS, ENERGY_BASED, MODELS, model_config, readouts

from archtrain.data.spec import DataSpec
from archtrain.data.text import read_text
from archtrain.errors import ArchtrainError
from archtrain.models import build_net
from archtrain.models.protocol import Head
from archtrain.verbs.exporters import EXPORTERS

pytest.importorskip("onnxruntime")
TOLERANCE, BATCH, STEPS = 1e-4, 4, 12
# Families whose ONNX export fails, and why (docs/COMPRESSION.md):
NOT_EXPORTABLE = {
    "hopfield": "its asynchronous updates index the state with a traced integer, which torch.export refuses",
    "modern_hopfield": "its attention of a batch of probes over unbatched patterns has no ONNX conversion",
    "snn": "its input spikes are Bernoulli draws (no two runs agree), and snntorch's Leaky compares its state's "
    "shape with a data-dependent one, which torch.export cannot trace",
}
HEADLESS = ADVERSARIAL | DENOISERS | ENERGY_BASED  # generators, noise predictors, energy-based nets
DEFAULT = {"resnet", "vit"}  # mlp, lenet5, lstm and gpt export from trained runs in test_verbs.py


def real_inputs() -> dict[str, tuple[DataSpec, tuple[torch.Tensor, ...]]]:
    """The spec and a batch of real examples for each kind of input a zoo model reads."""
    digits = load_digits()
    images = torch.tensor(digits.images[:BATCH] / 16, dtype=torch.float32)
    wine = torch.tensor(load_wine().data[:BATCH], dtype=torch.float32)
    text = read_text(None)[:5000]
    vocab = sorted(set(text))
    ids = torch.tensor([vocab.index(ch) for ch in text[: BATCH * STEPS]]).view(BATCH, STEPS)
    tokens = {"vocab_size": len(vocab), "seq_len": STEPS, "vocab": tuple(vocab)}
    return {
        "vector": (DataSpec(in_features=13, num_classes=3), ((wine - wine.mean(0)) / wine.std(0),)),
        "image": (DataSpec(in_channels=1, image_size=8, in_features=64, num_classes=10), (images[:, None],)),
        "series": (DataSpec(in_features=8, out_features=1, seq_len=8), (images,)),  # a digit's rows in turn
        "text": (DataSpec(**tokens), (ids,)),
        "masked_text": (DataSpec(**tokens, num_classes=3, special={"pad": 0}), (ids,)),
        "pairs": (DataSpec(**tokens, max_len=STEPS, special={"pad": 0, "bos": 1, "eos": 2}), (ids, ids[:, :-1])),
    }


@pytest.fixture(scope="module")
def examples():
    return real_inputs()


def network(name: str, examples: dict) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]]:
    """The family's net, built small for its first kind of input, and what its forward takes: a batch of
    examples; noise for a generator; noisy images and their steps for a denoiser; +-1 patterns for a
    Hopfield net, 0/1 pixels for an RBM."""
    cfg = model_config(name)
    spec, x = examples[cfg.inputs[0]]
    torch.manual_seed(0)
    if name not in HEADLESS:
        per_step = readouts(name)[0]
        outputs = spec.vocab_size if per_step and spec.vocab_size else spec.num_classes or spec.out_features
        return build_net(cfg, spec, Head(outputs, per_step)).eval(), x
    net = build_net(cfg, spec).eval()
    if name in ADVERSARIAL:
        return net, (torch.randn(BATCH, net.latent_size),)
    if name in DENOISERS:
        steps = torch.tensor([0, 5, 50, 99])
        return net, (x[0] if name == "ddpm" else x[0].flatten(1), steps)
    bits = (x[0].flatten(1) > 0.5).float()
    return net, (bits if name == "rbm" else 2 * bits - 1,)


def export_difference(name: str, examples: dict, folder) -> float:
    net, x = network(name, examples)
    onnx = EXPORTERS["onnx"]
    path = folder / f"{name}.onnx"
    onnx.save(net, x, path)
    with torch.no_grad():
        return float((onnx.load(path)(*x) - net(*x)).abs().max())


CASES = [
    pytest.param(name, marks=[] if name in DEFAULT else [pytest.mark.slow])
    for name in [*MODELS, *sorted(HEADLESS)]
    if name not in NOT_EXPORTABLE
]


@pytest.mark.parametrize("name", CASES)
def test_a_family_runs_in_onnxruntime_as_in_pytorch(examples, tmp_path, one_thread, name):
    assert export_difference(name, examples, tmp_path) < TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("name", NOT_EXPORTABLE)
def test_the_families_that_cannot_be_exported_are_named(examples, tmp_path, one_thread, name):
    with pytest.raises(Exception) as err:
        export_difference(name, examples, tmp_path)
    assert not isinstance(err.value, (AssertionError, ArchtrainError))
