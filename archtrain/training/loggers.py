"""Metric loggers: the run directory's own (metrics.csv, train.log) and the `logger` list's (TensorBoard,
MLflow, Weights & Biases)."""

import csv
import importlib.util
import logging
import os
from pathlib import Path

from omegaconf import DictConfig
from pytorch_lightning.loggers import CSVLogger, Logger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.utilities import rank_zero_only

from archtrain.catalog import flatten
from archtrain.config import instantiate_without
from archtrain.errors import ArchtrainError

RUN_LOG = logging.getLogger("archtrain.run")  # train.log's own lines: the run's start, epochs, end


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


def _needs(package: str, option: str) -> None:
    if importlib.util.find_spec(package) is None:
        raise ArchtrainError(f"logger={option} needs the {package} package: pip install 'archtrain[{option}]'")


def tensorboard(run_dir: str) -> Logger:
    """TensorBoard event files under <run>/tensorboard."""
    if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
        _needs("tensorboard", "tensorboard")
    from pytorch_lightning.loggers import TensorBoardLogger

    return TensorBoardLogger(run_dir, name="tensorboard", version="")


def mlflow(run_dir: str, tracking_uri: str, experiment_name: str) -> Logger:
    """An MLflow run named after the run directory; `tracking_uri` a folder (a local file store) or a server."""
    _needs("mlflow", "mlflow")
    from pytorch_lightning.loggers import MLFlowLogger

    if "://" not in tracking_uri and not tracking_uri.startswith("file:"):
        tracking_uri = Path(tracking_uri).resolve().as_uri()
    if tracking_uri.startswith("file:"):  # MLflow 3 refuses a local file store unless asked for it
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return MLFlowLogger(experiment_name=experiment_name, run_name=Path(run_dir).name, tracking_uri=tracking_uri)


def wandb(run_dir: str, project: str, offline: bool) -> Logger:
    """A Weights & Biases run named after the run directory, kept under <run>/wandb."""
    _needs("wandb", "wandb")
    from pytorch_lightning.loggers import WandbLogger

    return WandbLogger(name=Path(run_dir).name, project=project, offline=offline, save_dir=run_dir)


def chosen_loggers(logger: DictConfig | None, run_dir: Path, config: dict) -> list[Logger]:
    """The loggers of the `logger` list (beyond metrics.csv and train.log), each given the run's config."""
    loggers = [
        instantiate_without(node, (), run_dir=str(run_dir)) for node in (logger or {}).values() if node.get("_target_")
    ]
    flat = flatten(config)
    for each in loggers:
        each.log_hyperparams(flat)
    return loggers
