"""Image data: generated shapes, MNIST's IDX files, CIFAR-10's batches and class folders, read from
tiny fixtures written here in the real layouts; every malformed input is one clear error."""

import gzip
import pickle

import numpy as np
import pytest
import torch
from conftest import QUICK, train
from PIL import Image

from archtrain.data.image_files import MNIST, Cifar10, FashionMNIST, ImageFolder
from archtrain.data.images import SHAPES, Digits, Shapes
from archtrain.errors import ArchtrainError
from archtrain.training.augment import Augment

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def write_idx(path, array: np.ndarray, gz: bool = False) -> None:
    """An IDX file: magic (0, 0, 0x08 unsigned bytes, dimensions), big-endian sizes, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if gz:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)


@pytest.fixture
def mnist_root(tmp_path):
    """A tiny MNIST: 50 training and 20 test images of 28x28 with labels 0-9; returns (root, arrays)."""
    rng = np.random.default_rng(0)
    root, arrays = tmp_path / "mnist", {}
    root.mkdir()
    for split, count in (("train", 50), ("test", 20)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = np.arange(count, dtype=np.uint8) % 10
        write_idx(root / IDX_FILES[split][0], images)
        write_idx(root / IDX_FILES[split][1], labels)
        arrays[split] = images, labels
    return root, arrays


def loaded(data):
    """The data module after it has read its files."""
    data.setup()
    return data


def idx_data(cls, root, **options):
    return loaded(cls(root=None if root is None else str(root), batch_size=8, val_fraction=0.2, **options))


@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_load_plain_or_gzipped(cls, gz, tmp_path):
    rng = np.random.default_rng(1)
    written = {}
    for split, count in (("train", 40), ("test", 10)):
        written[split] = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8), rng.integers(0, 10, count)
        write_idx(tmp_path / IDX_FILES[split][0], written[split][0], gz)
        write_idx(tmp_path / IDX_FILES[split][1], written[split][1], gz)
    data = idx_data(cls, tmp_path)
    spec = data.spec
    assert (spec.in_channels, spec.image_size, spec.in_features, spec.num_classes) == (1, 28, 784, 10)
    assert spec.vocab == cls.classes and len(set(spec.vocab)) == 10
    x, y = data.splits["test"]  # the official test set, in order
    assert x.shape == (10, 1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(x[:, 0], torch.tensor(written["test"][0]) / 255)
    assert torch.equal(y, torch.tensor(written["test"][1]))
    assert [len(data.splits[s][1]) for s in ("train", "val")] == [32, 8]  # val is 20% of train
    assert all(0 <= data.splits[s][0].min() and data.splits[s][0].max() <= 1 for s in data.splits)


def test_train_size_subsamples_the_training_set(mnist_root):
    root, arrays = mnist_root
    data = idx_data(MNIST, root, train_size=15)
    x, y = data.splits["train"]
    assert x.shape == (15, 1, 28, 28)
    train_images = torch.tensor(arrays["train"][0]) / 255
    assert all(any(torch.equal(image[0], t) for t in train_images) for image in x)  # drawn from train
    held_out = torch.cat([data.splits["val"][0], x])
    assert len({image.sum().item() for image in held_out}) == len(held_out)  # val and train disjoint
    with pytest.raises(ArchtrainError, match="train_size=41: must be between 1 and 40"):
        idx_data(MNIST, root, train_size=41)


def test_normalize_standardizes_by_the_train_split(mnist_root):
    root, _ = mnist_root
    raw, normalized = idx_data(MNIST, root), idx_data(MNIST, root, normalize=True)
    train = normalized.splits["train"][0]
    assert train.mean().abs() < 1e-5 and (train.std() - 1).abs() < 1e-4
    mean, std = raw.splits["train"][0].mean(), raw.splits["train"][0].std()
    assert torch.allclose(normalized.splits["test"][0], (raw.splits["test"][0] - mean) / std, atol=1e-5)


def test_digits_stay_in_unit_range_unless_normalized():
    plain, normalized = loaded(Digits(32, 0.1, 0.2)), loaded(Digits(32, 0.1, 0.2, normalize=True))
    x, z = plain.splits["train"][0], normalized.splits["train"][0]
    assert x.min() == 0 and x.max() == 1 and plain.spec.vocab == tuple("0123456789")
    assert z.mean().abs() < 1e-5 and torch.allclose(z * x.std() + x.mean(), x, atol=1e-5)


def corrupt(root, name, data: bytes):
    (root / name).write_bytes(data)


IDX_PROBLEMS = {
    "missing": (lambda root: (root / "t10k-images-idx3-ubyte").unlink(), "t10k-images-idx3-ubyte: no such file"),
    "wrong magic": (
        lambda root: write_idx(root / "train-images-idx3-ubyte", np.zeros((4, 28), np.uint8)),
        "train-images-idx3-ubyte: not an IDX image file \\(magic 2051 expected\\)",
    ),
    "labels as images": (
        lambda root: corrupt(root, "train-labels-idx1-ubyte", (root / "train-images-idx3-ubyte").read_bytes()),
        "train-labels-idx1-ubyte: not an IDX label file \\(magic 2049 expected\\)",
    ),
    "truncated": (
        lambda root: corrupt(root, "t10k-images-idx3-ubyte", (root / "t10k-images-idx3-ubyte").read_bytes()[:-5]),
        "t10k-images-idx3-ubyte: holds 15675 bytes of images where its header \\(20 x 28 x 28\\) promises",
    ),
    "short header": (
        lambda root: corrupt(root, "t10k-labels-idx1-ubyte", bytes([0, 0, 8, 1, 0])),
        "t10k-labels-idx1-ubyte: its IDX header is cut short",
    ),
    "label count": (
        lambda root: write_idx(root / "train-labels-idx1-ubyte", np.zeros(49, np.uint8)),
        "train-labels-idx1-ubyte: 49 labels for the 50 images",
    ),
    "label value": (
        lambda root: write_idx(root / "t10k-labels-idx1-ubyte", np.full(20, 10, np.uint8)),
        "t10k-labels-idx1-ubyte: label 10 is not one of the 10 classes",
    ),
    "bad gzip": (
        lambda root: (
            (root / "t10k-labels-idx1-ubyte").unlink(),
            corrupt(root, "t10k-labels-idx1-ubyte.gz", b"not gzip at all"),
        ),
        "t10k-labels-idx1-ubyte.gz: cannot be read",
    ),
}


@pytest.mark.parametrize("problem", IDX_PROBLEMS)
def test_a_malformed_idx_file_is_one_clear_error(problem, mnist_root):
    root, _ = mnist_root
    damage, message = IDX_PROBLEMS[problem]
    damage(root)
    with pytest.raises(ArchtrainError, match=message) as error:
        idx_data(MNIST, root)
    assert str(root) in str(error.value)
    assert "data=mnist expects data.root to hold train-images-idx3-ubyte" in str(error.value)


def test_a_missing_root_says_what_to_pass(tmp_path):
    with pytest.raises(ArchtrainError, match="data.root is not set; data=mnist expects .*t10k-labels"):
        idx_data(MNIST, None)
    with pytest.raises(ArchtrainError, match="data.root=.*nowhere: no such folder; data=fashion_mnist expects"):
        idx_data(FashionMNIST, tmp_path / "nowhere")


CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar(folder, per_batch: int = 10, protocol: int = pickle.DEFAULT_PROTOCOL) -> dict:
    """CIFAR-10's python batches: dicts with 'data' (N x 3072 uint8, R then G then B planes, each
    row-major) and 'labels'; returns the arrays written, by file name."""
    folder.mkdir(parents=True)
    rng, written = np.random.default_rng(2), {}
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        batch = {"batch_label": name, "labels": labels, "data": data, "filenames": [f"{i}.png" for i in labels]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        written[name] = data, labels
    meta = {"num_cases_per_batch": per_batch, "label_names": CIFAR_CLASSES, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return written


def cifar(root, **options):
    return loaded(Cifar10(root=str(root), batch_size=8, val_fraction=0.1, **options))


@pytest.mark.parametrize("protocol", [3, 4, 5])
@pytest.mark.parametrize("given", ["parent", "batches folder"])
def test_cifar_batches_load_from_the_folder_or_its_parent(given, protocol, tmp_path):
    written = write_cifar(tmp_path / "cifar-10-batches-py", protocol=protocol)
    data = cifar(tmp_path if given == "parent" else tmp_path / "cifar-10-batches-py")
    spec = data.spec
    assert (spec.in_channels, spec.image_size, spec.in_features, spec.num_classes) == (3, 32, 3072, 10)
    assert spec.vocab == tuple(CIFAR_CLASSES)
    x, y = data.splits["test"]
    pixels, labels = written["test_batch"]
    assert x.shape == (10, 3, 32, 32) and y.tolist() == labels
    assert x[3, 1, 5, 7] == pixels[3, 1024 + 5 * 32 + 7] / 255  # green plane, row 5, column 7
    assert [len(data.splits[s][1]) for s in ("train", "val")] == [45, 5]


class Payload:
    """What a poisoned pickle does when loaded: run a shell command."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        import os

        return os.system, (self.command,)


