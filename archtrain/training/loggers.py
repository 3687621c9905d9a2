"""Metric loggers for a run directory."""

import csv
import logging

from lightning.pytorch.loggers import CSVLogger, Logger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.utilities import rank_zero_only

RUN_LOG = logging.getLogger("archtrain.run")     # train.log's own lines: the run's start, epochs, end


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer deletes an existing metrics.csv; this one keeps its rows and header."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as handle:
                self.metrics_keys = list(csv.DictReader(handle).fieldnames or [])


class RunCSVLogger(CSVLogger):
    """Writes `metrics.csv` straight into the run directory and appends to it when a run resumes."""

    def __init__(self, run_dir):
        super().__init__(run_dir, name="", version="")

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


class LogFileLogger(Logger):
    """Each epoch's metrics as one line of train.log, through the `archtrain.run` logging logger
    (which Hydra's job logging sends to the run's file only, not to the console)."""

    @property
    def name(self) -> str:
        return "train.log"

    @property
    def version(self) -> str:
        return ""

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        """The config is in .hydra/config.yaml and at the top of train.log already."""

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        values = dict(metrics)
        epoch = values.pop("epoch", None)
        if all(name.startswith("test/") for name in values):
            where = "test of the best checkpoint"
        else:
            where = f"epoch {int(epoch)}, step {step}" if epoch is not None else f"step {step}"
        RUN_LOG.info("%s: %s", where, ", ".join(f"{name} {value:.6g}" for name, value in sorted(values.items())))
