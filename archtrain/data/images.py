"""Image classification data: (channels, height, width) tensors in [0, 1] with a class label.

`ImageClasses` is the shared part of every image data module (optional per-channel
standardization and the DataSpec); Digits and Shapes are made in memory, the file formats
(MNIST, CIFAR-10, a folder of images) live in `image_files`.
"""

import importlib.util
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from archtrain.data.base import ArrayDataModule, Split, split_indices
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError


def standardize_channels(splits: dict[str, Split]) -> tuple[dict[str, Split], tuple]:
    """Each channel scaled by the train split's mean and standard deviation (all splits alike), and those."""
    train = splits["train"][0]
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)
    scaled = {name: ((x - mean) / std, y) for name, (x, y) in splits.items()}
    return scaled, (tuple(mean.flatten().tolist()), tuple(std.flatten().tolist()))


def split_pool(
    x: torch.Tensor, y: torch.Tensor, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, Split]:
    """One pool of examples shuffled by `seed` and cut into train, val and test."""
    return {name: (x[i], y[i]) for name, i in split_indices(len(x), val_fraction, test_fraction, seed).items()}


def unit_pixels(pixels: np.ndarray) -> torch.Tensor:
    """8-bit pixels as float32 in [0, 1] (a copy, so read-only arrays are fine)."""
    return torch.tensor(pixels, dtype=torch.float32).div_(255)


def check_channels(channels: int) -> int:
    """`channels` if it is 1 (grey) or 3 (RGB); anything else is a user error."""
    if channels not in (1, 3):
        raise ArchtrainError(f"data.channels={channels}: images have 1 (grey) or 3 (RGB) channels")
    return channels


class ImageClasses(ArrayDataModule):
    """Labelled images; subclasses build their splits and hand them to `describe`."""

    def __init__(self, batch_size: int, normalize: bool = False, seed: int = 0):
        super().__init__(batch_size, seed)
        self.normalize = normalize

    def describe(self, splits: dict[str, Split], classes: tuple[str, ...]) -> tuple[dict[str, Split], DataSpec]:
        """The splits (standardized when `normalize` is on) and their DataSpec; `classes` names each label."""
        standardization = ()
        if self.normalize:
            splits, standardization = standardize_channels(splits)
        channels, height, width = splits["train"][0].shape[1:]
        spec = DataSpec(
            in_channels=channels,
            image_size=height,
            in_features=channels * height * width,
            num_classes=len(classes),
            vocab=classes,
            standardization=standardization,
        )
        return splits, spec


class Digits(ImageClasses):
    """scikit-learn's 8x8 handwritten digits (UCI), scaled to [0, 1]."""

    def __init__(
        self, batch_size: int, val_fraction: float, test_fraction: float, normalize: bool = False, seed: int = 0
    ):
        super().__init__(batch_size, normalize, seed)
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def load(self):
        images, labels = scikit_learn_digits()
        x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 16.0
        y = torch.tensor(labels, dtype=torch.long)
        return self.describe(
            split_pool(x, y, self.val_fraction, self.test_fraction, self.seed), tuple(str(d) for d in range(10))
        )


def scikit_learn_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits' images (n, 8, 8) and labels, read from the file scikit-learn ships, as its
    `load_digits` reads it, without importing scikit-learn: its import brings pandas, a second or
    more of the default run's start-up."""
    file = Path(importlib.util.find_spec("sklearn").submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    if not file.is_file():  # another layout: let scikit-learn find it
        from sklearn.datasets import load_digits

        digits = load_digits()
        return digits.images, digits.target
    table = np.loadtxt(file, delimiter=",")
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)


def _regular(corners: int, radius: float = 1.0, phase: float = 0.0) -> list[tuple[float, float]]:
    turns = [2 * math.pi * k / corners + phase for k in range(corners)]
    return [(radius * math.cos(t), radius * math.sin(t)) for t in turns]


def _star(points: int, inner: float) -> list[tuple[float, float]]:
    outer, within = _regular(2 * points), _regular(2 * points, inner)
    return [(outer if k % 2 == 0 else within)[k] for k in range(2 * points)]


