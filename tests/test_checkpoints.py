"""Checkpoints prove they are whole, a damaged one is never resumed from, and a full disk is one line."""

import random
import shutil
import struct
import subprocess
import threading
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import QUICK, cli, resume, train

from archtrain.errors import ArchtrainError
from archtrain.training.checkpoint_io import (
    CorruptCheckpoint,
    SafeCheckpointIO,
    UnsafeCheckpoint,
    read_checkpoint,
    write_checkpoint,
)

RUN = ["data=iris", *QUICK, "trainer.max_epochs=2"]


class Payload:
    """Stands for any object whose unpickling would run code."""


def tensor_byte(path: Path) -> int:
    """The offset of a byte in the middle of the first tensor's data in a torch checkpoint."""
    with zipfile.ZipFile(path) as archive:
        record = next(info for info in archive.infolist() if "/data/" in info.filename and info.file_size)
    with open(path, "rb") as handle:
        handle.seek(record.header_offset + 26)
        name_length, extra_length = struct.unpack("<HH", handle.read(4))
    return record.header_offset + 30 + name_length + extra_length + record.file_size // 2


def flip_a_tensor_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[tensor_byte(path)] ^= 0x10
    path.write_bytes(bytes(data))


def random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(0).randbytes(path.stat().st_size))


def zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


def a_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "note.txt").write_text("someone's files")


DAMAGE = {
    "random bytes": random_bytes,
    "zero bytes": zero_bytes,
    "a flipped byte": flip_a_tensor_byte,
    "a folder": a_folder,
}


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    path = tmp_path / "last.ckpt"
    write_checkpoint({"state_dict": {"net.weight": torch.linspace(0, 1, 4096)}, "epoch": 3}, path)
    return path


def test_a_checkpoint_carries_a_checksum_and_still_loads_with_plain_torch(checkpoint):
    assert zipfile.ZipFile(checkpoint).comment.startswith(b"archtrain-sha256:")
    plain, verified = torch.load(checkpoint, weights_only=True), read_checkpoint(checkpoint)
    assert torch.equal(plain["state_dict"]["net.weight"], verified["state_dict"]["net.weight"])


def test_a_flipped_tensor_byte_that_torch_loads_silently_is_damage(checkpoint):
    flip_a_tensor_byte(checkpoint)
    torch.load(checkpoint, weights_only=True)  # torch itself does not notice
    with pytest.raises(CorruptCheckpoint, match="do not match the checksum"):
        read_checkpoint(checkpoint)


@pytest.mark.parametrize("kind", DAMAGE)
def test_every_kind_of_damage_is_damage_not_unsafe(kind, checkpoint):
    DAMAGE[kind](checkpoint)
    with pytest.raises(CorruptCheckpoint, match="is damaged"):
        read_checkpoint(checkpoint)


@pytest.mark.parametrize("zip_format", [True, False])
def test_pickled_objects_are_unsafe_in_either_torch_format(zip_format, tmp_path):
    torch.save({"extra": Payload()}, tmp_path / "evil.ckpt", _use_new_zipfile_serialization=zip_format)
    with pytest.raises(UnsafeCheckpoint, match="GLOBAL test_checkpoints.Payload"):
        read_checkpoint(tmp_path / "evil.ckpt")


def test_a_checkpoint_written_before_checksums_still_loads(tmp_path):
    torch.save({"epoch": 1, "state_dict": {"w": torch.ones(3)}}, tmp_path / "old.ckpt")
    assert read_checkpoint(tmp_path / "old.ckpt")["epoch"] == 1


def test_a_failed_write_removes_its_temporary_file_and_keeps_the_old_checkpoint(checkpoint):
    with pytest.raises(Exception):
        write_checkpoint({"state_dict": {"w": torch.ones(1 << 16)}, "hook": lambda: None}, checkpoint)
    assert [p.name for p in checkpoint.parent.iterdir()] == ["last.ckpt"]
    assert read_checkpoint(checkpoint)["epoch"] == 3


def test_writers_never_share_a_temporary_file(checkpoint):
    errors = []

    def write_often(value: float) -> None:
        try:
            for _ in range(8):
                write_checkpoint({"state_dict": {"w": torch.full((1 << 18,), value)}}, checkpoint)
        except Exception as err:  # noqa: BLE001 - collected for the assertion below
            errors.append(err)

    writers = [threading.Thread(target=write_often, args=(value,)) for value in (1.0, 2.0)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert not errors and len(read_checkpoint(checkpoint)["state_dict"]["w"].unique()) == 1
    assert not list(checkpoint.parent.glob("*.tmp"))


@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory) -> dict[str, Path]:
    """A finished two-epoch run, and a run of another architecture whose best.ckpt gets copied."""
    folder = tmp_path_factory.mktemp("runs")
    assert train(folder / "run", *RUN)["status"] == "completed"
    assert train(folder / "other", *RUN, "model.width=16")["status"] == "completed"
    return {"run": folder / "run", "other": folder / "other"}


@pytest.fixture
def run(finished_runs, tmp_path) -> Path:
    """A copy of the finished run to damage (Lightning warns that its checkpoints moved)."""
    shutil.copytree(finished_runs["run"], tmp_path / "run")
    return tmp_path / "run"


def another_architecture(path: Path, other: Path) -> None:
    shutil.copyfile(other / "checkpoints" / "best.ckpt", path)


