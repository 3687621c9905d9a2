"""The first task with two networks, two optimizers and manual optimization: a GAN on 2-D points.
It learns, resumes bit-exactly (mid-epoch and after SIGKILL), stops on NaN, and refuses in one line
what it cannot honour."""

import json
import math
import time

import pytest
import torch
from conftest import resume, train
from test_reliability import same_weights, start, weights

from archtrain.models.gan import DCGAN, GAN
from archtrain.training.adversarial import (
    critic_loss,
    discriminator_loss,
    gradient_penalty,
    minimax_generator_loss,
    non_saturating_generator_loss,
    wasserstein_generator_loss,
)
from archtrain.training.sample_quality import gaussian_mmd

# 13 batches an epoch; two discriminator steps per generator step, so that the cadence must survive a resume.
RUN = [
    "model=gan_mlp",
    "model.width=32",
    "data.samples=1000",
    "task.discriminator_steps=2",
    "trainer.max_epochs=3",
    "hardware.threads=1",
]

# The ring's WGAN-GP of the docs: lambda 1, Adam (lr 1e-3, betas 0.5, 0.9), 125 batches of 256 an epoch.
WGAN_GP = [
    "model=gan_mlp",
    "task=wgan_gp",
    "task.gradient_penalty=1.0",
    "optim.lr=1e-3",
    "optim.betas=[0.5,0.9]",
    "data.samples=40000",
    "data.batch_size=256",
    "hardware.threads=1",
]


def test_generator_losses_have_their_documented_values():
    logits = torch.tensor([0.0, 2.0])
    # D(G(z)) = sigmoid(logit): -log D and log(1 - D)
    assert non_saturating_generator_loss(logits) == pytest.approx((math.log(2) + math.log(1 + math.exp(-2))) / 2)
    assert minimax_generator_loss(logits) == pytest.approx(-(math.log(2) + math.log(1 + math.exp(2))) / 2)
    assert discriminator_loss(torch.zeros(3), torch.zeros(3)) == pytest.approx(2 * math.log(2))
    assert discriminator_loss(torch.tensor([20.0]), torch.tensor([-20.0])) < 1e-8  # a perfect discriminator


def test_the_wasserstein_losses_and_the_gradient_penalty_have_their_documented_values():
    assert critic_loss(torch.tensor([3.0, 1.0]), torch.tensor([0.5])) == pytest.approx(0.5 - 2.0)
    assert wasserstein_generator_loss(torch.tensor([1.0, 2.0])) == pytest.approx(-1.5)
    # a linear critic w.x has the gradient w everywhere: the penalty is (|w| - 1)^2
    for weight, penalty in ((torch.tensor([0.6, 0.8]), 0.0), (torch.tensor([3.0, 4.0]), 16.0)):
        real, fake = torch.randn(16, 2), torch.randn(16, 2)
        assert gradient_penalty(lambda x: x @ weight, real, fake).item() == pytest.approx(penalty, abs=1e-5)


def test_spectral_norm_bounds_every_discriminator_layer_and_leaves_the_generator_alone():
    net = GAN(in_features=2, width=32, spectral_norm=True)
    for _ in range(30):  # each forward in training mode takes one power-iteration step
        net.discriminator(torch.randn(8, 2))
    net.eval()  # the weights as the last iteration left them
    linears = [m for m in net.discriminator.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3
    assert all(torch.linalg.matrix_norm(m.weight, 2).item() == pytest.approx(1.0, rel=1e-3) for m in linears)
    assert not any(hasattr(m, "parametrizations") for m in net.generator.modules())


@pytest.mark.parametrize("channels, size, halvings", [(1, 8, 2), (1, 28, 2), (3, 32, 3)])
def test_dcgan_follows_the_papers_rules_at_every_image_size(channels, size, halvings):
    net = DCGAN(channels, size)
    images = net.sample(5, torch.Generator().manual_seed(0))
    assert images.shape == (5, channels, size, size) and 0 <= images.min() and images.max() <= 1
    assert net.discriminator(images).shape == (5, 1)
    layers = [type(m) for m in net.modules()]
    assert not {torch.nn.MaxPool2d, torch.nn.AvgPool2d} & set(layers)  # strided convolutions only
    strided = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert len(strided) == 2 * halvings and all(m.stride == (2, 2) for m in strided)
    generator, discriminator = list(net.generator), list(net.discriminator.modules())
    assert isinstance(generator[-2], torch.nn.Tanh) and isinstance(generator[-3], torch.nn.ConvTranspose2d)
    assert torch.nn.LeakyReLU not in map(type, generator) and torch.nn.ReLU not in map(type, discriminator)
    first = next(m for m in discriminator if isinstance(m, torch.nn.Sequential) and len(m) == 2)  # conv, activation
    assert isinstance(first[0], torch.nn.Conv2d) and isinstance(first[1], torch.nn.LeakyReLU)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in discriminator) == halvings - 1


