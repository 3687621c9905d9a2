"""LoRA (Hu et al., 2022) through peft: low-rank adapters beside chosen layers of a built net, which alone
train; `merge_adapters` folds them back into plain layers (a run loaded as a model, an export).

`transform=[weights,lora]` loads a pretrained run's net, then adapts it. peft adapts nn.Linear, nn.Conv1d/2d/3d,
nn.Embedding and nn.MultiheadAttention; the zoo's recurrent layers (nn.RNN, nn.LSTM, nn.GRU) and snntorch's
neurons are none of these, so a recurrent net adapts only its linear layers."""

import logging
from dataclasses import dataclass

from torch import nn

from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError
from archtrain.models.blocks import Attention

log = logging.getLogger(__name__)
ADAPTER_PREFIX = "lora_"  # peft's name for the adapters' parameters
CROSS_INPUT = "cross_attn.in_proj"  # reads its weight's slices with F.linear, which an adapter cannot see


def default_targets(net: nn.Module) -> list[str]:
    """The attention projections where the net has the zoo's attention (GPT, BERT, ViT, the Transformer: the
    LoRA paper's choice), else every linear layer outside the head (an MLP's hidden layers). A
    cross-attention's input projection is left out: it slices its weight by hand, past an adapter."""
    attention = [
        f"{name}.{part}"
        for name, module in net.named_modules()
        if isinstance(module, Attention)
        for part in ("in_proj", "out")
        if not f"{name}.{part}".endswith(CROSS_INPUT)
    ]
    return attention or [
        name
        for name, module in net.named_modules()
        if isinstance(module, nn.Linear) and name != "head" and not name.startswith("head.")
    ]


@dataclass
class LoRA:
    """Adapters of rank `rank` scaled by `alpha / rank` on the `target_modules` (names, or name endings, of
    layers; null: `default_targets`); every other parameter stops learning, except those whose names contain
    a part in `also_train` (e.g. the layer norms and biases, a few hundred parameters a layer). On resume the
    adapters are made again and the checkpoint restores them."""

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    target_modules: list[str] | None = None
    also_train: list[str] | None = None  # parts of parameter names that train too, e.g. [norm, bias]
    source_run: str | None = None  # the pretrained run, for the report
    name: str = "lora"
    on_resume = True

    def __call__(self, net: nn.Module, spec: DataSpec) -> dict:
        from peft import LoraConfig, inject_adapter_in_model

        where = f"transform.{self.name}"
        if not (isinstance(self.rank, int) and self.rank >= 1):
            raise ArchtrainError(f"{where}.rank={self.rank}: must be an integer of at least 1")
        if not 0 <= self.dropout < 1:
            raise ArchtrainError(f"{where}.dropout={self.dropout}: must be in [0, 1)")
        targets = list(self.target_modules or default_targets(net))
        if not targets:
            raise ArchtrainError(
                f"{where}: the net has no linear layer outside its head; name the layers to adapt in "
                f"{where}.target_modules (e.g. convolutions)"
            )
        config = LoraConfig(r=self.rank, lora_alpha=self.alpha, lora_dropout=self.dropout, target_modules=targets)
        try:
            inject_adapter_in_model(config, net)
        except ValueError as err:  # peft's word for a name that matches nothing or a layer it cannot adapt
            raise ArchtrainError(f"{where}.target_modules: {first_line(err)}") from None
        for layer, others in tied_layers(net):
            raise ArchtrainError(
                f"{where}.target_modules: {layer} shares its weight with {others} (tied weights), which its "
                f"adapter, merged, would change too; adapt other layers"
            )
        also = list(self.also_train or [])
        unmatched = [part for part in also if not any(part in name for name, _ in net.named_parameters())]
        if unmatched:
            raise ArchtrainError(f"{where}.also_train: no parameter name contains {', '.join(unmatched)}")
        for parameter_name, parameter in net.named_parameters():
            parameter.requires_grad_(any(part in parameter_name for part in [ADAPTER_PREFIX, *also]))
        adapted = sorted(name for name, module in net.named_modules() if is_adapted(module))
        if any(name.endswith(CROSS_INPUT) for name in adapted):
            raise ArchtrainError(
                f"{where}.target_modules: a name matched {CROSS_INPUT}, which computes with slices of its "
                f"weight that an adapter beside it cannot change; name the layers to adapt in full"
            )
        trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
        total = sum(p.numel() for p in net.parameters())
        log.info(
            "%s: rank %d adapters on %d layers; %d of %d parameters train",
            where,
            self.rank,
            len(adapted),
            trainable,
            total,
        )
        return {
            "adapted": adapted,
            "trainable_parameters": trainable,
            "trainable_fraction": round(trainable / total, 5),
            "source_run": self.source_run,
        }


def tied_layers(net: nn.Module) -> list[tuple[str, str]]:
    """(adapted layer, the other parameter names) for each adapted layer whose weight is shared (GPT's
    token embedding is its head's weight)."""
    names: dict[int, list[str]] = {}
    for name, parameter in net.named_parameters(remove_duplicate=False):
        names.setdefault(id(parameter), []).append(name)
    found = []
    for layer in (name for name, module in net.named_modules() if is_adapted(module)):
        weight = f"{layer}.base_layer.weight"
        for shared in names.values():
            if weight in shared and len(shared) > 1:
                found.append((layer, ", ".join(name for name in shared if name != weight)))
    return found


def is_adapted(module: nn.Module) -> bool:
    """A peft layer: a base layer with adapters beside it."""
    return type(module).__module__.startswith("peft.") and hasattr(module, "get_base_layer")


def merge_adapters(net: nn.Module) -> int:
    """Fold every peft adapter into its base layer and put the plain layer back in its place (peft's
    merge); return how many layers were merged. A net without adapters is left as it is."""
    adapted = [name for name, module in net.named_modules() if is_adapted(module)]
    for name in adapted:
        layer = net.get_submodule(name)
        layer.merge()
        parent, _, child = name.rpartition(".")
        setattr(net.get_submodule(parent) if parent else net, child, layer.get_base_layer())
    return len(adapted)


def first_line(err: Exception) -> str:
    return next(iter(str(err).strip().splitlines()), type(err).__name__)
