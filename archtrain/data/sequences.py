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

    objective = "regress"

    def __init__(self, length: int, train_size: int, eval_size: int, batch_size: int, seed: int = 0):
        super().__init__(batch_size, seed)
        self.length, self.sizes = length, {"train": train_size, "val": eval_size, "test": eval_size}

    def load(self):
        splits = {}
        for offset, (split, size) in enumerate(self.sizes.items()):
            splits[split] = adding_problem(size, self.length, torch.Generator().manual_seed(self.seed * 1000 + offset))
        return splits, DataSpec(self.objective, in_features=2, out_features=1, seq_len=self.length)