def test_mmd_is_zero_for_a_set_and_itself_and_grows_with_a_shift():
    points = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
    shifts = [gaussian_mmd(points, points + torch.tensor([d, 0.0]), bandwidth=0.5) for d in (0.0, 0.2, 1.0, 3.0)]
    assert shifts[0] == pytest.approx(0.0, abs=1e-6)
    assert all(a < b for a, b in zip(shifts, shifts[1:]))


def test_it_learns_the_ring(tmp_path):
    untrained = train(
        tmp_path / "untrained",
        "model=gan_mlp",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        "hardware.threads=1",
    )
    trained = train(
        tmp_path / "trained", "model=gan_mlp", "data.samples=2000", "trainer.max_epochs=4", "hardware.threads=1"
    )
    assert trained["status"] == "completed" and trained["best"]["metric"] == "val/mmd"
    assert {"train/d_loss", "train/g_loss"} <= trained["final"].keys()
    assert untrained["test"]["test/mmd"] > 0.9
    assert trained["test"]["test/mmd"] < 0.5 * untrained["test"]["test/mmd"]


def test_wgan_gp_learns_the_ring(tmp_path):
    untrained = train(
        tmp_path / "untrained",
        "model=gan_mlp",
        "task=wgan_gp",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        "hardware.threads=1",
    )
    trained = train(tmp_path / "trained", *WGAN_GP, "data.samples=2000", "data.batch_size=64", "trainer.max_epochs=12")
    assert trained["status"] == "completed" and {"train/d_loss", "train/g_loss"} <= trained["final"].keys()
    assert trained["test"]["test/mmd"] < 0.5 * untrained["test"]["test/mmd"]


@pytest.mark.slow
def test_wgan_gp_covers_every_mode_of_the_ring_where_the_gan_drops_some(tmp_path):
    """docs/GENERATIVE.md's run: 15,000 critic steps (3,000 generator steps) of 256 points."""
    wgan = train(tmp_path / "wgan_gp", *WGAN_GP, "trainer.max_epochs=120", "trainer.check_val_every_n_epoch=10")
    assert wgan["test"]["test/modes_covered"] == 8 and wgan["test"]["test/near_mode"] >= 0.8, wgan["test"]


def test_dcgan_learns_digits(tmp_path):
    run = ["model=dcgan", "task.mmd_bandwidth=2.0", "hardware.threads=1"]
    untrained = train(tmp_path / "untrained", *run, "trainer.max_epochs=1", "trainer.limit_train_batches=1")
    trained = train(tmp_path / "trained", *run, "trainer.max_epochs=3")
    assert trained["status"] == "completed", trained["error"]
    assert trained["test"]["test/mmd"] < 0.5 * untrained["test"]["test/mmd"]  # measured: 0.21 against 0.76


def test_resume_from_the_middle_of_an_epoch_is_exact(tmp_path):
    whole = train(tmp_path / "whole", *RUN)
    # 19 optimizer steps an epoch (13 discriminator, 6 generator): step 45 falls in the last epoch, whose
    # train/d_loss and train/g_loss are then means over steps before and after the cut
    part = train(tmp_path / "part", *RUN, "checkpoint.every_n_steps=15", "trainer.max_steps=45")
    assert part["steps"] == 45 and whole["steps"] == 57
    resumed = resume(tmp_path / "part", "trainer.max_steps=-1")
    assert resumed["steps"] == whole["steps"]
    assert same_weights(weights(tmp_path / "whole"), weights(tmp_path / "part"))
    assert resumed["final"] == whole["final"]
    assert resumed["test"] == whole["test"]


