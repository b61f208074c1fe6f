"""Readers for KMNIST and CIFAR-10 archives already on disk (no download).

- KMNIST: the IDX files of the official release / torchvision (`train-images-idx3-ubyte`,
  `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally
  gzipped), or the official NumPy archives (`kmnist-train-imgs.npz`, `kmnist-train-labels.npz`,
  `kmnist-test-imgs.npz`, `kmnist-test-labels.npz`). Looked up in `root`, `root/raw` and
  `root/KMNIST/raw` (torchvision's layout).
- CIFAR-10: the "python version" batches (`data_batch_1` ... `data_batch_5`, `test_batch`) in `root`
  or `root/cifar-10-batches-py`. These are pickles: only point `root` at files you trust (the same
  caveat as torchvision's loader).

Every reader returns uint8 images (N, H, W, C) and int64 labels (N,). A missing file raises
`FileNotFoundError` naming the directories searched and the files expected there.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

KMNIST_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
KMNIST_NPZ_FILES = {
    "train_images": "kmnist-train-imgs.npz",
    "train_labels": "kmnist-train-labels.npz",
    "test_images": "kmnist-test-imgs.npz",
    "test_labels": "kmnist-test-labels.npz",
}
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)

_IDX_DTYPES = {0x08: np.uint8}


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX array (the MNIST file format: magic 0x0000 <dtype> <ndim>, big-endian int32 sizes),
    gzipped when the name ends in .gz."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number {data[:4]!r})")
    dtype_code, ndim = data[2], data[3]
    if dtype_code not in _IDX_DTYPES:
        raise ValueError(f"{path}: IDX element type 0x{dtype_code:02x} is not supported (expected 0x08, uint8)")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape)) if shape else 0
    if len(data) - offset != expected:
        raise ValueError(f"{path}: header says shape {shape} ({expected} bytes) but {len(data) - offset} bytes follow")
    return np.frombuffer(data, dtype=_IDX_DTYPES[dtype_code], offset=offset).reshape(shape)


def _missing(dataset: str, dirs: list[Path], expected: str) -> FileNotFoundError:
    searched = ", ".join(str(d) for d in dirs)
    return FileNotFoundError(f"{dataset} files not found; searched: {searched}; expected there: {expected}")


def _find(dirs: list[Path], name: str) -> Path | None:
    for d in dirs:
        for candidate in (d / name, d / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _images_nhwc(images: np.ndarray) -> np.ndarray:
    return images[..., None] if images.ndim == 3 else images


def load_kmnist(root: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train_images (N, 28, 28, 1) uint8, train_labels, test_images, test_labels) from `root`."""
    root = Path(root)
    dirs = [root, root / "raw", root / "KMNIST" / "raw"]
    idx = {k: _find(dirs, name) for k, name in KMNIST_IDX_FILES.items()}
    if all(p is not None for p in idx.values()):
        arrays = {k: read_idx(p) for k, p in idx.items()}
    else:
        npz = {k: _find(dirs, name) for k, name in KMNIST_NPZ_FILES.items()}
        if not all(p is not None for p in npz.values()):
            expected = (" + ".join(KMNIST_IDX_FILES.values()) + " (optionally .gz), or "
                        + " + ".join(KMNIST_NPZ_FILES.values()))
            raise _missing("KMNIST", dirs, expected)
        arrays = {}
        for k, p in npz.items():
            with np.load(p) as archive:
                arrays[k] = archive["arr_0"]
    out = []
    for split in ("train", "test"):
        images, labels = _images_nhwc(arrays[f"{split}_images"]), arrays[f"{split}_labels"].astype(np.int64)
        if len(images) != len(labels):
            raise ValueError(f"KMNIST {split}: {len(images)} images but {len(labels)} labels")
        out += [images.astype(np.uint8), labels]
    return tuple(out)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ValueError(f"{path}: expected data (N, 3072) and N labels, got {data.shape} and {labels.shape}")
    # rows are channel-major (R plane, G plane, B plane) of 32 x 32 images
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load_cifar10(root: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train_images (50000, 32, 32, 3) uint8, train_labels, test_images, test_labels) from `root`."""
    root = Path(root)
    dirs = [root, root / "cifar-10-batches-py"]
    paths = {}
    for name in CIFAR10_FILES:
        found = [d / name for d in dirs if (d / name).is_file()]
        if not found:
            raise _missing("CIFAR-10 (python version)", dirs, " + ".join(CIFAR10_FILES))
        paths[name] = found[0]
    train = [_read_cifar_batch(paths[name]) for name in CIFAR10_FILES[:-1]]
    test_images, test_labels = _read_cifar_batch(paths["test_batch"])
    return (np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train]), test_images, test_labels)


LOADERS = {"kmnist": load_kmnist, "cifar10": load_cifar10}
