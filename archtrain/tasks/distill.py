"""Knowledge distillation (Hinton, Vinyals & Dean, 2015): a student classifier learns from the labels and
from a trained teacher run's soft targets, its class probabilities at a raised temperature.

The teacher is loaded from its run directory when fitting starts, frozen and in eval mode; it is not part
of the student's module tree, so the student's checkpoints hold only the student (and resume reloads the
teacher from its run). Validation and test score the student alone, as a classifier."""

import logging

import torch
import torch.nn.functional as F

from archtrain.errors import ArchtrainError
from archtrain.tasks.base import RunningMean
from archtrain.tasks.classify import Classify

log = logging.getLogger(__name__)
CHECKPOINTS = ("best", "last")  # the checkpoints of the teacher's run that can teach


def soft_target_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) of the temperature-softened distributions, times temperature squared so that
    its gradients keep their size as the temperature changes (Hinton et al., 2015), per example."""
    return (
        F.kl_div(
            F.log_softmax(student / temperature, -1),
            F.log_softmax(teacher / temperature, -1),
            log_target=True,
            reduction="batchmean",
        )
        * temperature**2
    )


class Distill(Classify):
    """`teacher`: a classification run of data like this (same inputs and classes); `temperature` softens
    both distributions; `soft_weight` weighs the soft-target loss against the labels' cross-entropy
    (1: the teacher only, 0: the labels only). train/soft_loss and train/hard_loss are logged per epoch."""

    @classmethod
    def problems(cls, cfg, spec):
        found = super().problems(cfg, spec)
        if not cfg.task.teacher:
            found.append("task.teacher: give the run directory of a trained classifier of this data")
        if cfg.task.get("teacher_checkpoint", "best") not in CHECKPOINTS:
            found.append(f"task.teacher_checkpoint={cfg.task.teacher_checkpoint}: choose from {', '.join(CHECKPOINTS)}")
        found += [
            f"regularizer={key} mixes labels, which the teacher's soft targets do not follow; task=distill "
            f"takes regularizer=augment"
            for key in ("mixup", "cutmix")
            if key in (cfg.get("regularizer") or {})
        ]
        return found

    def __init__(
        self,
        net,
        spec,
        optim,
        scheduler=None,
        regularization=None,
        teacher: str | None = None,
        teacher_checkpoint: str = "best",
        temperature: float = 4.0,
        soft_weight: float = 0.9,
    ):
        super().__init__(net, spec, optim, scheduler, regularization)
        self.source_run, self.teacher_checkpoint = teacher, teacher_checkpoint
        self.temperature, self.soft_weight = temperature, soft_weight
        self.soft_loss, self.hard_loss = RunningMean(), RunningMean()
        self.__dict__["teacher"] = None  # outside the module tree: never in the student's state_dict

    def on_fit_start(self) -> None:
        if self.teacher is None:
            self.__dict__["teacher"] = self.load_teacher()
        self.teacher.to(self.device)

    def load_teacher(self) -> torch.nn.Module:
        """The teacher run's net, frozen, refused in one line where it does not fit this data."""
        from archtrain.verbs.runs import load_parts

        where = f"task.teacher={self.source_run}"
        try:
            parts = load_parts(self.source_run, self.teacher_checkpoint)
        except ArchtrainError as err:
            raise ArchtrainError(f"{where}: {err}") from None
        teacher_spec, name = parts.data.spec, parts.cfg.data.name
        if not isinstance(parts.task, Classify):
            raise ArchtrainError(
                f"{where}: a teacher is a classification run, and that run is task={parts.cfg.task.name}"
            )
        ours, theirs = self.spec.dimensions(), teacher_spec.dimensions()
        if ours != theirs or tuple(teacher_spec.vocab) != tuple(self.spec.vocab):
            raise ArchtrainError(
                f"{where}: the teacher was trained on data={name} ({describe(theirs)}), which does not fit "
                f"this data ({describe(ours)}); distill from a run on data with the same inputs and classes"
            )
        if parts.data.seed != self.trainer.datamodule.seed:
            log.warning(
                "%s: the teacher's data was split with seed %s and this run's with seed %s: the teacher may "
                "have trained on this run's validation and test examples",
                where,
                parts.data.seed,
                self.trainer.datamodule.seed,
            )
        net = parts.net.eval().requires_grad_(False)
        log.info("%s: distilling from model=%s on data=%s", where, parts.cfg.model.name, name)
        return net

    def loss(self, batch):
        x, y = batch
        if self.regularization.augment:
            x = self.regularization.augment(x)
        logits = self.net(x)
        with torch.no_grad():
            targets = self.teacher(x)
        hard = F.cross_entropy(logits, y, label_smoothing=self.regularization.label_smoothing)
        soft = soft_target_loss(logits, targets, self.temperature)
        self.hard_loss.add(hard)
        self.soft_loss.add(soft)
        return (1 - self.soft_weight) * hard + self.soft_weight * soft

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        for name, mean in (("soft_loss", self.soft_loss.pop()), ("hard_loss", self.hard_loss.pop())):
            if mean is not None:
                self.log(f"train/{name}", mean, sync_dist=True)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["distill_losses_so_far"] = {"soft": self.soft_loss.state(), "hard": self.hard_loss.state()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        saved = checkpoint.get("distill_losses_so_far") or {}
        self.soft_loss.restore(saved.get("soft") or {})
        self.hard_loss.restore(saved.get("hard") or {})

    def test_report(self) -> dict:
        return {**super().test_report(), "source_run": self.source_run}


def describe(dimensions: dict) -> str:
    return ", ".join(f"{name} {value}" for name, value in dimensions.items())
