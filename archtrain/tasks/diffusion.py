"""Denoising diffusion (Ho, Jain & Abbeel, 2020): a network learns to predict the noise added to an
example at a random step of a fixed noising process; sampling runs the process backwards from noise."""

from pathlib import Path

import torch
import torch.nn.functional as F
from hydra.utils import get_class
from torchmetrics import MeanMetric

from archtrain.models.diffusion import NoisePredictor
from archtrain.report.samples import image_rows
from archtrain.tasks.base import SeededScoring
from archtrain.tasks.generative import Generative, unit_pixels_problem
from archtrain.training.diffusion import SAMPLERS, SCHEDULES, NoiseSchedule


class DiffusionTask(SeededScoring, Generative):
    """DDPM's epsilon objective: the mean squared error between the noise added at a uniformly drawn
    timestep and the network's prediction of it, over a `linear` or `cosine` schedule of `timesteps`.

    `sampler=ddpm` samples with the full chain; `ddim` in `sampling_steps` deterministic steps. With
    `conditional`, the network reads class labels, each replaced by the empty label with probability
    `label_dropout` during training, and sampling mixes the two predictions by classifier-free guidance
    (Ho & Salimans, 2022): (1 + guidance) * conditional - guidance * unconditional. Images are mapped
    from [0, 1] to [-1, 1], and predicted clean images are clipped there while sampling.

    Validation and test report the denoising loss of every example at `SCORED_TIMESTEPS` timesteps
    spread evenly over the chain, with noise drawn from a fixed seed (a cheap score, comparable across
    epochs and runs, that weighs every noise level alike); on vectors, also the sample judges (kernel MMD,
    and on a toy mixture the modes covered and the share of samples near a mode) of as many samples as the
    split has examples. Pictures (sampling is the costly part) at the first validation and every
    `pictures_every` epochs. With regularizer=ema, Lightning swaps the averaged weights in for
    validation, test and checkpoints, so they are what samples are drawn with.
    """

    monitor, mode = "val/loss", "min"
    SCORED_TIMESTEPS = 10
    CHAIN_IMAGES, CHAIN_ROWS = 8, 6  # the denoising-chain picture: images, and steps shown
    SAMPLING = {"ddpm": (1.0, True), "ddim": (0.0, False)}  # eta, and whether clipping x0 renews the noise

    @classmethod
    def problems(cls, cfg, spec):
        name, task = cfg.task.name, cfg.task
        found = super().problems(cfg, spec)
        if not issubclass(get_class(cfg.model._target_), NoisePredictor):
            found.append(
                f"task={name} trains a noise predictor, and model={cfg.model.name} is not one "
                f"(use model=ddpm or model=ddpm_mlp)"
            )
        if task.schedule not in SCHEDULES:
            found.append(f"task.schedule={task.schedule}: choose from {', '.join(SCHEDULES)}")
        if task.sampler not in SAMPLERS:
            found.append(f"task.sampler={task.sampler}: choose from {', '.join(SAMPLERS)}")
        if task.conditional and not spec.num_classes:
            found.append(f"task.conditional=true needs class labels, and data={cfg.data.name} has none")
        return found + unit_pixels_problem(cfg)

    def __init__(
        self,
        net,
        spec,
        optim,
        scheduler=None,
        regularization=None,
        timesteps: int = 1000,
        schedule: str = "linear",
        sampler: str = "ddpm",
        sampling_steps: int = 50,
        conditional: bool = False,
        label_dropout: float = 0.1,
        guidance: float = 1.0,
        mmd_bandwidth: float = 0.5,
        pictures_every: int = 5,
    ):
        self.images, self.mmd_bandwidth = spec.in_channels is not None, mmd_bandwidth  # read by make_metrics
        super().__init__(net, spec, optim, scheduler, regularization)
        self.schedule = NoiseSchedule(timesteps, schedule)
        self.sampler, self.sampling_steps = sampler, sampling_steps
        self.conditional, self.label_dropout, self.guidance = conditional, label_dropout, guidance
        self.pictures_every = pictures_every

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        """Data to the space the chain runs in: pixels from [0, 1] to [-1, 1], vectors as they are."""
        return 2 * x - 1 if self.images else x

    def from_model(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + 1) / 2).clamp(0, 1) if self.images else x

    def denoising_loss(
        self, x0: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The epsilon objective: x_0 (in the chain's space) noised to timesteps t, noise from `generator`."""
        noise = torch.randn(x0.shape, device=x0.device, generator=generator)
        return F.mse_loss(self.net(self.schedule.noise(x0, t, noise), t, labels), noise)

    def _labels(self, batch) -> torch.Tensor | None:
        """The batch's labels for a conditional model (in training, some dropped to the empty label)."""
        if not self.conditional:
            return None
        labels = batch[1]
        if self.training and self.label_dropout:
            dropped = torch.rand(len(labels), device=labels.device) < self.label_dropout
            labels = labels.masked_fill(dropped, self.net.null_label)
        return labels

    def loss(self, batch):
        x0 = self.to_model(batch[0])
        return self.denoising_loss(
            x0, torch.randint(self.schedule.timesteps, (len(x0),), device=x0.device), self._labels(batch)
        )

    def predict_noise(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """The network's noise prediction, guided towards `labels` when there are labels and a guidance scale."""
        if labels is None or not self.guidance:
            return self.net(x, t, labels)
        empty = torch.full_like(labels, self.net.null_label)
        conditional, unconditional = self.net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, empty])).chunk(2)
        return conditional + self.guidance * (conditional - unconditional)

    def generate(self, n, labels=None, generator=None):
        """n samples by the configured sampler; a conditional model draws classes uniformly unless given."""
        return self.draw(
            n, labels, generator, self.schedule.chain(self.sampler, self.sampling_steps), *self.SAMPLING[self.sampler]
        )

    def draw(
        self,
        n: int,
        labels: torch.Tensor | None,
        generator: torch.Generator | None,
        timesteps: list[int],
        eta: float,
        noise_from_clipped: bool,
        trace=None,
    ) -> torch.Tensor:
        """n samples through any chain of `timesteps` (descending), any eta and clipping rule (NoiseSchedule.sample)."""
        device = self.device
        if self.conditional and labels is None:
            labels = torch.randint(self.spec.num_classes, (n,), device=device, generator=generator)
        labels = labels.to(device) if self.conditional and labels is not None else None
        noise = torch.randn(n, *self._example_shape(), device=device, generator=generator)
        x = self.schedule.sample(
            lambda x_t, t: self.predict_noise(x_t, t, labels),
            noise,
            timesteps,
            eta,
            clip=1.0 if self.images else None,
            noise_from_clipped=noise_from_clipped,
            generator=generator,
            trace=trace,
        )
        return self.from_model(x)

    @torch.no_grad()
    def pictures(self, folder: Path, real, tag: str) -> list[Path]:
        """The samples, and (images) the denoising chain: the clean image predicted at a few steps."""
        written = super().pictures(folder, real, tag)
        if not self.images:
            return written
        chain = self.schedule.chain(self.sampler, self.sampling_steps)
        shown = {chain[round(i * (len(chain) - 1) / (self.CHAIN_ROWS - 1))] for i in range(self.CHAIN_ROWS)}
        rows = []

        def keep(t: int, x0: torch.Tensor) -> None:
            if t in shown:
                rows.append((f"t={t}", self.from_model(x0)))

        self.draw(
            self.CHAIN_IMAGES,
            self.picture_labels(self.CHAIN_IMAGES),
            self.picture_noise(),
            chain,
            *self.SAMPLING[self.sampler],
            keep,
        )
        return [*written, image_rows(rows, folder / f"{tag}_chain.png", f"{tag}: predicted x0 along the chain")]

    def _example_shape(self) -> tuple[int, ...]:
        spec = self.spec
        return (spec.in_channels, spec.image_size, spec.image_size) if self.images else (spec.in_features,)

    def make_metrics(self):
        return {"loss": MeanMetric(), **({} if self.images else self.sample_judges(self.mmd_bandwidth))}

    def evaluate(self, batch, metrics):
        real, labels, repeats = batch[0], self._labels(batch), self.SCORED_TIMESTEPS
        spread = torch.linspace(0, self.schedule.timesteps - 1, repeats, device=real.device).round().long()
        loss = self.denoising_loss(
            self.to_model(real).repeat_interleave(repeats, 0),
            spread.repeat(len(real)),
            None if labels is None else labels.repeat_interleave(repeats),
            self.scoring_noise,
        )
        metrics["loss"].update(loss, weight=len(real))
        if len(metrics) > 1:
            fake = self.generate(len(real), generator=self.scoring_noise)
            for name, metric in metrics.items():
                if name != "loss":
                    metric.update(real, fake)
