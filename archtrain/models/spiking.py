"""Spiking neural network: leaky integrate-and-fire neurons (snntorch) trained with surrogate gradients
(Neftci, Mostafa & Zenke, 2019). snntorch is imported when a spiking net is built."""

import torch
from torch import nn

from archtrain.errors import ArchtrainError
from archtrain.models.protocol import Network
from archtrain.models.statistics import Tally

CODINGS = ("rate", "latency")


def snntorch():
    try:
        import snntorch
        import snntorch.spikegen  # noqa: F401  (the input encoders)
        import snntorch.surrogate  # noqa: F401
    except ImportError:
        raise ArchtrainError("model=snn needs snntorch: pip install snntorch") from None
    return snntorch


class SpikingNet(Network):
    """Inputs in [0, 1] (clamped) become spike trains of `time_steps` steps: with rate coding each
    value is a firing probability per step, with latency coding one spike whose time falls as the
    value grows. `depth` layers of `width` leaky integrate-and-fire neurons (membrane decay
    `membrane_decay`, threshold 1, reset by subtraction) follow each other; the features are the
    last layer's spike counts, and the head, a non-leaky integrator of those spikes, gives the logits.
    The spike's derivative is replaced by a fast sigmoid's of slope `surrogate_slope`. Spikes per
    example (all LIF neurons, summed over time) are logged as <stage>/spikes_per_example."""

    EVAL_SEED = 0

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        width: int = 128,
        depth: int = 1,
        time_steps: int = 25,
        coding: str = "rate",
        membrane_decay: float = 0.9,
        surrogate_slope: float = 25.0,
    ):
        super().__init__()
        if coding not in CODINGS:
            raise ArchtrainError(f"model.coding={coding}: choose from {', '.join(CODINGS)}")
        if depth < 1:
            raise ArchtrainError(f"model.depth={depth}: a spiking net needs at least one layer of LIF neurons")
        snn = snntorch()
        self.steps, self.coding = time_steps, coding
        sizes = [in_features] + [width] * depth
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        gradient = snn.surrogate.fast_sigmoid(slope=surrogate_slope)
        self.neurons = nn.ModuleList(snn.Leaky(beta=membrane_decay, spike_grad=gradient) for _ in self.layers)
        self.head = nn.Linear(sizes[-1], num_classes)
        self.tally = Tally()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(steps, batch, features) input spikes; in eval mode rate coding draws from a fixed seed, so that
        evaluation repeats exactly."""
        x = x.flatten(1).clamp(0, 1)
        spikegen = snntorch().spikegen
        if self.coding == "latency":
            return spikegen.latency(x, num_steps=self.steps, normalize=True, linear=True, clip=True)
        if self.training:
            return spikegen.rate(x, num_steps=self.steps)
        with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
            torch.manual_seed(self.EVAL_SEED)
            return spikegen.rate(x, num_steps=self.steps)

    def run(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input's spikes and every LIF layer's: each (steps, batch, neurons)."""
        inputs = self.encode(x)
        potentials = [neuron.init_leaky() for neuron in self.neurons]
        record = [[] for _ in self.layers]
        for spikes in inputs:
            for i, (layer, neuron) in enumerate(zip(self.layers, self.neurons)):
                spikes, potentials[i] = neuron(layer(spikes), potentials[i])
                record[i].append(spikes)
        trains = [inputs] + [torch.stack(spikes) for spikes in record]
        fired = sum(train.sum() for train in trains[1:])
        self.tally.add("spikes_per_example", fired, x.shape[0], self.training)
        return trains

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last LIF layer's spike counts."""
        return self.run(x)[-1].sum(0)

    def statistics(self, training: bool) -> dict[str, torch.Tensor]:
        return self.tally.pop(training)
