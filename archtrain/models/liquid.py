"""Closed-form continuous-time (CfC) networks (Hasani et al., 2022), the closed-form solution of liquid
time-constant cells (Hasani et al., 2021), through ncps: each step's update is gated by how much time
has passed since the previous one, so a series sampled at irregular times is read in its own time."""

import torch
from torch import nn

from archtrain.errors import ArchtrainError
from archtrain.models.protocol import Network

MODES = ("default", "pure", "no_gate")  # ncps' CfC variants: gated, the pure closed form, without the gate


class CfCNet(Network):
    """A CfC cell (ncps.torch.CfCCell) run over (batch, time, in_features) series. On data whose last
    feature is the time since the previous sample (`time_gaps`), that feature is the cell's timespan, not
    an input; otherwise every step spans one unit. With `per_step` it gives outputs at every step."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        units: int = 32,
        mode: str = "default",
        backbone_units: int = 64,
        backbone_layers: int = 1,
        dropout: float = 0.0,
        per_step: bool = False,
        time_gaps: bool = False,
    ):
        super().__init__()
        from ncps.torch import CfCCell  # the liquid-network extra, loaded only by this model

        if mode not in MODES:
            raise ArchtrainError(f"model.mode={mode}: choose from {', '.join(MODES)}")
        self.per_step, self.time_gaps, self.units = per_step, bool(time_gaps), units
        self.cell = CfCCell(
            in_features - self.time_gaps,
            units,
            mode=mode,
            backbone_units=backbone_units,
            backbone_layers=backbone_layers,
            backbone_dropout=dropout,
        )
        self.head = nn.Linear(units, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        # ncps' CfC module squeezes timespans to (batch,), which does not broadcast against the state:
        # the cell is stepped here with (batch, 1) spans instead.
        if self.time_gaps:
            x, spans = x[..., :-1], x[..., -1:]
        else:
            spans = x.new_ones(*x.shape[:2], 1)
        state, states = x.new_zeros(len(x), self.units), []
        for t in range(x.shape[1]):
            _, state = self.cell(x[:, t], state, spans[:, t])
            states.append(state)
        return torch.stack(states, dim=1) if self.per_step else state
