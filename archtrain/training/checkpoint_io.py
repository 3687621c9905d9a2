"""Checkpoint files that survive crashes, prove they are whole, and cannot run code when loaded.

A checkpoint is torch.save's zip archive whose zip comment, the last bytes of the file, reads
`archtrain-sha256:<hex>`: the SHA-256 of the archive as torch wrote it (with an empty comment).
`read_checkpoint` checks it before torch parses anything. Why a digest of the bytes, in the comment:

- every byte counts: a flipped byte in a tensor, in the pickled metadata or in the zip headers
  changes the digest (torch checks none of them: a flipped tensor byte loads silently);
- it costs one pass at ~1 GB/s: over the archive in memory before it is written (no second read
  when saving), and one sequential read before loading;
- it is one file: the digest is renamed into place with the checkpoint and goes with it when it
  is copied, where a sidecar file could be lost or left describing the previous checkpoint;
- a zip comment is part of the format: plain `torch.load(path, weights_only=True)`, Lightning
  and any zip reader still read the file.
A digest over the tensors and values inside the checkpoint dict would need a canonical walk over
arbitrary nested data and would miss damage to the archive's structure.

Checkpoints written before this format (no comment) load unverified, and so does a file whose
damage hit the comment's tag (its contents are then whole). A file torch refuses is
told apart by how it is built: a well-formed torch file (its pickle passes the zip's CRC, or the
old format's header) that names a disallowed global is unsafe; anything else is damaged.
"""

import hashlib
import io
import os
import pickle
import re
import zipfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import IO, Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from archtrain.errors import ArchtrainError
from archtrain.files import fsync_folder, temporary_beside

DIGEST_TAG = b"archtrain-sha256:"
COMMENT_SIZE = len(DIGEST_TAG) + 64  # the tag and 64 hex digits
END_OF_ARCHIVE = b"PK\x05\x06"  # the zip's last record: 22 bytes, comment length last
LEGACY_HEADER = pickle.dumps(torch.serialization.MAGIC_NUMBER, protocol=2)  # torch's pre-zip format
CHUNK = 1 << 20


class CorruptCheckpoint(ArchtrainError):
    """A checkpoint file that cannot be trusted: truncated, altered, or not a checkpoint at all."""


class UnsafeCheckpoint(ArchtrainError):
    """A checkpoint that carries pickled objects, which loading would run as code."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Verify the digest, then load tensors and plain data only (`weights_only=True`)."""
    try:
        with open(path, "rb") as handle:
            signed = verify_digest(handle, path)
            handle.seek(0)
            return load_weights_only(handle, path, signed)
    except FileNotFoundError:
        raise ArchtrainError(f"no checkpoint at {path}") from None
    except IsADirectoryError:
        raise damaged(path, "a folder, not a file") from None
    except (CorruptCheckpoint, UnsafeCheckpoint):
        raise
    except Exception as err:  # torch raises RuntimeError, EOFError, IndexError, zip errors... for a damaged file
        empty = isinstance(err, EOFError) and Path(path).stat().st_size == 0
        raise damaged(path, "the file is empty" if empty else f"torch cannot read it: {first_line(err)}") from None


