"""Self-supervised learning: the mechanics on tiny tensors (views, probes, queue, EMA target, masking,
one-shot episodes, labelled shares), then each method trained on digits through the command line,
its loss falling and its features beating the same encoder freshly initialised."""

import csv
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import QUICK, resume, train
from test_bad_input import one_error_line, run_main  # noqa: F401

from archtrain.data.base import labelled_share
from archtrain.tasks.mae import patchify, unpatchify
from archtrain.tasks.self_supervised import Embedder, MomentumCopy, projection_head
from archtrain.tasks.siamese import one_shot_accuracy
from archtrain.training.probes import embedding_spread, knn_accuracy, linear_probe_accuracy
from archtrain.training.views import Views, blur, resized_crop


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_views_are_seeded_random_and_keep_shape_and_range():
    images = torch.rand(6, 3, 12, 12)
    views = Views(flip=True)
    first, second = views.pair(images, seeded())
    again = views.pair(images, seeded())
    assert first.shape == images.shape and torch.equal(first, again[0]) and torch.equal(second, again[1])
    assert not torch.allclose(first, second)
    clean = Views(noise=0.0)(images, seeded())
    assert clean.min() >= 0 and clean.max() <= 1
    vectors = torch.ones(200, 50)
    masked = Views(mask=0.3, noise=0.0)(vectors, seeded())
    assert abs((masked == 0).float().mean().item() - 0.3) < 0.03


def test_crops_keep_flat_images_flat_and_blur_smooths():
    flat = torch.full((4, 1, 8, 8), 0.3)
    assert torch.allclose(resized_crop(flat, (0.2, 1.0), True, seeded()), flat, atol=1e-6)
    flat = torch.full((3, 2, 9, 9), 0.7)
    assert torch.allclose(blur(flat, (0.5, 1.0), 1.0, seeded()), flat, atol=1e-6)
    noisy = torch.rand(3, 1, 16, 16)
    assert blur(noisy, (1.0, 1.0), 1.0, seeded()).std() < noisy.std() * 0.7


def test_probes_score_separable_features_perfectly_and_spread_tells_collapse():
    labels = torch.arange(60) % 3
    features = F.one_hot(labels, 3).float() * 5 + 0.1 * torch.randn(60, 3, generator=seeded())
    features = torch.cat([features, torch.randn(60, 5, generator=seeded(1))], 1)
    draws = torch.get_rng_state()  # probing while pretraining must leave the views' generator alone
    assert linear_probe_accuracy(features[:40], labels[:40], features[40:], labels[40:], 3) == 1.0
    assert torch.equal(torch.get_rng_state(), draws)
    assert knn_accuracy(features[:40], labels[:40], features[40:], labels[40:], 3, k=5) == 1.0
    assert embedding_spread(torch.ones(10, 4) + 1e-4 * torch.randn(10, 4)) < 1e-3
    assert embedding_spread(torch.randn(500, 16, generator=seeded())) == pytest.approx(1 / math.sqrt(16), rel=0.1)


def test_momentum_copy_moves_towards_the_online_weights():
    online = projection_head(4, 8, 2)
    target = MomentumCopy(online, 0.9)
    target.follow(online, 0.0)  # the first update copies
    before = target.module[0].weight.clone()
    with torch.no_grad():
        online[0].weight.add_(1.0)
    target.follow(online, 0.5)
    assert torch.allclose(target.module[0].weight, before + 0.1, atol=1e-6)
    assert not any(p.requires_grad for p in target.parameters())


