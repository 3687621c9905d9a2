"""CLIP on captioned shapes: the symmetric InfoNCE loss, captions and held-out colour-shape pairs in the
data, image encoders of every zoo family, and a run whose loss falls and whose zero-shot accuracy by
prompts beats chance."""

import math

import pytest
import torch
from conftest import train

from archtrain.data.captions import CaptionedShapes
from archtrain.errors import ArchtrainError
from archtrain.models.clip import CLIP
from archtrain.tasks.clip import contrastive_loss

HELD_OUT = ["red square", "green circle"]


def shapes(**knobs) -> CaptionedShapes:
    settings = {"samples": 320, "image_size": 12, "noise": 0.05, "batch_size": 32, "val_fraction": 0.1}
    return CaptionedShapes(**{**settings, "test_fraction": 0.2, "held_out": HELD_OUT, **knobs})


def test_the_loss_is_symmetric_infonce_and_spreads_each_target_over_copies_of_its_caption():
    captions = torch.tensor([[1, 2], [1, 3], [4, 5]])
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.5, 3.0, 0.0], [0.0, 1.0, 4.0]])
    expected = (
        torch.nn.functional.cross_entropy(logits, torch.arange(3))
        + torch.nn.functional.cross_entropy(logits.T, torch.arange(3))
    ) / 2
    assert contrastive_loss(logits, captions) == pytest.approx(expected.item())
    twice = torch.tensor([[1, 2], [1, 2]])  # one caption for both images: either pairing is right
    assert contrastive_loss(torch.zeros(2, 2), twice) == pytest.approx(math.log(2))
    assert contrastive_loss(torch.zeros(2, 2), torch.tensor([[1, 2], [3, 4]])) == pytest.approx(math.log(2))


def test_captions_name_each_picture_and_held_out_pairs_are_only_in_the_test_split():
    data = shapes()
    spec, held_out = data.spec, torch.tensor(data.spec.held_out)
    assert [data.classes[c] for c in spec.held_out] == HELD_OUT
    for split, (images, captions, labels) in data.splits.items():
        assert images.shape[1:] == (3, 12, 12) and captions.shape[1:] == (4,)
        assert torch.isin(labels, held_out).any() == (split == "test")
    images, captions, labels = data.splits["train"]
    words = [spec.vocab[t] for t in captions[0].tolist()]
    assert words[0] == "a" and words[1] in ("small", "large") and " ".join(words[2:]) == data.classes[labels[0]]
    assert [spec.vocab[t] for t in spec.prompts[labels[0]] if t] == ["a", *data.classes[labels[0]].split()]
    red = torch.tensor([0.9, 0.15, 0.1])[:, None]  # the most common pixel of a red shape's picture is red
    reds = [i for i, label in enumerate(labels.tolist()) if data.classes[label].startswith("red")]
    pixels = images[reds[0]].flatten(1)
    assert ((pixels - red).abs().max(0).values < 0.2).sum() > 4


def test_varied_captions_name_one_two_or_three_factors_and_are_seeded():
    data = shapes(captions="varied")
    spec, held_out = data.spec, torch.tensor(data.spec.held_out)
    images, captions, labels = data.splits["train"]
    assert captions.shape[1] == spec.seq_len == 5
    texts = {" ".join(spec.vocab[t] for t in c if t) for c in captions.tolist()}
    assert {"something red", "a square", "a small shape"} <= texts and any("that is" in text for text in texts)
    for tokens, label in zip(captions.tolist(), labels.tolist()):  # every colour or shape named is the picture's
        named = {spec.vocab[t] for t in tokens} & {*data.colours, *data.shapes}
        assert named <= set(data.classes[label].split())
    assert torch.equal(data.generate()[1], shapes(captions="varied").generate()[1])  # seeded
    assert not torch.isin(labels, held_out).any()
    assert [spec.vocab[t] for t in spec.prompts[0] if t] == ["a", *data.classes[0].split()]  # prompts stay full
    with pytest.raises(ArchtrainError, match="data.captions=short"):
        shapes(captions="short")


