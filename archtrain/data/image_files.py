"""Image datasets read from their standard files: MNIST's IDX files, CIFAR-10's python batches and
a folder per class. A missing or malformed file is one ArchtrainError that names the file and the
layout expected."""

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from archtrain.data.base import Split, split_indices
from archtrain.data.images import ImageClasses, check_channels, split_pool, unit_pixels
from archtrain.errors import ArchtrainError

Pixels = tuple[np.ndarray, np.ndarray]  # uint8 images (N, C, H, W) and integer labels (N,)


class ImageFiles(ImageClasses):
    """Images read from files under `data.root`; `data` (the config's name) and `layout` (what the
    folder must hold) make the error messages."""

    data: str
    layout: str

    def __init__(self, root: str | None, batch_size: int, normalize: bool = False, seed: int = 0):
        super().__init__(batch_size, normalize, seed)
        self.root = root

    def folder(self) -> Path:
        """`data.root` as an existing folder."""
        if self.root is None:
            raise ArchtrainError(f"data.root is not set; data={self.data} expects {self.layout}")
        folder = Path(self.root).expanduser()
        if not folder.is_dir():
            raise ArchtrainError(f"data.root={self.root}: no such folder; data={self.data} expects {self.layout}")
        return folder

    def fail(self, path: Path, problem: str) -> ArchtrainError:
        return ArchtrainError(f"{path}: {problem}; data={self.data} expects {self.layout}")


class PublishedSplits(ImageFiles):
    """A dataset published as a training and a test set. The test set is the test split; val is a
    random `val_fraction` of the training set, and train is `train_size` of the rest (null: all)."""

    def __init__(
        self,
        root: str | None,
        batch_size: int,
        val_fraction: float,
        train_size: int | None = None,
        normalize: bool = False,
        seed: int = 0,
    ):
        super().__init__(root, batch_size, normalize, seed)
        self.val_fraction, self.train_size = val_fraction, train_size

    def read(self, folder: Path) -> tuple[Pixels, Pixels, tuple[str, ...]]:
        """The training set, the test set and the class names."""
        raise NotImplementedError

    def load(self):
        train, test, classes = self.read(self.folder())
        return self.describe(self.split(train, test), classes)

    def split(self, train: Pixels, test: Pixels) -> dict[str, Split]:
        order = torch.randperm(len(train[0]), generator=torch.Generator().manual_seed(self.seed)).numpy()
        n_val = round(len(order) * self.val_fraction)
        rest = len(order) - n_val
        if n_val < 1 or rest < 1:
            raise ArchtrainError(
                f"data={self.data}: {len(order)} training examples cannot be split into train "
                f"and val with val_fraction={self.val_fraction}"
            )
        if self.train_size is not None and not 1 <= self.train_size <= rest:
            raise ArchtrainError(
                f"data.train_size={self.train_size}: must be between 1 and {rest}, the training examples left after val"
            )
        parts = {"train": order[n_val : n_val + (self.train_size or rest)], "val": order[:n_val]}
        splits = {name: (train[0][i], train[1][i]) for name, i in parts.items()} | {"test": test}
        return {name: (unit_pixels(x), torch.tensor(y, dtype=torch.long)) for name, (x, y) in splits.items()}


IDX_IMAGES, IDX_LABELS = 0x0803, 0x0801  # unsigned bytes in 3 dimensions, and in 1


