"""BERT: masked-LM pretraining, then fine-tuning a topic classifier from the pretrained encoder."""

import statistics

import pytest
import torch
import torch.nn.functional as F
from conftest import QUICK, resume, train
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from archtrain.catalog import CONF
from archtrain.checks import check_fit
from archtrain.data import build_datamodule
from archtrain.data.encoder_text import CLS, MASK, PAD, UNK
from archtrain.errors import ArchtrainError
from archtrain.models import build_net
from archtrain.report.plots import read_epoch_metrics
from archtrain.schema import register
from archtrain.tasks.masked_lm import IGNORE, MaskedLM, mask_tokens, masked_cross_entropy
from archtrain.training.transforms import LoadWeights

TINY = {"d_model": 32, "num_layers": 1, "num_heads": 2}
TINY_OVERRIDES = [f"model.{key}={value}" for key, value in TINY.items()]
PRETRAIN = [
    "model=bert",
    *TINY_OVERRIDES,
    "trainer.limit_train_batches=15",
    "trainer.limit_val_batches=4",
    "trainer.limit_test_batches=2",
]
SPECIAL_IDS, REGULAR_IDS = torch.tensor([PAD, CLS, MASK, UNK]), torch.arange(4, 100)


def config(name: str):
    return OmegaConf.load(CONF / name)


def bert_config(**knobs):
    """model/bert.yaml without its defaults list, with `knobs` on top: what build_net receives."""
    cfg = config("model/bert.yaml")
    del cfg["defaults"]
    return OmegaConf.merge(cfg, TINY, knobs)


def data(name: str, seed: int = 0, **knobs):
    """The data module that data/<name>.yaml describes (without its defaults list), with `knobs` on top."""
    cfg = config(f"data/{name}.yaml")
    del cfg["defaults"]
    return build_datamodule(OmegaConf.merge(cfg, knobs), seed=seed)


def topic_data(train_size: int | None = 50, seed: int = 0):
    return data("topics", seed, train_size=train_size)


@pytest.fixture(scope="module")
def pretraining_run(tmp_path_factory):
    """A short masked-LM run of a tiny BERT: three epochs of 15 batches."""
    run = tmp_path_factory.mktemp("bert") / "pretrain"
    summary = train(run, *PRETRAIN, "trainer.max_epochs=3")
    assert summary["status"] == "completed", summary["error"]
    return run


def load_encoder(net, path, spec) -> dict:
    """What transform=[encoder] does to a fresh net."""
    return LoadWeights(str(path), only="encoder", name="encoder")(net, spec)


def stored_state(run) -> dict:
    return torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)


# masking


def test_masking_chooses_15_percent_and_replaces_them_80_10_10():
    ids = torch.randint(4, 100, (4000, 64), generator=torch.Generator().manual_seed(1))
    ids[:, 0] = CLS
    ids[::2, 40:] = PAD
    inputs, targets = mask_tokens(ids, MASK, SPECIAL_IDS, REGULAR_IDS, torch.Generator().manual_seed(0))
    chosen, maskable = targets != IGNORE, (ids != PAD) & (ids != CLS)

    assert not chosen[~maskable].any(), "a special token was chosen"
    assert chosen.sum() / maskable.sum() == pytest.approx(0.15, abs=0.005)
    assert torch.equal(targets[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])
    to_mask = inputs[chosen] == MASK
    kept = inputs[chosen] == ids[chosen]
    to_random = ~to_mask & ~kept
    assert to_mask.float().mean() == pytest.approx(0.8, abs=0.01)
    assert to_random.float().mean() == pytest.approx(0.1, abs=0.01)
    assert kept.float().mean() == pytest.approx(0.1, abs=0.01)
    assert torch.isin(inputs[chosen][to_random], REGULAR_IDS).all(), "a random replacement was a special token"


def test_the_loss_counts_only_the_masked_positions():
    ids = torch.randint(4, 100, (8, 64), generator=torch.Generator().manual_seed(1))
    inputs, targets = mask_tokens(ids, MASK, SPECIAL_IDS, REGULAR_IDS, torch.Generator().manual_seed(0))
    logits = torch.randn(8, 64, 100, requires_grad=True)
    loss = masked_cross_entropy(logits, targets)
    loss.backward()
    chosen = targets != IGNORE
    assert torch.equal(logits.grad.abs().sum(-1) > 0, chosen)
    assert loss.item() == pytest.approx(F.cross_entropy(logits[chosen], targets[chosen]).item(), rel=1e-6)


