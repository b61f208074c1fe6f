"""Data of the Align experiments: the Add task (with the reference code's lag defect fixed), the
teacher task, and the KMNIST / CIFAR-10 readers on tiny generated files in the real formats."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from neurobolts.datamodules import (
    AddTaskDataModule,
    ImageClassificationDataModule,
    TeacherClassificationDataModule,
)
from neurobolts.datamodules.align.image_archives import load_cifar10, load_kmnist, read_idx
from neurobolts.datamodules.align.synthetic import (
    add_task,
    add_task_chance_loss,
    add_task_targets,
    teacher_classification,
)

# ------------------------------------------------------------------------------------- Add task


def test_add_task_targets_follow_the_definition():
    x, y = add_task(4, steps=12, seed=0)
    assert x.shape == (4, 12, 1) and y.shape == (4, 12)
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    xs = x[..., 0]
    for b in range(4):
        for t in range(12):
            lag2 = xs[b, t - 2] if t >= 2 else 0.0
            lag5 = xs[b, t - 5] if t >= 5 else 0.0
            assert float(y[b, t]) == pytest.approx(0.5 + 0.5 * float(lag2) - 0.25 * float(lag5))


def test_add_task_lags_along_time_not_across_sequences():
    """Defect 1 of the reference code (spec section 5): it zeroed the first `lag` entries along the
    sequence (batch) axis. Here the first steps of EVERY sequence have no lagged input, and a
    sequence's targets do not depend on which other sequences share its batch."""
    x = torch.ones(6, 10)
    y = add_task_targets(x)
    assert torch.equal(y[:, :2], torch.full((6, 2), 0.5))  # nothing lagged yet, in every sequence
    assert torch.equal(y[:, 2:5], torch.full((6, 3), 1.0))  # only the lag-2 input exists
    assert torch.equal(y[:, 5:], torch.full((6, 5), 0.75))  # both lags
    xb = torch.bernoulli(torch.full((5, 20), 0.5), generator=torch.Generator().manual_seed(1))
    batch = add_task_targets(xb)
    for b in range(5):
        assert torch.equal(add_task_targets(xb[b : b + 1]), batch[b : b + 1])


def test_add_task_chance_loss_is_the_input_blind_optimum():
    assert add_task_chance_loss(100) == pytest.approx(3 * 0.0625 + 95 * 0.078125)
    _, y = add_task(20000, steps=100, seed=3)
    empirical = float(((y - y.mean(0)) ** 2).sum(1).mean())
    assert empirical == pytest.approx(add_task_chance_loss(100), rel=0.02)


# ------------------------------------------------------------------------------------ teacher task


def test_teacher_task_is_deterministic_and_uses_every_class():
    x, labels = teacher_classification(2000, 16, 4, teacher_seed=0, sample_seed=5)
    x2, labels2 = teacher_classification(2000, 16, 4, teacher_seed=0, sample_seed=5)
    assert torch.equal(x, x2) and torch.equal(labels, labels2)
    assert x.shape == (2000, 16) and x.dtype == torch.float32
    counts = torch.bincount(labels, minlength=4)
    assert (counts > 100).all(), counts
    # another sample seed draws new inputs; another teacher seed relabels the same inputs
    x3, _ = teacher_classification(10, 16, 4, teacher_seed=0, sample_seed=6)
    assert not torch.equal(x3, x[:10])
    _, other_teacher = teacher_classification(2000, 16, 4, teacher_seed=1, sample_seed=5)
    assert (other_teacher != labels).float().mean() > 0.3


def test_datamodules_build_splits_and_batches():
    dm = TeacherClassificationDataModule(n_train=64, n_val=32, n_test=48, batch_size=16, eval_batch_size=32)
    dm.setup("fit")
    x, label = next(iter(dm.train_dataloader()))
    assert x.shape == (16, 16) and label.shape == (16,)
    assert len(dm.splits["val"]) == 32 and len(dm.splits["test"]) == 48
    assert not torch.equal(dm.splits["train"].tensors[0][:32], dm.splits["val"].tensors[0])

    add = AddTaskDataModule(steps=20, n_train=30, n_val=10, n_test=10, batch_size=10)
    add.setup("fit")
    x, y = next(iter(add.train_dataloader()))
    assert x.shape == (10, 20, 1) and y.shape == (10, 20)
    assert add.chance_loss == pytest.approx(add_task_chance_loss(20))