@pytest.mark.parametrize("kind", [*DAMAGE, "another architecture"])
def test_a_damaged_last_checkpoint_falls_back_to_the_intact_one_with_a_warning(kind, run, finished_runs):
    last = run / "checkpoints" / "last.ckpt"
    if kind == "another architecture":
        another_architecture(last, finished_runs["other"])
    else:
        DAMAGE[kind](last)
    summary = resume(run, "trainer.max_epochs=3")
    assert summary["status"] == "completed" and summary["epochs"] == 3
    log = (run / "train.log").read_text()
    assert f"checkpoint {last} {'is damaged' if kind in DAMAGE else 'holds another model'}" in log
    assert "kept as last.ckpt.damaged, resuming from best.ckpt" in log
    assert (run / "checkpoints" / "last.ckpt.damaged").exists()  # set aside, not deleted
    read_checkpoint(last)  # written whole again


def test_with_no_intact_checkpoint_resume_is_refused_in_one_line_and_nothing_moves(run, capfd):
    zero_bytes(run / "checkpoints" / "last.ckpt")
    flip_a_tensor_byte(run / "checkpoints" / "best.ckpt")
    summary = resume(run, "trainer.max_epochs=3")
    assert summary["exit_code"] == 2 and "no intact checkpoint" in summary["error"]
    assert "last.ckpt is damaged (the file is empty)" in summary["error"]
    assert "best.ckpt is damaged (its contents do not match the checksum" in summary["error"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert "Traceback" not in capfd.readouterr().err


def test_a_last_checkpoint_carrying_pickled_objects_is_refused_not_skipped(run):
    last = run / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    torch.save({**checkpoint, "extra": Payload()}, last)
    summary = resume(run, "trainer.max_epochs=3")
    assert summary["exit_code"] == 2 and "pickled objects" in summary["error"]
    assert not list((run / "checkpoints").glob("*.damaged"))


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """A 2 MB filesystem of the test's own."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not shutil.which("mount"):
        pytest.skip("no mount command to create a small filesystem")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True, text=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a 2 MB tmpfs here: {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "--lazy", str(disk)], check=True)  # lazy: an in-process run keeps train.log open


def test_a_full_disk_fails_the_run_in_one_line_and_leaves_no_partial_checkpoint(small_disk, workdir):
    out = cli("model=mlp", "model.width=1024", *QUICK, f"hydra.run.dir={small_disk / 'run'}", cwd=workdir)
    assert out.returncode == 2, out.stderr[-3000:]
    assert out.stderr.startswith("error: cannot write checkpoint") and "No space left on device" in out.stderr
    assert "Traceback" not in out.stderr
    summary = (small_disk / "run" / "summary.json").read_text()
    assert '"status": "failed"' in summary and "No space left on device" in summary
    assert not [p for p in (small_disk / "run").rglob("*") if p.name.endswith(".tmp")]


def fill(disk: Path) -> None:
    with open(disk / "ballast", "wb", buffering=0) as handle:
        while True:
            try:
                handle.write(bytes(1 << 14))
            except OSError:
                return


def test_a_summary_the_full_disk_refuses_is_one_line_on_stderr(small_disk, monkeypatch, capfd):
    """The disk fills while the run trains (here: before it trains), then the summary cannot be written."""

    def fill_and_fail(cfg, run, summary, resume=False):
        fill(small_disk)
        raise OSError(28, "No space left on device", str(run.metrics))

    monkeypatch.setattr("archtrain.train.fit_and_test", fill_and_fail)
    from archtrain.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["progress_bar=false", f"hydra.run.dir={small_disk / 'run'}"])
    assert exit_.value.code == 1
    err = capfd.readouterr().err
    assert (
        f"error: cannot write {small_disk / 'run' / 'summary.json'} (No space left on device); the run ended "
        f"failed (OSError: [Errno 28] No space left on device" in " ".join(err.split())
    )
    assert "Traceback" not in err


def test_a_full_disk_is_an_archtrain_error_naming_the_checkpoint(small_disk):
    with pytest.raises(ArchtrainError, match=f"cannot write checkpoint {small_disk / 'big.ckpt'}: No space left"):
        write_checkpoint({"w": torch.zeros(1 << 20)}, small_disk / "big.ckpt")
    assert not list(small_disk.iterdir())


def test_checkpoint_writes_go_on_behind_training_in_order_and_hold_the_state_of_their_save(tmp_path):
    writer, path = SafeCheckpointIO(), tmp_path / "last.ckpt"
    weights = torch.zeros(1 << 16)
    for step in range(5):
        weights += 1  # the next step changes the weights while the write may still be in flight
        writer.save_checkpoint({"w": weights, "step": step}, path)
    weights += 1
    saved = writer.load_checkpoint(path)  # a read waits for every write
    assert saved["step"] == 4 and torch.equal(saved["w"], torch.full((1 << 16,), 5.0))
    writer.teardown()
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_a_write_that_fails_behind_training_fails_the_end_of_the_stage(small_disk):
    writer = SafeCheckpointIO()
    writer.save_checkpoint({"w": torch.zeros(1 << 20)}, small_disk / "big.ckpt")  # 4 MB on a 2 MB disk
    with pytest.raises(ArchtrainError, match=f"cannot write checkpoint {small_disk / 'big.ckpt'}: No space left"):
        writer.teardown()
    assert not list(small_disk.iterdir())