class IdxImages(PublishedSplits):
    """Grey images in LeCun's IDX format (MNIST and the datasets that copy its layout)."""

    classes: tuple[str, ...]
    FILES = {
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    layout = (
        "data.root to hold train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
        "and t10k-labels-idx1-ubyte (each may be gzipped, ending in .gz)"
    )

    def read(self, folder):
        return self._pair(folder, *self.FILES["train"]), self._pair(folder, *self.FILES["test"]), self.classes

    def _pair(self, folder: Path, images_name: str, labels_name: str) -> Pixels:
        images, _ = self._idx(folder, images_name, IDX_IMAGES)
        labels, labels_path = self._idx(folder, labels_name, IDX_LABELS)
        if len(labels) != len(images):
            raise self.fail(labels_path, f"{len(labels)} labels for the {len(images)} images of {images_name}")
        if len(labels) and labels.max() >= len(self.classes):
            raise self.fail(labels_path, f"label {labels.max()} is not one of the {len(self.classes)} classes")
        return images[:, None], labels

    def _idx(self, folder: Path, name: str, magic: int) -> tuple[np.ndarray, Path]:
        """The array in `folder/name` (or `name.gz`), checked against its header, and the file's path."""
        path = next((p for p in (folder / name, folder / f"{name}.gz") if p.is_file()), None)
        if path is None:
            raise self.fail(folder / name, f"no such file (nor {name}.gz)")
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
            raise self.fail(path, f"cannot be read ({err})")
        kind = "image" if magic == IDX_IMAGES else "label"
        if len(raw) < 4 or int.from_bytes(raw[:4], "big") != magic:
            raise self.fail(path, f"not an IDX {kind} file (magic {magic} expected)")
        header = 4 + 4 * (magic & 0xFF)  # the magic's last byte counts the dimensions
        if len(raw) < header:
            raise self.fail(path, "its IDX header is cut short")
        shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", magic & 0xFF, offset=4))
        expected = int(np.prod(shape))
        if len(raw) - header != expected:
            raise self.fail(
                path,
                f"holds {len(raw) - header} bytes of {kind}s where its header "
                f"({' x '.join(map(str, shape))}) promises {expected}",
            )
        return np.frombuffer(raw, np.uint8, offset=header).reshape(shape), path


class MNIST(IdxImages):
    """MNIST (LeCun, Cortes & Burges): 60,000 training and 10,000 test handwritten digits, 28x28 grey."""

    data, classes = "mnist", tuple(str(d) for d in range(10))


class FashionMNIST(IdxImages):
    """Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): Zalando's clothing in MNIST's layout."""

    data = "fashion_mnist"
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a function or class that a dataset file has no business holding."""


class ArrayUnpickler(pickle.Unpickler):
    """Loads pickles of plain data and numpy arrays, nothing else: any other global a pickle names
    (os.system, eval, a class...) is refused before it is looked up."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),  # arrays, as numpy 1 (and CIFAR's own files) spell it
        ("numpy._core.multiarray", "_reconstruct"),  # ... and as numpy 2 does
        ("numpy.core.numeric", "_frombuffer"),  # arrays under pickle protocol 5
        ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise RefusedGlobal(f"{module}.{name}")
        return super().find_class(module, name)


def load_arrays(path: Path):
    """The pickle at `path` through ArrayUnpickler; latin1 reads Python 2's strings as text."""
    with path.open("rb") as file:
        return ArrayUnpickler(file, encoding="latin1").load()


class Cifar10(PublishedSplits):
    """CIFAR-10 (Krizhevsky, 2009): 50,000 training and 10,000 test colour images, 32x32, 10 classes."""

    data = "cifar10"
    FOLDER, TEST, META = "cifar-10-batches-py", "test_batch", "batches.meta"
    TRAIN = [f"data_batch_{k}" for k in range(1, 6)]
    layout = (
        f"data.root to be {FOLDER} (or its parent), holding the python batches "
        f"data_batch_1 to data_batch_5, {TEST} and {META}"
    )

    def read(self, folder):
        if (folder / self.FOLDER).is_dir():
            folder = folder / self.FOLDER
        meta = self._unpickle(folder / self.META)
        names = meta.get("label_names") if isinstance(meta, dict) else None
        if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
            raise self.fail(folder / self.META, "not CIFAR-10 metadata (a dict with 'label_names' expected)")
        batches = [self._batch(folder / name, len(names)) for name in self.TRAIN]
        train = np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])
        return train, self._batch(folder / self.TEST, len(names)), tuple(names)

    def _unpickle(self, path: Path):
        if not path.is_file():
            raise self.fail(path, "no such file")
        try:
            return load_arrays(path)
        except RefusedGlobal as err:
            raise self.fail(
                path, f"refused to unpickle {err}: a CIFAR-10 file holds only dicts, lists, strings and numpy arrays"
            )
        except Exception as err:  # damaged bytes can make the unpickler raise almost anything
            raise self.fail(path, f"not a readable pickle ({type(err).__name__}: {err})")

    def _batch(self, path: Path, classes: int) -> Pixels:
        batch = self._unpickle(path)
        data, labels = (batch.get("data"), batch.get("labels")) if isinstance(batch, dict) else (None, None)
        labels = np.asarray(labels) if isinstance(labels, (list, np.ndarray)) else None
        if not (
            isinstance(data, np.ndarray)
            and data.dtype == np.uint8
            and data.ndim == 2
            and data.shape[1] == 3 * 32 * 32
            and labels is not None
            and labels.dtype.kind in "iu"
        ):
            raise self.fail(
                path, "not a CIFAR-10 batch (a dict with 'data', N x 3072 bytes, and 'labels', N integers, expected)"
            )
        if len(labels) != len(data):
            raise self.fail(path, f"{len(labels)} labels for {len(data)} images")
        if len(labels) and not 0 <= labels.min() <= labels.max() < classes:
            raise self.fail(path, f"labels run from {labels.min()} to {labels.max()}, not within the {classes} classes")
        return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


