"""Lightning callbacks that archtrain adds to every run."""

import contextlib
import math
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint, EMAWeightAveraging, RichProgressBar
from pytorch_lightning.trainer.states import TrainerFn
from torch.nn.utils import get_total_norm

from archtrain.errors import ArchtrainError, Diverged, Stopped
from archtrain.signals import received, take_handlers
from archtrain.training.checkpoint_io import SafeCheckpointIO


def rng_states() -> dict:
    """Every RNG's state, as tensors and plain numbers that `torch.load(weights_only=True)` accepts."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    states = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": position,
            "has_gauss": has_gauss,
            "gauss": gauss,
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    numpy = states["numpy"]
    np.random.set_state(
        (numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"], numpy["has_gauss"], numpy["gauss"])
    )
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class RunState(pl.Callback):
    """What archtrain adds to Lightning's checkpoint: every RNG state, so that a resumed run draws
    the same dropout masks and augmentations as the run that never stopped, and the composed
    config, so that a checkpoint alone says how it was trained."""

    def __init__(self, config: dict):
        self.config = config

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint["rng_states"] = rng_states()
        checkpoint["archtrain_config"] = self.config

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        if "rng_states" in checkpoint and trainer.state.fn == "fit":
            set_rng_states(checkpoint["rng_states"])


class RichBar(RichProgressBar):
    """Lightning's rich progress bar, redrawn at most every `interval` seconds.

    The stock bar rebuilds its text on every batch; for a small model that costs as much as
    the training step itself.
    """

    def __init__(self, interval: float = 0.1):
        super().__init__()
        self.interval, self._last = interval, 0.0

    def _due(self, batch_idx: int, total: float) -> bool:
        now = time.monotonic()
        if now - self._last >= self.interval or batch_idx + 1 >= total:
            self._last = now
            return True
        return False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self._due(batch_idx, self.total_train_batches):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if self._due(batch_idx, self.total_val_batches_current_dataloader):
            super().on_validation_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)


class DivergenceGuard(pl.Callback):
    """Stops the run at the first step whose loss is not finite; no checkpoint is written after it.

    Each step's loss is copied into a buffer on its own device (one copy, which never waits for a GPU);
    the host checks the buffer every `read_every` steps, at each epoch's end and before any checkpoint
    is written, so a GPU is synchronized once per `read_every` steps instead of at every step. The
    error names the first bad step however late it is read. Under data parallelism the processes
    decide together at each read (one small all-reduce), so that none is left waiting for a process
    that has stopped. A step can also blow up the weights while its loss, computed before the update,
    was still finite: the weights are checked before each checkpoint is written, so that none holds them."""

    def __init__(self, read_every: int = 1):
        self.read_every = read_every
        self.losses: torch.Tensor | None = None  # on the loss's device: the losses since the last read
        self.pending = 0  # how many of them

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        self.read(trainer)
        largest = get_total_norm(list(pl_module.parameters()), norm_type=math.inf)  # NaN wherever one is
        if not math.isfinite(largest):  # a Hopfield memory has no parameters: 0
            raise Diverged(
                f"the weights became non-finite by step {trainer.global_step} (epoch "
                f"{trainer.current_epoch}); {self.checkpoints_left(trainer)}"
            )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        if self.read_every == 1:  # read at once (the CPU): the loss itself, no copy
            if trainer.world_size == 1 and math.isfinite(loss.item()):  # one number: no tensor operations
                return
            self.losses, self.pending = loss.detach().reshape(1), 1
        else:
            if self.losses is None or self.losses.device != loss.device:
                self.losses = torch.empty(self.read_every, dtype=loss.dtype, device=loss.device)
            self.losses[self.pending] = loss.detach()  # one copy on the device: nothing waits
            self.pending += 1
        if self.pending == self.read_every:
            self.read(trainer, batch_idx)

    def on_train_epoch_end(self, trainer, pl_module):
        self.read(trainer)

    def read(self, trainer, batch_idx: int | None = None) -> None:
        """The host reads the losses kept since the last read (one synchronization) and stops the run at
        the first that is not finite, in any process."""
        losses = self.losses[: self.pending] if self.pending else None
        self.pending = 0
        finite = losses is None or bool(torch.isfinite(losses).all())
        everywhere = trainer.strategy.reduce_boolean_decision(finite, all=True) if trainer.world_size > 1 else finite
        if everywhere:
            return
        if finite:
            raise Diverged(
                f"the training loss became non-finite in another process by step {trainer.global_step} "
                f"(epoch {trainer.current_epoch}); {self.checkpoints_left(trainer)}"
            )
        first = int((~torch.isfinite(losses)).nonzero()[0])
        since = len(losses) - 1 - first  # steps taken after the bad one
        where = f", batch {batch_idx - since}" if batch_idx is not None else ""
        raise Diverged(
            f"the training loss became {losses[first].item()} at step {trainer.global_step - since} "
            f"(epoch {trainer.current_epoch}{where}); {self.checkpoints_left(trainer)}"
        )

    @staticmethod
    def checkpoints_left(trainer) -> str:
        """What the run keeps: the checkpoints written before the bad step, if there are any (once the
        write in flight, if any, is on disk; had it failed, the checkpoints are those before it)."""
        writer = getattr(trainer.strategy, "checkpoint_io", None)
        if isinstance(writer, SafeCheckpointIO):
            with contextlib.suppress(ArchtrainError):
                writer.wait()
        folders = {
            Path(folder) for callback in trainer.checkpoint_callbacks if (folder := getattr(callback, "dirpath", None))
        }
        written = [path for folder in folders for path in folder.glob("*.ckpt")]
        if written:
            return "the checkpoints before it are kept"
        return "it stopped before any checkpoint was written, so there is none to resume from"


class StopOnSignal(pl.Callback):
    """Stops the run on the SIGINT (Ctrl-C) or SIGTERM that `archtrain.signals` noted, with exit code
    128 + the signal's number, at the first point where what is on disk resumes exactly:

    - before training (start-up, the sanity check): when training starts; a new run first saves its
      initial state as `last_checkpoint`, a resumed one still has the checkpoint it started from;
    - in training: at the end of the step that closes the gradient-accumulation window, after saving
      `last_checkpoint` (a checkpoint inside the window would lose the gradients accumulated so far);
    - after training, in the test: at the end of the test batch; last.ckpt holds the trained state
      and a resume runs the test again.

    Lightning installs its own SIGTERM handler in each trainer call, which would stop validation or
    the test midway with exit code 0; the hooks that start each stage take the signals back.
    """

    def __init__(self, last_checkpoint: Path):
        self.last_checkpoint = last_checkpoint

    def on_sanity_check_start(self, trainer, pl_module) -> None:
        take_handlers()

    def on_train_start(self, trainer, pl_module) -> None:
        take_handlers()
        if received() and trainer.ckpt_path is None:
            trainer.save_checkpoint(self.last_checkpoint)
        self.stop_if_signalled("before training started")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if received() and not trainer.fit_loop.epoch_loop._should_accumulate():  # Lightning's own test
            trainer.save_checkpoint(self.last_checkpoint)
            self.stop_if_signalled(
                f"stopped at step {trainer.global_step} (epoch {trainer.current_epoch}) "
                f"and saved {self.last_checkpoint.name}"
            )

    def on_test_start(self, trainer, pl_module) -> None:
        take_handlers()
        self.stop_if_signalled("after training, before the test")

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self.stop_if_signalled("during the test")

    @staticmethod
    def stop_if_signalled(when: str) -> None:
        """Raise Stopped if a signal has arrived; `when` says where the run stopped."""
        number = received()
        if number is not None:
            raise Stopped(f"{signal.Signals(number).name} received: {when}", number)


class LastCheckpoint(Checkpoint):
    """Writes `path` (last.ckpt) at the end of every training epoch and when training ends, so that
    it always holds the run's last state. (Lightning's `save_last` writes it only where a best
    checkpoint was saved: once validation stops improving, last.ckpt would fall behind the run.)
    A run that reaches `max_steps` inside an epoch is saved at that step instead: Lightning then closes
    the epoch as if it were complete, and a resume with more steps would skip the rest of it.

    A `Checkpoint`, so that Lightning calls it after the task's own epoch-end hook has closed the
    epoch's running loss, and after the best checkpoint."""

    def __init__(self, path: Path):
        self.path, self.dirpath = path, path.parent
        self.ended_at_max_steps = False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            self.ended_at_max_steps = True
            trainer.save_checkpoint(self.path)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not (self.ended_at_max_steps or self.last_epoch(trainer)):
            trainer.save_checkpoint(self.path)

    def on_train_end(self, trainer, pl_module) -> None:
        if not self.ended_at_max_steps:
            trainer.save_checkpoint(self.path)

    @staticmethod
    def last_epoch(trainer) -> bool:
        """Whether training ends with this epoch (`max_epochs`, Lightning's own test): `on_train_end`, a moment
        later, saves it, with the epoch counted as complete."""
        return 0 <= trainer.max_epochs <= trainer.fit_loop.epoch_progress.current.processed


class AveragedWeights(EMAWeightAveraging):
    """Lightning's EMA of the weights, whose average is also what a checkpoint is tested with: Lightning's
    callback, still holding the average after fit, would load the checkpoint's current (not averaged)
    weights into the model when the same trainer tests it."""

    def on_load_checkpoint(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule", checkpoint: dict) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)


class SamplePictures(pl.Callback):
    """The pictures of a generative task (sample grids, samples over the data, reconstructions...) in
    `folder`, named by epoch, at the first validation and every `task.pictures_every`-th epoch after it;
    drawn from their own noise, so the run's random numbers (and exact resume) are untouched."""

    def __init__(self, folder: Path):
        self.folder = folder

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        every, epoch = pl_module.pictures_every, trainer.current_epoch
        if trainer.sanity_checking or not trainer.is_global_zero or not every or epoch % every:
            return
        pl_module.pictures(self.folder, trainer.datamodule.splits["val"], f"epoch_{epoch:03d}")