def test_cosine_momentum_schedule_rises_from_the_base_decay_to_one(one_thread):
    from archtrain.tasks.byol import BYOL
    from archtrain.tasks.contrastive import MoCo

    assert tiny_task(MoCo, momentum_schedule="cosine").key_encoder.decay(1.0) == 1.0
    assert tiny_task(BYOL, momentum_schedule="cosine", target_momentum=0.9).target.decay(0.0) == 0.9
    online = projection_head(4, 8, 2)
    copy = MomentumCopy(online, 0.99, "cosine")
    assert [round(copy.decay(p), 4) for p in (0.0, 0.5, 1.0)] == [0.99, 0.995, 1.0]
    assert MomentumCopy(online, 0.99).decay(0.7) == 0.99
    copy.follow(online, 0.0)  # the first update copies
    with torch.no_grad():
        online[0].weight.add_(1.0)
    copy.follow(online, 1.0)  # at the end of training the target stands still
    assert torch.allclose(copy.module[0].weight, online[0].weight - 1.0, atol=1e-6)


def test_moco_queue_is_a_ring_buffer(one_thread):
    from archtrain.tasks.contrastive import MoCo

    task = tiny_task(MoCo, queue_size=5, projection=2)
    task.enqueue(torch.ones(3, 2))
    task.enqueue(2 * torch.ones(4, 2))
    assert task.queue[:, 0].tolist() == [2, 2, 1, 2, 2] and int(task.queue_start) == 2


def tiny_task(cls, **knobs):
    """A task of class `cls` on an MLP for 8x8 single-channel images with 3 classes."""
    from archtrain.data.spec import DataSpec
    from archtrain.models.feedforward import MLP

    spec = DataSpec(in_channels=1, image_size=8, in_features=64, num_classes=3, vocab=("a", "b", "c"))
    return cls(MLP(64, 3, depth=1, width=8), spec, optim=torch.optim.Adam, **knobs)


def test_byol_target_faces_the_other_view_and_without_predictor_it_is_the_projection(one_thread):
    from archtrain.tasks.byol import BYOL

    task = tiny_task(BYOL, predictor=False, projection=4, hidden=8)
    assert isinstance(task.predictor, torch.nn.Identity)
    loss, projections = task.pretext((torch.rand(6, 1, 8, 8),), seeded())
    assert projections.shape == (12, 4) and 0 <= loss.item() <= 4


def test_mae_hides_three_quarters_of_the_patches_and_patches_round_trip(one_thread):
    from archtrain.data.spec import DataSpec
    from archtrain.models.vit import ViT
    from archtrain.tasks.mae import MAE

    images = torch.rand(2, 3, 8, 8)
    assert torch.equal(unpatchify(patchify(images, 2), 2, 3), images)
    assert torch.equal(patchify(images, 2)[0, 1], images[0, :, 0:2, 2:4].permute(1, 2, 0).flatten())
    spec = DataSpec(in_channels=1, image_size=8, in_features=64, num_classes=3, vocab=("a", "b", "c"))
    task = MAE(ViT(1, 8, 3, d_model=16, num_layers=1), spec, optim=torch.optim.Adam, decoder_dim=16)
    predicted, hidden, features = task.reconstruct(torch.rand(5, 1, 8, 8), seeded())
    assert predicted.shape == (5, 16, 4) and hidden.sum(1).tolist() == [12] * 5 and features.shape == (5, 16)


def test_mae_norm_pix_loss_scores_each_patch_on_its_own_scale(one_thread):
    from archtrain.data.spec import DataSpec
    from archtrain.models.vit import ViT
    from archtrain.tasks.mae import MAE

    spec = DataSpec(in_channels=1, image_size=8, in_features=64, num_classes=3, vocab=("a", "b", "c"))
    images = torch.rand(4, 1, 8, 8)
    losses = {}
    for norm_pix_loss in (False, True):
        task = MAE(
            ViT(1, 8, 3, d_model=16, num_layers=1),
            spec,
            optim=torch.optim.Adam,
            decoder_dim=16,
            norm_pix_loss=norm_pix_loss,
        )
        torch.nn.init.zeros_(task.to_pixels.weight), torch.nn.init.zeros_(task.to_pixels.bias)  # predicts 0
        losses[norm_pix_loss] = [task.pretext((x,), seeded())[0].item() for x in (images, 3 * images + 1)]
    assert losses[False][1] > 5 * losses[False][0]  # raw pixels: the loss follows the images' scale
    assert losses[True] == pytest.approx([0.75, 0.75], abs=1e-3)  # standardized 2x2 patches: (4 - 1) / 4


