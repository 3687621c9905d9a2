"""The classifier that judges generated images: a run directory the user names, or an MLP that archtrain
trains on the same data on first use and keeps under outputs/judges/ (ARCHTRAIN_JUDGES moves it)."""

import hashlib
import json
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from archtrain.errors import ArchtrainError

# The judge trained on first use: small and fast (digits: about 97% test accuracy in a few seconds).
JUDGE = [
    "model=mlp",
    "model.width=128",
    "task=classify",
    "trainer.max_epochs=30",
    "hardware.threads=1",
    "progress_bar=false",
]


def judge_folder(data: DictConfig) -> Path:
    """Where the judge of this data config is cached: one folder per data name and config."""
    text = json.dumps(OmegaConf.to_container(data, resolve=True), sort_keys=True)
    root = Path(os.environ.get("ARCHTRAIN_JUDGES", "outputs/judges"))
    return root / f"{data.name}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def judge_classifier(data: DictConfig, run: str | None = None):
    """The judge's Parts (a classify run with its best weights): `run`, checked to be a classifier of
    `data`'s dataset, else the cached judge of `data`, trained first if there is none."""
    from archtrain.assemble import load_run

    if run is None:
        folder = judge_folder(data)
        if not (folder / "checkpoints" / "best.ckpt").is_file():
            train_judge(data, folder)
        run = str(folder)
    parts = load_run(run)
    if parts.cfg.task.name != "classify" or parts.cfg.data.name != data.name:
        raise ArchtrainError(
            f"judge={run}: a judge is a classify run on data={data.name}, and this one is "
            f"task={parts.cfg.task.name} on data={parts.cfg.data.name}"
        )
    return parts


def train_judge(data: DictConfig, folder: Path) -> None:
    """Train JUDGE on `data` into `folder` (an ordinary run directory), quietly and in this process."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from archtrain.schema import register
    from archtrain.train import run_job

    register()
    if GlobalHydra.instance().is_initialized():
        cfg = compose("config", overrides=JUDGE)
    else:
        with initialize_config_module("archtrain.conf", version_base="1.3"):
            cfg = compose("config", overrides=JUDGE)
    OmegaConf.set_struct(cfg, False)
    cfg.data = data
    folder.mkdir(parents=True, exist_ok=True)
    summary = run_job(cfg, folder, [], multirun=True)
    if summary.get("status") != "completed":
        raise ArchtrainError(
            f"the judge classifier for data={data.name} did not train: {summary.get('error')} (its files: {folder})"
        )
