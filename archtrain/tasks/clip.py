"""Contrastive image-text training (CLIP; Radford et al., 2021): in each batch, every image's caption
must be picked out among the batch's captions and every caption's image among its images, by a
symmetric cross-entropy over scaled cosine similarities (InfoNCE) with a learned temperature.
Zero-shot classification embeds one prompt per class ("a red circle") and picks the nearest."""

from pathlib import Path

import torch
import torch.nn.functional as F
from hydra.utils import get_class
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from archtrain.models.clip import CLIP
from archtrain.report.similarity import plot_similarity
from archtrain.tasks.base import Task

SIMILARITY_EXAMPLES = 12  # the test images (one per class) in similarity.png


def contrastive_loss(logits: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE over (images x captions) `logits`. A batch may hold one caption several times;
    each image's target is then spread over every copy of its caption (and each caption's over their images)."""
    same = (captions[:, None, :] == captions[None, :, :]).all(-1).float()
    targets = same / same.sum(1, keepdim=True)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


class ContrastiveImageText(Task):
    """Batches of (images, caption tokens, classes). Validation and test score the loss and zero-shot
    accuracy by the data's class prompts (which picks the best checkpoint); the test also scores the
    classes held out of training apart from the seen ones, and draws the similarity matrix."""

    monitor, mode = "val/zero_shot_acc", "max"
    requires = ("prompts",)

    @classmethod
    def problems(cls, cfg, spec):
        found = super().problems(cfg, spec)
        if not issubclass(get_class(cfg.model._target_), CLIP):
            found.append(
                f"task={cfg.task.name} trains an image encoder and a text encoder together, "
                f"and model={cfg.model.name} is not one (use model=clip)"
            )
        return found

    def __init__(self, net, spec, optim, scheduler=None, regularization=None):
        super().__init__(net, spec, optim, scheduler, regularization)
        self.register_buffer("prompts", torch.tensor(spec.prompts, dtype=torch.long), persistent=False)
        self.register_buffer("held_out", torch.tensor(spec.held_out, dtype=torch.long), persistent=False)
        self.by_group = torch.nn.ModuleDict({"seen_acc": MeanMetric(), "held_out_acc": MeanMetric()})
        self.group_results: dict = {}

    def loss(self, batch):
        images, captions, _ = batch
        return contrastive_loss(self.net(images, captions), captions)

    def make_metrics(self):
        return {"loss": MeanMetric(), "zero_shot_acc": MulticlassAccuracy(self.spec.num_classes, average="micro")}

    def zero_shot(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits: each image's similarity to every class prompt."""
        return self.net.encode_image(images) @ self.net.encode_text(self.prompts).T

    def evaluate(self, batch, metrics):
        images, captions, labels = batch
        metrics["loss"].update(self.loss(batch), weight=len(labels))
        predicted = self.zero_shot(images).argmax(-1)
        metrics["zero_shot_acc"].update(predicted, labels)
        return predicted, labels

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self.log("train/temperature", 1 / self.net.logit_scale().detach())

    def test_step(self, batch, batch_idx):
        predicted, labels = self.evaluate(batch, self.metrics["test"])
        correct = (predicted == labels).float()
        unseen = torch.isin(labels, self.held_out)
        for name, mask in (("seen_acc", ~unseen), ("held_out_acc", unseen)):
            if mask.any():
                self.by_group[name].update(correct[mask])

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        self.group_results = {}
        for name, metric in self.by_group.items():
            if metric.update_count:
                self.group_results[name] = round(float(metric.compute()), 4)
            metric.reset()
        if self.group_results:
            self.log_dict({f"test/{name}": value for name, value in self.group_results.items()})

    def caption(self, tokens: torch.Tensor) -> str:
        return " ".join(self.spec.vocab[int(t)] for t in tokens if int(t) != self.spec.special.get("pad", 0))

    def shown(self) -> tuple[torch.Tensor, ...]:
        """The first test example of each class, held-out classes first, up to SIMILARITY_EXAMPLES."""
        images, captions, labels = self.trainer.datamodule.splits["test"]
        first = {}
        for i, label in enumerate(labels.tolist()):
            first.setdefault(label, i)
        classes = sorted(first, key=lambda c: (c not in self.spec.held_out, c))[:SIMILARITY_EXAMPLES]
        index = torch.tensor([first[c] for c in classes])
        return images[index].to(self.device), captions[index].to(self.device), labels[index]

    def write_extras(self, run_dir: Path) -> list[Path]:
        images, captions, labels = self.shown()
        with torch.no_grad():
            similarity = self.net.encode_text(captions) @ self.net.encode_image(images).T
        names = [
            self.caption(c) + (" (held out)" if int(label) in self.spec.held_out else "")
            for c, label in zip(captions, labels)
        ]
        title = "test image-caption cosine similarity (diagonal: each image's own caption)"
        return [plot_similarity(similarity, images, names, run_dir / "similarity.png", title)]

    def test_report(self) -> dict:
        held_out = [" ".join(self.caption(self.prompts[c]).split()[1:]) for c in self.spec.held_out]
        return {"zero_shot": {**self.group_results, "held_out_classes": held_out}}
