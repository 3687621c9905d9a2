"""The `regularizer` list, turned into what each layer needs, and the combinations that cannot work."""

from dataclasses import dataclass

from omegaconf import DictConfig

from archtrain.training.augment import Augment, Mix

# Regularizers that set a model constructor's argument, where the model has one.
MODEL_ARGUMENTS = {"dropout": "dropout", "stochastic_depth": "drop_path"}


@dataclass
class Regularization:
    """What the task applies while training."""

    weight_decay: float = 0.0
    decay_norms_and_biases: bool = False
    l1: float = 0.0
    label_smoothing: float = 0.0
    augment: Augment | None = None
    mix: Mix | None = None
    grad_clip_value: float | None = None  # clipped by the Trainer, or by a task that steps its own optimizers
    grad_clip_algorithm: str = "norm"


def regularizers(cfg: DictConfig) -> DictConfig:
    """The run's `regularizer` node: one key per chosen regularizer (empty when none is chosen)."""
    return cfg.get("regularizer") or DictConfig({})


def regularization(regularizer: DictConfig) -> Regularization:
    decay = regularizer.get("weight_decay") or {}
    mixing = {
        "mixup_alpha": (regularizer.get("mixup") or {}).get("alpha"),
        "cutmix_alpha": (regularizer.get("cutmix") or {}).get("alpha"),
    }
    clip = regularizer.get("grad_clip") or {}
    return Regularization(
        weight_decay=decay.get("value", 0.0),
        decay_norms_and_biases=decay.get("norms_and_biases", False),
        l1=regularizer.get("l1", 0.0),
        label_smoothing=regularizer.get("label_smoothing", 0.0),
        augment=Augment(**regularizer.augment) if "augment" in regularizer else None,
        mix=Mix(**mixing) if any(mixing.values()) else None,
        grad_clip_value=clip.get("value"),
        grad_clip_algorithm=clip.get("algorithm", "norm"),
    )


def model_arguments(regularizer: DictConfig) -> dict:
    """Constructor arguments that regularizers set, e.g. {'dropout': 0.2}."""
    return {argument: regularizer[key] for key, argument in MODEL_ARGUMENTS.items() if key in regularizer}


def combination_problems(cfg: DictConfig, model_arguments_accepted: set[str]) -> list[str]:
    """Why the optimizer, schedule and regularizers cannot work together on this model, whatever the
    task (each task adds its own: `Task.problems`)."""
    regularizer = regularizers(cfg)
    optimizer = cfg.optim._target_.rsplit(".", 1)[-1]
    scheduler = (cfg.get("scheduler") or {}).get("_target_", "").rsplit(".", 1)[-1]
    problems = []
    if optimizer == "LBFGS" and cfg.trainer.accumulate_grad_batches > 1:
        problems.append(
            "optim=lbfgs re-evaluates the loss of one batch in a closure; it cannot accumulate "
            "gradients over several batches (drop regularizer=accumulate)"
        )
    if optimizer == "LBFGS" and "weight_decay" in regularizer:
        problems.append(
            "optim=lbfgs has no weight decay in torch; drop regularizer=weight_decay "
            "(regularizer=l1 adds its penalty to the loss instead)"
        )
    if optimizer == "LBFGS" and {"augment", "mixup", "cutmix"} & set(regularizer):
        problems.append(
            "optim=lbfgs needs the same loss at every evaluation within a step; random batch "
            "augmentation (augment, mixup, cutmix) changes it"
        )
    validation_off = cfg.trainer.limit_val_batches == 0 or cfg.trainer.check_val_every_n_epoch > cfg.trainer.max_epochs
    if scheduler == "plateau" and validation_off:
        problems.append("scheduler=plateau watches a validation metric, but this run never validates")
    if "early_stopping" in regularizer and validation_off:
        problems.append("regularizer=early_stopping watches a validation metric, but this run never validates")
    if "stochastic_depth" in regularizer and MODEL_ARGUMENTS["stochastic_depth"] not in model_arguments_accepted:
        problems.append(f"regularizer=stochastic_depth needs residual blocks, and model={cfg.model.name} has none")
    return problems
