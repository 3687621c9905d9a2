"""Binary patterns for associative memories: every split holds the same patterns, which a Hopfield
network stores (train) and recalls from corrupted probes (val, test)."""

import torch

from archtrain.data.base import ArrayDataModule
from archtrain.data.spec import DataSpec


class RandomPatterns(ArrayDataModule):
    """`patterns` random {0, 1} vectors of `neurons` bits, each bit 1 with probability one half; the label
    of a pattern is its index."""

    def __init__(self, neurons: int, patterns: int, batch_size: int, seed: int = 0):
        super().__init__(batch_size, seed)
        self.neurons, self.patterns = neurons, patterns

    def load(self):
        generator = torch.Generator().manual_seed(self.seed)
        x = torch.randint(0, 2, (self.patterns, self.neurons), generator=generator).float()
        y = torch.arange(self.patterns)
        spec = DataSpec(in_features=self.neurons, num_classes=self.patterns)
        return {"train": (x, y), "val": (x, y), "test": (x, y)}, spec
