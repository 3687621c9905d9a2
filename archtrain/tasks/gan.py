"""Adversarial training (Goodfellow et al., 2014): a discriminator learns to tell real examples from
generated ones while a generator learns to fool it; or, as a Wasserstein GAN with gradient penalty
(Gulrajani et al., 2017), a critic estimates their distance. Two networks, two optimizers, stepped by
the task itself (manual optimization); generated examples are scored against real ones by a kernel MMD."""

import torch
from hydra.utils import get_class

from archtrain.models.gan import Adversarial
from archtrain.tasks.base import RunningMean, SeededScoring, manual_optimization_problems
from archtrain.tasks.generative import Generative, unit_pixels_problem
from archtrain.training.adversarial import ADVERSARIAL_LOSSES, gradient_penalty
from archtrain.training.optim import build_optimizer


class GanTask(SeededScoring, Generative):
    """Each training batch steps the discriminator once; every `discriminator_steps`-th batch of an epoch
    also steps the generator, on the same generated examples. `loss` picks the pair of losses:
    non_saturating (the generator minimizes -log D(G(z))), minimax (log(1 - D(G(z)))), or wasserstein
    (a critic, D(G(z)) - D(x), and -D(G(z))); `gradient_penalty` (lambda, 0 for none) adds WGAN-GP's
    penalty to the discriminator's loss. Validation and test compare as many generated
    examples as the split has real ones, drawn from the same noise every epoch, by a Gaussian-kernel
    MMD of width `mmd_bandwidth` (in data units); the lowest val/mmd picks the best checkpoint.

    Lightning counts every optimizer step in `global_step`, so trainer.max_steps and
    checkpoint.every_n_steps count the steps of both networks.
    """

    monitor, mode = "val/mmd", "min"
    automatic_optimization = False
    unused_parameters = True  # the discriminator's backward leaves the generator out

    @classmethod
    def problems(cls, cfg, spec):
        name = cfg.task.name
        found = super().problems(cfg, spec)
        if not issubclass(get_class(cfg.model._target_), Adversarial):
            found.append(
                f"task={name} trains a generator against a discriminator, and model={cfg.model.name} "
                f"has neither (use model=gan_mlp or model=dcgan)"
            )
        if cfg.task.gradient_penalty and cfg.model.get("discriminator_norm") == "batch":
            found.append(
                "task.gradient_penalty takes each example's own gradient, which batch norm mixes "
                "across the batch; use model.discriminator_norm=none"
            )
        found += unit_pixels_problem(cfg)
        found += manual_optimization_problems(cfg)
        return found

    def __init__(
        self,
        net,
        spec,
        optim,
        scheduler=None,
        regularization=None,
        loss: str = "non_saturating",
        gradient_penalty: float = 0.0,
        discriminator_steps: int = 1,
        mmd_bandwidth: float = 0.5,
    ):
        self.mmd_bandwidth = mmd_bandwidth  # read by make_metrics, which Task.__init__ calls
        super().__init__(net, spec, optim, scheduler, regularization)
        self.adversarial_loss, self.penalty = ADVERSARIAL_LOSSES[loss], gradient_penalty
        self.discriminator_steps = discriminator_steps
        self.d_loss, self.g_loss = RunningMean(), RunningMean()

    def configure_optimizers(self):
        reg = self.regularization
        return [
            build_optimizer(self.make_optimizer, network, reg.weight_decay, reg.decay_norms_and_biases)
            for network in (self.net.discriminator, self.net.generator)
        ]

    def training_step(self, batch, batch_idx):
        real = batch[0]
        discriminator_optimizer, generator_optimizer = self.optimizers()
        discriminate = self.net.discriminator
        fake = self.net.sample(len(real))
        d_loss = self.adversarial_loss.discriminator(discriminate(real), discriminate(fake.detach()))
        if self.penalty:
            d_loss = d_loss + self.penalty * gradient_penalty(discriminate, real, fake.detach())
        self._step(discriminator_optimizer, d_loss)
        self.d_loss.add(d_loss)
        loss = d_loss.detach()
        if (batch_idx + 1) % self.discriminator_steps == 0:
            g_loss = self.adversarial_loss.generator(discriminate(fake))
            self._step(generator_optimizer, g_loss)
            self.g_loss.add(g_loss)
            loss = loss + g_loss.detach()
        return {"loss": loss}  # DivergenceGuard's input

    def _step(self, optimizer, loss: torch.Tensor) -> None:
        optimizer.zero_grad()
        self.manual_backward(loss)
        reg = self.regularization
        if reg.grad_clip_value:
            self.clip_gradients(
                optimizer, gradient_clip_val=reg.grad_clip_value, gradient_clip_algorithm=reg.grad_clip_algorithm
            )
        optimizer.step()

    def on_train_epoch_end(self) -> None:
        for name, mean in (("d_loss", self.d_loss.pop()), ("g_loss", self.g_loss.pop())):
            if mean is not None:
                self.log(f"train/{name}", mean, prog_bar=True, sync_dist=True)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["d_loss_so_far"], checkpoint["g_loss_so_far"] = self.d_loss.state(), self.g_loss.state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        self.d_loss.restore(checkpoint.get("d_loss_so_far") or {})
        self.g_loss.restore(checkpoint.get("g_loss_so_far") or {})

    def make_metrics(self):
        return self.sample_judges(self.mmd_bandwidth)

    def generate(self, n, labels=None, generator=None):
        return self.net.sample(n, generator)

    def evaluate(self, batch, metrics):
        real = batch[0]
        fake = self.generate(len(real), generator=self.scoring_noise)
        for metric in metrics.values():
            metric.update(real, fake)
