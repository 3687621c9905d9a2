"""Performance mechanics: the default thread count, digits read without scikit-learn, peak memory in
every summary, the lazy image folder and the divergence guard's reads. Timings live in benchmarks/."""

import numpy as np
import pytest
import torch
from conftest import QUICK, train
from omegaconf import OmegaConf

from archtrain import hardware
from archtrain.data.images import scikit_learn_digits
from archtrain.errors import ArchtrainError
from archtrain.hardware import cgroup_cpu_quota, cpu_threads, default_threads


def test_digits_read_without_scikit_learn_are_its_load_digits():
    from sklearn.datasets import load_digits

    images, labels = scikit_learn_digits()
    digits = load_digits()
    assert np.array_equal(images, digits.images) and np.array_equal(labels, digits.target)


def test_a_cgroup_quota_caps_the_cores(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(tmp_path) is None
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(tmp_path) == 3.0
    assert cgroup_cpu_quota(tmp_path / "none") is None


def test_default_threads_are_the_free_cores_shared_out_less_the_workers(monkeypatch):
    monkeypatch.setattr(hardware, "usable_cpus", lambda: 8)
    with cpu_threads(64):  # torch's own count is a ceiling; lift it for the arithmetic
        assert default_threads(busy=0.2) == 8
        assert default_threads(busy=2.7) == 5  # three cores taken: more than half a core counts
        assert default_threads(workers=2, busy=0.0) == 6
        assert default_threads(processes=2, workers=1, busy=0.0) == 3
        assert default_threads(busy=12.0) == default_threads(workers=9, busy=0.0) == 1
    with cpu_threads(2):
        assert default_threads(busy=0.0) == 2  # never more than OMP_NUM_THREADS or the caller's count


def test_every_summary_has_the_peak_memory_and_the_threads_used(workdir, one_thread):
    summary = train(workdir / "run", *QUICK)
    assert summary["memory"]["peak_rss_mb"] > 50
    assert summary["hardware"]["cpu_threads"] == 1  # the caller's one thread is a ceiling
    recorded = OmegaConf.load(workdir / "run" / "config.yaml").hardware.threads
    assert recorded == 1  # the default, resolved, is what resume= reads: a resumed run computes alike
    failed = train(workdir / "bad", *QUICK, "model=lstm", "data=csv_series", "data.path=missing.csv")
    assert failed["status"] == "failed" and failed["memory"]["peak_rss_mb"] > 50


def test_a_lazy_image_folder_decodes_in_workers_what_the_eager_one_holds(tmp_path):
    from test_image_data import folder_data, write_folder

    write_folder(tmp_path, {"zebra": 6, "apple": 5, "mango": 4})
    eager = folder_data(tmp_path, lazy=False)
    lazy = folder_data(tmp_path, lazy=True, workers=2)
    assert lazy.spec == eager.spec and not isinstance(lazy.splits["train"][0], torch.Tensor)
    for split in ("train", "val", "test"):
        assert torch.equal(lazy.splits[split][1], eager.splits[split][1])
        assert torch.equal(lazy.splits[split][0][:], eager.splits[split][0])
    loader = lazy.train_dataloader()
    assert loader.num_workers == 2
    (x_lazy, y_lazy), (x_eager, y_eager) = next(iter(loader)), next(iter(eager.train_dataloader()))
    assert torch.equal(x_lazy, x_eager) and torch.equal(y_lazy, y_eager)


def test_an_image_folder_decodes_lazily_when_it_would_not_fit_in_memory(tmp_path, monkeypatch):
    from test_image_data import folder_data, write_folder

    from archtrain.data import image_files

    write_folder(tmp_path, {"cat": 3, "dog": 3})
    monkeypatch.setattr(image_files, "free_memory", lambda: 6 * 3 * 12 * 12 * 4)  # room for half the pixels
    assert not isinstance(folder_data(tmp_path).splits["train"][0], torch.Tensor)
    with pytest.raises(ArchtrainError, match="data.normalize=true needs every image in memory"):
        folder_data(tmp_path, normalize=True)
    monkeypatch.setattr(image_files, "free_memory", lambda: 2**40)
    assert isinstance(folder_data(tmp_path).splits["train"][0], torch.Tensor)


def test_a_lazy_image_folder_trains(workdir, one_thread, tmp_path):
    from test_image_data import write_folder

    write_folder(tmp_path / "images", {"cat": 8, "dog": 8})
    summary = train(
        workdir / "run",
        *QUICK,
        "model=lenet5",
        "data=image_folder",
        f"data.root={tmp_path / 'images'}",
        "data.image_size=12",
        "data.lazy=true",
        "data.workers=1",
    )
    assert summary["status"] == "completed" and summary["memory"]["children_peak_rss_mb"] > 0


def guarded_steps(guard, losses, global_step: int = 10):
    from types import SimpleNamespace

    trainer = SimpleNamespace(
        global_step=global_step, current_epoch=2, world_size=1, checkpoint_callbacks=[], strategy=SimpleNamespace()
    )
    for batch_idx, loss in enumerate(losses):
        trainer.global_step += 1
        guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(loss)}, None, batch_idx)
    return trainer


def test_the_divergence_guard_reads_every_n_steps_and_names_the_first_bad_one():
    from archtrain.errors import Diverged
    from archtrain.training.callbacks import DivergenceGuard

    guard = DivergenceGuard(read_every=4)
    trainer = guarded_steps(guard, [1.0, float("nan"), 2.0])  # not read yet: training goes on
    with pytest.raises(Diverged, match=r"became nan at step 12 \(epoch 2\)"):
        guard.on_train_epoch_end(trainer, None)
    with pytest.raises(Diverged, match=r"became inf at step 13 \(epoch 2, batch 2\)"):
        guarded_steps(DivergenceGuard(read_every=4), [1.0, 1.0, float("inf"), float("nan")])
    with pytest.raises(Diverged, match="became nan at step 11"):  # read before any checkpoint is written
        guard = DivergenceGuard(read_every=50)
        guard.on_save_checkpoint(guarded_steps(guard, [float("nan"), 1.0]), torch.nn.Linear(2, 2), {})
    guarded_steps(DivergenceGuard(read_every=1), [3.0, 2.0, 1.0])  # finite: nothing happens
