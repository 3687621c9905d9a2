"""Character-level text for language models."""

import torch

from archtrain.data.base import ArrayDataModule, data_file
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError

DEFAULT_TEXT = "pydoc"  # data.vocab_with's name for the default text


def pydoc_topics() -> dict[str, str]:
    """The reference-manual sections that `help()` shows, by topic name; every Python install carries them."""
    from pydoc_data.topics import topics

    return dict(topics)


def read_text(path: str | None) -> str:
    """The file at `path`, or by default the pydoc topics, joined in the order of their names."""
    if path is None:
        topics = pydoc_topics()
        return "\n\n".join(topics[key] for key in sorted(topics))
    file = data_file(path, "data=text expects a UTF-8 text file")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ArchtrainError(f"data.path: '{file}' is not UTF-8 text ({err.reason} at byte {err.start})")


class CharText(ArrayDataModule):
    """Next-character prediction on `seq_len` windows; the splits are contiguous spans of the text.

    Training windows start every `stride` characters (by default `seq_len`: consecutive windows;
    1: any character, like nanoGPT's random batches); validation and test windows are consecutive.
    `vocab_with` (another text file, or "pydoc") adds that text's characters to the vocabulary, so that
    runs on the two texts share one (a model pretrained on one fine-tunes on the other).
    An epoch draws `samples_per_epoch` training windows (all of them when null). With
    `test_fraction` 0 there is no test split, and the run ends after validation.
    """

    def __init__(
        self,
        path: str | None,
        seq_len: int,
        batch_size: int,
        val_fraction: float,
        test_fraction: float,
        samples_per_epoch: int | None = None,
        stride: int | None = None,
        vocab_with: str | None = None,
        seed: int = 0,
    ):
        super().__init__(batch_size, seed, samples_per_epoch)
        self.path, self.seq_len, self.stride = path, seq_len, stride or seq_len
        self.vocab_with = vocab_with
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        if self.stride < 1:
            raise ArchtrainError(f"data.stride={stride}: must be at least 1")

    def load(self):
        text = read_text(self.path)
        characters = set(text)
        if self.vocab_with:
            characters |= set(read_text(None if self.vocab_with == DEFAULT_TEXT else self.vocab_with))
        vocab = sorted(characters)
        index = {ch: i for i, ch in enumerate(vocab)}
        ids = torch.tensor([index[ch] for ch in text], dtype=torch.long)
        n_test, n_val = int(len(ids) * self.test_fraction), int(len(ids) * self.val_fraction)
        bounds = {
            "train": (0, len(ids) - n_val - n_test),
            "val": (len(ids) - n_val - n_test, len(ids) - n_test),
            "test": (len(ids) - n_test, len(ids)),
        }
        if not self.test_fraction:
            del bounds["test"]
        splits = {
            name: self._windows(ids[a:b], name, self.stride if name == "train" else self.seq_len)
            for name, (a, b) in bounds.items()
        }
        spec = DataSpec(vocab_size=len(vocab), seq_len=self.seq_len, vocab=tuple(vocab))
        return splits, spec

    def _windows(self, ids: torch.Tensor, split: str, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and next-character targets, as views of `ids` (no copy even when windows overlap)."""
        if len(ids) < self.seq_len + 1:
            raise ArchtrainError(
                f"the text is too short: its {split} split of {len(ids)} characters "
                f"holds no window of seq_len={self.seq_len} + 1"
            )
        windows = ids.unfold(0, self.seq_len + 1, stride)
        return windows[:, :-1], windows[:, 1:]
