"""Synthetic long-memory sequence benchmarks."""

import torch

from archtrain.data.base import ArrayDataModule
from archtrain.data.spec import DataSpec


def adding_problem(count: int, length: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(count, length, 2) inputs: random values, and a marker on one position in each half;
    the target is the sum of the two marked values (Hochreiter & Schmidhuber, 1997; Le et al., 2015)."""
    values = torch.rand(count, length, generator=generator)
    first = torch.randint(0, length // 2, (count,), generator=generator)
    second = torch.randint(length // 2, length, (count,), generator=generator)
    markers = torch.zeros(count, length)
    rows = torch.arange(count)
    markers[rows, first] = markers[rows, second] = 1.0
    return torch.stack([values, markers], dim=-1), (values * markers).sum(1, keepdim=True)


class AddingProblem(ArrayDataModule):
    """The adding problem at sequence length `length`. Predicting 1 every time scores MSE 1/6;
    a model must carry two values across up to `length` steps to do better."""

    def __init__(self, length: int, train_size: int, eval_size: int, batch_size: int, seed: int = 0):
        super().__init__(batch_size, seed)
        self.length, self.sizes = length, {"train": train_size, "val": eval_size, "test": eval_size}

    def load(self):
        splits = {}
        for offset, (split, size) in enumerate(self.sizes.items()):
            splits[split] = adding_problem(size, self.length, torch.Generator().manual_seed(self.seed * 1000 + offset))
        return splits, DataSpec(in_features=2, out_features=1, seq_len=self.length)


WAVES = ("sine", "square", "sawtooth", "triangle")


def waveforms(count: int, length: int, noise: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(count, length, 1) noisy periodic signals of random frequency and phase, labelled by shape."""
    times = (torch.arange(length) / length).expand(count, length)
    return waves_at(times, noise, generator)


def waves_at(times: torch.Tensor, noise: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(count, length, 1) noisy waves of random shape, 2 to 6 cycles per unit of time and random phase,
    sampled at `times` (count, length); and their shapes' labels."""
    count, length = times.shape
    labels = torch.randint(0, len(WAVES), (count,), generator=generator)
    cycles = 2 + 4 * torch.rand(count, 1, generator=generator)
    phase = torch.rand(count, 1, generator=generator)
    position = (times * cycles + phase) % 1.0  # where in its cycle
    shapes = torch.stack(
        [
            torch.sin(2 * torch.pi * position),
            torch.where(position < 0.5, 1.0, -1.0),
            2 * position - 1,
            1 - 4 * (position - 0.5).abs(),
        ]
    )
    signal = shapes[labels, torch.arange(count)]
    return (signal + noise * torch.randn(count, length, generator=generator)).unsqueeze(-1), labels


def irregular_waveforms(count: int, length: int, noise: float, generator: torch.Generator):
    """Waves as in `waveforms`, sampled at `length` random times (gaps drawn from an exponential with
    mean 1/length, so a unit of time holds about `length` samples). Inputs (count, length, 2): the
    value, then the time since the previous sample in units of the mean gap (the first: since t=0)."""
    gaps = -torch.log1p(-torch.rand(count, length, generator=generator)) / length
    values, labels = waves_at(gaps.cumsum(1), noise, generator)
    return torch.cat([values, (gaps * length).unsqueeze(-1)], dim=-1), labels


class Waveforms(ArrayDataModule):
    """Sequence classification: which of sine, square, sawtooth or triangle is this noisy signal?"""

    def __init__(self, length: int, noise: float, train_size: int, eval_size: int, batch_size: int, seed: int = 0):
        super().__init__(batch_size, seed)
        self.length, self.noise = length, noise
        self.sizes = {"train": train_size, "val": eval_size, "test": eval_size}

    def load(self):
        splits = {
            split: waveforms(size, self.length, self.noise, torch.Generator().manual_seed(self.seed * 1000 + i))
            for i, (split, size) in enumerate(self.sizes.items())
        }
        return splits, DataSpec(in_features=1, num_classes=len(WAVES), seq_len=self.length)


class IrregularWaveforms(Waveforms):
    """Waveforms sampled at irregular times: the time since the previous sample is each step's last
    input feature (`DataSpec.time_gaps`), so a model can tell how far apart two values are."""

    def load(self):
        splits = {
            split: irregular_waveforms(
                size, self.length, self.noise, torch.Generator().manual_seed(self.seed * 1000 + i)
            )
            for i, (split, size) in enumerate(self.sizes.items())
        }
        return splits, DataSpec(in_features=2, num_classes=len(WAVES), seq_len=self.length, time_gaps=True)


def copy_task(count: int, symbols: int, length: int, delay: int, generator: torch.Generator):
    """Inputs: `length` random symbols (1..symbols), `delay` blanks (0), a delimiter, `length` blanks.
    Targets: blanks, then the symbols again at the end (Hochreiter & Schmidhuber, 1997; Arjovsky et al., 2016)."""
    data = torch.randint(1, symbols + 1, (count, length), generator=generator)
    blank_in = torch.zeros(count, delay, dtype=torch.long)
    inputs = torch.cat(
        [data, blank_in, torch.full((count, 1), symbols + 1), torch.zeros(count, length, dtype=torch.long)], 1
    )
    targets = torch.cat([torch.zeros(count, length + delay + 1, dtype=torch.long), data], 1)
    return inputs, targets


class CopyTask(ArrayDataModule):
    """Remember `length` symbols across `delay` blank steps, then write them out."""

    def __init__(
        self, symbols: int, length: int, delay: int, train_size: int, eval_size: int, batch_size: int, seed: int = 0
    ):
        super().__init__(batch_size, seed)
        self.symbols, self.length, self.delay = symbols, length, delay
        self.sizes = {"train": train_size, "val": eval_size, "test": eval_size}

    def load(self):
        splits = {
            split: copy_task(
                size, self.symbols, self.length, self.delay, torch.Generator().manual_seed(self.seed * 1000 + i)
            )
            for i, (split, size) in enumerate(self.sizes.items())
        }
        vocab = ("_",) + tuple(chr(ord("a") + i) for i in range(self.symbols)) + ("|",)
        return splits, DataSpec(vocab_size=len(vocab), seq_len=2 * self.length + self.delay + 1, vocab=vocab)