def test_bad_held_out_pairs_are_one_line():
    with pytest.raises(ArchtrainError, match="not a '<colour> <shape>' pair"):
        shapes(held_out=["purple circle"])
    with pytest.raises(ArchtrainError, match="every combination is held out"):
        shapes(colours=["red"], shapes=["circle"], held_out=["red circle"])


@pytest.mark.parametrize(
    "encoder, options",
    [
        ("resnet", {"width": 4}),
        ("vit", {"d_model": 16, "num_layers": 1, "num_heads": 2, "patch_size": 4}),
        ("lenet5", {}),
        ("mobilenet", {"width": 0.25, "depth": 0.3}),
        ("squeezenet", {"width": 0.25}),  # features are a map, averaged
        ("mlp", {"width": 16}),
    ],
)
def test_any_zoo_image_model_is_the_image_encoder(encoder, options):
    net = CLIP(3, 12, 9, 4, image_encoder=encoder, image_encoder_options=options, embed_dim=8, text_width=8)
    images, tokens = torch.rand(3, 3, 12, 12), torch.tensor([[1, 2, 3, 0], [1, 4, 0, 0], [1, 5, 6, 7]])
    logits = net(images, tokens)
    assert logits.shape == (3, 3)
    torch.testing.assert_close(net.encode_image(images).norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(logits.abs().max() <= net.logit_scale() + 1e-5, torch.tensor(True))
    with pytest.raises(ArchtrainError, match="does not read images"):
        CLIP(3, 12, 9, 4, image_encoder="lstm")


def test_the_words_text_encoder_is_a_bag_of_words():
    net = CLIP(3, 12, 9, 4, image_encoder="lenet5", text_encoder="words", embed_dim=8, text_width=8)
    assert len(net.blocks) == 0
    reordered = torch.tensor([[1, 2, 3, 0], [3, 1, 2, 0]])  # the order does not matter
    torch.testing.assert_close(*net.encode_text(reordered))


def test_contrastive_training_lowers_the_loss_and_classifies_zero_shot_above_chance(tmp_path):
    summary = train(
        tmp_path / "run",
        "model=clip",
        "model.image_encoder=lenet5",
        "~model.image_encoder_options",
        "model.embed_dim=16",
        "model.text_width=16",
        "model.text_layers=1",
        "data.samples=960",
        "data.image_size=12",
        "optim.lr=0.003",
        "trainer.max_epochs=4",
        "hardware.threads=1",
    )
    assert summary["status"] == "completed", summary["error"]
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    column = rows[0].split(",").index("train/loss")
    losses = [float(row.split(",")[column]) for row in rows[1:] if row.split(",")[column]]
    assert losses[-1] < 0.7 * losses[0]  # measured 4.10 -> 2.27
    chance = 1 / 16  # 4 colours x 4 shapes
    assert summary["zero_shot"]["seen_acc"] > 3 * chance  # measured 0.33
    assert set(summary["zero_shot"]) >= {"held_out_acc", "held_out_classes"}
    assert (tmp_path / "run" / "similarity.png").stat().st_size > 0


@pytest.mark.slow
def test_the_default_clip_classifies_seen_pairs_zero_shot(tmp_path):
    summary = train(tmp_path / "run", "model=clip", "trainer.max_epochs=15", "hardware.threads=1")
    assert summary["status"] == "completed", summary["error"]
    assert summary["zero_shot"]["seen_acc"] > 0.7  # 30 epochs: 0.93 (docs/FRONTIER.md)
    assert summary["zero_shot"]["held_out_acc"] > 0.0625  # chance, which it only just beats


@pytest.mark.slow
def test_with_more_combinations_held_out_pairs_are_classified_well_above_chance(tmp_path):
    summary = train(
        tmp_path / "run",
        "model=clip",
        "model.text_encoder=words",
        "data.colours=[red,green,blue,yellow,magenta,cyan,white]",
        "data.shapes=[circle,triangle,square,cross,star,ring]",
        "data.held_out=[red circle,green triangle,blue square,yellow cross,magenta star,cyan ring,white circle]",
        "trainer.max_epochs=20",
        "hardware.threads=1",
    )
    assert summary["status"] == "completed", summary["error"]
    assert summary["zero_shot"]["held_out_acc"] > 4 / 42  # 4x chance; measured 0.253 (docs/FRONTIER.md)
