"""Feedback alignment (Lillicrap et al., 2016): errors travel backwards through fixed random matrices
instead of the transposed forward weights, and the forward weights still learn from them.

`transform=[feedback_alignment]` swaps every nn.Linear of the built net for a `FeedbackLinear` with
the same weights and a fixed random `feedback` buffer (kept in checkpoints). Each layer that sends
an error back records the angle between what it sends (e B) and what backpropagation would send
(e W): logged per epoch as train/feedback_angle.<layer>, in degrees; it shrinks as W comes to align
with B.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError
from archtrain.models.statistics import Tally


def angle_degrees(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The angle between two tensors read as flat vectors."""
    cosine = F.cosine_similarity(a.flatten(), b.flatten(), dim=0, eps=1e-12)
    return torch.rad2deg(torch.arccos(cosine.clamp(-1.0, 1.0)))


class FeedbackLinearFunction(torch.autograd.Function):
    """y = x W^T + b forwards; backwards the input's gradient is grad_y B (not grad_y W), while W and b
    get their true gradients."""

    @staticmethod
    def forward(ctx, x, weight, bias, feedback, layer):
        ctx.save_for_backward(x, weight, feedback)
        ctx.layer, ctx.has_bias = layer, bias is not None
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight, feedback = ctx.saved_tensors
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_output @ feedback
            ctx.layer.record_angle(grad_x, grad_output @ weight)
        rows_out, rows_in = grad_output.reshape(-1, grad_output.shape[-1]), x.reshape(-1, x.shape[-1])
        grad_weight = rows_out.T @ rows_in
        grad_bias = rows_out.sum(0) if ctx.has_bias else None
        return grad_x, grad_weight, grad_bias, None, None


class FeedbackLinear(nn.Linear):
    """A linear layer whose backward pass sends errors through a fixed random matrix `feedback`
    (drawn like the forward weights are, then never trained)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias)
        feedback = torch.empty_like(self.weight)
        nn.init.kaiming_uniform_(feedback, a=math.sqrt(5))
        self.register_buffer("feedback", feedback)
        self.tally, self.label = Tally(), "feedback_angle"

    @classmethod
    def replacing(cls, linear: nn.Linear, label: str) -> "FeedbackLinear":
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None).to(linear.weight.device)
        layer.load_state_dict({**linear.state_dict(), "feedback": layer.feedback})
        layer.label = label
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return FeedbackLinearFunction.apply(x, self.weight, self.bias, self.feedback, self)

    def record_angle(self, sent: torch.Tensor, backprop: torch.Tensor) -> None:
        self.tally.add(self.label, angle_degrees(sent, backprop), 1, training=True)

    def statistics(self, training: bool) -> dict[str, torch.Tensor]:
        return self.tally.pop(training)


@dataclass
class FeedbackAlignment:
    """The model transform: every nn.Linear of the net (or of the modules named in `modules`) becomes a
    FeedbackLinear with the same weights."""

    modules: list[str] | None = None
    name: str = "feedback_alignment"
    on_resume = True  # the swap happens again; the checkpoint restores the feedback matrices

    def __call__(self, net: nn.Module, spec: DataSpec) -> dict:
        children = dict(net.named_children())
        missing = [name for name in self.modules or [] if name not in children]
        if missing:
            raise ArchtrainError(
                f"transform.{self.name}.modules: the net has no module '{missing[0]}'; "
                f"its modules: {', '.join(children)}"
            )
        roots = [(name, children[name]) for name in self.modules] if self.modules else [("", net)]
        swapped = []
        for root_name, root in roots:
            for name, module in list(root.named_modules()):
                if type(module) is nn.Linear:
                    full = ".".join(part for part in (root_name, name) if part)
                    parent, _, child = full.rpartition(".")
                    setattr(
                        net.get_submodule(parent), child, FeedbackLinear.replacing(module, f"feedback_angle.{full}")
                    )
                    swapped.append(full)
        if not swapped:
            raise ArchtrainError(f"transform.{self.name}: the net has no linear layers to train by feedback alignment")
        return {"layers": swapped}