@pytest.mark.slow  # the default suite's time: see README's Development
def test_sigkill_mid_epoch_then_resume_matches_the_run_that_never_stopped(workdir):
    long = [
        "model=gan_mlp",
        "model.width=32",
        "trainer.max_epochs=6",
        "checkpoint.every_n_steps=4",
        "hardware.threads=1",
        "progress_bar=false",
    ]
    train(workdir / "whole", *long)
    process = start([*long, "hydra.run.dir=run"], workdir)
    last = workdir / "run" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert process.poll() is None, "the run ended before it could be killed"
    process.kill()
    process.communicate(timeout=60)
    killed_at = torch.load(last, weights_only=True)["global_step"]
    assert 0 < killed_at < 600  # 6 epochs of 50 batches, 2 optimizer steps each
    assert resume(workdir / "run")["status"] == "completed"
    assert same_weights(weights(workdir / "whole"), weights(workdir / "run"))


def test_a_non_finite_loss_stops_the_run_as_diverged(tmp_path):
    summary = train(tmp_path / "run", *RUN, "optim=sgd", "optim.lr=1e30", "checkpoint.every_n_steps=1")
    assert summary["status"] == "diverged" and summary["exit_code"] == 3
    assert "at step" in summary["error"]


def test_gradient_clipping_and_weight_averaging_work_with_manual_optimization(tmp_path):
    summary = train(tmp_path / "run", *RUN, "trainer.max_epochs=1", "regularizer=[grad_clip,ema,weight_decay]")
    assert summary["status"] == "completed", summary["error"]


def test_gradient_clipping_clips_each_network(tmp_path):
    # SGD on gradients clipped to a norm of 1e-9: the weights after one batch and after a whole epoch agree.
    clipped = ["optim=sgd", "optim.lr=1.0", "regularizer=[grad_clip]", "regularizer.grad_clip.value=1e-9"]
    one_step = train(tmp_path / "one_step", *RUN, "trainer.max_epochs=1", "trainer.limit_train_batches=1", *clipped)
    end = train(tmp_path / "end", *RUN, "trainer.max_epochs=1", *clipped)
    assert one_step["status"] == end["status"] == "completed"
    before, after = weights(tmp_path / "one_step"), weights(tmp_path / "end")
    assert all(torch.allclose(before[k], after[k], atol=1e-7) for k in before)


@pytest.mark.parametrize(
    "override, message",
    [
        ("regularizer=[accumulate]", "cannot accumulate gradients"),
        ("optim=lbfgs", "optim=lbfgs re-evaluates one loss"),
        ("scheduler=cosine", "takes no learning-rate schedule"),
        ("regularizer=[l1]", "regularizer=l1 adds to a single training loss"),
        ("model=mlp", "model=mlp has neither"),
        ("task.gradient_penalty=10.0 model=dcgan data=digits", "batch norm mixes"),
        ("model=dcgan data=digits data.normalize=true", "data.normalize=true standardizes the real ones"),
    ],
)
def test_what_it_cannot_honour_is_refused_in_one_line_before_training(override, message, tmp_path):
    summary = train(tmp_path / "run", "model=gan_mlp", "data=ring", *override.split())
    assert summary["exit_code"] == 2 and summary["status"] == "failed"
    assert message in summary["error"] and "\n" not in summary["error"]
    assert not (tmp_path / "run" / "checkpoints").exists() and not (tmp_path / "run" / "metrics.csv").exists()


@pytest.mark.slow  # the default suite's time: see README's Development
def test_a_gan_trains_under_ddp_where_each_backward_leaves_one_network_out(workdir):
    """DDP expects every parameter in every backward; the discriminator's leaves the generator out,
    so the task asks Lightning's DDP to look for unused parameters."""
    from conftest import cli

    from archtrain.report.plots import read_epoch_metrics

    result = cli(
        *RUN[:3],
        "trainer.max_epochs=8",
        "hardware=ddp",
        "hardware.threads=1",
        "progress_bar=false",
        "hydra.run.dir=run",
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((workdir / "run" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["hardware"]["world_size"] == 2
    mmd = read_epoch_metrics(workdir / "run" / "metrics.csv")["val/mmd"]
    assert mmd[7] < 0.6 * mmd[0]  # measured: 1.06 after the first epoch, 0.41 after the eighth