def test_training_masks_follow_the_run_rng_and_evaluation_masks_are_fixed():
    splits, spec = data("masked_text", seq_len=16).load()
    task = MaskedLM(build_net(bert_config(), spec, MaskedLM.head(spec)), spec, optim=None)
    ids = splits["val"][0][:32]

    torch.manual_seed(0)
    first, again = task.masked(ids), task.masked(ids)
    torch.manual_seed(0)
    assert torch.equal(task.masked(ids)[0], first[0]), "training masks do not follow the seed"
    assert not torch.equal(again[0], first[0]), "two training batches drew the same masks"

    rng = torch.get_rng_state()
    task.on_validation_epoch_start()
    epoch_1 = task.masked(ids, task.eval_generator)
    task.on_validation_epoch_start()
    assert torch.equal(task.masked(ids, task.eval_generator)[0], epoch_1[0])
    assert torch.equal(torch.get_rng_state(), rng), "evaluation drew from the run's RNG"


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_the_classifier_ignores_padding(pooling):
    spec = topic_data().spec
    net = build_net(bert_config(pooling=pooling), spec).eval()
    ids = torch.randint(4, spec.vocab_size, (4, spec.seq_len - 8), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = CLS
    padded = torch.cat([ids, torch.full((4, 8), PAD)], dim=1)
    with torch.no_grad():
        assert torch.allclose(net(padded), net(ids), atol=1e-5)


# data


def test_each_topic_window_lies_in_the_same_split_of_the_pretraining_text():
    """So pretraining never trains on the classifier's validation or test text."""
    masked, masked_spec = data("masked_text").load()
    topics, topics_spec = topic_data(train_size=None).load()
    for split in ("train", "val", "test"):
        pretraining = {tuple(row) for row in masked[split][0].tolist()}
        assert {tuple(row) for row in topics[split][0].tolist()} <= pretraining, split
    assert topics_spec.vocab == masked_spec.vocab


def test_train_size_draws_that_many_labelled_windows_by_seed():
    (a, _), (b, _), (c, _) = (topic_data(50, seed).load() for seed in (0, 0, 1))
    assert len(a["train"][0]) == len(a["train"][1]) == 50
    assert torch.equal(a["train"][0], b["train"][0])
    assert not torch.equal(a["train"][0], c["train"][0])
    assert torch.equal(a["test"][0], c["test"][0]), "the test set depends on the seed"


def run_config(model: str, data: str):
    """The composed config of `archtrain model=<model> data=<data>` (the data brings its task)."""
    register()
    with initialize_config_module("archtrain.conf", version_base="1.3"):
        return compose("config", overrides=[f"model={model}", f"data={data}"])


def test_only_bert_reads_the_encoder_data():
    for data in ("masked_text", "topics"):
        check_fit(run_config("bert", data))
        with pytest.raises(ArchtrainError, match="model=gpt reads text data"):
            check_fit(run_config("gpt", data))
    with pytest.raises(ArchtrainError, match="data that fits: masked_text, topics"):
        check_fit(run_config("bert", "text"))


# pretraining


def test_masked_lm_loss_falls_and_the_checkpoint_records_the_vocabulary(pretraining_run):
    val_loss = read_epoch_metrics(pretraining_run / "metrics.csv")["val/loss"]
    assert val_loss[2] < val_loss[0]
    assert tuple(stored_state(pretraining_run)["vocab"]) == data("masked_text").spec.vocab


def test_a_resumed_pretraining_run_draws_the_same_masks(pretraining_run, tmp_path):
    train(tmp_path, *PRETRAIN, "trainer.max_epochs=2")
    resumed = resume(tmp_path, "trainer.max_epochs=3")
    assert resumed["status"] == "completed", resumed["error"]
    whole = torch.load(pretraining_run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    part = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(whole[name], part[name]) for name in whole)


def test_bert_takes_rotary_positions_and_a_mixture_of_experts(tmp_path):
    summary = train(
        tmp_path,
        "model=bert",
        *TINY_OVERRIDES,
        *QUICK,
        "model.positions=rotary",
        "model.moe_experts=2",
        "model.moe_top_k=1",
    )
    assert summary["status"] == "completed", summary["error"]
    assert "train/aux_loss" in read_epoch_metrics(tmp_path / "metrics.csv")


# fine-tuning


def test_fine_tuning_loads_the_encoder_and_starts_a_fresh_head(pretraining_run):
    spec = topic_data().spec
    torch.manual_seed(0)
    net = build_net(bert_config(), spec)
    before = {name: tensor.clone() for name, tensor in net.state_dict().items()}
    report = load_encoder(net, pretraining_run, spec)

    stored = stored_state(pretraining_run)["state_dict"]
    after = net.state_dict()
    encoder = [name for name in after if name.startswith("encoder.")]
    assert encoder and all(torch.equal(after[name], stored[f"net.{name}"]) for name in encoder)
    assert any(not torch.equal(after[name], before[name]) for name in encoder)
    head = [name for name in after if not name.startswith("encoder.")]
    assert report["new"] == head and all(name.startswith("head.") for name in head)
    assert all(torch.equal(after[name], before[name]) for name in head), "loading changed the fresh head"
    assert report["loaded_tensors"] == len(encoder)


def test_a_fine_tuning_run_reports_what_it_loaded(pretraining_run, tmp_path):
    summary = train(
        tmp_path,
        "model=bert",
        "data=topics",
        *TINY_OVERRIDES,
        *QUICK,
        "transform=[encoder]",
        f"transform.encoder.path={pretraining_run}",
    )
    assert summary["status"] == "completed", summary["error"]
    assert summary["transforms"]["encoder"]["checkpoint"] == str(pretraining_run / "checkpoints" / "best.ckpt")
    assert summary["transforms"]["encoder"]["new"] == [
        "head.dense.weight",
        "head.dense.bias",
        "head.out.weight",
        "head.out.bias",
    ]


def _other_vocabulary(checkpoint):
    checkpoint["vocab"] = checkpoint["vocab"][::-1]


def _no_vocabulary(checkpoint):
    del checkpoint["vocab"]


def _no_encoder(checkpoint):
    checkpoint["state_dict"] = {name.replace("encoder.", "body."): t for name, t in checkpoint["state_dict"].items()}


@pytest.mark.parametrize(
    "damage, message",
    [
        (_other_vocabulary, "was trained on another vocabulary"),
        (_no_vocabulary, "records no vocabulary"),
        (_no_encoder, "holds no encoder weights"),
    ],
)
def test_a_checkpoint_that_does_not_fit_is_refused(damage, message, pretraining_run, tmp_path):
    checkpoint = stored_state(pretraining_run)
    damage(checkpoint)
    torch.save(checkpoint, tmp_path / "other.ckpt")
    spec = topic_data().spec
    with pytest.raises(ArchtrainError, match=message):
        load_encoder(build_net(bert_config(), spec), tmp_path / "other.ckpt", spec)


def test_an_encoder_of_another_shape_is_refused(pretraining_run):
    spec = topic_data().spec
    with pytest.raises(ArchtrainError, match=r"differs from this model's \(encoder.*has shape"):
        load_encoder(build_net(bert_config(d_model=48), spec), pretraining_run, spec)


def test_a_bad_pretrained_path_fails_the_run_in_one_line(tmp_path):
    summary = train(
        tmp_path / "run",
        "model=bert",
        "data=topics",
        *TINY_OVERRIDES,
        *QUICK,
        "transform=[encoder]",
        f"transform.encoder.path={tmp_path / 'nothing'}",
    )
    assert summary["exit_code"] == 2
    assert summary["error"].startswith("transform.encoder: no checkpoint at") and "\n" not in summary["error"]


@pytest.mark.slow
def test_pretraining_beats_training_from_scratch_on_300_labelled_windows(tmp_path):
    """experiment=bert_pretrain, then experiment=bert_finetune from it and from scratch, for three seeds."""
    pretraining = train(tmp_path / "pretrain", "experiment=bert_pretrain")
    assert pretraining["status"] == "completed", pretraining["error"]
    accuracy = {"pretrained": [], "scratch": []}
    for seed in (0, 1, 2):
        for start, transform in (
            ("pretrained", f"transform.encoder.path={tmp_path / 'pretrain'}"),
            ("scratch", "transform=[]"),
        ):
            summary = train(tmp_path / f"{start}-{seed}", "experiment=bert_finetune", f"seed={seed}", transform)
            assert summary["status"] == "completed", summary["error"]
            accuracy[start].append(summary["test"]["test/acc"])
    print(f"masked-LM test acc {pretraining['test']['test/acc']:.3f}; topic test acc by seed: {accuracy}")
    assert statistics.mean(accuracy["pretrained"]) > statistics.mean(accuracy["scratch"])