@pytest.mark.parametrize("make, match", [
    (lambda: TeacherClassificationDataModule(num_classes=1), r"num_classes must be an integer >= 2, got 1"),
    (lambda: TeacherClassificationDataModule(n_train=100, batch_size=200), r"batch_size must be an integer <= n_train=100, got 200"),
    (lambda: AddTaskDataModule(steps=4), r"steps must be an integer >= 6, got 4"),
    (lambda: AddTaskDataModule(batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (lambda: ImageClassificationDataModule(dataset="mnist"), r"dataset must be one of \('kmnist', 'cifar10'\)"),
    (lambda: ImageClassificationDataModule(dataset="cifar10", input_dim=784),
     r"input_dim must be 3072 for cifar10 .*got 784"),
])
def test_bad_datamodule_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# --------------------------------------------------------------------------- KMNIST and CIFAR-10


def _write_idx(path, array: np.ndarray, gz: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def _fake_kmnist(root, n_train=30, n_test=10, gz=True):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    raw = root / "KMNIST" / "raw"  # torchvision's layout
    raw.mkdir(parents=True)
    for name, array in arrays.items():
        _write_idx(raw / name, array, gz)
    return arrays


def _fake_cifar10(root, per_batch=4):
    rng = np.random.default_rng(1)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (per_batch, 3072)).astype(np.uint8),
                 b"labels": rng.integers(0, 10, per_batch).tolist()}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
        batches[name] = batch
    return batches


@pytest.mark.parametrize("gz", [True, False])
def test_kmnist_idx_files_are_read(tmp_path, gz):
    arrays = _fake_kmnist(tmp_path, gz=gz)
    train_x, train_y, test_x, test_y = load_kmnist(tmp_path)
    assert train_x.shape == (30, 28, 28, 1) and train_x.dtype == np.uint8
    np.testing.assert_array_equal(train_x[..., 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(test_y, arrays["t10k-labels-idx1-ubyte"])
    assert test_x.shape == (10, 28, 28, 1)


def test_kmnist_npz_archives_are_read(tmp_path):
    rng = np.random.default_rng(2)
    images, labels = rng.integers(0, 256, (12, 28, 28)).astype(np.uint8), rng.integers(0, 10, 12)
    for split in ("train", "test"):
        np.savez(tmp_path / f"kmnist-{split}-imgs.npz", images)
        np.savez(tmp_path / f"kmnist-{split}-labels.npz", labels)
    train_x, train_y, _, _ = load_kmnist(tmp_path)
    np.testing.assert_array_equal(train_x[..., 0], images)
    np.testing.assert_array_equal(train_y, labels)


def test_cifar10_batches_are_read_in_channel_last_order(tmp_path):
    batches = _fake_cifar10(tmp_path)
    train_x, train_y, test_x, test_y = load_cifar10(tmp_path)
    assert train_x.shape == (20, 32, 32, 3) and test_x.shape == (4, 32, 32, 3)
    row = batches["data_batch_1"][b"data"][0]
    # pixel (i, j) of channel c sits at c * 1024 + i * 32 + j in the file's row
    assert train_x[0, 3, 5, 2] == row[2 * 1024 + 3 * 32 + 5]
    np.testing.assert_array_equal(test_y, batches["test_batch"][b"labels"])


def test_missing_files_name_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"KMNIST files not found.*train-images-idx3-ubyte.*kmnist-train-imgs.npz"):
        load_kmnist(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"CIFAR-10.*cifar-10-batches-py.*data_batch_1.*test_batch"):
        load_cifar10(tmp_path)
    dm = ImageClassificationDataModule(dataset="kmnist", root=str(tmp_path / "nowhere"), n_val=5)
    with pytest.raises(FileNotFoundError, match=r"nowhere"):
        dm.setup("fit")


def test_corrupt_idx_file_is_reported(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(struct.pack(">BBBB", 0, 0, 0x08, 1) + struct.pack(">i", 10) + b"\x00" * 3)
    with pytest.raises(ValueError, match=r"header says shape \(10,\) \(10 bytes\) but 3 bytes follow"):
        read_idx(path)


@pytest.mark.parametrize("dataset", ["kmnist", "cifar10"])
def test_image_datamodule_flattens_scales_and_splits(tmp_path, dataset):
    if dataset == "kmnist":
        _fake_kmnist(tmp_path)
        dm = ImageClassificationDataModule(dataset="kmnist", root=str(tmp_path), n_val=6, batch_size=8)
        n_train, dim = 24, 784
    else:
        _fake_cifar10(tmp_path)
        dm = ImageClassificationDataModule(dataset="cifar10", root=str(tmp_path), input_dim=3072, n_val=6,
                                           batch_size=8)
        n_train, dim = 14, 3072
    dm.setup("fit")
    assert len(dm.splits["train"]) == n_train and len(dm.splits["val"]) == 6
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (8, dim) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and y.dtype == torch.int64
    limited = ImageClassificationDataModule(dataset=dataset, root=str(tmp_path), input_dim=dim, n_val=6,
                                            batch_size=4, limit_train=5)
    limited.setup("fit")
    assert len(limited.splits["train"]) == 5
