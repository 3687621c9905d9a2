"""K-FAC (Martens & Grosse, 2015; Grosse & Martens, 2016 for convolutions): natural-gradient steps in which
each layer's Fisher block is approximated by the Kronecker product of two small matrices, A (second
moments of the layer's inputs) and G (of the gradients at its outputs).

No maintained K-FAC package is installed here, so this is a compact one for nn.Linear and nn.Conv2d
(ungrouped). Hooks collect the factors on every training forward and backward pass; each step folds
them into running averages, re-inverts the damped factors (by eigendecomposition) every
`inverse_every` steps, preconditions the gradients, scales the update so its predicted change
of the model's output distribution stays under `kl_clip`, and takes an SGD step with momentum. Other
parameters (norms, embeddings, grouped convolutions) take that SGD step on their plain gradient. It
uses the empirical Fisher: the gradients of the training loss, not of targets drawn from the model.
"""

import torch
import torch.nn.functional as F
from torch import nn


class KroneckerFactors:
    """One layer's running factors A and G, their eigendecompositions, and what this step collected."""

    def __init__(self, layer: nn.Module):
        self.layer, self.bias = layer, layer.bias is not None
        self.sums = {"A": None, "G": None}
        self.counts = {"A": 0, "G": 0}
        self.running: dict[str, torch.Tensor] = {}
        self.eigen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def add(self, name: str, rows: torch.Tensor) -> None:
        """Add the second moment of `rows` (samples, size) to this step's sum."""
        moment = rows.t() @ rows / len(rows)
        self.sums[name] = moment if self.sums[name] is None else self.sums[name] + moment
        self.counts[name] += 1

    def fold(self, decay: float) -> bool:
        """Fold this step's means into the running averages; False when the step collected none."""
        if not (self.counts["A"] and self.counts["G"]):
            return False
        for name in ("A", "G"):
            mean = self.sums[name] / self.counts[name]
            old = self.running.get(name)
            self.running[name] = mean if old is None else decay * old + (1 - decay) * mean
            self.sums[name], self.counts[name] = None, 0
        return True

    def invert(self) -> None:
        self.eigen = {name: torch.linalg.eigh(factor) for name, factor in self.running.items()}

    def gradient(self) -> torch.Tensor:
        """The weight's (and bias's) gradient as one (outputs, inputs [+1]) matrix."""
        weight = self.layer.weight.grad.flatten(1)
        return torch.cat([weight, self.layer.bias.grad.unsqueeze(1)], dim=1) if self.bias else weight

    def precondition(self, grad: torch.Tensor, damping: float) -> torch.Tensor:
        """(G ⊗ A + damping)^-1 applied to grad, in the eigenbases of G and A."""
        values_g, vectors_g = self.eigen["G"]
        values_a, vectors_a = self.eigen["A"]
        rotated = vectors_g.t() @ grad @ vectors_a
        rotated = rotated / (values_g.clamp(min=0).unsqueeze(1) * values_a.clamp(min=0).unsqueeze(0) + damping)
        return vectors_g @ rotated @ vectors_a.t()

    def unflatten(self, update: torch.Tensor) -> list[torch.Tensor]:
        """`update` split back into the layer's weight (and bias) shapes."""
        weight = self.layer.weight
        if self.bias:
            return [update[:, :-1].reshape(weight.shape), update[:, -1]]
        return [update.reshape(weight.shape)]


def layer_inputs(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The rows a layer multiplies by its weight: input vectors, or a convolution's unfolded patches."""
    if isinstance(layer, nn.Conv2d):
        patches = F.unfold(x, layer.kernel_size, layer.dilation, layer.padding, layer.stride)
        x = patches.transpose(1, 2)  # (batch, positions, C*k*k)
    rows = x.reshape(-1, x.shape[-1])
    if layer.bias is not None:
        rows = torch.cat([rows, rows.new_ones(len(rows), 1)], dim=1)
    return rows


def output_gradients(layer: nn.Module, grad: torch.Tensor) -> torch.Tensor:
    """Gradients at a layer's outputs as rows, scaled by the batch size to undo the loss's mean."""
    batch = len(grad)
    if isinstance(layer, nn.Conv2d):
        grad = grad.flatten(2).transpose(1, 2)  # (batch, positions, channels)
    return grad.reshape(-1, grad.shape[-1]) * batch


def preconditionable(module: nn.Module) -> bool:
    if isinstance(module, nn.Conv2d):
        return module.groups == 1 and module.weight.requires_grad and module.padding_mode == "zeros"
    return isinstance(module, nn.Linear) and module.weight.requires_grad


class KFAC(torch.optim.Optimizer):
    """K-FAC for the Linear and Conv2d layers of `net`, SGD with momentum for its other parameters."""

    takes_net = True  # built from the net itself, whose layers it hooks (training/optim.py)

    def __init__(
        self,
        net: nn.Module,
        lr: float = 0.05,
        momentum: float = 0.9,
        damping: float = 0.01,
        factor_decay: float = 0.95,
        inverse_every: int = 10,
        kl_clip: float = 0.001,
        weight_decay: float = 0.0,
    ):
        params = [p for p in net.parameters() if p.requires_grad]
        super().__init__(params, dict(lr=lr, momentum=momentum, damping=damping, weight_decay=weight_decay))
        self.factor_decay, self.inverse_every, self.kl_clip = factor_decay, inverse_every, kl_clip
        self.factors = [KroneckerFactors(m) for m in net.modules() if preconditionable(m)]
        self.steps = 0
        for factors in self.factors:
            factors.layer.register_forward_hook(self._collector(factors))

    @staticmethod
    def _collector(factors: KroneckerFactors):
        def collect(layer: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            if not (layer.training and torch.is_grad_enabled() and output.requires_grad):
                return
            with torch.no_grad():
                factors.add("A", layer_inputs(layer, inputs[0].detach()))

            def collect_gradient(grad: torch.Tensor) -> None:
                with torch.no_grad():
                    factors.add("G", output_gradients(layer, grad))

            output.register_hook(collect_gradient)

        return collect

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        group = self.param_groups[0]
        lr, damping = group["lr"], group["damping"]
        ready = [f for f in self.factors if f.fold(self.factor_decay) and f.layer.weight.grad is not None]
        if self.steps % self.inverse_every == 0 or any(not f.eigen for f in ready):
            for factors in ready:
                factors.invert()
        natural, inner = {}, 0.0
        for factors in ready:
            grad = factors.gradient()
            update = factors.precondition(grad, damping)
            natural[factors] = update
            inner += float((update * grad).sum()) * lr**2
        scale = min(1.0, (self.kl_clip / inner) ** 0.5) if inner > 0 else 1.0
        for factors, update in natural.items():
            params = [factors.layer.weight] + ([factors.layer.bias] if factors.bias else [])
            for param, piece in zip(params, factors.unflatten(update * scale)):
                param.grad.copy_(piece)
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                direction = param.grad.add(param, alpha=group["weight_decay"]) if group["weight_decay"] else param.grad
                if group["momentum"]:
                    buffer = self.state[param].get("momentum")
                    buffer = direction.clone() if buffer is None else buffer.mul_(group["momentum"]).add_(direction)
                    self.state[param]["momentum"] = buffer
                    direction = buffer
                param.add_(direction, alpha=-group["lr"])
        self.steps += 1
        return loss
