"""The run directory: its layout, its summary, finding a run to resume, a new directory for
each run, and the lock held while a process trains in one."""

import fcntl
import itertools
import json
import logging
import os
import platform
import subprocess
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import IO, Iterator

from omegaconf import DictConfig, OmegaConf

from archtrain.checks import check_machine, check_types, check_values
from archtrain.distributed import global_rank
from archtrain.errors import ArchtrainError
from archtrain.files import write_atomic

log = logging.getLogger(__name__)
PACKAGES = ("archtrain", "torch", "pytorch-lightning", "hydra-core", "torchmetrics", "numpy")


class RunDir:
    """One run's directory:

    config.yaml        the composed config (what resume reads)
    metrics.csv        every logged metric, by epoch
    checkpoints/       last.ckpt and best.ckpt (a damaged one set aside as <name>.damaged)
    summary.json       status, metrics, paths, durations, versions
    learning_curve.png
    samples.txt        language models only
    final_*.png        generative tasks: samples (and reconstructions...) of the best checkpoint
    pictures/          generative tasks: the same at validations (epoch_<N>_*.png)
    samples.pt/.png    what `archtrain sample` drew
    eval.json          what `archtrain eval` measured, by data and split
    train.log          the full log
    .lock              held by the process that trains in the run (its pid inside)
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
        self.pictures = self.path / "pictures"
        self.log = self.path / "train.log"
        self.lock = self.path / ".lock"

    def save_config(self, cfg: DictConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.config, OmegaConf.to_yaml(cfg, resolve=True))

    def load_config(self, overrides: list[str]) -> DictConfig:
        """The run's own config (config.yaml, else the one inside its checkpoint) with `overrides`
        (KEY=VALUE) applied and checked as a new run's values are. Refused: unknown keys, the seed
        and the groups that say what the checkpoint means, and a new length for a schedule that was
        fixed to the run's length."""
        refuse_fixed_keys(overrides)
        stored = self.stored_config()
        cfg = with_overrides(stored, overrides)
        keys = [override.split("=", 1)[0] for override in overrides]
        check_types(cfg, stored, keys)
        check_values(cfg)
        check_machine(cfg.hardware)
        check_schedule_length(stored, cfg, keys)
        return cfg

    def stored_config(self) -> DictConfig:
        """config.yaml, or the config inside the newest intact checkpoint when there is no config.yaml."""
        if not self.config.is_file():
            return self.checkpoint_config()
        hint = "fix it, or remove it to resume with the config stored in the checkpoint"
        try:
            cfg = OmegaConf.load(self.config)
        except Exception as err:  # yaml and omegaconf raise many error types for a damaged file
            raise ArchtrainError(f"{self.config} cannot be read ({one_line(err)}); {hint}") from None
        if not isinstance(cfg, DictConfig) or not {"model", "data", "trainer"} <= cfg.keys():
            raise ArchtrainError(f"{self.config} is not a run's config (it has no model, data and trainer); {hint}")
        return cfg

    @contextmanager
    def training(self) -> Iterator[None]:
        """Hold the run's lock while this job trains in it, with this process's pid inside, or refuse
        if another process holds it. The kernel releases the lock when the process ends, however it
        ends: a killed run never blocks its resume."""
        with self._locked() as handle:
            if handle is not None:
                handle.truncate(0)
                handle.write(f"{os.getpid()}\n")
                handle.flush()
            yield

    def check_unlocked(self) -> None:
        """Refuse at once to start in a run that another process trains in."""
        with self._locked():
            pass

    @contextmanager
    def _locked(self) -> Iterator[IO[str] | None]:
        """The lock file, locked by this process; None in ranks other than 0, which share rank 0's run."""
        if global_rank() != 0:
            yield None
            return
        try:
            handle = open(self.lock, "a+", encoding="utf-8")
        except OSError as err:
            raise ArchtrainError(f"cannot lock the run directory {self.path}: {err.strerror}") from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                pid = handle.read().strip() or "?"
                raise ArchtrainError(
                    f"{self.path} is in use: archtrain process {pid} is training in it; "
                    f"wait for it to end, or stop it (kill {pid})"
                ) from None
            yield handle

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

    def resume_checkpoint(self, weights: dict | None = None) -> Path:
        """The newest intact checkpoint: one that reads back whole and, given the model's `weights`
        (its state_dict), holds tensors of the same names and shapes. Once one is found, the damaged
        newer ones (unreadable, altered, a folder, another model's weights) are set aside with a
        warning; one that carries pickled objects is refused, never loaded."""
        damaged = []
        for path in sorted(self.checkpoints.glob("*.ckpt"), key=lambda p: p.lstat().st_mtime, reverse=True):
            problem = checkpoint_problem(path, weights)
            if problem is None:
                for bad, why in damaged:
                    log.warning("%s; kept as %s, resuming from %s", why, set_aside(bad).name, path.name)
                return path
            damaged.append((path, problem))
        found = "; ".join(why for _, why in damaged) or "there is none"
        raise ArchtrainError(f"resume={self.path}: no intact checkpoint in {self.checkpoints} ({found})")