def test_a_malicious_cifar_pickle_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    marker = tmp_path / "pwned"
    batch = {"data": np.zeros((10, 3072), np.uint8), "labels": Payload(f"touch {marker}")}
    (folder / "data_batch_3").write_bytes(pickle.dumps(batch))
    with pytest.raises(ArchtrainError, match="data_batch_3: refused to unpickle (posix|os|nt).system"):
        cifar(tmp_path)
    assert not marker.exists()


CIFAR_PROBLEMS = {
    "missing batch": (lambda folder: (folder / "data_batch_5").unlink(), "data_batch_5: no such file"),
    "missing meta": (lambda folder: (folder / "batches.meta").unlink(), "batches.meta: no such file"),
    "not a pickle": (
        lambda folder: (folder / "test_batch").write_bytes(b"\x00garbage"),
        "test_batch: not a readable pickle",
    ),
    "not a batch": (
        lambda folder: (folder / "data_batch_2").write_bytes(pickle.dumps([1, 2, 3])),
        "data_batch_2: not a CIFAR-10 batch",
    ),
    "wrong image size": (
        lambda folder: (folder / "data_batch_1").write_bytes(
            pickle.dumps({"data": np.zeros((10, 784), np.uint8), "labels": [0] * 10})
        ),
        "data_batch_1: not a CIFAR-10 batch",
    ),
    "label count": (
        lambda folder: (folder / "test_batch").write_bytes(
            pickle.dumps({"data": np.zeros((10, 3072), np.uint8), "labels": [0] * 9})
        ),
        "test_batch: 9 labels for 10 images",
    ),
    "label value": (
        lambda folder: (folder / "test_batch").write_bytes(
            pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 12]})
        ),
        "test_batch: labels run from 0 to 12, not within the 10 classes",
    ),
    "bad meta": (
        lambda folder: (folder / "batches.meta").write_bytes(pickle.dumps({"names": CIFAR_CLASSES})),
        "batches.meta: not CIFAR-10 metadata",
    ),
}