class ImageFolder(ImageFiles):
    """A folder per class (`root/<class>/<image>`), classes sorted by name; every image is resized to
    `image_size` squared and converted to `channels` (1: grey, 3: RGB), then split at random.

    `lazy` decodes each batch when it is read, in `workers` data-loader processes, instead of every
    image at start; null chooses it when the decoded folder would take more than half the free memory.
    """

    data = "image_folder"
    EXTENSIONS = (".png", ".jpg", ".jpeg")
    layout = "data.root to hold one folder per class, each with .png, .jpg or .jpeg images"

    def __init__(
        self,
        root: str | None,
        image_size: int,
        channels: int,
        batch_size: int,
        val_fraction: float,
        test_fraction: float,
        normalize: bool = False,
        seed: int = 0,
        lazy: bool | None = None,
        workers: int = 0,
    ):
        super().__init__(root, batch_size, normalize, seed)
        self.image_size, self.channels = image_size, check_channels(channels)
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.lazy, self.workers = lazy, workers

    def load(self):
        folder = self.folder()
        classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not classes:
            raise self.fail(folder, "no class folders")
        if len(classes) == 1:
            raise self.fail(folder, f"only one class folder ({classes[0]}), and a classifier needs two or more")
        files, labels = [], []
        for label, name in enumerate(classes):
            images = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in self.EXTENSIONS and p.is_file())
            if not images:
                raise self.fail(folder / name, "a class folder with no images")
            files += images
            labels += [label] * len(images)
        labels = torch.tensor(labels)
        if self.decodes_lazily(len(files)):
            if self.normalize:
                raise ArchtrainError(
                    "data.normalize=true needs every image in memory for its statistics; with data.lazy "
                    "leave it false (or set data.lazy=false)"
                )
            images = DecodedOnRead(files, self.image_size, self.channels, f"data={self.data} expects {self.layout}")
            indices = split_indices(len(files), self.val_fraction, self.test_fraction, self.seed)
            return self.describe({name: (images.subset(i), labels[i]) for name, i in indices.items()}, tuple(classes))
        self.workers = 0  # tensors in memory: workers would only copy them
        x = unit_pixels(np.stack([self._pixels(path) for path in files]))
        splits = split_pool(x, labels, self.val_fraction, self.test_fraction, self.seed)
        return self.describe(splits, tuple(classes))

    def decodes_lazily(self, count: int) -> bool:
        """`lazy`, or when null whether `count` decoded images (float32) exceed half the free memory."""
        if self.lazy is not None:
            return self.lazy
        decoded = count * self.channels * self.image_size**2 * 4
        return decoded > free_memory() / 2

    def _pixels(self, path: Path) -> np.ndarray:
        """One image as uint8 (C, H, W)."""
        try:
            return decode(path, self.image_size, self.channels)
        except OSError as err:  # PIL.UnidentifiedImageError and truncated files are OSErrors
            raise self.fail(path, f"not a readable image ({err})")


def decode(path: Path, image_size: int, channels: int) -> np.ndarray:
    """One image file as uint8 (C, H, W), converted and resized; OSError where it is not readable."""
    with Image.open(path) as image:
        resized = image.convert("L" if channels == 1 else "RGB").resize(
            (image_size, image_size), Image.Resampling.BILINEAR
        )
    pixels = np.asarray(resized)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def free_memory() -> int:
    """Bytes of memory free now (unbounded where the OS does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**63


class DecodedOnRead:
    """Image files standing in for a tensor of pixels (n, C, H, W) in [0, 1]: indexing (an index, a
    slice or a batch of indices) decodes just those files, in whichever process reads them (the data
    loader's workers). Small enough to pickle: paths and sizes."""

    def __init__(self, files: list[Path], image_size: int, channels: int, expects: str):
        self.files, self.image_size, self.channels, self.expects = files, image_size, channels, expects

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.files), self.channels, self.image_size, self.image_size)

    def __len__(self) -> int:
        return len(self.files)

    def subset(self, indices: torch.Tensor) -> "DecodedOnRead":
        return DecodedOnRead([self.files[i] for i in indices.tolist()], self.image_size, self.channels, self.expects)

    def __getitem__(self, index) -> torch.Tensor:
        chosen = torch.arange(len(self.files))[index]
        batch = [self._pixels(self.files[i]) for i in chosen.reshape(-1).tolist()]
        return unit_pixels(np.stack(batch)).reshape(*chosen.shape, *self.shape[1:])

    def _pixels(self, path: Path) -> np.ndarray:
        try:
            return decode(path, self.image_size, self.channels)
        except OSError as err:
            raise ArchtrainError(f"{path}: not a readable image ({err}); {self.expects}") from err
