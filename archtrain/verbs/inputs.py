"""New inputs for `archtrain predict`, read as the run's data module reads its own: numbers from CSV
files, images resized to the run's size, text as the run's character ids."""

from pathlib import Path

import numpy as np

from archtrain.data.image_files import ImageFolder
from archtrain.data.images import unit_pixels
from archtrain.errors import ArchtrainError


def existing(path: str) -> Path:
    """`path` as an existing file or folder, else a one-line refusal."""
    file = Path(path).expanduser()
    if not file.exists():
        raise ArchtrainError(f"input={path}: no such file or folder")
    return file


def read_numbers(path: Path) -> np.ndarray:
    """The rows of a CSV file of numbers as float32 (rows, columns); a first row that is not numeric
    is taken for a header."""
    if not path.is_file():
        raise ArchtrainError(f"input={path}: not a file (a CSV file of numbers expected)")
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    rows = [[cell.strip() for cell in line.split(",")] for line in lines]
    if rows and not _numeric(rows[0]):
        rows = rows[1:]
    if not rows:
        raise ArchtrainError(f"input={path}: no rows of numbers")
    for number, row in enumerate(rows, start=len(lines) - len(rows) + 1):
        if not _numeric(row) or len(row) != len(rows[0]):
            raise ArchtrainError(f"input={path}: line {number} is not {len(rows[0])} numbers")
    return np.array(rows, dtype=np.float32)


def _numeric(cells: list[str]) -> bool:
    try:
        [float(cell) for cell in cells]
    except ValueError:
        return False
    return True


class InputImages(ImageFolder):
    """Image files converted and resized to a run's channels and size exactly as data=image_folder
    reads its own (ImageFolder._pixels)."""

    def __init__(self, image_size: int, channels: int):
        super().__init__(None, image_size, channels, batch_size=1, val_fraction=0.0, test_fraction=0.0)

    def fail(self, path: Path, problem: str) -> ArchtrainError:
        return ArchtrainError(f"input={path}: {problem}")

    def files(self, path: Path) -> list[Path]:
        """`path` itself, or the images in the folder `path`, sorted by name."""
        if path.is_file():
            return [path]
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in self.EXTENSIONS)
        if not files:
            raise self.fail(path, f"a folder with no {', '.join(self.EXTENSIONS)} images")
        return files

    def read(self, files: list[Path]):
        """The images as float32 (N, C, H, W) in [0, 1]."""
        return unit_pixels(np.stack([self._pixels(file) for file in files]))


def character_ids(path: Path, vocab: tuple[str, ...]) -> list[int]:
    """A UTF-8 text file as the ids of its characters in `vocab`."""
    if not path.is_file():
        raise ArchtrainError(f"input={path}: not a file (a UTF-8 text prompt expected)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ArchtrainError(f"input={path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    index = {character: i for i, character in enumerate(vocab)}
    unknown = sorted({character for character in text if character not in index})
    if unknown:
        raise ArchtrainError(f"input={path}: characters the run never saw: {''.join(unknown)!r}")
    if not text:
        raise ArchtrainError(f"input={path}: an empty prompt")
    return [index[character] for character in text]