def test_one_shot_accuracy_is_perfect_on_separated_classes_and_near_chance_on_noise():
    labels = torch.arange(40) % 4
    assert one_shot_accuracy(F.one_hot(labels, 4).float(), labels, 4, 50, seeded()) == 1.0
    noise = torch.randn(40, 8, generator=seeded())
    assert one_shot_accuracy(noise, labels, 4, 400, seeded()) < 0.45


def test_labelled_share_keeps_each_class_alike():
    labels = torch.cat([torch.zeros(50), torch.ones(30), torch.full((20,), 2)]).long()
    x, y = labelled_share((torch.arange(100), labels), 0.1, seed=0)
    assert torch.bincount(y).tolist() == [5, 3, 2] and torch.equal(labels[x], y)


def test_embedder_reads_the_nets_features():
    from archtrain.models.feedforward import MLP

    net = MLP(4, 2, depth=1, width=8)
    projector = projection_head(8, 8, 3)
    x = torch.rand(5, 4)
    assert torch.equal(Embedder(net, projector)(x), projector(net.features(x)))


def losses(run_dir) -> list[float]:
    with open(run_dir / "metrics.csv") as f:
        return [float(row["train/loss"]) for row in csv.DictReader(f) if row.get("train/loss")]


TINY_ENCODER = ("model=mlp", "model.depth=1", "model.width=16", "hardware.threads=1")


@pytest.mark.parametrize("task", ["simclr", "moco", "byol"])
def test_pretraining_beats_a_random_encoder(task, workdir, one_thread):
    """Each method's loss falls, and kNN accuracy on its frozen features beats the encoder as the same
    seed initialises it (the run's own starting point); eval task=linear_probe measures both."""
    from archtrain.verbs.evaluate import probe
    from archtrain.verbs.runs import load_parts

    run_dir = workdir / task
    summary = train(run_dir, *TINY_ENCODER, f"task={task}", "task.probe_every=2", "trainer.max_epochs=4")
    assert summary["status"] == "completed"
    curve = losses(run_dir)
    assert curve[-1] < curve[0]
    scores = probe(load_parts(str(run_dir)), "test")
    assert scores["knn_acc"] > scores["random_init_knn_acc"] + 0.01, scores
    assert summary["test"]["test/embedding_std"] > 0.05  # far from collapse (1/sqrt(64) = 0.125 at most)
    if task == "simclr":  # semi-supervised: a classifier starts from the pretrained net, with 10% of the labels
        tuned = train(
            workdir / "tuned",
            *TINY_ENCODER,
            "data.labelled_fraction=0.1",
            "transform=[weights]",
            f"transform.weights.path={run_dir}",
            *QUICK,
        )
        assert tuned["status"] == "completed" and tuned["transforms"]["weights"]["loaded_tensors"] == 4


@pytest.mark.parametrize("model", ["mlp", "lenet5", "resnet", "vit", "alexnet"])
def test_any_zoo_encoder_is_a_backbone(model, one_thread):
    """One BYOL step on each family's features reaches the net's weights; the classifier head stays out."""
    from hydra import compose, initialize_config_module

    from archtrain.assemble import assemble

    with initialize_config_module("archtrain.conf", version_base="1.3"):
        cfg = compose("config", overrides=[f"model={model}", "task=byol", "task.hidden=16", "task.projection=8"])
    task = assemble(cfg).task
    loss, embeddings = task.pretext((torch.rand(4, 1, 8, 8),), seeded())
    loss.backward()
    first = next(p for name, p in task.net.named_parameters() if not name.startswith("head"))
    assert first.grad is not None and first.grad.abs().sum() > 0 and embeddings.shape == (8, 8)
    assert all(p.grad is None for p in task.net.head.parameters())