def checkpoint_problem(path: Path, weights: dict | None) -> str | None:
    """Why the checkpoint at `path` cannot be resumed from, or None if it can."""
    from archtrain.training.checkpoint_io import CorruptCheckpoint, read_checkpoint

    try:
        stored = read_checkpoint(path).get("state_dict") or {}
    except CorruptCheckpoint as err:
        return str(err)
    misfit = weights_misfit(stored, weights) if weights is not None else None
    return f"checkpoint {path} holds another model's weights ({misfit})" if misfit else None


def weights_misfit(stored: dict, weights: dict) -> str | None:
    """How tensors `stored` in a checkpoint do not fit a model's `weights`, or None if they fit."""
    missing, extra = weights.keys() - stored.keys(), stored.keys() - weights.keys()
    if missing or extra:
        return (
            f"{len(missing)} of the model's tensors missing, {len(extra)} unknown to it, "
            f"e.g. {sorted(missing or extra)[0]}"
        )
    for name, tensor in weights.items():
        if tuple(stored[name].shape) != tuple(tensor.shape):
            return f"{name} has shape {tuple(stored[name].shape)}, the model's {tuple(tensor.shape)}"
    return None


def set_aside(path: Path) -> Path:
    """Rename a damaged checkpoint out of the way (`last.ckpt.damaged`, `-2`...): kept, never read again."""
    candidates = (path.with_name(f"{path.name}.damaged{'' if n == 1 else f'-{n}'}") for n in itertools.count(1))
    aside = next(candidate for candidate in candidates if not candidate.exists())
    path.rename(aside)
    return aside


# What a checkpoint means: resume continues it, a new run from its weights changes it.
RESUME_FIXED_GROUPS = ("model", "data", "task", "transform", "optim", "scheduler", "regularizer")
# The keys that decide how many optimizer steps a run takes.
RUN_LENGTH_KEYS = (
    "trainer.max_epochs",
    "trainer.max_steps",
    "trainer.limit_train_batches",
    "trainer.accumulate_grad_batches",
    "hardware.devices",
    "hardware.num_nodes",
)
NEW_RUN = "start a new run from its weights with transform=[weights] transform.weights.path=<run> instead"


def refuse_fixed_keys(overrides: list[str]) -> None:
    """Refuse resume overrides of the seed (it decides the data split) and of the groups the checkpoint restores."""
    heads = {override: override.split("=", 1)[0].lstrip("+~").split(".", 1)[0] for override in overrides}
    seed = [override for override, head in heads.items() if head == "seed"]
    if seed:
        raise ArchtrainError(
            f"resume cannot change {' '.join(seed)}: the seed decides the data split, so a new "
            f"seed would split the data again in the middle of the run; start a new run instead"
        )
    fixed = [override for override, head in heads.items() if head in RESUME_FIXED_GROUPS]
    if fixed:
        raise ArchtrainError(
            f"resume cannot change {' '.join(fixed)}: the model, data, task, transforms, optimizer, "
            f"schedule and regularizers continue from the checkpoint; {NEW_RUN}"
        )