@pytest.mark.parametrize("problem", CIFAR_PROBLEMS)
def test_a_malformed_cifar_file_is_one_clear_error(problem, tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    damage, message = CIFAR_PROBLEMS[problem]
    damage(folder)
    with pytest.raises(ArchtrainError, match=message) as error:
        cifar(tmp_path)
    assert str(folder) in str(error.value) and "data=cifar10 expects data.root to be cifar-10-batches-py" in str(
        error.value
    )


def write_folder(root, counts: dict[str, int]) -> None:
    """Class folders of small images in mixed sizes, modes and formats."""
    rng = np.random.default_rng(3)
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            size = (20 + 3 * i, 16 + i)
            if i % 2:
                Image.fromarray(rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)).save(root / name / f"{i}.JPG")
            else:
                Image.fromarray(rng.integers(0, 256, size[::-1], dtype=np.uint8)).save(root / name / f"{i}.png")
    (root / next(iter(counts)) / "notes.txt").write_text("not an image, and ignored")


def folder_data(root, channels: int = 3, **options):
    return loaded(
        ImageFolder(
            root=str(root),
            image_size=12,
            channels=channels,
            batch_size=4,
            val_fraction=0.2,
            test_fraction=0.2,
            **options,
        )
    )


@pytest.mark.parametrize("channels", [1, 3])
def test_an_image_folder_loads_one_class_per_folder(channels, tmp_path):
    write_folder(tmp_path, {"zebra": 6, "apple": 5, "mango": 4})
    data = folder_data(tmp_path, channels)
    spec = data.spec
    assert spec.vocab == ("apple", "mango", "zebra") and spec.num_classes == 3
    assert (spec.in_channels, spec.image_size, spec.in_features) == (channels, 12, channels * 144)
    x = torch.cat([data.splits[s][0] for s in ("train", "val", "test")])
    y = torch.cat([data.splits[s][1] for s in ("train", "val", "test")])
    assert x.shape == (15, channels, 12, 12) and 0 <= x.min() and x.max() <= 1
    assert y.bincount().tolist() == [5, 4, 6]
    assert [len(data.splits[s][1]) for s in ("train", "val", "test")] == [9, 3, 3]
    again = folder_data(tmp_path, channels)
    assert torch.equal(again.splits["val"][0], data.splits["val"][0])  # seeded split


def test_image_folder_problems_name_the_folder_or_file(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArchtrainError, match="empty: no class folders; data=image_folder expects"):
        folder_data(tmp_path / "empty")
    write_folder(tmp_path / "data", {"cat": 3, "dog": 3})
    (tmp_path / "data" / "eel").mkdir()
    with pytest.raises(ArchtrainError, match="eel: a class folder with no images"):
        folder_data(tmp_path / "data")
    (tmp_path / "data" / "eel" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ArchtrainError, match="broken.png: not a readable image"):
        folder_data(tmp_path / "data")
    with pytest.raises(ArchtrainError, match="data.channels=2"):
        folder_data(tmp_path / "data", channels=2)


