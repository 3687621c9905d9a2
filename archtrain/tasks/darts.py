"""Differentiable architecture search (DARTS; Liu, Simonyan & Yang, 2019) as a bilevel problem, first-order:
each training batch steps the architecture weights on a validation batch, then the net's weights on the
training batch, each with its own optimizer (manual optimization). After testing, the derived cell (the
strongest operations of the best checkpoint) goes into genotype.yaml, summary.json and cell.png;
`model=darts_cell model.genotype=<this run>` trains it from scratch."""

from pathlib import Path

import torch
import torch.nn.functional as F
import yaml
from hydra.utils import get_class
from torch import nn

from archtrain.files import write_atomic
from archtrain.models.darts import DartsSearch
from archtrain.report.cells import draw_cell
from archtrain.tasks.base import RunningMean, manual_optimization_problems
from archtrain.tasks.classify import Classify
from archtrain.training.optim import build_optimizer


class ArchitectureSearch(Classify):
    """Classification whose net is a DARTS search net. The architecture weights take Adam steps of
    `arch_lr` with `arch_weight_decay` (the paper: 3e-4 and 1e-3 over 50 epochs) on random batches of the validation
    split, as large as the training batches (the first-order approximation: the weights are not unrolled);
    the other weights take the `optim` group's steps on the training split."""

    unused_parameters = True  # each backward pass reaches the alphas or is meant for the weights only

    @classmethod
    def problems(cls, cfg, spec):
        found = super().problems(cfg, spec)
        if not issubclass(get_class(cfg.model._target_), DartsSearch):
            found.append(
                f"task={cfg.task.name} searches the cell of model=darts_search, and model={cfg.model.name} has none"
            )
        return found + manual_optimization_problems(cfg)

    def __init__(
        self, net, spec, optim, scheduler=None, regularization=None, arch_lr: float = 3e-3, arch_weight_decay=1e-3
    ):
        super().__init__(net, spec, optim, scheduler, regularization)
        self.automatic_optimization = False
        self.arch_lr, self.arch_weight_decay = arch_lr, arch_weight_decay
        self.arch_loss = RunningMean()

    def configure_optimizers(self):
        reg = self.regularization
        weights = nn.ModuleList(module for name, module in self.net.named_children() if name != "architecture")
        return [
            build_optimizer(self.make_optimizer, weights, reg.weight_decay, reg.decay_norms_and_biases),
            torch.optim.Adam(
                self.net.architecture.parameters(),
                lr=self.arch_lr,
                betas=(0.5, 0.999),
                weight_decay=self.arch_weight_decay,
            ),
        ]

    def validation_batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`size` random examples of the validation split (drawn from the global RNG, which checkpoints keep)."""
        x, y = self.trainer.datamodule.splits["val"]
        index = torch.randint(len(x), (size,))
        return x[index].to(self.device), y[index].to(self.device)

    def training_step(self, batch, batch_idx):
        weight_optimizer, arch_optimizer = self.optimizers()
        x_val, y_val = self.validation_batch(len(batch[0]))
        arch_loss = F.cross_entropy(self.net(x_val), y_val)
        self._step(arch_optimizer, arch_loss, clip=False)
        self.arch_loss.add(arch_loss)
        loss = self.loss(batch)
        self._step(weight_optimizer, loss, clip=True)
        self.train_loss.add(loss)
        return {"loss": loss.detach() + arch_loss.detach()}  # DivergenceGuard's input

    def _step(self, optimizer, loss: torch.Tensor, clip: bool) -> None:
        optimizer.zero_grad()
        self.manual_backward(loss)
        reg = self.regularization
        if clip and reg.grad_clip_value:
            self.clip_gradients(
                optimizer, gradient_clip_val=reg.grad_clip_value, gradient_clip_algorithm=reg.grad_clip_algorithm
            )
        optimizer.step()

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        mean = self.arch_loss.pop()
        if mean is not None:
            self.log("train/arch_loss", mean, sync_dist=True)
        weights = self.net.cell_weights().detach()
        entropy = -(weights * weights.clamp_min(1e-12).log()).sum(-1).mean()
        self.log("train/arch_entropy", entropy)  # falls from log(operations) as the edges decide

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["arch_loss_so_far"] = self.arch_loss.state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        self.arch_loss.restore(checkpoint.get("arch_loss_so_far") or {})

    def searched(self) -> dict:
        """The derived cell and the softmax weights it came from, by edge."""
        weights = self.net.cell_weights().detach().cpu()
        return {
            "genotype": [[[name, source] for name, source in node] for node in self.net.derive()],
            "operations": list(self.net.operations),
            "architecture_weights": [[round(float(w), 4) for w in row] for row in weights],
        }

    def write_extras(self, run_dir: Path) -> list[Path]:
        files = super().write_extras(run_dir)
        genotype = run_dir / "genotype.yaml"
        write_atomic(genotype, yaml.safe_dump(self.searched(), default_flow_style=None, sort_keys=False))
        picture = draw_cell(self.net.derive(), run_dir / "cell.png", "DARTS cell (derived from the search)")
        return [*files, genotype, picture]

    def test_report(self) -> dict:
        return {**super().test_report(), "genotype": self.searched()["genotype"]}