def load_weights_only(handle: IO[bytes], path: str | Path, signed: bool) -> dict[str, Any]:
    """torch.load that never unpickles objects; a refusal is unsafe only in a file that is whole."""
    try:
        return torch.load(handle, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not (signed or well_formed(path)):
            raise damaged(path, "not a torch checkpoint: torch cannot parse it") from None
        refusal = re.search(r"WeightsUnpickler error: (.*?)(\. |$)", str(err), re.MULTILINE)
        raise UnsafeCheckpoint(
            f"refusing checkpoint {path}: it carries pickled objects that loading would run as "
            f"code ({refusal.group(1) if refusal else first_line(err)})"
        ) from None


def damaged(path: str | Path, reason: str) -> CorruptCheckpoint:
    return CorruptCheckpoint(f"checkpoint {path} is damaged ({reason})")


def first_line(err: Exception) -> str:
    return f"{type(err).__name__}: {next(iter(str(err).strip().splitlines()), '')[:160]}".rstrip(": ")


def verify_digest(handle: IO[bytes], path: str | Path) -> bool:
    """Check the digest a signed checkpoint carries; False for a checkpoint that carries none."""
    carried = carried_digest(handle)
    if carried is None:
        return False
    if digest_of(handle, handle.seek(0, os.SEEK_END) - COMMENT_SIZE - 2) != carried:
        raise damaged(path, "its contents do not match the checksum it carries")
    return True


def carried_digest(handle: IO[bytes]) -> bytes | None:
    """The hex digest in a signed checkpoint's zip comment, or None."""
    size = handle.seek(0, os.SEEK_END)
    if size < COMMENT_SIZE + 2:
        return None
    handle.seek(size - COMMENT_SIZE - 2)
    comment_length, comment = int.from_bytes(handle.read(2), "little"), handle.read()
    signed = comment_length == COMMENT_SIZE and comment.startswith(DIGEST_TAG)
    return comment[len(DIGEST_TAG) :] if signed else None


def digest_of(handle: IO[bytes], length: int) -> bytes:
    """The hex SHA-256 of the archive as torch wrote it: its first `length` bytes, then an empty comment."""
    digest = hashlib.sha256()
    handle.seek(0)
    for chunk in iter(lambda: handle.read(min(CHUNK, length - handle.tell())), b""):
        digest.update(chunk)
    digest.update(b"\x00\x00")  # the comment length torch wrote
    return digest.hexdigest().encode()


def well_formed(path: str | Path) -> bool:
    """Whether the file is a torch checkpoint as written: a zip whose pickle passes its CRC, or the old format."""
    try:
        with zipfile.ZipFile(path) as archive:
            pickled = next(name for name in archive.namelist() if name.endswith("/data.pkl"))
            archive.read(pickled)  # zipfile checks the CRC32 torch stored
            return True
    except (zipfile.BadZipFile, StopIteration, OSError):
        pass
    with open(path, "rb") as handle:
        return handle.read(len(LEGACY_HEADER)) == LEGACY_HEADER


def archive(checkpoint: dict[str, Any]) -> memoryview:
    """torch.save's archive of `checkpoint`, in memory: the state at this moment, whatever changes after."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    data = buffer.getbuffer()
    if not (data[-22:-18] == END_OF_ARCHIVE and data[-2:] == b"\x00\x00"):
        raise RuntimeError("torch.save did not end its archive with an empty comment")
    return data


def write_archive(data: memoryview, path: str | Path) -> None:
    """Write `data` signed (its zip comment set to the digest of the archive as torch wrote it) to a temporary
    file of its own in the same folder, fsync it, rename it over `path`, fsync the folder: a crash at any
    moment leaves either the old checkpoint or the new one, never half of one, and two writers never share
    a temporary file. A write that fails (a full disk) is one line."""
    path = Path(path)
    comment = COMMENT_SIZE.to_bytes(2, "little") + DIGEST_TAG + hashlib.sha256(data).hexdigest().encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary_beside(path) as handle:
            handle.write(data[:-2])
            handle.write(comment)
            handle.flush()
            os.fsync(handle.fileno())
            os.replace(handle.name, path)
        fsync_folder(path.parent)
    except OSError as err:
        raise ArchtrainError(f"cannot write checkpoint {path}: {err.strerror or err}") from None


def write_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Write `checkpoint` to `path`, signed and crash-safe (`write_archive`), before returning."""
    write_archive(archive(checkpoint), path)


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, with atomic durable signed writes and verified weights-only reads.

    A save serializes the checkpoint at once (the state of that moment) and leaves the digest, the write
    and the two fsyncs to a thread of its own while training goes on: they wait on the disk, not on the
    CPU. The writes happen one at a time in the order of the saves, with at most `IN_MEMORY` archives
    waiting (a save beyond them waits for the oldest); a read, a removal and the end of every trainer call
    (its teardown) wait for all of them, and a write that failed fails the next save or that wait.
    """

    IN_MEMORY = 2  # an epoch's end saves best.ckpt and last.ckpt

    def __init__(self):
        super().__init__()
        self._writer: ThreadPoolExecutor | None = None
        self._pending: deque[Future] = deque()

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any = None) -> None:
        data = archive(checkpoint)
        while len(self._pending) >= self.IN_MEMORY or (self._pending and self._pending[0].done()):
            self._pending.popleft().result()  # a failed write fails here
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint-writer")
        self._pending.append(self._writer.submit(write_archive, data, path))

    def wait(self) -> None:
        """Return once every save is on disk; raise the first error if one failed."""
        pending, self._pending = self._pending, deque()
        wait(pending)
        for write in pending:
            write.result()

    def load_checkpoint(self, path, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        self.wait()
        return read_checkpoint(path)

    def remove_checkpoint(self, path) -> None:
        self.wait()
        super().remove_checkpoint(path)

    def teardown(self) -> None:
        try:
            self.wait()
        finally:
            if self._writer is not None:
                self._writer.shutdown()
                self._writer = None
