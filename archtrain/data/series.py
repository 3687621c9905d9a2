"""Time series: sliding windows of past values, and the values that follow them."""

from pathlib import Path

import numpy as np
import torch

from archtrain.data.base import ArrayDataModule, data_file, split_indices
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError


def windows(series: torch.Tensor, window: int, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All (past `window` values, next `horizon` values) pairs, in time order."""
    n = len(series) - window - horizon + 1
    if n < 1:
        raise ArchtrainError(f"a series of {len(series)} values is too short for window={window} and horizon={horizon}")
    past = series.unfold(0, window, 1)[:n].unsqueeze(-1)
    future = series[window:].unfold(0, horizon, 1)[:n]
    return past.contiguous(), future.contiguous()


def fit_autoregression(past: torch.Tensor, next_value: torch.Tensor) -> tuple[float, ...]:
    """Least-squares AR(window) coefficients and intercept, the classical baseline."""
    design = torch.cat([past.squeeze(-1), torch.ones(len(past), 1)], dim=1).double()
    solution = torch.linalg.lstsq(design, next_value.double().unsqueeze(1)).solution
    return tuple(solution.squeeze(1).tolist())


class SeriesDataModule(ArrayDataModule):
    """A univariate series, split in time order and standardized with what training may see.
    Subclasses provide `raw_series`."""

    def __init__(
        self, window: int, horizon: int, batch_size: int, val_fraction: float, test_fraction: float, seed: int = 0
    ):
        super().__init__(batch_size, seed)
        self.window, self.horizon = window, horizon
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def raw_series(self) -> torch.Tensor:
        raise NotImplementedError

    def load(self):
        series = self.raw_series()
        past, future = windows(series, self.window, self.horizon)
        parts = split_indices(len(past), self.val_fraction, self.test_fraction, self.seed, shuffle=False)
        seen = series[: int(parts["train"][-1]) + self.window]
        mean, std = float(seen.mean()), float(seen.std())
        past, future = (past - mean) / std, (future - mean) / std
        train = parts["train"]
        spec = DataSpec(
            in_features=1,
            out_features=self.horizon,
            seq_len=self.window,
            scale=(mean, std),
            autoregression=fit_autoregression(past[train], future[train, 0]),
        )
        return {k: (past[i], future[i]) for k, i in parts.items()}, spec


BUNDLED = Path(__file__).parent / "bundled"  # small public-domain series, one value per line
SERIES = ("sunspots", "nile", "co2", "elnino")


class BundledSeries(SeriesDataModule):
    """A series shipped with archtrain (taken from statsmodels' datasets): yearly sunspots 1700-2008,
    the Nile's yearly flow 1871-1970, weekly Mauna Loa CO2 1958-2001, monthly El Nino SST 1950-2010."""

    def __init__(self, series: str, **kwargs):
        super().__init__(**kwargs)
        if series not in SERIES:
            raise ArchtrainError(f"unknown series '{series}'; choose from {', '.join(SERIES)}")
        self.series = series

    def raw_series(self) -> torch.Tensor:
        return torch.tensor(np.loadtxt(BUNDLED / f"{self.series}.txt"), dtype=torch.float32)


StatsmodelsSeries = BundledSeries  # its name in the stored configs of runs made before the series were bundled


class CsvSeries(SeriesDataModule):
    """One numeric column of a CSV file with a header row, in file order."""

    def __init__(self, path: str | None, column: str | None, **kwargs):
        super().__init__(**kwargs)
        self.path, self.column = path, column

    def raw_series(self) -> torch.Tensor:
        import pandas as pd

        file = data_file(
            self.path, "data=csv_series reads a CSV file with a header row; name the column with data.column="
        )
        try:
            frame = pd.read_csv(file)
        except Exception as err:  # pandas raises several parser errors
            raise ArchtrainError(f"data.path: '{self.path}' is not a readable CSV file ({err})") from None
        if self.column not in frame:
            raise ArchtrainError(
                f"data.column: '{self.path}' has no column '{self.column}'; "
                f"its columns are {', '.join(map(str, frame.columns))}"
            )
        values = pd.to_numeric(frame[self.column], errors="coerce")
        if values.isna().any():
            row = int(values.isna().to_numpy().argmax()) + 2
            raise ArchtrainError(
                f"data.column: column '{self.column}' of '{self.path}' has a missing or non-numeric value at line {row}"
            )
        return torch.tensor(values.to_numpy(), dtype=torch.float32)
