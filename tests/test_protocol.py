"""The model protocol: every model in the zoo is head(features(inputs)), gives the readout a task's Head
asks for, and can swap its head."""

import pytest
import torch
from hydra.utils import get_class
from omegaconf import OmegaConf
from test_vision_models import SMALL as SMALL_CNNS

from archtrain.catalog import CONF, shipped
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError
from archtrain.models import accepted_arguments, build_net
from archtrain.models.protocol import Head, Network

CONFIGS = shipped("model")
ADVERSARIAL = {"gan_mlp", "dcgan"}  # a generator and a discriminator, which the gan task drives itself
GRAPHS = {
    name for name in CONFIGS if "graph" in OmegaConf.load(CONF / "model" / f"{name}.yaml").inputs
}  # test_graphs.py
ENERGY_BASED = {"rbm", "hopfield", "modern_hopfield"}  # sampled or recalled, no head: their own tasks drive them
DENOISERS = {"ddpm", "ddpm_mlp"}  # predict the noise in their input: the diffusion task drives them
CONTRASTIVE = {"clip"}  # embeds images and captions into one space: task=clip drives it (test_clip.py)
NO_HEAD = ADVERSARIAL | ENERGY_BASED | DENOISERS | CONTRASTIVE
MODELS = [name for name in CONFIGS if name not in NO_HEAD | GRAPHS]
MAP_FEATURES = {"squeezenet"}  # no dense layer: its head reads the feature map (batch, channels, height, width)
BATCH, TIME, VOCAB, CLASSES = 3, 6, 11, 5
# Small widths keep every build under a second.
SMALL = {
    **SMALL_CNNS,
    "mlp": {"width": 16},
    "snn": {"width": 16, "time_steps": 3},
    "rbf": {"centres": 4},
    "rnn": {"hidden_size": 8},
    "lstm": {"hidden_size": 8},
    "gru": {"hidden_size": 8, "bidirectional": True},
    "tcn": {"channels": 8, "levels": 2},
    "vit": {"d_model": 16, "num_layers": 1, "num_heads": 2},
    "gpt": {"d_model": 16, "num_layers": 1, "num_heads": 2},
    "bert": {"d_model": 16, "num_layers": 1, "num_heads": 2},
    "transformer": {"d_model": 16, "encoder_layers": 1, "decoder_layers": 1, "num_heads": 2},
    "seq2seq_attention": {"hidden_size": 8},
}
SPECS = {  # a model's first kind of input -> the data it reads
    "vector": DataSpec(in_features=20, num_classes=CLASSES),
    "image": DataSpec(in_channels=1, image_size=8, in_features=64, num_classes=CLASSES),
    "series": DataSpec(in_features=2, out_features=1, seq_len=TIME),
    "text": DataSpec(vocab_size=VOCAB, seq_len=TIME),
    "masked_text": DataSpec(vocab_size=VOCAB, seq_len=TIME, special={"pad": 0}),
    "pairs": DataSpec(vocab_size=VOCAB, max_len=TIME, special={"pad": 0, "bos": 1, "eos": 2}),
}


def inputs(kind: str) -> tuple[torch.Tensor, ...]:
    tokens = torch.randint(3, VOCAB, (BATCH, TIME), generator=torch.Generator().manual_seed(0))
    return {
        "vector": (torch.randn(BATCH, 20),),
        "image": (torch.rand(BATCH, 1, 8, 8),),
        "series": (torch.randn(BATCH, TIME, 2),),
        "text": (tokens,),
        "masked_text": (tokens,),
        "pairs": (tokens, tokens[:, :-1]),
    }[kind]


def model_config(name: str):
    cfg = OmegaConf.load(CONF / "model" / f"{name}.yaml")
    cfg.pop("defaults")
    return OmegaConf.merge(cfg, SMALL.get(name, {}))


def readouts(name: str) -> list[bool]:
    """The values of per_step the model offers: both where it takes the argument, else its own."""
    cfg = model_config(name)
    return [False, True] if "per_step" in accepted_arguments(cfg) else [get_class(cfg._target_).per_step]


def test_every_model_made_for_a_head_is_a_network():
    for name in CONFIGS:
        assert issubclass(get_class(model_config(name)._target_), Network) == (name not in NO_HEAD), name


CASES = [(name, per_step) for name in MODELS for per_step in readouts(name)]


@pytest.mark.parametrize("name, per_step", CASES, ids=[f"{n}-{'step' if s else 'example'}" for n, s in CASES])
def test_every_model_is_its_head_on_its_features(name, per_step):
    torch.manual_seed(0)
    cfg = model_config(name)
    kind = cfg.inputs[0]
    outputs = VOCAB if per_step and kind != "series" else CLASSES
    net = build_net(cfg, SPECS[kind], Head(outputs, per_step)).eval()
    assert isinstance(net, Network) and net.per_step == per_step
    x = inputs(kind)
    leading = (BATCH, x[-1].shape[1]) if per_step else (BATCH,)
    with torch.no_grad():
        features = net.features(*x)
        width = features.shape[1:2] if name in MAP_FEATURES else features.shape[len(leading) :]
        assert features.ndim == (4 if name in MAP_FEATURES else len(leading) + 1)
        assert features.shape[: len(leading)] == leading and tuple(width) == (net.num_features,)
        out = net(*x)
        assert out.shape == (*leading, outputs)
        torch.testing.assert_close(out, net.head(features))
        net.reset_head(7)
        assert net(*x).shape == (*leading, 7)


@pytest.mark.parametrize("name", [name for name in MODELS if len(readouts(name)) == 1])
def test_a_readout_the_model_lacks_is_a_one_line_error(name):
    cfg = model_config(name)
    gives = readouts(name)[0]
    with pytest.raises(ArchtrainError) as error:
        build_net(cfg, SPECS[cfg.inputs[0]], Head(VOCAB, per_step=not gives))
    per = {False: "example", True: "position"}
    assert (
        str(error.value) == f"model={name} gives one output per {per[gives]}; this task needs one per {per[not gives]}"
    )


def test_gpt_keeps_its_head_tied_to_the_token_embedding():
    net = build_net(model_config("gpt"), SPECS["text"], Head(VOCAB, per_step=True))
    assert net.head.weight is net.token.weight


def test_without_a_head_the_spec_sizes_the_classifier():
    net = build_net(model_config("resnet"), SPECS["image"])
    assert net(torch.rand(2, 1, 8, 8)).shape == (2, CLASSES)


def test_bert_classifier_keeps_its_parameter_names_and_resets_to_a_fresh_one():
    net = build_net(model_config("bert"), SPECS["masked_text"], Head(CLASSES))
    names = {name for name, _ in net.named_parameters()}
    assert {"head.dense.weight", "head.out.weight"} <= names
    assert all(name.startswith(("encoder.", "head.")) for name in names)
    old = net.head
    net.reset_head(7)
    assert type(net.head) is type(old) and net.head is not old and net.head.out.out_features == 7


def test_bert_masked_lm_head_predicts_the_vocabulary():
    with pytest.raises(ArchtrainError, match="masked-LM head predicts the 11 tokens"):
        build_net(model_config("bert"), SPECS["masked_text"], Head(CLASSES, per_step=True))
