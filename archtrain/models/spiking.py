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
        import snntorch.spikegen      # noqa: F401  (the input encoders)
        import snntorch.surrogate     # noqa: F401
    except ImportError:
        raise ArchtrainError("model=snn needs snntorch: pip install snntorch") from None
    return snntorch


class SpikingNet(Network):
    """Inputs in [0, 1] (clamped) become spike trains of `time_steps` steps: with rate coding each
    value is a firing probability per step, with latency coding one spike whose time falls as the
    value grows. `depth` hidden layers of `width` LIF neurons (membrane decay `membrane_decay`, threshold 1,
    reset by subtraction) feed an output layer of LIF neurons; an example's logits are each output
    neuron's spike count. The spike's derivative is replaced by a fast sigmoid's of slope `surrogate_slope`.
    Spikes per example (hidden and output neurons, summed over time) are logged as
    <stage>/spikes_per_example."""

    def __init__(self, in_features: int, num_classes: int, width: int = 128, depth: int = 1, time_steps: int = 25,
                 coding: str = "rate", membrane_decay: float = 0.9, surrogate_slope: float = 25.0):
        super().__init__()
        if coding not in CODINGS:
            raise ArchtrainError(f"model.coding={coding}: choose from {', '.join(CODINGS)}")
        snn = snntorch()
        self.steps, self.coding = time_steps, coding
        sizes = [in_features] + [width] * depth
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.head = nn.Linear(sizes[-1], num_classes)
        gradient = snn.surrogate.fast_sigmoid(slope=surrogate_slope)
        self.neurons = nn.ModuleList(snn.Leaky(beta=membrane_decay, spike_grad=gradient) for _ in range(depth + 1))
        self.tally = Tally()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(steps, batch, features) input spikes."""
        x = x.flatten(1).clamp(0, 1)
        spikegen = snntorch().spikegen
        if self.coding == "rate":
            return spikegen.rate(x, num_steps=self.steps)
        return spikegen.latency(x, num_steps=self.steps, normalize=True, linear=True, clip=True)

    def run(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's spikes, input first: each (steps, batch, neurons)."""
        inputs = self.encode(x)
        layers = [*self.layers, self.head]
        potentials = [neuron.init_leaky() for neuron in self.neurons]
        record = [[] for _ in layers]
        for spikes in inputs:
            for i, (layer, neuron) in enumerate(zip(layers, self.neurons)):
                spikes, potentials[i] = neuron(layer(spikes), potentials[i])
                record[i].append(spikes)
        trains = [inputs] + [torch.stack(spikes) for spikes in record]
        fired = sum(train.sum() for train in trains[1:])
        self.tally.add("spikes_per_example", fired, x.shape[0], self.training)
        return trains

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer's firing rates."""
        return self.run(x)[-2].mean(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)[-1].sum(0)

    def statistics(self, training: bool) -> dict[str, torch.Tensor]:
        return self.tally.pop(training)
