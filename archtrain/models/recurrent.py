"""Recurrent networks."""

import torch
from torch import nn

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentNet(nn.Module):
    """A stacked Elman RNN, LSTM (Hochreiter & Schmidhuber, 1997) or GRU (Cho et al., 2014).

    With `vocab_size` it reads token ids and predicts the next token at every step (a language
    model); otherwise it reads (batch, time, in_features) values and maps its last state to
    `out_features` values (a forecast).
    """

    def __init__(self, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1,
                 dropout: float = 0.0, in_features: int | None = None,
                 out_features: int | None = None, vocab_size: int | None = None):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell '{cell}'; choose from {', '.join(CELLS)}")
        self.tokens = vocab_size is not None
        self.embed = nn.Embedding(vocab_size, hidden_size) if self.tokens else nn.Linear(in_features, hidden_size)
        self.rnn = CELLS[cell](hidden_size, hidden_size, num_layers, batch_first=True,
                               dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, vocab_size if self.tokens else out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(self.embed(x))
        return self.head(states if self.tokens else states[:, -1])
