"""The run directory: its layout, its summary, and finding a run to resume."""

import json
import logging
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from archtrain.errors import ArchtrainError

log = logging.getLogger(__name__)
PACKAGES = ("archtrain", "torch", "lightning", "hydra-core", "torchmetrics", "numpy")


class RunDir:
    """One run's directory:

        config.yaml        the composed config (what resume reads)
        metrics.csv        every logged metric, by epoch
        checkpoints/       last.ckpt and best.ckpt
        summary.json       status, metrics, paths, durations, versions
        learning_curve.png
        samples.txt        language models only
        eval.json          what `archtrain eval` measured, by data and split
        train.log          the full log
    """

    def __init__(self, path: str | Path):
        self.path = Path(path).resolve()
        self.config = self.path / "config.yaml"
        self.metrics = self.path / "metrics.csv"
        self.checkpoints = self.path / "checkpoints"
        self.last_checkpoint = self.checkpoints / "last.ckpt"
        self.best_checkpoint = self.checkpoints / "best.ckpt"
        self.summary = self.path / "summary.json"
        self.learning_curve = self.path / "learning_curve.png"
        self.log = self.path / "train.log"

    def save_config(self, cfg: DictConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.config, OmegaConf.to_yaml(cfg, resolve=True))

    def load_config(self, overrides: list[str]) -> DictConfig:
        """The run's own config (config.yaml, else the one inside its checkpoint) with `overrides`
        (KEY=VALUE) applied. Unknown keys are refused, and so are the model, data, optimizer and
        schedule, which the checkpoint restores."""
        fixed = [o for o in overrides if o.split("=", 1)[0].split(".", 1)[0] in ("optim", "scheduler", "model", "data")]
        if fixed:
            raise ArchtrainError(f"resume cannot change {' '.join(fixed)}: the model, data, optimizer and schedule "
                                 f"continue from the checkpoint; start a new run from its weights with transform=[weights] transform.weights.path=<run> instead")
        cfg = OmegaConf.load(self.config) if self.config.is_file() else self.checkpoint_config()
        OmegaConf.set_struct(cfg, True)
        try:
            return OmegaConf.merge(cfg, OmegaConf.from_dotlist(overrides))
        except Exception as err:  # omegaconf raises several error types for a bad key or value
            raise ArchtrainError(f"cannot apply {' '.join(overrides)} to the run's config: "
                                 f"{str(err).splitlines()[0]}") from None

    def write_summary(self, summary: dict) -> None:
        write_atomic(self.summary, json.dumps(summary, indent=2, default=str) + "\n")

    def read_summary(self) -> dict:
        return json.loads(self.summary.read_text()) if self.summary.exists() else {}

    def checkpoint_config(self) -> DictConfig:
        """The composed config stored inside the run's newest intact checkpoint."""
        from archtrain.training.checkpoint_io import read_checkpoint

        stored = read_checkpoint(self.resume_checkpoint()).get("archtrain_config")
        if stored is None:
            raise ArchtrainError(f"resume={self.path}: no config.yaml, and its checkpoint carries no config")
        return OmegaConf.create(stored)

    def resume_checkpoint(self) -> Path:
        """The newest checkpoint that reads back whole: last.ckpt unless it is damaged."""
        from archtrain.training.checkpoint_io import CorruptCheckpoint, read_checkpoint

        candidates = sorted(self.checkpoints.glob("*.ckpt"), key=lambda p: p.stat().st_mtime, reverse=True)
        for path in candidates:
            try:
                read_checkpoint(path)
            except CorruptCheckpoint as err:
                log.warning("%s; trying an older checkpoint", err)
                continue
            if path != self.last_checkpoint:
                log.warning("resuming from %s", path.name)
            return path
        raise ArchtrainError(f"resume={self.path}: no intact checkpoint in {self.checkpoints}")


def checkpoint_file(path: str, which: str = "best", where: str = "run") -> Path:
    """The checkpoint that `path` names: a .ckpt file, or a run directory's best (or last) checkpoint."""
    if which not in ("best", "last"):
        raise ArchtrainError(f"{where}: checkpoint={which}: choose best or last")
    file = Path(path).expanduser()
    if file.is_dir():
        run = RunDir(file)
        file = run.best_checkpoint if which == "best" else run.last_checkpoint
    if not file.is_file():
        raise ArchtrainError(f"{where}: no checkpoint at '{file}' (give a run directory or a .ckpt file)")
    return file


def net_weights(path: Path, where: str = "run") -> tuple[dict, tuple[str, ...] | None]:
    """The net's tensors in a checkpoint (names as in the net) and the vocabulary it records, if any."""
    from archtrain.training.checkpoint_io import read_checkpoint

    checkpoint = read_checkpoint(path)
    state = checkpoint.get("state_dict")
    if state is None:
        raise ArchtrainError(f"{where}: '{path}' holds no model weights (no state_dict)")
    weights = {name.removeprefix("net."): tensor for name, tensor in state.items() if name.startswith("net.")}
    vocab = checkpoint.get("vocab")
    return weights, None if vocab is None else tuple(vocab)


def find_run(path: str) -> RunDir:
    """The run at `path`, checked to be one that can be resumed."""
    run = RunDir(path)
    if not run.path.is_dir():
        raise ArchtrainError(f"resume={path}: no such directory")
    if not any(run.checkpoints.glob("*.ckpt")):
        what = "the run has no checkpoint to resume from" if run.config.is_file() else \
            "not an archtrain run (it has neither config.yaml nor checkpoints)"
        raise ArchtrainError(f"resume={path}: {what}")
    return run


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def environment() -> dict:
    """Package versions, Python and platform, and the git commit of the working directory."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"versions": versions, "python": platform.python_version(), "platform": platform.platform(),
            "git_commit": git_commit(), "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None
