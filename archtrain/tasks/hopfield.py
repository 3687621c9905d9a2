"""Associative memory (Hopfield, 1982): store the training patterns without gradients, then recall
each from a probe with some of its bits flipped."""

import torch
from hydra.utils import get_class
from torchmetrics import MeanMetric

from archtrain.data.patterns import RandomPatterns
from archtrain.models.hopfield import AssociativeMemory
from archtrain.tasks.base import SeededScoring, Task


def signs(x: torch.Tensor) -> torch.Tensor:
    """Inputs in [0, 1] as +-1 states: above one half is +1."""
    return torch.where(x.flatten(1) > 0.5, 1.0, -1.0).to(x.dtype)


def corrupt(states: torch.Tensor, fraction: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """`states` with round(fraction x units) of each row's units, chosen at random, flipped."""
    units = states.shape[1]
    scores = torch.rand(states.shape, generator=generator, device=states.device)
    flips = scores.argsort(1)[:, : round(fraction * units)]
    return states.scatter(1, flips, -states.gather(1, flips))


class Hopfield(SeededScoring, Task):
    """The first epoch stores every training pattern (Hebb's rule for the classical network, a memory
    slot each for the modern one); later epochs change nothing. Validation and test flip
    `flip_fraction` of each pattern's bits (the same bits every epoch) and let the network settle for
    `recall_sweeps` sweeps: val/recall and test/recall are the share of patterns recalled exactly
    (which picks the best checkpoint), overlap the mean s.xi/N between recalled and stored states
    (1 for a perfect recall, about 0 for chance). train/loss is the mean energy per unit of the
    stored patterns, once stored."""

    monitor, mode = "val/recall", "max"
    automatic_optimization = False

    @classmethod
    def problems(cls, cfg, spec):
        found = super().problems(cfg, spec)
        if not issubclass(get_class(cfg.model._target_), AssociativeMemory):
            found.append(
                f"task={cfg.task.name} stores and recalls patterns, and model={cfg.model.name} is no "
                f"associative memory (use model=hopfield or model=modern_hopfield)"
            )
        if cfg.trainer.accumulate_grad_batches > 1:
            found.append(
                f"task={cfg.task.name} stores patterns without gradients; there is nothing to accumulate "
                f"(drop regularizer=accumulate or trainer.accumulate_grad_batches)"
            )
        found += [
            f"regularizer={key} acts on gradients or weights being fitted; task={cfg.task.name} stores "
            f"patterns without either"
            for key in (cfg.get("regularizer") or {})
            if key != "early_stopping"
        ]
        if not issubclass(get_class(cfg.data._target_), RandomPatterns):
            found.append(
                f"task={cfg.task.name} recalls the patterns it stored, and data={cfg.data.name} holds "
                f"other examples in val and test (use data=patterns)"
            )
        return found

    def __init__(
        self, net, spec, optim, scheduler=None, regularization=None, flip_fraction: float = 0.2, recall_sweeps: int = 5
    ):
        super().__init__(net, spec, optim, scheduler, regularization)
        self.flip_fraction, self.recall_sweeps = flip_fraction, recall_sweeps

    def configure_optimizers(self):
        return None  # Hebbian storage: no gradients, no optimizer

    def training_step(self, batch, batch_idx):
        patterns, index = signs(batch[0]), batch[1]
        if self.current_epoch == 0:
            self.net.store(patterns, index)
        energy = self.net.energy(patterns).mean() / patterns.shape[1]
        self.train_loss.add(energy)
        self._count_step()
        return {"loss": energy}

    def _count_step(self) -> None:
        """Count the batch as a step, as an optimizer step would be: trainer.global_step (which paces
        checkpoints and max_steps) counts optimizer steps, and storage takes none."""
        progress = self.trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
        progress.increment_ready()
        progress.increment_completed()

    def make_metrics(self):
        return {"recall": MeanMetric(), "overlap": MeanMetric()}

    def evaluate(self, batch, metrics):
        stored = signs(batch[0])
        probes = corrupt(stored, self.flip_fraction, self.scoring_noise)
        recalled = self.net.recall(probes, self.recall_sweeps, self.scoring_noise)
        metrics["recall"].update((recalled == stored).all(1).float())
        metrics["overlap"].update((recalled * stored).mean(1))
