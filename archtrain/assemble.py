"""Config -> the parts of a run: data, net and task. Every verb (fit, eval, predict, export) acts on them.

data = DataModule(cfg.data)                       knows data, not models or objectives
net  = build_net(cfg.model, spec, head)           the head the task asks for
net  = transforms(net, cfg.transform)             weights from a run, freeze, ...
task = cfg.task(net, spec, optim, ...)            the objective: losses, optimizers, metrics
"""

from dataclasses import dataclass, field

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from archtrain.checks import check_fit
from archtrain.compression.finishing import MODEL_FILE, restore_compressed
from archtrain.config import target_class
from archtrain.data import build_datamodule
from archtrain.data.base import ArrayDataModule
from archtrain.errors import ArchtrainError
from archtrain.models import accepted_arguments, build_net
from archtrain.runs import checkpoint_file, existing_run
from archtrain.tasks import Task
from archtrain.training.checkpoint_io import read_checkpoint
from archtrain.training.lora import merge_adapters
from archtrain.training.regularizers import combination_problems, model_arguments, regularization, regularizers
from archtrain.training.transforms import apply_transforms

TASK_METADATA = ("_target_", "name", "inputs")


@dataclass
class Parts:
    """What a run is made of; `transforms` reports what each model transform did, `applied` holds them."""

    cfg: DictConfig
    data: ArrayDataModule
    task: Task
    transforms: dict = field(default_factory=dict)
    applied: list = field(default_factory=list)

    @property
    def net(self):
        return self.task.net


def task_class(cfg: DictConfig) -> type[Task]:
    return target_class(cfg.task._target_)


def check_task(cfg: DictConfig, spec) -> None:
    """Stop before training on a combination of task, model, data and regularizers that cannot work."""
    problems = combination_problems(cfg, accepted_arguments(cfg.model)) + task_class(cfg).problems(cfg, spec)
    if problems:
        raise ArchtrainError("; ".join(problems))


def assemble(cfg: DictConfig, resume: bool = False) -> Parts:
    """Build the run's data, net and task from its config; `resume` skips the transforms that load
    weights, which the run's own checkpoint restores."""
    check_fit(cfg)
    data = build_datamodule(cfg.data, seed=cfg.seed)
    spec = data.spec
    check_task(cfg, spec)
    cls = task_class(cfg)
    net = build_net(cfg.model, spec, cls.head(spec), overrides=model_arguments(regularizers(cfg)))
    applied = []
    reports = apply_transforms(net, cfg.get("transform"), spec, resume, applied)
    knobs = {k: v for k, v in OmegaConf.to_container(cfg.task, resolve=True).items() if k not in TASK_METADATA}
    scheduler = instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    task = cls(
        net,
        spec,
        optim=instantiate(cfg.optim),
        scheduler=scheduler,
        regularization=regularization(regularizers(cfg)),
        **knobs,
    )
    return Parts(cfg, data, task, reports, applied)


def load_run(path: str, checkpoint: str = "best", cfg: DictConfig | None = None) -> Parts:
    """A run directory as a model: its parts built from its stored config (or `cfg`, e.g. with other
    data), with the weights of its best (or last) checkpoint."""
    run = existing_run(path)
    cfg = cfg if cfg is not None else run.load_config([])
    compressed = run.path / MODEL_FILE
    file = None if compressed.is_file() else checkpoint_file(str(run.path), checkpoint, f"run={path}")
    parts = assemble(cfg, resume=True)
    if file is None:  # a compressed run: its net is model.pt
        restore_compressed(parts, compressed, checkpoint, f"run={path}")
        return parts
    state = read_checkpoint(file).get("state_dict") or {}
    try:
        parts.task.load_state_dict(state)
    except RuntimeError as err:
        raise ArchtrainError(
            f"run={path}: its checkpoint does not fit the net built for data={cfg.data.name} "
            f"({str(err).splitlines()[-1].strip()})"
        ) from None
    merge_adapters(parts.net)  # a LoRA run is used as the plain net its adapters make
    parts.task.eval()
    return parts
