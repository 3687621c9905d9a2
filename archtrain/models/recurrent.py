"""Recurrent networks."""

import torch
from torch import nn

from archtrain.models.blocks import sequence_input
from archtrain.models.protocol import Network

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentNet(Network):
    """A stacked Elman RNN (Elman, 1990), LSTM (Hochreiter & Schmidhuber, 1997) or GRU (Cho et al., 2014).

    It reads token ids through an embedding with `vocab_size`, else (batch, time, in_features) values.
    With `per_step` it gives `num_classes` outputs at every step (e.g. a language model's next-token
    logits), else from its final state. Bidirectional reads the sequence both ways.
    """

    def __init__(
        self,
        num_classes: int,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
        nonlinearity: str = "tanh",
        per_step: bool = False,
        in_features: int | None = None,
        vocab_size: int | None = None,
    ):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell '{cell}'; choose from {', '.join(CELLS)}")
        self.per_step, self.directions = per_step, 2 if bidirectional else 1
        self.embed = sequence_input(hidden_size, in_features, vocab_size)
        self.rnn = CELLS[cell](
            hidden_size,
            hidden_size,
            num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
            **({"nonlinearity": nonlinearity} if cell == "rnn" else {}),
        )
        self.head = nn.Linear(hidden_size * self.directions, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        states, final = self.rnn(self.embed(x))
        if self.per_step:
            return states
        last = final[0] if isinstance(final, tuple) else final  # an LSTM returns (h, c)
        return last[-self.directions :].transpose(0, 1).flatten(1)


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2015): score = v · tanh(W_q q + W_k k)."""

    def __init__(self, query_size: int, key_size: int):
        super().__init__()
        self.query, self.key = nn.Linear(query_size, query_size), nn.Linear(key_size, query_size, bias=False)
        self.score = nn.Linear(query_size, 1, bias=False)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return self.score(torch.tanh(self.query(query).unsqueeze(1) + self.key(keys))).squeeze(-1)


class MultiplicativeAttention(nn.Module):
    """Luong et al. (2015), the 'general' form: score = q · W k."""

    def __init__(self, query_size: int, key_size: int):
        super().__init__()
        self.key = nn.Linear(key_size, query_size, bias=False)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return (self.key(keys) @ query.unsqueeze(-1)).squeeze(-1)


ATTENTION = {"additive": AdditiveAttention, "multiplicative": MultiplicativeAttention}


class Seq2SeqAttention(Network):
    """Encoder-decoder (Sutskever et al., 2014) with attention: a bidirectional GRU encoder, and a GRU
    decoder that attends over the encoder's states at every step and feeds the context back in."""

    per_step = True

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int = 128,
        attention: str = "additive",
        dropout: float = 0.0,
        pad_id: int = 0,
    ):
        super().__init__()
        if attention not in ATTENTION:
            raise ValueError(f"unknown attention '{attention}'; choose from {', '.join(ATTENTION)}")
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, hidden_size)
        self.encoder = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden_size, hidden_size)
        self.attention = ATTENTION[attention](hidden_size, 2 * hidden_size)
        self.decoder = nn.GRUCell(3 * hidden_size, hidden_size)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(3 * hidden_size, vocab_size)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The encoder's states, the mask of real (non-padding) positions, the decoder's first state."""
        states, final = self.encoder(self.drop(self.embed(src)))
        return states, src != self.pad_id, torch.tanh(self.bridge(torch.cat([final[0], final[1]], dim=-1)))

    def step(self, token: torch.Tensor, state: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor):
        """One decoder step: attend with the current state, update it; its features and the new state."""
        scores = self.attention(state, memory).masked_fill(~mask, float("-inf"))
        context = (torch.softmax(scores, dim=-1).unsqueeze(1) @ memory).squeeze(1)
        state = self.decoder(torch.cat([self.drop(self.embed(token)), context], dim=-1), state)
        return torch.cat([self.drop(state), context], dim=-1), state

    def features(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """The decoder's features at every target position, fed the true previous token (teacher forcing)."""
        memory, mask, state = self.encode(src)
        steps = []
        for t in range(tgt.shape[1]):
            out, state = self.step(tgt[:, t], state, memory, mask)
            steps.append(out)
        return torch.stack(steps, dim=1)

    @torch.no_grad()
    def decode(self, src: torch.Tensor, bos_id: int, max_len: int) -> torch.Tensor:
        """Greedy decoding: `max_len` tokens after <s>, each fed back as the next input."""
        memory, mask, state = self.encode(src)
        token, out = torch.full((len(src),), bos_id, dtype=torch.long, device=src.device), []
        for _ in range(max_len):
            features, state = self.step(token, state, memory, mask)
            token = self.head(features).argmax(-1)
            out.append(token)
        return torch.stack(out, dim=1)
