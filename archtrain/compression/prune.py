"""Magnitude pruning through torch.nn.utils.prune: one-shot, gradual, or iterative with weight rewinding.

`transform=[prune]` (after `weights`, to prune a trained run) masks the weights of the net's linear and
convolutional layers. `pruning` says when:

    oneshot   to `amount` at once, before training (fine-tuning follows)
    gradual   from 0 at `start_epoch` to `amount` at `end_epoch` (Zhu & Gupta's cubic schedule)
    lottery   iterative magnitude pruning with rewinding (Frankle & Carbin, 2019): trainer.max_epochs is
              cut into rounds + 1 equal rounds; after each round the smallest surviving weights go (so
              that `amount` of them are gone after the last), the rest return to their values at
              `rewind_epoch` and the optimizer forgets its state

`mask_from=<run>` takes the masks of another pruned run instead and keeps this net's own (fresh)
weights: the lottery ticket's control. After training the masks are made permanent (prune.remove):
model.pt holds plain tensors with zeros.
"""

from dataclasses import dataclass

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn.utils import prune

from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError
from archtrain.runs import checkpoint_file, net_weights

PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
PRUNINGS = ("oneshot", "gradual", "lottery")
STRUCTURES = ("unstructured", "channels")
SCOPES = ("global", "layer")


def prunable(net: nn.Module, roots: list[str] | None, where: str) -> list[tuple[str, nn.Module]]:
    """The linear and convolutional layers of the net, or of the modules named in `roots`."""
    children = dict(net.named_children())
    missing = [name for name in roots or [] if name not in children]
    if missing:
        raise ArchtrainError(
            f"{where}.modules: the net has no module '{missing[0]}'; its modules: {', '.join(children)}"
        )
    found = [
        (name, module)
        for name, module in net.named_modules()
        if isinstance(module, PRUNABLE) and (not roots or name.split(".", 1)[0] in roots)
    ]
    if not found:
        raise ArchtrainError(f"{where}: the net has no linear or convolutional layers to prune")
    return found


def masked_weights(stored: dict, wanted) -> dict:
    """A pruned checkpoint's tensors for a plain net: each weight_orig times its weight_mask becomes the
    weight that `wanted` (the net's tensor names) asks for."""
    found = dict(stored)
    for name in stored:
        base = name.removesuffix("_mask")
        if name.endswith("_mask") and base in wanted and f"{base}_orig" in stored and base not in stored:
            found[base] = found.pop(f"{base}_orig") * found.pop(name)
    return found


def sparsity(layers: list[tuple[str, nn.Module]]) -> float:
    """The share of the layers' weights that are zero."""
    zeros = sum(int((module.weight == 0).sum()) for _, module in layers)
    return zeros / sum(module.weight.numel() for _, module in layers)


@dataclass
class Prune:
    """The model transform; see the module's docstring for the knobs."""

    amount: float = 0.9
    structure: str = "unstructured"
    scope: str = "global"
    pruning: str = "oneshot"
    start_epoch: int = 0
    end_epoch: int = 10
    rounds: int = 3
    rewind_epoch: int = 0
    mask_from: str | None = None
    modules: list[str] | None = None
    name: str = "prune"
    on_resume = True  # the masks' structure comes back; the checkpoint restores their values

    def __post_init__(self):
        where = f"transform.{self.name}"
        if self.structure == "channels" and self.scope == "global":
            raise ArchtrainError(
                f"{where}: structure=channels prunes each layer's own output channels; set scope=layer"
            )
        if self.pruning == "gradual" and self.end_epoch <= self.start_epoch:
            raise ArchtrainError(f"{where}: end_epoch={self.end_epoch} must come after start_epoch={self.start_epoch}")
        if self.mask_from and self.pruning != "oneshot":
            raise ArchtrainError(f"{where}.mask_from: the masks of another run apply at once; use pruning=oneshot")

    def __call__(self, net: nn.Module, spec: DataSpec) -> dict:
        self.layers = prunable(net, self.modules, f"transform.{self.name}")
        if self.mask_from:
            self.copy_masks()
        else:
            self.prune_to(self.amount if self.pruning == "oneshot" else 0.0)
        return {
            "pruning": self.pruning,
            "structure": self.structure,
            "layers": [name for name, _ in self.layers],
            "sparsity": round(sparsity(self.layers), 4),
            **({"source_run": self.mask_from, "mask_from": self.mask_from} if self.mask_from else {}),
        }

    def prune_to(self, target: float) -> None:
        """Prune more of the layers' weights (or channels), by magnitude, until `target` of them are gone."""
        if self.structure == "channels":
            for _, module in self.layers:
                channels = module.weight.shape[0]
                gone = int((module.weight.flatten(1).abs().sum(1) == 0).sum()) if prune.is_pruned(module) else 0
                prune.ln_structured(module, "weight", amount=max(round(target * channels) - gone, 0), n=1, dim=0)
        elif self.scope == "global":
            total = sum(module.weight.numel() for _, module in self.layers)
            gone = round(sparsity(self.layers) * total) if prune.is_pruned(self.layers[0][1]) else 0
            parameters = [(module, "weight") for _, module in self.layers]
            prune.global_unstructured(parameters, prune.L1Unstructured, amount=max(round(target * total) - gone, 0))
        else:
            for _, module in self.layers:
                gone = int((module.weight == 0).sum()) if prune.is_pruned(module) else 0
                prune.l1_unstructured(module, "weight", amount=max(round(target * module.weight.numel()) - gone, 0))

    def copy_masks(self) -> None:
        """The masks of the run `mask_from` (its weight_mask tensors, else where its weights are zero)."""
        where = f"transform.{self.name}.mask_from"
        stored, _ = net_weights(checkpoint_file(self.mask_from, "best", where), where)
        for name, module in self.layers:
            mask = stored.get(f"{name}.weight_mask")
            if mask is None and f"{name}.weight" in stored:
                mask = (stored[f"{name}.weight"] != 0).float()
            if mask is None or mask.shape != module.weight.shape:
                raise ArchtrainError(
                    f"{where}: '{self.mask_from}' has no mask that fits layer {name}; use a run of this model"
                )
            prune.custom_from_mask(module, "weight", mask)

    def callbacks(self) -> list[pl.Callback]:
        if self.pruning == "gradual":
            return [GradualPruning(self)]
        if self.pruning == "lottery":
            return [LotteryRounds(self)]
        return [SparsityLog(self)]

    def finish(self, net: nn.Module, data) -> dict:
        """Make the masks permanent: each weight becomes a plain tensor with zeros."""
        left = sparsity(self.layers)
        self.restore(net)
        return {"sparsity": round(left, 4)}

    def restore(self, net: nn.Module) -> None:
        for _, module in self.layers:
            prune.remove(module, "weight")


