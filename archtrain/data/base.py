"""In-memory datasets as a LightningDataModule with fast, resumable batching."""

from pathlib import Path
from typing import Callable, Iterator

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError

Split = tuple[torch.Tensor, ...]


def data_file(path: str | None, expects: str) -> Path:
    """`data.path` as an existing file; otherwise one line saying what is there and what `expects`."""
    file = Path(path or "").expanduser()
    if path and file.is_dir():
        raise ArchtrainError(f"data.path: '{file}' is a folder, not a file ({expects})")
    if not path or not file.is_file():
        raise ArchtrainError(f"data.path: no such file '{path}' ({expects})")
    return file


class TensorBatches(Dataset):
    """Tensors indexed along their first dimension; a whole batch is gathered in one indexing op."""

    def __init__(self, *tensors: torch.Tensor):
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: int) -> Split:
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices: list[int]) -> Split:
        index = torch.as_tensor(indices)
        return tuple(t[index] for t in self.tensors)


def _already_batched(batch: Split) -> Split:
    return batch


class EpochShuffle(Sampler[int]):
    """A permutation drawn from (seed, epoch), so that a resumed run sees the same order.

    With `samples` set, each epoch takes only that many examples of its permutation; `skip()`
    says how many leading examples a resumed epoch has already trained on. Under data parallelism
    process `rank` of `world` takes every world-th example, so that one step of all processes
    together sees what one process with the whole global batch would.
    """

    def __init__(
        self,
        size: int,
        seed: int,
        samples: int | None = None,
        skip: Callable[[], int] = lambda: 0,
        rank: int = 0,
        world: int = 1,
    ):
        self.size, self.seed, self.epoch, self.skip = size, seed, 0, skip
        self.samples = min(samples or size, size)
        self.rank, self.world = rank, world

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self.samples // self.world)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator)[: self.samples]
        order = torch.cat([order, order[: -len(order) % self.world]])  # equal shares, as DistributedSampler
        return iter(order[self.skip() + self.rank :: self.world].tolist())


def labelled_share(split: Split, fraction: float, seed: int) -> Split:
    """A seeded share `fraction` of a labelled split's examples, the same share of each class (at least one)."""
    labels = split[1]
    generator = torch.Generator().manual_seed(seed)
    kept = []
    for label in labels.unique():
        members = torch.nonzero(labels == label).flatten()
        count = max(1, round(fraction * len(members)))
        kept.append(members[torch.randperm(len(members), generator=generator)[:count]])
    index = torch.cat(kept).sort().values
    return tuple(t[index] for t in split)


class ArrayDataModule(pl.LightningDataModule):
    """A dataset small enough for memory: subclasses implement `load` and return its splits and spec.
    A split's inputs may also be anything that a batch of indices turns into a tensor (files decoded
    on read); `workers` data-loader processes then read the batches.
    With `labelled_fraction` below 1 (set from the data config) training sees only that share of the
    labelled training split, the same share of each class: semi-supervised fine-tuning."""

    workers = 0
    labelled_fraction = 1.0

    def __init__(self, batch_size: int, seed: int = 0, samples_per_epoch: int | None = None):
        super().__init__()
        self.batch_size, self.seed, self.samples_per_epoch = batch_size, seed, samples_per_epoch
        self.splits: dict[str, Split] | None = None
        self._spec: DataSpec | None = None

    def load(self) -> tuple[dict[str, Split], DataSpec]:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits is None:
            self.splits, self._spec = self.load()
            if self.labelled_fraction < 1:
                self.splits["train"] = labelled_share(self.splits["train"], self.labelled_fraction, self.seed)

    @property
    def spec(self) -> DataSpec:
        self.setup()
        return self._spec

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        """Training batches in a resumable random order; evaluation batches in order, each
        example seen once across all processes (no padding, unlike DistributedSampler)."""
        self.setup()
        data = TensorBatches(*self.splits[split])
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        if shuffle:
            sampler = EpochShuffle(len(data), self.seed, self.samples_per_epoch, self._examples_done, rank, world)
        else:
            sampler = range(rank, len(data), world)
        # A private generator keeps the loader from drawing on the global RNG that dropout uses.
        return DataLoader(
            data,
            batch_size=self.batch_size,
            sampler=sampler,
            collate_fn=_already_batched,
            generator=torch.Generator(),
            num_workers=self.workers,
            persistent_workers=self.workers > 0,
        )

    def _examples_done(self) -> int:
        """Examples of the current epoch that training has already seen, across all processes:
        0 at an epoch's start, more when a run resumes from a checkpoint taken mid-epoch. Read
        when the epoch's iterator is created, after Lightning has restored its loop progress."""
        trainer = self.trainer
        if trainer is None:
            return 0
        steps = trainer.fit_loop.epoch_loop.batch_progress.current.completed
        return steps * self.batch_size * trainer.world_size

    def split_loader(self, split: str) -> DataLoader:
        """Every example of `split` once, in order (what `archtrain eval` reads)."""
        return self._loader(split, shuffle=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


def split_indices(
    n: int, val_fraction: float, test_fraction: float, seed: int, shuffle: bool = True
) -> dict[str, torch.Tensor]:
    """Index sets for train, val and test: shuffled by `seed`, or in order (time series)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)) if shuffle else torch.arange(n)
    n_test, n_val = round(n * test_fraction), round(n * val_fraction)
    n_train = n - n_val - n_test
    if min(n_train, n_val, n_test) < 1:
        raise ArchtrainError(
            f"{n} examples cannot be split into train, val and test "
            f"with val_fraction={val_fraction} and test_fraction={test_fraction}"
        )
    return {"train": order[:n_train], "val": order[n_train : n_train + n_val], "test": order[n_train + n_val :]}
