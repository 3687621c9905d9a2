"""The losses of adversarial training, on the discriminator's scores: the original GAN's (Goodfellow et
al., 2014), where D(x) = sigmoid(score) is the probability that x is real, and the Wasserstein GAN's
(Arjovsky et al., 2017), where the score is a critic's unbounded estimate, with its gradient penalty
(Gulrajani et al., 2017)."""

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))): binary cross-entropy of real examples against generated ones."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """log(1 - D(G(z))): the generator's side of the minimax game; its gradient vanishes while the
    discriminator rejects the generated examples confidently, as it does early in training."""
    return -F.softplus(fake_logits).mean()


def non_saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): the same fixed point as the minimax loss, with strong gradients where the
    discriminator wins (Goodfellow et al., 2014, section 3)."""
    return F.softplus(-fake_logits).mean()


def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """D(G(z)) - D(x): the critic maximizes the gap whose supremum over 1-Lipschitz critics is the
    Wasserstein-1 distance between the two distributions."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """-D(G(z)): the generator lowers the critic's estimate of the distance."""
    return -fake_scores.mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """(||grad D(x')|| - 1)^2 at points x' drawn uniformly between paired real and generated examples: the
    soft 1-Lipschitz constraint of WGAN-GP, differentiable with respect to the critic's weights."""
    share = torch.rand(len(real), *[1] * (real.ndim - 1), device=real.device, dtype=real.dtype)
    between = (share * real + (1 - share) * fake).requires_grad_(True)
    (gradient,) = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
    return (gradient.flatten(1).norm(dim=1) - 1).pow(2).mean()


@dataclass(frozen=True)
class AdversarialLoss:
    """What the discriminator minimizes (real scores, generated scores) and what the generator does."""

    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator: Callable[[torch.Tensor], torch.Tensor]


ADVERSARIAL_LOSSES: dict[str, AdversarialLoss] = {
    "non_saturating": AdversarialLoss(discriminator_loss, non_saturating_generator_loss),
    "minimax": AdversarialLoss(discriminator_loss, minimax_generator_loss),
    "wasserstein": AdversarialLoss(critic_loss, wasserstein_generator_loss),
}
