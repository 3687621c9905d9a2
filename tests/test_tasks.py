"""Tasks on their own: each objective's head, loss, metrics and refusals on tiny tensors, with nets
whose outputs are known (the identity passes its input through as the logits)."""

import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_module
from torch import nn

from archtrain.assemble import check_task
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError
from archtrain.models.protocol import Head
from archtrain.schema import register
from archtrain.tasks.classify import Classify
from archtrain.tasks.forecast import Forecast, autoregressive
from archtrain.tasks.language_model import LanguageModel
from archtrain.tasks.masked_lm import MaskedLM
from archtrain.tasks.regress import Regress
from archtrain.tasks.seq2seq import Seq2Seq
from archtrain.tasks.tagging import Tagging
from archtrain.training.regularizers import Regularization


def scores(task, batch, stage="val") -> dict[str, float]:
    """The task's metrics for one batch, by name."""
    metrics = task.metrics[stage]
    task.evaluate(batch, metrics)
    return {name: float(metric.compute()) for name, metric in metrics.items()}


def config(*overrides: str):
    register()
    with initialize_config_module("archtrain.conf", version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_each_task_asks_for_its_head():
    labelled = DataSpec(in_features=4, num_classes=3)
    series = DataSpec(in_features=1, out_features=2, seq_len=8)
    text = DataSpec(vocab_size=11, seq_len=8, max_len=9)
    assert Classify.head(labelled) == Head(3)
    assert Regress.head(series) == Forecast.head(series) == Head(2)
    for task in (Tagging, LanguageModel, MaskedLM, Seq2Seq):
        assert task.head(text) == Head(11, per_step=True)


def test_classification_loss_metrics_and_label_smoothing():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0], [1.0, 0.0, 0.5], [0.0, 0.0, 4.0]])
    labels = torch.tensor([0, 1, 2, 2])
    task = Classify(nn.Identity(), DataSpec(in_features=3, num_classes=3), optim=None)
    assert task.loss((logits, labels)).item() == pytest.approx(F.cross_entropy(logits, labels).item())
    result = scores(task, (logits, labels))
    assert result["acc"] == pytest.approx(0.75)  # the third row is wrong
    assert result["loss"] == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-6)
    smoothed = Classify(nn.Identity(), task.spec, optim=None, regularization=Regularization(label_smoothing=0.1))
    assert smoothed.loss((logits, labels)) > task.loss((logits, labels))  # confident and right: smoothing costs


def test_regression_reports_mse_as_loss_and_mae():
    prediction, target = torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([[1.0], [3.0], [2.0]])
    task = Regress(nn.Identity(), DataSpec(in_features=1, out_features=1), optim=None)
    result = scores(task, (prediction, target))
    assert result["loss"] == pytest.approx(5 / 3) and result["mae"] == pytest.approx(1.0)


def test_forecast_metrics_are_in_the_series_units_beside_its_baselines():
    class LastValue(nn.Module):  # forecasts that the series stays where it is
        def forward(self, past):
            return past[:, -1, :1]

    spec = DataSpec(in_features=1, out_features=1, seq_len=3, scale=(10.0, 2.0), autoregression=(0.0, 0.0, 1.0, 0.0))
    past, future = torch.tensor([[[0.0], [1.0], [2.0]]]), torch.tensor([[3.0]])
    result = scores(Forecast(LastValue(), spec, optim=None), (past, future))
    assert result["mae"] == pytest.approx(2.0)  # one standardized unit is 2 of the series'
    assert result["persistence_mae"] == pytest.approx(2.0)  # the same guess as the model's
    assert result["ar_mae"] == pytest.approx(2.0)  # AR(3) weights (0, 0, 1): the last value
    # 0.5*0 + 0.5*1 + 0*2 + 1 = 1.5, fed back: 0.5*1 + 0.5*2 + 0*1.5 + 1 = 2.5
    assert autoregressive(past[..., :1], (0.5, 0.5, 0.0, 1.0), 2).tolist() == [[1.5, 2.5]]