def shapes(seed: int = 0, **options):
    settings = {"samples": 60, "image_size": 16, "noise": 0.1, "channels": 1, **options}
    return Shapes(**settings, batch_size=16, val_fraction=0.1, test_fraction=0.2, seed=seed)


def test_shapes_are_drawn_from_the_seed_alone():
    first, same, other = shapes(0).generate(), shapes(0).generate(), shapes(1).generate()
    assert all(torch.equal(a, b) for a, b in zip(first, same))
    assert not torch.equal(first[0], other[0])


@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_spec_and_images(channels):
    data = shapes(channels=channels, samples=120, image_size=20)
    spec = data.spec
    assert spec.vocab == tuple(SHAPES) and spec.num_classes == len(SHAPES) >= 5
    assert (spec.in_channels, spec.image_size, spec.in_features) == (channels, 20, channels * 400)
    x, y = shapes(channels=channels, samples=120, image_size=20, noise=0.0).generate()
    assert x.shape == (120, channels, 20, 20) and 0 <= x.min() and x.max() <= 1
    assert y.bincount().tolist() == [20] * len(SHAPES)  # balanced
    contrast = (x.amax(dim=(2, 3)) - x.amin(dim=(2, 3))).amax(dim=1)  # every shape stands out
    assert contrast.min() >= 0.3


def test_shapes_draw_what_they_say():
    """Without noise, a ring is hollow at its centre and a circle is not; a cross fills its centre
    but not its corners, where a square does (drawn unrotated)."""
    from archtrain.data.images import draw_shape

    def centre_and_corner(shape):
        mask = draw_shape(shape, 32, (16, 16), 12, 0.0)
        return mask[16, 16], mask[16 + 7, 16 + 7]

    assert centre_and_corner("ring")[0] == 0 and centre_and_corner("circle")[0] == 1
    assert centre_and_corner("cross") == (1, 0) and centre_and_corner("square") == (1, 1)


def test_an_mlp_learns_shapes_well_above_chance(tmp_path):
    summary = train(tmp_path / "run", "model=mlp", "data=shapes", "trainer.max_epochs=5")
    assert summary["status"] == "completed"
    assert summary["test"]["test/acc"] >= 0.7  # chance is 1/6


@pytest.mark.parametrize("data", ["mnist", "cifar10", "image_folder"])
def test_a_run_trains_on_image_files_end_to_end(data, tmp_path):
    if data == "mnist":
        root = tmp_path / "mnist"
        root.mkdir()
        for split, count in (("train", 40), ("test", 16)):
            write_idx(root / IDX_FILES[split][0], np.random.default_rng(0).integers(0, 256, (count, 28, 28)), gz=True)
            write_idx(root / IDX_FILES[split][1], np.arange(count) % 10, gz=True)
    elif data == "cifar10":
        root = tmp_path
        write_cifar(root / "cifar-10-batches-py")
    else:
        root = tmp_path / "folders"
        write_folder(root, {"a": 8, "b": 8})
    summary = train(
        tmp_path / "run",
        "model=lenet5",
        f"data={data}",
        f"data.root={root}",
        "data.normalize=true",
        "regularizer=[augment]",
        *QUICK,
    )
    assert summary["status"] == "completed" and summary["exit_code"] == 0
    assert "test/acc" in summary["test"]


def test_a_run_without_data_root_is_one_line_exit_2(tmp_path):
    summary = train(tmp_path / "run", "model=lenet5", "data=cifar10", *QUICK)
    assert summary["exit_code"] == 2 and "data.root is not set; data=cifar10 expects" in summary["error"]


@pytest.mark.parametrize("size", [28, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_augment_keeps_shape_and_flips_exactly(size, channels):
    images = torch.rand(16, channels, size, size)
    torch.manual_seed(0)
    still = Augment(crop_padding=0, flip=False, rotation=0, jitter=0)(images)
    assert torch.allclose(still, images, atol=1e-5)  # zero strength is identity
    flipped = Augment(crop_padding=0, flip=True, rotation=0, jitter=0)(images)
    mirrored = [torch.allclose(out, image.flip(-1), atol=1e-5) for out, image in zip(flipped, images)]
    unchanged = [torch.allclose(out, image, atol=1e-5) for out, image in zip(flipped, images)]
    assert all(m or u for m, u in zip(mirrored, unchanged)) and any(mirrored) and any(unchanged)
    moved = Augment(crop_padding=3, flip=True, rotation=15, jitter=0.2)(images)
    assert moved.shape == images.shape and not torch.allclose(moved, images)
