"""Recurrent networks."""

import torch
from torch import nn

from archtrain.models.blocks import readout_size, sequence_input

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentNet(nn.Module):
    """A stacked Elman RNN (Elman, 1990), LSTM (Hochreiter & Schmidhuber, 1997) or GRU (Cho et al., 2014).

    With `vocab_size` it reads token ids and predicts the next token at every step (a language
    model); otherwise it reads (batch, time, in_features) values and maps its final state to
    `out_features` values or `num_classes` logits. Bidirectional reads the sequence both ways.
    """

    def __init__(self, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1, dropout: float = 0.0,
                 bidirectional: bool = False, nonlinearity: str = "tanh", in_features: int | None = None,
                 out_features: int | None = None, num_classes: int | None = None,
                 vocab_size: int | None = None):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell '{cell}'; choose from {', '.join(CELLS)}")
        self.tokens, self.directions = vocab_size is not None, 2 if bidirectional else 1
        self.embed = sequence_input(hidden_size, in_features, vocab_size)
        self.rnn = CELLS[cell](hidden_size, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional,
                               dropout=dropout if num_layers > 1 else 0.0,
                               **({"nonlinearity": nonlinearity} if cell == "rnn" else {}))
        self.head = nn.Linear(hidden_size * self.directions, readout_size(out_features, num_classes, vocab_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, final = self.rnn(self.embed(x))
        if self.tokens:
            return self.head(states)
        last = final[0] if isinstance(final, tuple) else final        # an LSTM returns (h, c)
        return self.head(last[-self.directions:].transpose(0, 1).flatten(1))
