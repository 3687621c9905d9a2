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
    an input (also an input with `gaps_as_input`); otherwise every step spans one unit. `mixed_memory`
    adds ncps' LSTM memory cell before each step. With `per_step` it gives outputs at every step."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        units: int = 32,
        mode: str = "default",
        backbone_units: int = 64,
        backbone_layers: int = 1,
        dropout: float = 0.0,
        mixed_memory: bool = False,
        gaps_as_input: bool = False,
        per_step: bool = False,
        time_gaps: bool = False,
    ):
        super().__init__()
        from ncps.torch import CfCCell  # the liquid-network extra, loaded only by this model
        from ncps.torch.lstm import LSTMCell

        if mode not in MODES:
            raise ArchtrainError(f"model.mode={mode}: choose from {', '.join(MODES)}")
        self.per_step, self.time_gaps, self.units = per_step, bool(time_gaps), units
        self.gaps_as_input = gaps_as_input and self.time_gaps
        inputs = in_features - self.time_gaps + self.gaps_as_input
        self.cell = CfCCell(
            inputs,
            units,
            mode=mode,
            backbone_units=backbone_units,
            backbone_layers=backbone_layers,
            backbone_dropout=dropout,
        )
        # ncps' mixed memory: an LSTM cell updates the state before each CfC step, so information can
        # persist across steps (the bare CfC rewrites its state from the backbone at every step)
        self.memory = LSTMCell(inputs, units) if mixed_memory else None
        self.head = nn.Linear(units, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        # ncps' CfC module squeezes timespans to (batch,), which does not broadcast against the state:
        # the cell is stepped here with (batch, 1) spans instead.
        if self.time_gaps:
            x, spans = (x if self.gaps_as_input else x[..., :-1]), x[..., -1:]
        else:
            spans = x.new_ones(*x.shape[:2], 1)
        state, states = x.new_zeros(len(x), self.units), []
        cell_state = torch.zeros_like(state)
        for t in range(x.shape[1]):
            if self.memory is not None:
                state, cell_state = self.memory(x[:, t], (state, cell_state))
            _, state = self.cell(x[:, t], state, spans[:, t])
            states.append(state)
        return torch.stack(states, dim=1) if self.per_step else state
