"""Types of the config's fixed keys, so that Hydra rejects `trainer.max_epochs=abc` at once.

The group nodes (model, data, optim, ...) stay free-form: each option has its own keys.
"""

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf


@dataclass
class TrainerConfig:
    max_epochs: int = 20
    max_steps: int = -1
    limit_train_batches: Any = None  # a count (int) or a fraction (float)
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    check_val_every_n_epoch: int = 1
    accumulate_grad_batches: int = 1
    overfit_batches: Any = 0  # a count (int) or a fraction (float); 0: off


@dataclass
class HardwareConfig:
    accelerator: str = "cpu"
    devices: Any = 1  # a count, a list of ids, or "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"  # 64, 32, 16-mixed, bf16-mixed (or Lightning's other names)
    compile: bool = False  # torch.compile the model
    deterministic: bool = False  # deterministic algorithms only (slower; same numbers every run)
    threads: Optional[int] = None  # CPU threads for torch; None: torch's default (one per core)
    loss_check_every: Optional[int] = None  # steps between the divergence guard's reads; None: 1 on CPU, 50 on GPU


@dataclass
class CheckpointConfig:
    every_n_steps: Optional[int] = None


@dataclass
class Config:
    seed: int = 0
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    progress_bar: bool = True
    resume: Optional[str] = None
    task: Any = None
    model: Any = None
    data: Any = None
    optim: Any = None
    scheduler: Any = None
    regularizer: Any = None
    transform: Any = None
    logger: Any = None
    tune: Any = None
    debug: Any = None


def register() -> None:
    """The schema, and the resolver that names a run after a class of the user's (model=custom)."""
    ConfigStore.instance().store(name="archtrain_schema", node=Config)
    OmegaConf.register_new_resolver("class_name", lambda target: target.rsplit(".", 1)[-1].lower(), replace=True)
