"""DataSpec: what a model needs to know about its data, and nothing else."""

from dataclasses import asdict, dataclass, field

import torch

# Data dimensions are passed to model constructors under these names.
DIMENSIONS = (
    "in_features",
    "in_channels",
    "image_size",
    "num_classes",
    "out_features",
    "vocab_size",
    "seq_len",
    "max_len",
    "time_gaps",  # not a size: whether a series' last input feature is the time since the previous step
)


@dataclass(frozen=True)
class DataSpec:
    in_features: int | None = None
    in_channels: int | None = None
    image_size: int | None = None
    num_classes: int | None = None
    out_features: int | None = None
    vocab_size: int | None = None
    seq_len: int | None = None
    max_len: int | None = None
    vocab: tuple[str, ...] = ()  # token id -> string, for text and pairs
    special: dict = field(default_factory=dict)  # e.g. pad, bos, eos token ids
    scale: tuple[float, float] = (0.0, 1.0)  # (mean, std) that undo a series' standardization
    autoregression: tuple[float, ...] = ()  # AR baseline: one coefficient per past step, then the intercept
    standardization: tuple = ()  # (means, stds) per feature or image channel that scaled the inputs
    modes: tuple = ()  # 2-D toy mixtures: each Gaussian's centre (x, y)
    mode_std: float = 0.0  # and their standard deviation
    time_gaps: bool | None = None  # series sampled at irregular times: True when the last feature is the gap
    num_graphs: int | None = None  # graph data: how many graphs (1: one graph, split by node masks)
    prompts: tuple = ()  # captioned images: each class's zero-shot prompt as token ids
    held_out: tuple = ()  # and the classes that only the test split holds

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        """New raw inputs (batch, features) or (batch, channels, height, width), scaled as the data's own were."""
        if not self.standardization:
            return x
        mean, std = (
            torch.tensor(values, dtype=x.dtype).view(-1, *[1] * (x.ndim - 2)) for values in self.standardization
        )
        return (x - mean) / std

    def unstandardize(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs as the data module serves them, back in the data's own units (pixels in [0, 1])."""
        if not self.standardization:
            return x
        mean, std = (
            torch.tensor(values, dtype=x.dtype, device=x.device).view(-1, *[1] * (x.ndim - 2))
            for values in self.standardization
        )
        return x * std + mean

    def dimensions(self) -> dict[str, int]:
        """The data dimensions that are set, by their conventional names."""
        values = asdict(self)
        return {name: values[name] for name in DIMENSIONS if values[name] is not None}