class SparsityLog(pl.Callback):
    """Logs train/sparsity (the share of the pruned layers' weights that are zero) at every epoch's end."""

    def __init__(self, pruning: Prune):
        self.pruning = pruning

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        pl_module.log("train/sparsity", sparsity(self.pruning.layers))


class GradualPruning(SparsityLog):
    """At each epoch's start from start_epoch to end_epoch, prune to amount * (1 - (1 - progress)^3)."""

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        p = self.pruning
        progress = min(max((trainer.current_epoch - p.start_epoch) / (p.end_epoch - p.start_epoch), 0.0), 1.0)
        if trainer.current_epoch >= p.start_epoch:
            p.prune_to(p.amount * (1 - (1 - progress) ** 3))


class LotteryRounds(SparsityLog):
    """Iterative magnitude pruning with rewinding: the weights at rewind_epoch are kept; at each round's
    start the smallest surviving weights go, the others rewind, the optimizer and the best checkpoint
    start over (so that best.ckpt is a checkpoint of the last, sparsest round)."""

    def __init__(self, pruning: Prune):
        super().__init__(pruning)
        self.rewind: dict[str, torch.Tensor] = {}

    def setup(self, trainer, pl_module, stage: str) -> None:
        p, epochs = self.pruning, trainer.max_epochs
        if epochs is None or epochs < 1 or epochs % (p.rounds + 1):
            raise ArchtrainError(
                f"transform.{p.name}: pruning=lottery trains rounds + 1 = {p.rounds + 1} rounds of equal length; "
                f"set trainer.max_epochs to a multiple of {p.rounds + 1} (it is {epochs})"
            )
        self.round_epochs = epochs // (p.rounds + 1)
        if p.rewind_epoch >= self.round_epochs:
            raise ArchtrainError(
                f"transform.{p.name}.rewind_epoch={p.rewind_epoch}: rewind to an epoch of the first round "
                f"(below {self.round_epochs})"
            )

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        p, epoch = self.pruning, trainer.current_epoch
        if epoch == p.rewind_epoch:
            self.rewind = {name: t.detach().clone() for name, t in pl_module.net.named_parameters()}
        if epoch and epoch % self.round_epochs == 0:
            done = epoch // self.round_epochs
            p.prune_to(1 - (1 - p.amount) ** (done / p.rounds))
            with torch.no_grad():
                for name, parameter in pl_module.net.named_parameters():
                    parameter.copy_(self.rewind[name])
            for optimizer in trainer.optimizers:
                optimizer.state.clear()
            for checkpoint in trainer.checkpoint_callbacks:
                if getattr(checkpoint, "monitor", None):  # ModelCheckpoint by a metric (not last.ckpt)
                    checkpoint.best_k_models, checkpoint.kth_best_model_path = {}, ""
                    checkpoint.best_model_score, checkpoint.best_model_path = None, ""
                    checkpoint.kth_value = torch.tensor(float("inf") if checkpoint.mode == "min" else float("-inf"))

    def state_dict(self) -> dict:
        return {"rewind": self.rewind}

    def load_state_dict(self, state: dict) -> None:
        self.rewind = state.get("rewind", {})
