"""Contrastive divergence (Hinton, 2002) and persistent contrastive divergence (Tieleman, 2008): the
training of a restricted Boltzmann machine on binarised data, which then draws new examples by
Gibbs sampling."""

from pathlib import Path

import torch
from hydra.utils import get_class
from torchmetrics import MeanMetric

from archtrain.models.rbm import RBM
from archtrain.report.samples import image_grid
from archtrain.tasks.base import RunningMean, SeededScoring
from archtrain.tasks.generative import Generative

THRESHOLD = 0.5  # inputs in [0, 1] above it are 1, the rest 0


def binarise(x: torch.Tensor) -> torch.Tensor:
    return (x.flatten(1) > THRESHOLD).to(x.dtype)


class ContrastiveDivergence(SeededScoring, Generative):
    """The log-likelihood gradient is the data's free-energy gradient minus the model's; the model's
    expectation is estimated from visible samples `gibbs_steps` Gibbs rounds away from the batch (CD-k)
    or, with `persistent`, from chains that carry on from batch to batch (PCD; kept in the checkpoint).
    The training loss is F(data) - F(samples), whose gradient is that estimate; the optimizer is
    optim=... as for any task. Logged: train/recon_error (mean squared error of the mean-field
    reconstruction, per pixel); val and test recon_error and pll (the pseudo-log-likelihood per
    example, in nats, which picks the best checkpoint). `generate` runs `sample_steps` Gibbs rounds
    from noise; samples.png and filters.png (each hidden unit's weights) are written after testing."""

    monitor, mode = "val/pll", "max"

    @classmethod
    def problems(cls, cfg, spec):
        found = super().problems(cfg, spec)
        if not issubclass(get_class(cfg.model._target_), RBM):
            found.append(
                f"task={cfg.task.name} trains a restricted Boltzmann machine, and model={cfg.model.name} "
                f"is none (use model=rbm)"
            )
        if cfg.optim._target_ == "torch.optim.LBFGS":
            found.append(
                f"optim=lbfgs re-evaluates one loss in a closure; task={cfg.task.name}'s loss draws new "
                f"Gibbs samples at every evaluation"
            )
        if cfg.data.get("normalize"):
            found.append(
                f"task={cfg.task.name} binarises inputs in [0, 1]; data.normalize=true moves them out of it (drop it)"
            )
        return found

    def __init__(
        self,
        net,
        spec,
        optim,
        scheduler=None,
        regularization=None,
        gibbs_steps: int = 1,
        persistent: bool = False,
        sample_steps: int = 1000,
    ):
        super().__init__(net, spec, optim, scheduler, regularization)
        self.gibbs_steps, self.persistent, self.sample_steps = gibbs_steps, persistent, sample_steps
        self.chains: torch.Tensor | None = None
        self.train_recon = RunningMean()

    def loss(self, batch):
        v = binarise(batch[0])
        if self.persistent:
            start = self.chains if self.chains is not None else torch.bernoulli(torch.full_like(v, 0.5))
        else:
            start = v
        negative = self.net.gibbs(start, self.gibbs_steps)[0].detach()
        if self.persistent:
            self.chains = negative
        with torch.no_grad():
            self.train_recon.add((self.net(v) - v).square().mean())
        return self.net.free_energy(v).mean() - self.net.free_energy(negative).mean()

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        recon = self.train_recon.pop()
        if recon is not None:
            self.log("train/recon_error", recon, sync_dist=True)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["persistent_chains"] = self.chains
        checkpoint["recon_so_far"] = self.train_recon.state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        self.chains = checkpoint.get("persistent_chains")
        self.train_recon.restore(checkpoint.get("recon_so_far") or {})

    def make_metrics(self):
        return {"recon_error": MeanMetric(), "pll": MeanMetric()}

    def evaluate(self, batch, metrics):
        v = binarise(batch[0])
        metrics["recon_error"].update((self.net(v) - v).square().mean(1))
        metrics["pll"].update(self.net.pseudo_log_likelihood(v, self.scoring_noise))

    def generate(self, n, labels=None, generator=None):
        samples = self.net.sample(n, self.sample_steps, generator)
        spec = self.spec
        return samples.view(n, spec.in_channels, spec.image_size, spec.image_size) if spec.image_size else samples

    def write_extras(self, run_dir: Path) -> list[Path]:
        spec = self.spec
        if not spec.image_size:
            return []
        with torch.no_grad():
            samples = self.generate(50, generator=torch.Generator(self.device).manual_seed(self.SCORING_SEED))
        filters = self.net.weight[:50].detach().view(-1, spec.in_channels, spec.image_size, spec.image_size)
        return [
            image_grid(samples, run_dir / "samples.png", f"RBM samples after {self.sample_steps} Gibbs steps"),
            image_grid(filters, run_dir / "filters.png", "RBM filters (weights of each hidden unit)", signed=True),
        ]
