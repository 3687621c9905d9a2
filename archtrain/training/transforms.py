"""Model transforms: what happens to a built net before the task trains it, in the order listed.

`transform=[encoder,freeze]` starts from another run's encoder, then freezes it. A transform is a
callable `transform(net, spec) -> report` (a dict for the run's summary); those that load weights
are skipped on resume, when the run's own checkpoint restores every tensor.
"""

import logging
from dataclasses import dataclass

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf
from torch import nn

from archtrain.compression.prune import masked_weights
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError
from archtrain.runs import checkpoint_file, net_weights

log = logging.getLogger(__name__)


@dataclass
class LoadWeights:
    """Copy the net weights of a run (or .ckpt file) into the net: all of them, or with `only` the tensors
    of that module (an encoder), leaving the rest as initialized. Token ids mean nothing under another
    vocabulary, so for token data the checkpoint must carry the same vocabulary as this data."""

    path: str | None = None
    checkpoint: str = "best"
    only: str | None = None
    name: str = "weights"
    on_resume = False

    def __call__(self, net: nn.Module, spec: DataSpec) -> dict:
        where = f"transform.{self.name}"
        if not self.path:
            raise ArchtrainError(f"{where}.path: give the run directory or .ckpt file to start from")
        path = checkpoint_file(self.path, self.checkpoint, where)
        stored, vocab = net_weights(path, where)
        stored = masked_weights(stored, net.state_dict().keys())  # a pruned run's weights fit a plain net
        part = self.only or "net"
        prefix = f"{self.only}." if self.only else ""
        weights = {name: tensor for name, tensor in stored.items() if name.startswith(prefix)}
        if not weights:
            raise ArchtrainError(f"{where}: '{path}' holds no {part} weights (no tensors named {prefix}*)")
        tokens = spec.vocab_size is not None
        if tokens and vocab is None:
            raise ArchtrainError(
                f"{where}: '{path}' records no vocabulary, and this data is tokens; give a "
                f"checkpoint of a run on text data"
            )
        if tokens and tuple(vocab) != tuple(spec.vocab):
            raise ArchtrainError(
                f"{where}: '{path}' was trained on another vocabulary than this data's "
                f"({len(vocab)} tokens there, {len(spec.vocab)} here); train both on data "
                f"with the same vocabulary"
            )
        own = {name: tensor for name, tensor in net.state_dict().items() if name.startswith(prefix)}
        differences = [f"{name} is missing" for name in own.keys() - weights.keys()]
        differences += [f"{name} is not in this model" for name in weights.keys() - own.keys()]
        differences += [
            f"{name} has shape {tuple(weights[name].shape)} there, {tuple(tensor.shape)} here"
            for name, tensor in own.items()
            if name in weights and weights[name].shape != tensor.shape
        ]
        if differences:
            raise ArchtrainError(
                f"{where}: the {part} in '{path}' differs from this model's "
                f"({'; '.join(sorted(differences)[:3])}): weights of another shape or other "
                f"tensors; use the same model settings and data dimensions"
            )
        net.load_state_dict(weights, strict=not self.only)
        new = [name for name, _ in net.named_parameters() if not name.startswith(prefix)]
        log.info(
            "%s: loaded %d tensors from %s; newly initialized: %s",
            where,
            len(weights),
            path,
            ", ".join(new) or "nothing",
        )
        return {
            "checkpoint": str(path),
            "source_run": self.path,
            "loaded_tensors": len(weights),
            "loaded_parameters": sum(t.numel() for t in weights.values()),
            "new": new,
        }


@dataclass
class Freeze:
    """Stop the parameters of the named modules from learning; with no names, all but the head's."""

    modules: list[str] | None = None
    name: str = "freeze"
    on_resume = True

    def __call__(self, net: nn.Module, spec: DataSpec) -> dict:
        names = self.modules or [name for name, _ in net.named_children() if name != "head"]
        for name in names:
            try:
                module = net.get_submodule(name)
            except AttributeError:
                children = ", ".join(name for name, _ in net.named_children())
                raise ArchtrainError(
                    f"transform.{self.name}.modules: the net has no module '{name}'; its modules: {children}"
                ) from None
            module.requires_grad_(False)
        trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
        if not trainable:
            raise ArchtrainError(f"transform.{self.name}: every parameter is frozen; leave some module to train")
        return {"frozen": names, "trainable_parameters": trainable}


def apply_transforms(
    net: nn.Module, transforms: DictConfig | None, spec: DataSpec, resume: bool = False, applied: list | None = None
) -> dict:
    """Apply the `transform` node's transforms to `net` in their order; return each one's report (and
    append the transforms to `applied`). On resume only those that do not load weights apply (the
    checkpoint holds the weights)."""
    reports = {}
    for name, node in (transforms or {}).items():
        settings = OmegaConf.to_container(node, resolve=True)
        transform = get_class(settings.pop("_target_"))(**settings, name=name)
        if resume and not transform.on_resume:
            continue
        reports[name] = transform(net, spec)
        if applied is not None:
            applied.append(transform)
    return reports
