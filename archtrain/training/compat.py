"""Narrow fixes for known problems in the pinned libraries."""

import logging
import warnings

import torch.utils._pytree as torch_pytree


def avoid_deprecated_leafspec() -> None:
    """Stop Lightning from building torch's deprecated `LeafSpec` on every batch.

    torch 2.13 marks `LeafSpec` deprecated, so each construction issues a FutureWarning;
    Lightning 2.6's `_tree_flatten` constructs one per batch. `treespec_leaf()` returns torch's
    cached leaf spec, the same object `LeafSpec()` would build, without the warning.
    """
    if not hasattr(torch_pytree, "treespec_leaf"):
        return
    from pytorch_lightning.utilities import _pytree as lightning_pytree

    lightning_pytree.LeafSpec = torch_pytree.treespec_leaf


def quiet_lightning() -> None:
    """Keep Lightning's start-up chatter out of the console; archtrain reports what matters.

    Lightning attaches its own console handler at import, which would print every line twice
    beside the run's log handlers, and it warns about a per-step logging interval that archtrain
    does not use (it logs once per epoch), about a non-empty checkpoint folder, which every
    resumed run has, that weight averaging is not restored when the best checkpoint is tested,
    that a step checkpoint of a manually optimized task holds the weights after its optimizer steps
    (what a resume continues from),
    that a mid-epoch resume needs a stateful loader (archtrain's sampler finds its place itself),
    and, under DDP, that epoch-level values should be synced: they are torchmetrics results,
    already reduced across processes.
    """
    for name in ("pytorch_lightning", "lightning_fabric"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        logger.handlers.clear()
    warnings.filterwarnings("ignore", message=r".*smaller than the logging interval", category=UserWarning)
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty", category=UserWarning)
    warnings.filterwarnings(
        "ignore", message=r"You're using the WeightAveraging callback, but loading a checkpoint", category=UserWarning
    )
    warnings.filterwarnings(
        "ignore",
        message=r"Using ModelCheckpoint with manual optimization and every_n_train_steps",
        category=UserWarning,
    )
    # archtrain's sampler resumes mid-epoch from Lightning's own loop progress (data/base.py)
    warnings.filterwarnings(
        "ignore", message=r"You're resuming from a checkpoint that ended before the epoch ended", category=UserWarning
    )
    warnings.filterwarnings(
        "ignore", message=r"It is recommended to use `self.log\(.*sync_dist=True\)`", category=UserWarning
    )
    # debug=overfit: Lightning reads the first batches in order, as it should, and says so for each loader
    warnings.filterwarnings("ignore", message=r"You requested to overfit but enabled", category=UserWarning)
    # the hopfield task stores patterns by Hebb's rule, with no optimizer by design
    warnings.filterwarnings(
        "ignore", message=r".*returned `None`, this fit will run with no optimizer", category=UserWarning
    )