_ARM = 0.3  # half the width of a cross's bars
# Each shape as (outline, fill) polygons around the origin within the unit circle; later ones paint over.
SHAPES = {
    "circle": [(_regular(48), 1)],
    "triangle": [(_regular(3), 1)],
    "square": [(_regular(4, phase=math.pi / 4), 1)],
    "cross": [
        (
            [
                (1, _ARM),
                (_ARM, _ARM),
                (_ARM, 1),
                (-_ARM, 1),
                (-_ARM, _ARM),
                (-1, _ARM),
                (-1, -_ARM),
                (-_ARM, -_ARM),
                (-_ARM, -1),
                (_ARM, -1),
                (_ARM, -_ARM),
                (1, -_ARM),
            ],
            1,
        )
    ],
    "star": [(_star(5, 0.4), 1)],
    "ring": [(_regular(48), 1), (_regular(48, 0.55), 0)],
}


def draw_shape(
    shape: str, size: int, center: tuple[float, float], radius: float, angle: float, supersample: int = 4
) -> np.ndarray:
    """A (size, size) coverage mask in [0, 1]: the shape drawn large, then averaged down (anti-aliased)."""
    canvas = Image.new("L", (size * supersample, size * supersample), 0)
    pen = ImageDraw.Draw(canvas)
    cos, sin = math.cos(angle), math.sin(angle)
    for outline, fill in SHAPES[shape]:
        corners = [
            (
                (center[0] + radius * (x * cos - y * sin)) * supersample,
                (center[1] + radius * (x * sin + y * cos)) * supersample,
            )
            for x, y in outline
        ]
        pen.polygon(corners, fill=255 * fill)
    return np.asarray(canvas.resize((size, size), Image.Resampling.BOX), dtype=np.float32) / 255


def paint(mask: np.ndarray, foreground: np.ndarray, background: np.ndarray) -> np.ndarray:
    """A (C, H, W) picture: `foreground` where the mask covers, `background` elsewhere (one value per channel)."""
    return background[:, None, None] + (foreground - background)[:, None, None] * mask


class Shapes(ImageClasses):
    """Generated pictures of simple shapes, the task of Rosenblatt's Mark I perceptron: a random
    position, size and rotation for each, Gaussian pixel noise, and random colours with 3 channels."""

    def __init__(
        self,
        samples: int,
        image_size: int,
        noise: float,
        channels: int,
        batch_size: int,
        val_fraction: float,
        test_fraction: float,
        normalize: bool = False,
        seed: int = 0,
    ):
        super().__init__(batch_size, normalize, seed)
        if image_size < 8:
            raise ArchtrainError(f"data.image_size={image_size}: shapes need at least 8x8 pixels")
        self.samples, self.image_size, self.noise = samples, image_size, noise
        self.channels = check_channels(channels)
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def generate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """`samples` images (N, C, H, W) in [0, 1] and their labels, drawn from `seed` alone."""
        rng = np.random.default_rng(self.seed)
        names, size = list(SHAPES), self.image_size
        labels = rng.permutation(np.arange(self.samples) % len(names))  # balanced classes
        images = np.empty((self.samples, self.channels, size, size), dtype=np.float32)
        for i, label in enumerate(labels):
            mask = self.mask(rng, names[label], rng.uniform(0.25, 0.45))
            foreground = np.ones(1) if self.channels == 1 else rng.random(3)
            # Each channel of the background differs from the shape's by 0.3 to 0.7: always visible.
            background = np.zeros(1) if self.channels == 1 else (foreground + rng.uniform(0.3, 0.7, 3)) % 1
            images[i] = paint(mask, foreground, background)
        return self.noisy(rng, images), torch.from_numpy(labels).long()

    def mask(self, rng: np.random.Generator, shape: str, radius: float) -> np.ndarray:
        """`shape`'s coverage mask with `radius` (a fraction of the side), at a random place and angle."""
        size = self.image_size
        radius *= size
        center = tuple(rng.uniform(radius, size - radius, 2))
        return draw_shape(shape, size, center, radius, rng.uniform(0, 2 * math.pi))

    def noisy(self, rng: np.random.Generator, images: np.ndarray) -> torch.Tensor:
        """The images with the Gaussian pixel noise added, clipped to [0, 1]."""
        images += self.noise * rng.standard_normal(images.shape, dtype=np.float32)
        return torch.from_numpy(images.clip(0, 1))

    def load(self):
        x, y = self.generate()
        return self.describe(split_pool(x, y, self.val_fraction, self.test_fraction, self.seed), tuple(SHAPES))
