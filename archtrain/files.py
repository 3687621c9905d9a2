"""Writing files so that readers and crashes never see half of one (no torch here: the CLI uses it)."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def temporary_beside(path: Path, mode: str = "x+b") -> Iterator[IO]:
    """A new file next to `path` with a name of its own (created exclusively, with the permissions any new
    file gets), removed if the block fails: two writers never share one, and a failed write leaves none."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    handle = open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"}))
    try:
        with handle:
            yield handle
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file of its own and a rename, so readers never see half a file."""
    with temporary_beside(path, "x") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
        os.replace(handle.name, path)
