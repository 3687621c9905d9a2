"""Variational autoencoders (Kingma & Welling, 2014): a Gaussian encoder q(z|x), a standard normal prior
p(z) and a Bernoulli or Gaussian decoder p(x|z), trained on the negative evidence lower bound, in nats per
example: reconstruction (-E_q log p(x|z)) plus beta times KL(q(z|x) || p(z)) (beta-VAE, Higgins et al.,
2017). A conditional model (model.conditional=true) reads the class on both sides and draws chosen classes."""

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric

from archtrain.report.samples import image_rows
from archtrain.tasks.reconstruct import Reconstruct

DECODERS = ("bernoulli", "gaussian")


class VAE(Reconstruct):
    """`decoder`: bernoulli (pixels in [0, 1] as probabilities: the net gives logits) or gaussian (the net
    gives means; a fixed standard deviation `decoder_std`). Validation and test report nelbo (with beta 1:
    the bound itself) = recon + kl in nats per example, from one code sample each, and the MSE of the
    reconstructions from the codes' means; the lowest val/nelbo picks the best checkpoint."""

    monitor, mode = "val/nelbo", "min"
    variational = True
    INTERPOLATION_PAIRS, INTERPOLATION_STEPS = 4, 10

    @classmethod
    def problems(cls, cfg, spec):
        found = super().problems(cfg, spec)
        decoder = cfg.task.decoder
        if decoder not in DECODERS:
            found.append(f"task.decoder={decoder}: choose from {', '.join(DECODERS)}")
        elif decoder == "bernoulli" and (not spec.image_size or spec.standardization):
            found.append(
                f"task.decoder=bernoulli models pixels in [0, 1], which data={cfg.data.name} does not have "
                f"{'(standardized)' if spec.standardization else '(not images)'}; use task.decoder=gaussian"
            )
        return found

    def __init__(
        self,
        net,
        spec,
        optim,
        scheduler=None,
        regularization=None,
        decoder: str = "bernoulli",
        decoder_std: float = 0.1,
        beta: float = 1.0,
        pictures_every: int = 5,
    ):
        super().__init__(net, spec, optim, scheduler, regularization, pictures_every=pictures_every)
        self.decoder, self.decoder_std, self.beta = decoder, decoder_std, beta

    def output(self, decoded):
        return decoded.sigmoid() if self.decoder == "bernoulli" else decoded

    def negative_log_likelihood(self, decoded: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) per example, in nats."""
        if self.decoder == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(decoded, x, reduction="none")
        else:
            nll = 0.5 * ((x - decoded) / self.decoder_std) ** 2 + math.log(self.decoder_std * math.sqrt(2 * math.pi))
        return nll.flatten(1).sum(1)

    def bound(
        self, x: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per example: the reconstruction term, the KL term (nats) and the codes' means."""
        mean, log_var = self.net.encode(x, labels)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        code = mean + (0.5 * log_var).exp() * noise
        recon = self.negative_log_likelihood(self.net.decode(code, labels), x)
        kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(1)
        return recon, kl, mean

    def loss(self, batch):
        recon, kl, _ = self.bound(batch[0], self.labels(batch))
        return (recon + self.beta * kl).mean()

    def make_metrics(self):
        return {
            "nelbo": MeanMetric(),
            "recon": MeanMetric(),
            "kl": MeanMetric(),
            "mse": MeanMetric(),
            **self.toy_judges(),
        }

    def evaluate(self, batch, metrics):
        x, labels = batch[0], self.labels(batch)
        recon, kl, mean = self.bound(x, labels, self.evaluation_noise)
        for name, value in (("nelbo", recon + kl), ("recon", recon), ("kl", kl)):
            metrics[name].update(value)
        metrics["mse"].update(F.mse_loss(self.output(self.net.decode(mean, labels)), x), weight=len(x))
        self.update_toy_judges(x, metrics)

    def prior_codes(self, n, generator):
        """n codes from the prior, N(0, I)."""
        return torch.randn(n, self.net.code_size, generator=generator, device=self.device)

    @torch.no_grad()
    def pictures(self, folder: Path, real: tuple[torch.Tensor, ...], tag: str) -> list[Path]:
        """The samples and reconstructions, and (images) straight lines in code space between the codes of
        pairs of inputs, decoded: one row per pair."""
        written = super().pictures(folder, real, tag)
        if not self.spec.image_size:
            return written
        pairs, steps = self.INTERPOLATION_PAIRS, self.INTERPOLATION_STEPS
        x = real[0][: 2 * pairs].to(self.device)
        labels = real[1][: 2 * pairs].to(self.device) if self.conditional else None
        mean = self.net.encode(x, labels)[0]
        weights = torch.linspace(0, 1, steps, device=self.device).view(1, steps, 1)
        codes = (1 - weights) * mean[0::2, None] + weights * mean[1::2, None]
        rows = []
        for pair in range(pairs):
            pair_labels = None if labels is None else labels[2 * pair].expand(steps)  # the first one's class
            images = self.output(self.net.decode(codes[pair], pair_labels))
            rows.append((f"pair {pair + 1}", self.spec.unstandardize(images)))
        return [*written, image_rows(rows, folder / f"{tag}_interpolation.png", tag)]
