"""Toy translation: source and target token sequences of varying length."""

import random

import torch

from archtrain.data.base import ArrayDataModule
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError

SPECIAL = ("<pad>", "<s>", "</s>")
VOCAB = SPECIAL + tuple("0123456789+")
PAD, BOS, EOS = 0, 1, 2
ID = {ch: i for i, ch in enumerate(VOCAB)}


def _reverse(rng: random.Random, min_len: int, max_len: int) -> tuple[str, str]:
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(min_len, max_len)))
    return digits, digits[::-1]


def _add(rng: random.Random, min_len: int, max_len: int) -> tuple[str, str]:
    width = max(1, (max_len - 1) // 2)
    a, b = rng.randrange(10**width), rng.randrange(10**width)
    return f"{a}+{b}", str(a + b)


TASKS = {"reverse": _reverse, "add": _add}


def encode(pairs: list[tuple[str, str]], max_len: int) -> tuple[torch.Tensor, ...]:
    """Source ids, decoder inputs (<s> + target) and decoder targets (target + </s>), padded."""
    src = torch.full((len(pairs), max_len), PAD)
    tgt_in = torch.full((len(pairs), max_len + 1), PAD)
    tgt_out = torch.full((len(pairs), max_len + 1), PAD)
    for row, (source, target) in enumerate(pairs):
        s, t = [ID[c] for c in source], [ID[c] for c in target]
        src[row, : len(s)] = torch.tensor(s)
        tgt_in[row, : len(t) + 1] = torch.tensor([BOS] + t)
        tgt_out[row, : len(t) + 1] = torch.tensor(t + [EOS])
    return src, tgt_in, tgt_out


class DigitPairs(ArrayDataModule):
    """Generated pairs: `reverse` maps 3141 to 1413, `add` maps 12+34 to 46."""

    def __init__(
        self, task: str, min_len: int, max_len: int, train_size: int, eval_size: int, batch_size: int, seed: int = 0
    ):
        super().__init__(batch_size, seed)
        if task not in TASKS:
            raise ArchtrainError(f"data.task must be one of {', '.join(TASKS)}, not '{task}'")
        if not 1 <= min_len <= max_len:
            raise ArchtrainError(f"need 1 <= data.min_len <= data.max_len, got {min_len} and {max_len}")
        if task == "add" and max_len < 3:
            raise ArchtrainError(f"data.task=add needs data.max_len >= 3 (as in 1+2), got {max_len}")
        self.task, self.min_len, self.max_len = task, min_len, max_len
        self.sizes = {"train": train_size, "val": eval_size, "test": eval_size}

    def load(self):
        make = TASKS[self.task]
        splits = {}
        for offset, (split, size) in enumerate(self.sizes.items()):
            rng = random.Random(self.seed * 1000 + offset)
            splits[split] = encode([make(rng, self.min_len, self.max_len) for _ in range(size)], self.max_len)
        spec = DataSpec(
            vocab_size=len(VOCAB), max_len=self.max_len + 1, vocab=VOCAB, special={"pad": PAD, "bos": BOS, "eos": EOS}
        )
        return splits, spec