def test_mae_learns_to_fill_in_hidden_patches(workdir, one_thread):
    run_dir = workdir / "mae"
    summary = train(
        run_dir,
        "model=vit",
        "model.d_model=32",
        "model.num_layers=2",
        "task=mae",
        "task.decoder_dim=32",
        "task.probe_every=0",
        "trainer.max_epochs=3",
        "hardware.threads=1",
    )
    assert summary["status"] == "completed"
    curve = losses(run_dir)
    assert curve[-1] < 0.8 * curve[0]
    assert (run_dir / "reconstructions.png").is_file()


def test_siamese_one_shot_on_held_out_digits_beats_chance(workdir, one_thread):
    summary = train(workdir / "siamese", *TINY_ENCODER, "task=siamese", "task.probe_every=0", "trainer.max_epochs=2")
    assert summary["status"] == "completed"
    assert summary["test"]["test/oneshot_acc"] > 1 / 5 + 0.2  # 5-way on the digits 5-9, never trained on


@pytest.mark.parametrize(
    "args, message",
    [
        (["model=mlp", "task=mae"], "task=mae masks the patches of a ViT, and model=mlp is not one"),
        (["task=simclr", "task.views.crop_scale=0"], "task.views.crop_scale=0: must be in (0, 1]"),
        (["data.labelled_fraction=1.5"], "data.labelled_fraction=1.5: must be in (0, 1]"),
        (["task=siamese", "task.criterion=triplets"], "task.criterion=triplets: choose from contrastive, triplet"),
        (["task=byol", "task.momentum_schedule=cos"], "task.momentum_schedule=cos: choose from constant, cosine"),
    ],
)
def test_what_self_supervision_cannot_train_is_one_line(args, message, workdir, capsys):
    assert run_main([*args, "trainer.max_epochs=1"]) == 2
    err = capsys.readouterr().err
    assert message in err.splitlines()[0] and "Traceback" not in err


def test_eval_names_linear_probe_and_refuses_other_tasks_in_one_line(workdir, capsys):
    from archtrain.verbs import evaluate

    assert "task=linear_probe" in evaluate.USAGE
    assert run_main(["eval", "run=nowhere", "task=probe"]) == 2
    assert "task=probe: choose from linear_probe" in one_error_line(capsys)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["moco", "byol"])
def test_ema_target_methods_clear_the_bar_on_shapes(task, workdir, one_thread):
    """The docs' shapes setting (a ReLU LeNet-5, 96 epochs, task defaults): the linear probe beats the
    encoder as its seed initialises it by 10 points, and kNN beats it too."""
    from archtrain.verbs.evaluate import probe
    from archtrain.verbs.runs import load_parts

    shapes = ("data=shapes", "data.samples=1500", "data.image_size=16", "model=lenet5", "model.activation=relu")
    run_dir = workdir / task
    train(run_dir, *shapes, f"task={task}", "task.probe_every=0", "trainer.max_epochs=96", "hardware.threads=1")
    scores = probe(load_parts(str(run_dir)), "test")
    assert scores["probe_acc"] >= scores["random_init_probe_acc"] + 0.10, scores
    assert scores["knn_acc"] > scores["random_init_knn_acc"], scores


@pytest.mark.slow
@pytest.mark.parametrize("task", ["moco", "byol"])
def test_a_resumed_pretraining_matches_the_uninterrupted_one(task, workdir, one_thread):
    """The queue, the EMA target and the views' random numbers all travel in the checkpoint."""
    common = [*TINY_ENCODER, f"task={task}", "task.probe_every=0", "trainer.limit_train_batches=6"]
    whole = train(workdir / "whole", *common, "trainer.max_epochs=2")
    train(workdir / "part", *common, "trainer.max_epochs=1")
    resumed = resume(workdir / "part", "trainer.max_epochs=2")
    assert resumed["status"] == "completed"
    a, b = (torch.load(workdir / run / "checkpoints" / "last.ckpt")["state_dict"] for run in ("whole", "part"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["test"] == whole["test"]
