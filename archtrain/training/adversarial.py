"""The losses of adversarial training (Goodfellow et al., 2014), on the discriminator's logits:
D(x) = sigmoid(logit) is the probability that x is real."""

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


GENERATOR_LOSSES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "non_saturating": non_saturating_generator_loss,
    "minimax": minimax_generator_loss,
}
