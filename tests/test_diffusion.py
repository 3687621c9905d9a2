"""Denoising diffusion: the schedules and the reverse chain are right on data whose best noise
prediction is known, and the MLP (2-D ring) and U-Net (digits) noise predictors learn."""

import pytest
import pytorch_lightning as pl
import torch
from conftest import train

from archtrain.assemble import load_run
from archtrain.training.diffusion import NoiseSchedule

RING = [
    "model=ddpm_mlp",
    "task.timesteps=200",
    "task.sampler=ddim",
    "task.sampling_steps=20",
    "data.samples=2000",
    "data.batch_size=128",
    "optim.lr=3e-3",
    "task.pictures_every=0",
    "hardware.threads=1",
]
DIGITS = [
    "model=ddpm",
    "model.width=8",
    "model.embedding_size=16",
    "task.timesteps=100",
    "task.sampler=ddim",
    "task.sampling_steps=10",
    "task.pictures_every=0",
    "hardware.threads=1",
]


pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_schedules_keep_what_their_papers_say():
    linear, cosine = NoiseSchedule(1000, "linear"), NoiseSchedule(1000, "cosine")
    assert linear.alpha_bar[0] == pytest.approx(1 - 1e-4) and linear.alpha_bar[-1] < 1e-4
    assert cosine.alpha_bar[-1] < 1e-6 and cosine.alpha_bar[499] == pytest.approx(0.5, abs=0.02)
    assert bool((linear.alpha_bar.diff() < 0).all() and (cosine.alpha_bar.diff() < 0).all())
    # half the steps: the same end of the chain, as Nichol & Dhariwal's rescaling intends
    assert NoiseSchedule(500, "linear").alpha_bar[-1] == pytest.approx(linear.alpha_bar[-1].item(), rel=0.5)
    assert linear.chain("ddpm", 10) == list(range(999, -1, -1))
    assert linear.chain("ddim", 4) == [999, 666, 333, 0]


@pytest.mark.parametrize(
    "kind, sampler, steps, tolerance", [("cosine", "ddpm", 1000, 0.03), ("linear", "ddim", 100, 0.05)]
)
def test_the_reverse_chain_recovers_a_gaussian_from_its_exact_noise_prediction(kind, sampler, steps, tolerance):
    """For data N(0, s^2) the best prediction of the noise in x_t is x_t sqrt(1 - a) / (a s^2 + 1 - a).
    (Few DDIM steps shrink the spread: their last step lands on E[x_0 | x_t]; 10 steps give 0.36 here.)"""
    schedule, spread = NoiseSchedule(1000, kind), 0.5

    def exact(x, t):
        kept = schedule.alpha_bar[t][:, None]
        return x * (1 - kept).sqrt() / (kept * spread**2 + 1 - kept)

    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(4000, 1, generator=generator)
    x = schedule.sample(
        exact, noise, schedule.chain(sampler, steps), eta=1.0 if sampler == "ddpm" else 0.0, generator=generator
    )
    assert x.std().item() == pytest.approx(spread, rel=tolerance) and abs(x.mean().item()) < 0.03


def test_the_mlp_learns_to_denoise_the_ring(tmp_path):
    untrained = train(tmp_path / "untrained", *RING, "trainer.max_epochs=1", "trainer.limit_train_batches=1")
    trained = train(tmp_path / "trained", *RING, "trainer.max_epochs=8", "trainer.check_val_every_n_epoch=8")
    assert trained["status"] == "completed" and trained["best"]["metric"] == "val/loss"
    assert {"test/mmd", "test/modes_covered", "test/near_mode"} <= trained["test"].keys()
    assert trained["test"]["test/loss"] < 0.6 * untrained["test"]["test/loss"]  # measured: 0.41 against 0.94


@pytest.mark.slow
def test_the_mlp_samples_every_mode_of_the_ring(tmp_path):
    """3,000 steps of 256 points: all 8 modes, most samples within 3 standard deviations of one."""
    untrained = train(tmp_path / "untrained", *RING, "trainer.max_epochs=1", "trainer.limit_train_batches=1")
    trained = train(
        tmp_path / "trained",
        "model=ddpm_mlp",
        "data.samples=40000",
        "data.batch_size=256",
        "optim.lr=3e-3",
        "trainer.max_epochs=24",
        "trainer.check_val_every_n_epoch=8",
        "task.pictures_every=0",
        "hardware.threads=1",
    )
    test = trained["test"]
    assert test["test/modes_covered"] == 8 and test["test/near_mode"] >= 0.8, test
    assert test["test/mmd"] < 0.2 * untrained["test"]["test/mmd"]


def test_the_unet_learns_digits_and_draws_images_in_their_scale(tmp_path):
    untrained = train(tmp_path / "untrained", *DIGITS, "trainer.max_epochs=1", "trainer.limit_train_batches=1")
    trained = train(tmp_path / "trained", *DIGITS, "trainer.max_epochs=2", "task.conditional=true")
    assert trained["status"] == "completed", trained["error"]
    assert trained["test"]["test/loss"] < 0.8 * untrained["test"]["test/loss"]
    parts = load_run(str(tmp_path / "trained"))  # the averaged weights (model=ddpm picks regularizer=[ema])
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    retested = trainer.test(parts.task, datamodule=parts.data, verbose=False)[0]
    assert retested["test/loss"] == pytest.approx(trained["test"]["test/loss"], rel=1e-5)  # the run tested them too
    task = parts.task
    task.sampler, task.sampling_steps = "ddim", 5
    with torch.no_grad():
        images = task.generate(4, labels=torch.tensor([0, 1, 2, 3]), generator=torch.Generator().manual_seed(0))
    assert images.shape == (4, 1, 8, 8) and 0 <= images.min() and images.max() <= 1


@pytest.mark.slow
def test_a_conditional_mlp_draws_the_mode_it_is_asked_for(tmp_path):
    """Classifier-free guidance on the ring, its modes as classes (measured: 97.9% of samples within 3
    standard deviations of the requested mode unguided, 99.9% at guidance 1)."""
    train(
        tmp_path / "run",
        "model=ddpm_mlp",
        "task.conditional=true",
        "data.samples=40000",
        "data.batch_size=256",
        "optim.lr=3e-3",
        "trainer.max_epochs=24",
        "trainer.check_val_every_n_epoch=24",
        "task.pictures_every=0",
        "hardware.threads=1",
    )
    parts = load_run(str(tmp_path / "run"))
    task, spec, labels = parts.task, parts.data.spec, torch.arange(800) % 8
    with torch.no_grad():
        samples = task.generate(800, labels, torch.Generator().manual_seed(0))
    distance = (samples - torch.tensor(spec.modes)[labels]).norm(dim=1)
    assert (distance <= 3 * spec.mode_std).float().mean() >= 0.95


@pytest.mark.parametrize(
    "override, message",
    [
        ("model=mlp", "model=mlp is not one (use model=ddpm or model=ddpm_mlp)"),
        ("task.schedule=quadratic", "task.schedule=quadratic: choose from linear, cosine"),
        ("data.normalize=true", "data.normalize=true standardizes the real ones"),
    ],
)
def test_what_it_cannot_train_is_refused_in_one_line(override, message, tmp_path):
    summary = train(tmp_path / "run", "model=ddpm", "task=diffusion", override)
    assert summary["exit_code"] == 2 and message in summary["error"] and "\n" not in summary["error"]