def with_overrides(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """`cfg` with KEY=VALUE `overrides` merged in; a key it does not have is refused."""
    OmegaConf.set_struct(cfg, True)
    for override in overrides:
        try:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist([override]))
        except Exception as err:  # omegaconf raises several error types for a bad key or value
            raise ArchtrainError(f"cannot apply {override} to the run's config: {one_line(err)}") from None
    return cfg


def check_schedule_length(stored: DictConfig, cfg: DictConfig, keys: list[str]) -> None:
    """Refuse to change the length of a run whose schedule was shaped to its length when it started
    (cosine, 1cycle): that schedule has no meaning past its end, where its rate has reached its floor."""
    changed = [
        f"{key}={OmegaConf.select(cfg, key)}"
        for key in RUN_LENGTH_KEYS
        if key in keys and OmegaConf.select(cfg, key) != OmegaConf.select(stored, key)
    ]
    factory = str((stored.get("scheduler") or {}).get("_target_", ""))
    if not changed or not factory.startswith("archtrain.training.schedulers."):
        return
    from archtrain.training.schedulers import FIXED_LENGTH

    name = factory.rsplit(".", 1)[-1]
    if name in FIXED_LENGTH:
        raise ArchtrainError(
            f"resume cannot change {' '.join(changed)}: the run's {name} schedule was fixed to its "
            f"length when it started (a finished one has brought the rate to its floor); "
            f"resume it with its own length, or {NEW_RUN}"
        )


def one_line(err: Exception) -> str:
    return next(iter(str(err).strip().splitlines()), type(err).__name__)


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


def existing_run(path: str) -> RunDir:
    """The run at `path` that a verb acts on: a directory with its config.yaml."""
    run = RunDir(path)
    if not run.path.is_dir():
        raise ArchtrainError(f"run={path}: no such directory")
    if not run.config.is_file():
        raise ArchtrainError(f"run={path}: not an archtrain run (it has no config.yaml)")
    return run


def find_run(path: str) -> RunDir:
    """The run at `path`, checked to be one that can be resumed."""
    run = RunDir(path)
    if not run.path.is_dir():
        raise ArchtrainError(f"resume={path}: no such directory")
    if not any(run.checkpoints.glob("*.ckpt")):
        what = (
            "the run has no checkpoint to resume from"
            if run.config.is_file()
            else "not an archtrain run (it has neither config.yaml nor checkpoints)"
        )
        raise ArchtrainError(f"resume={path}: {what}")
    return run


def register_run_dir_resolver(create: bool = True) -> None:
    """`${new_dir:parent,name}` in the config (hydra.run.dir, hydra.sweep.dir) claims a new directory,
    or only names it when `create` is false (`archtrain --cfg all --resolve` writes nothing). Cached
    per config, so each run claims one directory, however often Hydra reads it."""
    OmegaConf.register_new_resolver("new_dir", new_dir if create else folder_path, use_cache=True, replace=True)


def new_dir(parent: str, name: str) -> str:
    """Create `parent/name`, or `parent/name-2` (-3...) if another run took it first: mkdir is atomic,
    so runs started in the same second, in one process or in several, never share a directory."""
    first = folder_path(parent, name)
    Path(parent).mkdir(parents=True, exist_ok=True)
    for path in itertools.chain([first], (f"{first}-{number}" for number in itertools.count(2))):
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        return path


def folder_path(parent: str, name: str) -> str:
    """`parent/name`, refused if `name` would lead out of `parent`."""
    check_folder_name(name, "the run's name")
    return str(Path(parent, name))


# The config values that a run's directory is named after (conf/config.yaml, hydra.run.dir).
NAMING_KEYS = ("model.name", "data.name")


def check_run_name(cfg: DictConfig) -> None:
    """Refuse names that would put the run's directory elsewhere (`model.name=../../x`)."""
    for key in NAMING_KEYS:
        check_folder_name(str(OmegaConf.select(cfg, key)), key)


def check_folder_name(name: str, what: str) -> None:
    """Refuse a name that is not one folder inside its parent."""
    if "/" in name or name in ("", ".", ".."):
        raise ArchtrainError(
            f"{what}='{name}': it names the run's directory, so it must be a plain folder name "
            f"(no '/', not '.' or '..')"
        )


def environment() -> dict:
    """Package versions, Python and platform, and the git commit of the working directory."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None
