"""Character-level text for language models."""

from pathlib import Path

import torch

from archtrain.data.base import ArrayDataModule
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError


def read_text(path: str | None) -> str:
    """The file at `path`, or by default the pydoc topics that every Python install carries."""
    if path is None:
        from pydoc_data.topics import topics

        return "\n\n".join(topics[key] for key in sorted(topics))
    file = Path(path).expanduser()
    if not file.is_file():
        raise ArchtrainError(f"data.path: no such file '{file}' (data=text expects a UTF-8 text file)")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ArchtrainError(f"data.path: '{file}' is not UTF-8 text ({err.reason} at byte {err.start})")


class CharText(ArrayDataModule):
    """Next-character prediction on consecutive `seq_len` windows; the splits are contiguous spans.
    An epoch draws `samples_per_epoch` training windows (all of them when null)."""

    objective = "language_model"

    def __init__(self, path: str | None, seq_len: int, batch_size: int,
                 val_fraction: float, test_fraction: float, samples_per_epoch: int | None = None,
                 seed: int = 0):
        super().__init__(batch_size, seed, samples_per_epoch)
        self.path, self.seq_len = path, seq_len
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def load(self):
        text = read_text(self.path)
        vocab = sorted(set(text))
        index = {ch: i for i, ch in enumerate(vocab)}
        ids = torch.tensor([index[ch] for ch in text], dtype=torch.long)
        n_test, n_val = int(len(ids) * self.test_fraction), int(len(ids) * self.val_fraction)
        bounds = {"train": (0, len(ids) - n_val - n_test), "val": (len(ids) - n_val - n_test, len(ids) - n_test),
                  "test": (len(ids) - n_test, len(ids))}
        splits = {name: self._windows(ids[a:b], name) for name, (a, b) in bounds.items()}
        spec = DataSpec(self.objective, vocab_size=len(vocab), seq_len=self.seq_len,
                        vocab=tuple(vocab))
        return splits, spec

    def _windows(self, ids: torch.Tensor, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        count = (len(ids) - 1) // self.seq_len
        if count < 1:
            raise ArchtrainError(f"the text is too short: its {split} split of {len(ids)} characters "
                                 f"holds no window of seq_len={self.seq_len} + 1")
        usable = ids[: count * self.seq_len + 1]
        inputs = usable[:-1].view(count, self.seq_len)
        targets = usable[1:].view(count, self.seq_len)
        return inputs, targets
