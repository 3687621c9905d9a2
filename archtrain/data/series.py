"""Time series: sliding windows of past values, and the values that follow them."""

import torch

from archtrain.data.base import ArrayDataModule, split_indices
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError


def windows(series: torch.Tensor, window: int, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All (past `window` values, next `horizon` values) pairs, in time order."""
    n = len(series) - window - horizon + 1
    if n < 1:
        raise ArchtrainError(f"a series of {len(series)} values is too short for "
                             f"window={window} and horizon={horizon}")
    past = torch.stack([series[i:i + window] for i in range(n)]).unsqueeze(-1)
    future = torch.stack([series[i + window:i + window + horizon] for i in range(n)])
    return past, future


class StatsmodelsSeries(ArrayDataModule):
    """A univariate series bundled with statsmodels, split in time order and standardized."""

    objective = "forecast"

    def __init__(self, dataset: str, column: str, window: int, horizon: int, batch_size: int,
                 val_fraction: float, test_fraction: float, seed: int = 0):
        super().__init__(batch_size, seed)
        self.dataset, self.column = dataset, column
        self.window, self.horizon = window, horizon
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def raw_series(self) -> torch.Tensor:
        import statsmodels.api as sm

        module = getattr(sm.datasets, self.dataset, None)
        if module is None:
            raise ArchtrainError(f"statsmodels has no dataset '{self.dataset}'")
        frame = module.load_pandas().data
        if self.column not in frame:
            raise ArchtrainError(f"statsmodels dataset '{self.dataset}' has no column '{self.column}'; "
                                 f"columns: {', '.join(map(str, frame.columns))}")
        return torch.tensor(frame[self.column].to_numpy(dtype="float32"))

    def load(self):
        series = self.raw_series()
        past, future = windows(series, self.window, self.horizon)
        parts = split_indices(len(past), self.val_fraction, self.test_fraction, self.seed, shuffle=False)
        # Standardize with statistics of the values the training windows can see.
        seen = series[: int(parts["train"][-1]) + self.window]
        mean, std = float(seen.mean()), float(seen.std())
        past, future = (past - mean) / std, (future - mean) / std
        spec = DataSpec(self.objective, in_features=1, out_features=self.horizon,
                        seq_len=self.window, scale=(mean, std))
        return {k: (past[i], future[i]) for k, i in parts.items()}, spec
