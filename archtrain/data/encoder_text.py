"""The pydoc topics as character windows for a bidirectional encoder (BERT): masked-LM pretraining
on every topic, and a small classification set that labels each window with its topic.

The vocabulary is four special tokens and every character of the training text, in sorted order;
a character seen only in validation or test text reads as [UNK]. Both sets read the same documents,
build the same vocabulary and split the text the same way, so pretraining never reads text that the
fine-tuned classifier is validated or tested on: each topic is cut into `STRIPE`-character stripes,
dealt to train, val and test 8:1:1 in turn. Paragraphs that an earlier topic already holds (some
topics quote others) are dropped first.
"""

import torch

from archtrain.data.base import ArrayDataModule
from archtrain.data.spec import DataSpec
from archtrain.data.text import pydoc_topics
from archtrain.errors import ArchtrainError

SPECIAL = ("[PAD]", "[CLS]", "[MASK]", "[UNK]")
PAD, CLS, MASK, UNK = range(len(SPECIAL))
STRIPE = 1000
STRIPE_SPLITS = ("train",) * 8 + ("val", "test")
SPLITS = ("train", "val", "test")


def topic_documents() -> dict[str, str]:
    """Each pydoc topic's text, less the paragraphs that a topic earlier by name already holds."""
    seen, documents = set(), {}
    for name, text in sorted(pydoc_topics().items()):
        paragraphs = [p for p in text.split("\n\n") if p.strip() and p not in seen]
        seen.update(paragraphs)
        if paragraphs:
            documents[name] = "\n\n".join(paragraphs)
    return documents


def stripes(text: str, split: str) -> list[str]:
    """The stripes of `text` that belong to `split`."""
    return [
        text[start : start + STRIPE]
        for start in range(0, len(text), STRIPE)
        if STRIPE_SPLITS[start // STRIPE % len(STRIPE_SPLITS)] == split
    ]


def vocabulary(documents: dict[str, str]) -> tuple[str, ...]:
    """The special tokens, then every character of the training stripes in sorted order."""
    return SPECIAL + tuple(
        sorted({ch for text in documents.values() for stripe in stripes(text, "train") for ch in stripe})
    )


def windows(texts: list[str], seq_len: int, index: dict[str, int]) -> torch.Tensor:
    """(count, seq_len) token ids: [CLS], then the next seq_len - 1 characters of a text. A text's
    last window is kept, padded with [PAD], when it is at least half full."""
    body = seq_len - 1
    rows = [
        [CLS] + [index.get(ch, UNK) for ch in chunk] + [PAD] * (body - len(chunk))
        for text in texts
        for chunk in (text[start : start + body] for start in range(0, len(text), body))
        if 2 * len(chunk) >= body
    ]
    return torch.tensor(rows, dtype=torch.long).view(-1, seq_len)


class EncoderText(ArrayDataModule):
    """What both sets share: the documents, their vocabulary and the windows of one split."""

    def __init__(self, seq_len: int, batch_size: int, seed: int = 0):
        super().__init__(batch_size, seed)
        if seq_len < 2:
            raise ArchtrainError(f"data.seq_len={seq_len}: a window needs [CLS] and at least one character")
        self.seq_len = seq_len

    def _corpus(self) -> tuple[dict[str, str], tuple[str, ...]]:
        documents = topic_documents()
        return documents, vocabulary(documents)

    def _windows(self, texts: list[str], vocab: tuple[str, ...], where: str) -> torch.Tensor:
        ids = windows(texts, self.seq_len, {token: i for i, token in enumerate(vocab)})
        if len(ids) == 0:
            raise ArchtrainError(
                f"{where} holds no window of data.seq_len={self.seq_len} (stripes are {STRIPE} characters)"
            )
        return ids

    def _data_spec(self, vocab: tuple[str, ...], **dimensions) -> DataSpec:
        return DataSpec(
            vocab_size=len(vocab),
            seq_len=self.seq_len,
            vocab=vocab,
            special={"pad": PAD, "cls": CLS, "mask": MASK, "unk": UNK},
            **dimensions,
        )


class MaskedText(EncoderText):
    """Every topic's windows, for masked-language-model pretraining; the task does the masking."""

    def load(self):
        documents, vocab = self._corpus()
        splits = {
            split: (
                self._windows(
                    [s for text in documents.values() for s in stripes(text, split)], vocab, f"the {split} split"
                ),
            )
            for split in SPLITS
        }
        return splits, self._data_spec(vocab)


class TopicText(EncoderText):
    """Which of `topics` is this window from? `train_size` windows (all when null), drawn with the
    seed, are labelled for training; validation and testing use every held-out window."""

    def __init__(self, topics: list[str], train_size: int | None, seq_len: int, batch_size: int, seed: int = 0):
        super().__init__(seq_len, batch_size, seed)
        if len(set(topics)) < 2:
            raise ArchtrainError(f"data.topics needs at least two different topics, got {list(topics)}")
        self.topics, self.train_size = list(topics), train_size

    def load(self):
        documents, vocab = self._corpus()
        unknown = [topic for topic in self.topics if topic not in documents]
        if unknown:
            long_enough = [name for name, text in documents.items() if len(text) > len(STRIPE_SPLITS) * STRIPE]
            raise ArchtrainError(
                f"data.topics: no pydoc topic named {', '.join(unknown)}; topics long "
                f"enough for all three splits: {', '.join(long_enough)}"
            )
        splits = {split: self._labelled(documents, split, vocab) for split in SPLITS}
        splits["train"] = self._subset(*splits["train"])
        return splits, self._data_spec(vocab, num_classes=len(self.topics))

    def _labelled(self, documents: dict[str, str], split: str, vocab: tuple[str, ...]):
        ids = [
            self._windows(stripes(documents[topic], split), vocab, f"the {split} split of topic '{topic}'")
            for topic in self.topics
        ]
        labels = [torch.full((len(rows),), label) for label, rows in enumerate(ids)]
        return torch.cat(ids), torch.cat(labels)

    def _subset(self, ids: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.train_size is None:
            return ids, labels
        if not 1 <= self.train_size <= len(ids):
            raise ArchtrainError(
                f"data.train_size={self.train_size}: choose 1 to {len(ids)} "
                f"(the training windows of these topics), or null for all"
            )
        chosen = torch.randperm(len(ids), generator=torch.Generator().manual_seed(self.seed))[: self.train_size]
        return ids[chosen], labels[chosen]