def test_tagging_counts_tokens_and_whole_sequences():
    targets = torch.tensor([[1, 2, 0], [2, 2, 2]])
    logits = F.one_hot(torch.tensor([[1, 2, 0], [2, 1, 2]]), 3).float() * 5
    result = scores(Tagging(nn.Identity(), DataSpec(vocab_size=3, seq_len=3), optim=None), (logits, targets))
    assert result["acc"] == pytest.approx(5 / 6) and result["exact"] == pytest.approx(0.5)


def test_seq2seq_exact_match_stops_at_the_end_of_the_target():
    class Decoder(nn.Module):
        """Decodes the fixed `answer`; its teacher-forced logits are one-hot on the targets."""

        def __init__(self, answer):
            super().__init__()
            self.answer = answer

        def forward(self, src, tgt):
            return F.one_hot(self.answer, 5).float()

        def decode(self, src, bos_id, max_len):
            return self.answer[:, :max_len]

    pad = 0
    target = torch.tensor([[3, 4, 2, pad], [3, 3, 2, pad]])  # 2 is </s>; padding after it
    answer = torch.tensor([[3, 4, 2, 1], [3, 4, 2, 1]])  # what follows </s> does not count
    spec = DataSpec(vocab_size=5, max_len=4, special={"pad": pad, "bos": 1, "eos": 2})
    result = scores(Seq2Seq(Decoder(answer), spec, optim=None), (target, target, target))
    assert result["exact"] == pytest.approx(0.5)


def test_masked_lm_chooses_the_share_of_tokens_its_mask_rate_says():
    spec = DataSpec(vocab_size=50, seq_len=64, special={"pad": 0, "cls": 1, "mask": 2, "unk": 3})
    ids = torch.randint(4, 50, (64, 64))
    for rate in (0.15, 0.5):
        task = MaskedLM(nn.Identity(), spec, optim=None, mask_rate=rate)
        _, targets = task.masked(ids, torch.Generator().manual_seed(0))
        assert (targets != -100).float().mean().item() == pytest.approx(rate, abs=0.02)
    with pytest.raises(ArchtrainError, match="mask_rate"):
        MaskedLM(nn.Identity(), spec, optim=None, mask_rate=1.5)


def test_language_model_samples_the_requested_length():
    class Uniform(nn.Module):
        def forward(self, ids):
            return torch.zeros(*ids.shape, 7)

    task = LanguageModel(Uniform(), DataSpec(vocab_size=7, seq_len=4), optim=None, sample_length=9, top_k=None)
    assert task.sample(torch.tensor([1, 2, 3]), task.sample_length).shape == (12,)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model=mlp", "data=iris", "task=regress"], "task=regress needs data with numeric targets"),
        (["model=lstm", "data=sunspots", "regularizer=[label_smoothing]"], "label_smoothing applies to cross-entropy"),
        (
            ["model=mlp", "data=iris", "regularizer=[augment]"],
            "augment applies to image classification, not to classify on vector",
        ),
        (["model=lstm", "data=text", "model.bidirectional=true"], "a language model reads one way"),
    ],
)
def test_each_task_refuses_what_it_cannot_train(overrides, message):
    from archtrain.data import build_datamodule

    cfg = config(*overrides)
    with pytest.raises(ArchtrainError, match=message):
        check_task(cfg, build_datamodule(cfg.data, seed=0).spec)


def test_every_dataset_picks_a_task_and_the_command_line_wins():
    assert config("data=sunspots").task.name == "forecast"
    assert config("model=gpt").task.name == "language_model"
    assert config("model=lstm", "data=waveforms").task.name == "classify"
    assert config("model=lstm", "data=adding", "task=regress").task.name == "regress"


def test_a_model_can_pin_its_task_and_a_task_needing_a_head_refuses_a_model_without_one():
    from archtrain.models import build_net

    assert config("model=gan_mlp", "data=moons").task.name == "gan"  # the model's choice beats the data's
    cfg = config("model=gan_mlp", "data=iris", "task=classify")
    with pytest.raises(ArchtrainError, match="model=gan_mlp has no output head"):
        build_net(cfg.model, DataSpec(in_features=4, num_classes=3), Classify.head(DataSpec(num_classes=3)))
