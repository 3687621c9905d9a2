"""Image data: (channels, height, width) tensors with a class label."""

import torch
from sklearn import datasets

from archtrain.data.base import ArrayDataModule, split_indices
from archtrain.data.spec import DataSpec


class Digits(ArrayDataModule):
    """scikit-learn's 8x8 handwritten digits (UCI), scaled to [0, 1]."""

    objective = "classify"

    def __init__(self, batch_size: int, val_fraction: float, test_fraction: float, seed: int = 0):
        super().__init__(batch_size, seed)
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def load(self):
        digits = datasets.load_digits()
        x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
        y = torch.tensor(digits.target, dtype=torch.long)
        parts = split_indices(len(x), self.val_fraction, self.test_fraction, self.seed)
        spec = DataSpec(self.objective, in_channels=1, image_size=8,
                        in_features=64, num_classes=10)
        return {k: (x[i], y[i]) for k, i in parts.items()}, spec
