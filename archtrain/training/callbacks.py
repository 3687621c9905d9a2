"""Lightning callbacks that archtrain adds to every run."""

import random
import signal
import time
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import RichProgressBar

from archtrain.errors import Diverged, Stopped


def rng_states() -> dict:
    """Every RNG's state, as tensors and plain numbers that `torch.load(weights_only=True)` accepts."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    states = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": position,
                  "has_gauss": has_gauss, "gauss": gauss},
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    numpy = states["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["gauss"]))
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
    Under data parallelism the processes decide together (one small all-reduce per step), so that
    none is left waiting for a process that has stopped. A step can also blow up the weights while
    its loss, computed before the update, was still finite: the weights are checked before each
    checkpoint is written, so that none holds them."""

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        if not all(torch.isfinite(p).all() for p in pl_module.parameters()):
            raise Diverged(f"the weights became non-finite by step {trainer.global_step} (epoch "
                           f"{trainer.current_epoch}); the checkpoints before it are kept")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        finite = bool(torch.isfinite(loss))
        if trainer.world_size > 1:
            finite = trainer.strategy.reduce_boolean_decision(finite, all=True)
        if not finite:
            value = loss.item() if not torch.isfinite(loss) else "non-finite in another process"
            raise Diverged(f"the training loss became {value} at step {trainer.global_step} "
                           f"(epoch {trainer.current_epoch}, batch {batch_idx}); the checkpoints before it are kept")


class StopOnSignal(pl.Callback):
    """SIGINT (Ctrl-C) and SIGTERM finish the current training step, save `last_checkpoint` and stop
    the run with exit code 128 + the signal's number. A second signal while saving is ignored.

    The handlers go in at `on_train_start`, after Lightning has registered its own SIGTERM handler,
    which would otherwise stop a run in the middle of validation with exit code 0.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, last_checkpoint: Path):
        self.last_checkpoint, self.received, self.previous = last_checkpoint, None, {}

    def on_train_start(self, trainer, pl_module) -> None:
        for number in self.SIGNALS:
            if signal.getsignal(number) is not signal.SIG_IGN:      # respect nohup and background jobs
                self.previous[number] = signal.signal(number, self._record)

    def _record(self, number, frame) -> None:
        self.received = self.received or number

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.stop_if_signalled(trainer)

    def stop_if_signalled(self, trainer) -> None:
        """Save the last checkpoint and raise Stopped if a signal has arrived."""
        if not self.received:
            return
        for number in self.previous:
            signal.signal(number, signal.SIG_IGN)
        trainer.save_checkpoint(self.last_checkpoint)
        name = signal.Signals(self.received).name
        raise Stopped(f"{name} received: stopped at step {trainer.global_step} (epoch {trainer.current_epoch}) "
                      f"and saved {self.last_checkpoint.name}", self.received)

    def teardown(self, trainer, pl_module, stage: str) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        self.previous = {}
