"""Masked-language-model pretraining (Devlin et al., 2018): predict tokens hidden from a bidirectional encoder.

Each batch is masked afresh. Training draws from the run's RNG (seeded, and restored on resume);
validation and testing draw from a generator reset to `EVAL_SEED` at each epoch's start, so that
every epoch, and every run, is scored on the same masks.
"""

import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric

from archtrain.errors import ArchtrainError
from archtrain.models.protocol import Head
from archtrain.tasks.base import Task

REPLACE_WITH_MASK = 0.8  # of the chosen tokens: [MASK]; then a random token; the rest stay as they are
REPLACE_WITH_RANDOM = 0.1
IGNORE = -100  # the target of every position that is not predicted
EVAL_SEED = 0


def mask_tokens(
    ids: torch.Tensor,
    mask_id: int,
    special_ids: torch.Tensor,
    regular_ids: torch.Tensor,
    generator: torch.Generator | None = None,
    rate: float = 0.15,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose each token that is not special with probability `rate`; replace a chosen token with
    [MASK] (80%), a random regular token (10%) or itself (10%). Returns the encoder's input and the
    targets: the original token where chosen, IGNORE elsewhere."""

    def uniform() -> torch.Tensor:
        return torch.rand(ids.shape, generator=generator, device=ids.device)

    chosen = (uniform() < rate) & ~torch.isin(ids, special_ids)
    action = uniform()
    random_tokens = regular_ids[torch.randint(len(regular_ids), ids.shape, generator=generator, device=ids.device)]
    inputs = torch.where(chosen & (action < REPLACE_WITH_MASK), mask_id, ids)
    to_random = chosen & (action >= REPLACE_WITH_MASK) & (action < REPLACE_WITH_MASK + REPLACE_WITH_RANDOM)
    inputs = torch.where(to_random, random_tokens, inputs)
    return inputs, torch.where(chosen, ids, IGNORE)


def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the chosen positions only (0 when a batch has none)."""
    total = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE, reduction="sum")
    return total / (targets != IGNORE).sum().clamp(min=1)


class MaskedLM(Task):
    """val/loss and val/acc are the cross-entropy and accuracy on the masked positions; `mask_rate` of
    the tokens are chosen for prediction."""

    monitor, mode = "val/loss", "min"
    requires, cross_entropy = ("vocab_size", "special"), True

    @classmethod
    def head(cls, spec):
        return Head(spec.vocab_size, per_step=True)

    def __init__(self, *args, mask_rate: float = 0.15, **kwargs):
        super().__init__(*args, **kwargs)
        if not 0 < mask_rate < 1:
            raise ArchtrainError(f"task.mask_rate={mask_rate}: must be between 0 and 1")
        self.mask_rate = mask_rate
        special = self.spec.special
        self.mask_id = special["mask"]
        regular = [i for i in range(self.spec.vocab_size) if i not in special.values()]
        self.register_buffer("special_ids", torch.tensor(sorted(special.values())), persistent=False)
        self.register_buffer("regular_ids", torch.tensor(regular), persistent=False)
        self.eval_generator: torch.Generator | None = None

    def masked(self, ids: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return mask_tokens(ids, self.mask_id, self.special_ids, self.regular_ids, generator, self.mask_rate)

    def loss(self, batch):
        inputs, targets = self.masked(batch[0])
        return masked_cross_entropy(self.net(inputs), targets)

    def make_metrics(self):
        return {"loss": MeanMetric(), "acc": MeanMetric()}

    def evaluate(self, batch, metrics):
        inputs, targets = self.masked(batch[0], self.eval_generator)
        chosen = targets != IGNORE
        logits, truth = self.net(inputs)[chosen], targets[chosen]
        metrics["loss"].update(F.cross_entropy(logits, truth, reduction="none"))
        metrics["acc"].update((logits.argmax(-1) == truth).float())

    def _reset_eval_generator(self) -> None:
        self.eval_generator = torch.Generator(device=self.device).manual_seed(EVAL_SEED)

    def on_validation_epoch_start(self) -> None:
        self._reset_eval_generator()

    def on_test_epoch_start(self) -> None:
        self._reset_eval_generator()
