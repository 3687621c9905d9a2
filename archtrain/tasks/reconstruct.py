"""Reconstruction: an autoencoder learns to give back its input through a small code. Knobs make it a
denoising autoencoder (Vincent et al., 2008: corrupted inputs, clean targets) or a sparse one (an L1
penalty on the code). New examples decode codes drawn from a Gaussian fit to the validation codes: a
crude sampler (a plain autoencoder's codes need not fill that Gaussian), where a VAE's prior is the real one."""

from pathlib import Path

import torch
import torch.nn.functional as F
from hydra.utils import get_class
from torchmetrics import MeanMetric

from archtrain.models.autoencoder import Autoencoder
from archtrain.report.samples import image_rows
from archtrain.tasks.generative import Generative

NOISES = ("none", "gaussian", "masking")


def corrupt(x: torch.Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """`x` with noise: gaussian adds N(0, level^2) to every value, masking sets a share `level` of them to 0."""
    if kind == "gaussian":
        return x + level * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if kind == "masking":
        return x * (torch.rand(x.shape, generator=generator, device=x.device) >= level).to(x.dtype)
    return x


class Reconstruct(Generative):
    """Trains an Autoencoder on the mean squared error between its input (corrupted by `noise` at
    `noise_level` when set) and its reconstruction, plus `sparsity` times the mean absolute code value.
    Validation and test report the MSE of clean reconstructions (loss) and, with noise, of denoised
    corrupted inputs (denoise_mse, from the same noise every epoch)."""

    variational = False  # the kind of model.variational this task trains
    TOY_MMD_BANDWIDTH = 0.5  # on 2-D toys, in data units (the gan task's default)
    EVALUATION_SEED = 0  # the noise that validation and test corrupt with (and VAEs sample codes from)
    PICTURE_INPUTS = 16

    @classmethod
    def problems(cls, cfg, spec):
        found = super().problems(cfg, spec)
        name, model = cfg.task.name, cfg.model
        if not issubclass(get_class(model._target_), Autoencoder):
            found.append(
                f"task={name} needs an encoder and a decoder, and model={model.name} is not an "
                f"autoencoder (use model=autoencoder, conv_autoencoder or vae)"
            )
            return found
        if bool(model.get("variational")) != cls.variational:
            found.append(
                f"task={name} trains {'a variational' if cls.variational else 'a plain'} autoencoder; "
                f"model.variational={str(bool(model.get('variational'))).lower()} needs "
                f"task={'reconstruct' if cls.variational else 'vae'}"
            )
        if model.get("conditional") and not spec.num_classes:
            found.append(f"model.conditional=true needs class labels, and data={cfg.data.name} has none")
        noise = cfg.task.get("noise", "none")
        if noise not in NOISES:
            found.append(f"task.noise={noise}: choose from {', '.join(NOISES)}")
        if noise == "masking" and not cfg.task.noise_level < 1:
            found.append(f"task.noise_level={cfg.task.noise_level}: masking hides a share of the inputs, below 1")
        return found

    def __init__(
        self,
        net,
        spec,
        optim,
        scheduler=None,
        regularization=None,
        noise: str = "none",
        noise_level: float = 0.0,
        sparsity: float = 0.0,
        pictures_every: int = 5,
    ):
        self.noise, self.noise_level = noise, noise_level  # read by make_metrics, which Task.__init__ calls
        super().__init__(net, spec, optim, scheduler, regularization)
        self.sparsity, self.pictures_every = sparsity, pictures_every
        self.evaluation_noise: torch.Generator | None = None
        self.judging_noise: torch.Generator | None = None
        # The Gaussian that generate() draws codes from, fit at each validation and kept in checkpoints.
        self.register_buffer("code_mean", torch.zeros(net.code_size))
        self.register_buffer("code_scale", torch.eye(net.code_size))
        self.code_moments: list = []  # count, sum and sum of outer products of this validation's codes

    @property
    def conditional(self) -> bool:
        return bool(self.net.classes)

    def labels(self, batch) -> torch.Tensor | None:
        return batch[1] if self.conditional else None

    def output(self, decoded: torch.Tensor) -> torch.Tensor:
        """The decoder's raw output as an example (the identity here; a Bernoulli VAE's sigmoid)."""
        return decoded

    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The examples that the codes (means) of `x` decode to."""
        return self.output(self.net.decode(self.net.encode(x, labels)[0], labels))

    def loss(self, batch):
        x, labels = batch[0], self.labels(batch)
        code = self.net.encode(corrupt(x, self.noise, self.noise_level), labels)[0]
        loss = F.mse_loss(self.output(self.net.decode(code, labels)), x)
        return loss + self.sparsity * code.abs().mean() if self.sparsity else loss

    def make_metrics(self):
        metrics = {"loss": MeanMetric()}
        if self.noise != "none":
            metrics["denoise_mse"] = MeanMetric()
        return {**metrics, **self.toy_judges()}

    def toy_judges(self) -> dict:
        """On a 2-D toy mixture, the sample judges (MMD, modes covered, share near a mode), as the gan task has."""
        return self.sample_judges(self.TOY_MMD_BANDWIDTH) if self.spec.modes else {}

    def update_toy_judges(self, real: torch.Tensor, metrics) -> None:
        """Judge as many generated examples as `real` has, from noise of their own."""
        if self.spec.modes:
            fake = self.generate(len(real), generator=self.judging_noise)
            for name in self.toy_judges():
                metrics[name].update(real, fake)

    def on_validation_epoch_start(self) -> None:
        self._reset_evaluation_noise()
        self.code_moments = []

    def on_test_epoch_start(self) -> None:
        self._reset_evaluation_noise()

    def _reset_evaluation_noise(self) -> None:
        seed = self.EVALUATION_SEED + self.global_rank
        self.evaluation_noise = torch.Generator(self.device).manual_seed(seed)
        self.judging_noise = torch.Generator(self.device).manual_seed(seed + 10_000)

    def evaluate(self, batch, metrics):
        x, labels = batch[0], self.labels(batch)
        code = self.net.encode(x, labels)[0]
        metrics["loss"].update(F.mse_loss(self.output(self.net.decode(code, labels)), x), weight=len(x))
        if "denoise_mse" in metrics:
            noisy = corrupt(x, self.noise, self.noise_level, self.evaluation_noise)
            metrics["denoise_mse"].update(F.mse_loss(self.reconstruct(noisy, labels), x), weight=len(x))
        self.update_toy_judges(x, metrics)
        if self._trainer is not None and self._trainer.validating:  # fit the sampler on validation codes
            code = code.double()
            moments = [len(code), code.sum(0), code.T @ code]
            self.code_moments = [a + b for a, b in zip(self.code_moments, moments)] if self.code_moments else moments

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        if self.code_moments:
            self._fit_code_gaussian(*self.code_moments)
            self.code_moments = []

    def _fit_code_gaussian(self, count: int, total: torch.Tensor, outer: torch.Tensor) -> None:
        """code_mean and code_scale (a Cholesky factor of the covariance) of a validation's codes."""
        mean = total / count
        covariance = outer / count - torch.outer(mean, mean) + 1e-6 * torch.eye(len(mean), device=mean.device)
        self.code_mean.copy_(mean)
        self.code_scale.copy_(torch.linalg.cholesky(covariance))

    def prior_codes(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """n codes to decode: from the Gaussian fit to the validation codes."""
        noise = torch.randn(n, self.net.code_size, generator=generator, device=self.device)
        return self.code_mean + noise @ self.code_scale.T

    def generate(self, n, labels=None, generator=None):
        if self.conditional and labels is None:
            labels = torch.randint(self.spec.num_classes, (n,), generator=generator, device=self.device)
        return self.output(self.net.decode(self.prior_codes(n, generator), labels))

    @torch.no_grad()
    def pictures(self, folder: Path, real: tuple[torch.Tensor, ...], tag: str) -> list[Path]:
        """The samples, and (images) inputs above their reconstructions (with their corrupted versions
        between them for a denoising autoencoder)."""
        written = super().pictures(folder, real, tag)
        if not self.spec.image_size:
            return written
        x = real[0][: self.PICTURE_INPUTS].to(self.device)
        labels = real[1][: self.PICTURE_INPUTS].to(self.device) if self.conditional else None
        rows = [("inputs", x)]
        if self.noise != "none":
            x = corrupt(x, self.noise, self.noise_level, torch.Generator(self.device).manual_seed(self.PICTURE_SEED))
            rows.append(("corrupted", x))
        rows.append(("reconstructed", self.reconstruct(x, labels)))
        rows = [(label, self.spec.unstandardize(images)) for label, images in rows]
        return [*written, image_rows(rows, folder / f"{tag}_reconstructions.png", tag)]
