"""Tabular data: feature vectors with a class label."""

import torch
from sklearn import datasets

from archtrain.data.base import ArrayDataModule, split_indices
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError


def standardize(features: torch.Tensor, train: torch.Tensor) -> tuple[torch.Tensor, tuple]:
    """Every column scaled by the training rows' mean and standard deviation, and those (as lists)."""
    mean, std = features[train].mean(0), features[train].std(0).clamp_min(1e-8)
    return (features - mean) / std, (tuple(mean.tolist()), tuple(std.tolist()))


class SklearnTable(ArrayDataModule):
    """One of scikit-learn's bundled classification tables (iris, wine, breast_cancer)."""

    LOADERS = {"iris": datasets.load_iris, "wine": datasets.load_wine, "breast_cancer": datasets.load_breast_cancer}

    def __init__(self, table: str, batch_size: int, val_fraction: float, test_fraction: float, seed: int = 0):
        super().__init__(batch_size, seed)
        if table not in self.LOADERS:
            raise ArchtrainError(f"unknown table '{table}'; choose from {', '.join(self.LOADERS)}")
        self.table, self.val_fraction, self.test_fraction = table, val_fraction, test_fraction

    def load(self):
        table = self.LOADERS[self.table]()
        x = torch.tensor(table.data, dtype=torch.float32)
        y = torch.tensor(table.target, dtype=torch.long)
        parts = split_indices(len(x), self.val_fraction, self.test_fraction, self.seed)
        x, standardization = standardize(x, parts["train"])
        spec = DataSpec(in_features=x.shape[1], num_classes=int(y.max()) + 1, standardization=standardization)
        return {k: (x[i], y[i]) for k, i in parts.items()}, spec


class Xor(ArrayDataModule):
    """The four XOR points; every split holds all four (with optional Gaussian jitter in train)."""

    def __init__(self, batch_size: int = 4, noise: float = 0.0, seed: int = 0):
        super().__init__(batch_size, seed)
        self.noise = noise

    def load(self):
        x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        y = torch.tensor([0, 1, 1, 0])
        jitter = self.noise * torch.randn(x.shape, generator=torch.Generator().manual_seed(self.seed))
        spec = DataSpec(in_features=2, num_classes=2)
        return {"train": (x + jitter, y), "val": (x, y), "test": (x, y)}, spec


class Moons(ArrayDataModule):
    """Two interleaving half circles with Gaussian noise (scikit-learn's make_moons): overlapping
    classes that a large network can memorize, the classic setting for regularization."""

    def __init__(
        self, samples: int, noise: float, batch_size: int, val_fraction: float, test_fraction: float, seed: int = 0
    ):
        super().__init__(batch_size, seed)
        self.samples, self.noise = samples, noise
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def load(self):
        points, labels = datasets.make_moons(self.samples, noise=self.noise, random_state=self.seed)
        x, y = torch.tensor(points, dtype=torch.float32), torch.tensor(labels, dtype=torch.long)
        parts = split_indices(len(x), self.val_fraction, self.test_fraction, self.seed)
        spec = DataSpec(in_features=2, num_classes=2)
        return {k: (x[i], y[i]) for k, i in parts.items()}, spec
