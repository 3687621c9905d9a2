"""Captioned images for contrastive image-text training: generated shapes of named colours and sizes,
each with its caption ("a small red circle") as token ids. Colour-shape combinations listed in
`held_out` are drawn only into the test split, so that zero-shot classification by prompts can be
scored on combinations the model never saw together."""

import numpy as np
import torch

from archtrain.data.base import Split, split_indices
from archtrain.data.images import SHAPES, Shapes, paint
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError

COLOURS = {
    "red": (0.9, 0.15, 0.1),
    "green": (0.15, 0.75, 0.2),
    "blue": (0.15, 0.3, 0.95),
    "yellow": (0.95, 0.85, 0.1),
    "magenta": (0.85, 0.2, 0.8),
    "cyan": (0.1, 0.8, 0.85),
    "white": (0.95, 0.95, 0.95),
}
SIZES = {"small": (0.18, 0.26), "large": (0.36, 0.46)}  # radius as a fraction of the side
BACKGROUND = 0.1  # the grey of every background (each colour stands out from it)
PAD = "<pad>"
# Caption templates ({size}, {colour}, {shape}). "full" names all three; "varied" also names one or two
# factors at a time in varied order, so that each word is learned as a factor, not a caption as a unit.
CAPTIONS = {
    "full": ("a {size} {colour} {shape}",),
    "varied": (
        "a {size} {colour} {shape}",
        "a {colour} {shape}",
        "a {shape} that is {colour}",
        "a {size} {shape}",
        "a {colour} shape",
        "a {shape}",
        "something {colour}",
        "a {size} shape",
    ),
}
FILLER = ("shape", "something", "that", "is")  # the templates' words besides "a" and the factors


class CaptionedShapes(Shapes):
    """(image, caption tokens, class) triples; the class is the (colour, shape) pair, whose zero-shot
    prompt is "a <colour> <shape>". The DataSpec carries the prompts' token ids and the held-out classes."""

    def __init__(
        self,
        samples: int,
        image_size: int,
        noise: float,
        batch_size: int,
        val_fraction: float,
        test_fraction: float,
        colours: list[str] | tuple[str, ...] = ("red", "green", "blue", "yellow"),
        shapes: list[str] | tuple[str, ...] = ("circle", "triangle", "square", "cross"),
        held_out: list[str] | tuple[str, ...] = (),
        captions: str = "full",
        seed: int = 0,
    ):
        super().__init__(samples, image_size, noise, 3, batch_size, val_fraction, test_fraction, seed=seed)
        for knob, names, known in (("colours", colours, COLOURS), ("shapes", shapes, SHAPES)):
            unknown = [name for name in names if name not in known]
            if unknown or not names:
                raise ArchtrainError(f"data.{knob}={list(names)}: choose one or more of {', '.join(known)}")
        self.colours, self.shapes = list(colours), list(shapes)
        self.classes = [f"{colour} {shape}" for colour in self.colours for shape in self.shapes]
        unknown = [pair for pair in held_out if pair not in self.classes]
        if unknown:
            raise ArchtrainError(
                f"data.held_out: {', '.join(unknown)} is not a '<colour> <shape>' pair of data.colours and data.shapes"
            )
        if len(held_out) >= len(self.classes):
            raise ArchtrainError("data.held_out: every combination is held out; training needs some")
        self.held_out = [self.classes.index(pair) for pair in held_out]
        if captions not in CAPTIONS:
            raise ArchtrainError(f"data.captions={captions}: choose one of {', '.join(CAPTIONS)}")
        self.templates = CAPTIONS[captions]
        self.seq_len = max(len(template.split()) for template in self.templates)
        self.vocab = [PAD, "a", *SIZES, *self.colours, *self.shapes, *FILLER]

    def tokens(self, words: list[str]) -> list[int]:
        ids = [self.vocab.index(word) for word in words]
        return ids + [0] * (self.seq_len - len(ids))

    def generate(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`samples` images in [0, 1], their captions and their classes, drawn from `seed` alone."""
        rng = np.random.default_rng(self.seed)
        size, sizes = self.image_size, list(SIZES)
        labels = rng.permutation(np.arange(self.samples) % len(self.classes))  # balanced combinations
        images = np.empty((self.samples, 3, size, size), dtype=np.float32)
        captions = np.empty((self.samples, self.seq_len), dtype=np.int64)
        background = np.full(3, BACKGROUND)
        for i, label in enumerate(labels):
            colour, shape = self.colours[label // len(self.shapes)], self.shapes[label % len(self.shapes)]
            scale = sizes[rng.integers(len(sizes))]
            mask = self.mask(rng, shape, rng.uniform(*SIZES[scale]))
            images[i] = paint(mask, np.array(COLOURS[colour]), background)
            template = (
                self.templates[rng.integers(len(self.templates))] if len(self.templates) > 1 else self.templates[0]
            )
            captions[i] = self.tokens(template.format(size=scale, colour=colour, shape=shape).split())
        return self.noisy(rng, images), torch.from_numpy(captions), torch.from_numpy(labels).long()

    def load(self):
        x, captions, y = self.generate()
        unseen = torch.isin(y, torch.tensor(self.held_out, dtype=torch.long))
        seen = (~unseen).nonzero().flatten()
        parts = split_indices(len(seen), self.val_fraction, self.test_fraction, self.seed)
        parts = {name: seen[index] for name, index in parts.items()}
        parts["test"] = torch.cat([parts["test"], unseen.nonzero().flatten()])
        splits: dict[str, Split] = {name: (x[i], captions[i], y[i]) for name, i in parts.items()}
        spec = DataSpec(
            in_channels=3,
            image_size=self.image_size,
            in_features=3 * self.image_size**2,
            num_classes=len(self.classes),
            vocab_size=len(self.vocab),
            seq_len=self.seq_len,
            vocab=tuple(self.vocab),
            special={"pad": 0},
            prompts=tuple(tuple(self.tokens(["a", *pair.split()])) for pair in self.classes),
            held_out=tuple(self.held_out),
        )
        return splits, spec
