"""DataModules of the Align-zero / Align-ada experiments (docs/papers/align.md, sections 2.2, 3, 6).

- `TeacherClassificationDataModule`: the synthetic teacher task (no download); batches (x, label).
- `ImageClassificationDataModule`: KMNIST or CIFAR-10 from a local path, flattened to vectors in
  [0, 1]; batches (x, label). A validation split is held out of the training set.
- `AddTaskDataModule`: the recurrent Add task; batches (x (B, T, 1), y (B, T)).

Each declares `input_dim` / `num_classes` (or `steps`), which the model configs interpolate.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.datamodules.align.image_archives import LOADERS
from neurobolts.datamodules.align.synthetic import add_task, add_task_chance_loss, teacher_classification
from neurobolts.datamodules.common.global_batch_order import training_loader
from neurobolts.plugins.checks import check_choice, check_int, check_positive_int


class _SplitsDataModule(LightningDataModule):
    """Train / validation / test TensorDatasets built once in `setup`; the global batch size is
    divided by the world size under DDP (it must divide evenly)."""

    def __init__(self, batch_size: int, eval_batch_size: int, num_workers: int, pin_memory: bool) -> None:
        super().__init__()
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.eval_batch_size = check_positive_int("eval_batch_size", eval_batch_size)
        self.num_workers = check_int("num_workers", num_workers, 0)
        self.pin_memory = bool(pin_memory)
        self.batch_size_per_device = batch_size
        self.splits: dict[str, TensorDataset] = {}

    def build_splits(self) -> dict[str, TensorDataset]:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.trainer is not None:
            world = self.trainer.world_size
            if self.batch_size % world != 0:
                raise ValueError(f"data.batch_size={self.batch_size} is not divisible by the world size {world}")
            self.batch_size_per_device = self.batch_size // world
        if not self.splits:
            self.splits = self.build_splits()

    def _eval_loader(self, split: str) -> DataLoader:
        dataset = self.splits[split]
        return DataLoader(
            dataset, batch_size=min(self.eval_batch_size, len(dataset)),
            num_workers=self.num_workers, pin_memory=self.pin_memory, persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        dataset = self.splits["train"]
        return training_loader(dataset, min(self.batch_size, len(dataset)), self.trainer,
                               num_workers=self.num_workers, pin_memory=self.pin_memory)

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")


class TeacherClassificationDataModule(_SplitsDataModule):
    """Gaussian inputs labelled by a random tanh teacher (spec section 3: 16-D, 4 classes,
    n_train = 512, n_test = 2,000). One teacher (`teacher_seed`); the splits use sample seeds
    seed, seed + 1, seed + 2. With batch_size = n_train every step is a full-batch GD step.
    """

    def __init__(
        self, input_dim: int = 16, num_classes: int = 4, teacher_width: int = 64, n_train: int = 512,
        n_val: int = 1000, n_test: int = 2000, teacher_seed: int = 0, seed: int = 0, batch_size: int = 512,
        eval_batch_size: int = 2000, num_workers: int = 0, pin_memory: bool = False,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, num_workers, pin_memory)
        self.input_dim = check_positive_int("input_dim", input_dim)
        self.num_classes = check_int("num_classes", num_classes, 2)
        self.teacher_width = check_positive_int("teacher_width", teacher_width)
        self.sizes = {s: check_positive_int(f"n_{s}", n) for s, n in (("train", n_train), ("val", n_val), ("test", n_test))}
        check_int("batch_size", batch_size, 1, n_train, expected=f"an integer <= n_train={n_train}")
        self.teacher_seed, self.seed = int(teacher_seed), int(seed)
        self.save_hyperparameters(logger=False)

    def build_splits(self) -> dict[str, TensorDataset]:
        return {
            split: TensorDataset(*teacher_classification(
                n, self.input_dim, self.num_classes, self.teacher_width, self.teacher_seed, self.seed + k))
            for k, (split, n) in enumerate(self.sizes.items())
        }


class ImageClassificationDataModule(_SplitsDataModule):
    """KMNIST or CIFAR-10 read from `root` (see image_archives.py for the expected files), images
    flattened to vectors scaled to [0, 1]. The last `n_val` training images are the validation set
    (CIFAR-10 in the paper: 45,000 / 5,000); the official test set is the test set.

    `input_dim` and `num_classes` are declared in the config (the model interpolates them) and
    checked against the files. `limit_train` keeps only the first N training images (the paper's
    small-data runs).
    """

    SHAPES = {"kmnist": (28, 28, 1), "cifar10": (32, 32, 3)}

    def __init__(
        self, dataset: str = "kmnist", root: str = "data/KMNIST", input_dim: int = 784, num_classes: int = 10,
        n_val: int = 5000, limit_train: int | None = None, batch_size: int = 100, eval_batch_size: int = 1000,
        num_workers: int = 0, pin_memory: bool = False,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, num_workers, pin_memory)
        check_choice("dataset", dataset, tuple(LOADERS))
        expected_dim = math.prod(self.SHAPES[dataset])
        check_int("input_dim", input_dim, expected_dim, expected_dim,
                  expected=f"{expected_dim} for {dataset} (flattened {self.SHAPES[dataset]})")
        check_int("num_classes", num_classes, 10, 10, expected=f"10 for {dataset}")
        self.dataset, self.root = dataset, Path(root)
        self.input_dim, self.num_classes = input_dim, num_classes
        self.n_val = check_positive_int("n_val", n_val)
        self.limit_train = check_positive_int("limit_train", limit_train, allow_none=True)
        self.save_hyperparameters(logger=False)

    def _tensors(self, images: np.ndarray, labels: np.ndarray) -> TensorDataset:
        if images.shape[1:] != self.SHAPES[self.dataset]:
            raise ValueError(f"{self.dataset} images under {self.root} have shape {images.shape[1:]}, "
                             f"expected {self.SHAPES[self.dataset]}")
        x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
        return TensorDataset(x, torch.from_numpy(labels.astype(np.int64)))

    def build_splits(self) -> dict[str, TensorDataset]:
        train_x, train_y, test_x, test_y = LOADERS[self.dataset](self.root)
        check_int("n_val", self.n_val, 1, len(train_x) - 1,
                  expected=f"< the {len(train_x)} training images under {self.root}")
        cut = len(train_x) - self.n_val
        keep = cut if self.limit_train is None else min(cut, self.limit_train)
        if self.batch_size_per_device > keep:
            raise ValueError(f"batch_size={self.batch_size} exceeds the {keep} training images kept")
        return {
            "train": self._tensors(train_x[:keep], train_y[:keep]),
            "val": self._tensors(train_x[cut:], train_y[cut:]),
            "test": self._tensors(test_x, test_y),
        }


class AddTaskDataModule(_SplitsDataModule):
    """The recurrent Add task (spec section 2.2): 300 training and 100 test sequences of T = 100
    steps, batch 50; a further 100 sequences for validation. Splits use seeds seed, seed + 1, seed + 2.
    `chance_loss` = sum_t Var(y_t), the per-sequence loss of the best input-blind predictor.
    """

    def __init__(
        self, steps: int = 100, n_train: int = 300, n_val: int = 100, n_test: int = 100, seed: int = 0,
        batch_size: int = 50, eval_batch_size: int = 100, num_workers: int = 0, pin_memory: bool = False,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, num_workers, pin_memory)
        self.steps = check_int("steps", steps, 6)
        self.sizes = {s: check_positive_int(f"n_{s}", n) for s, n in (("train", n_train), ("val", n_val), ("test", n_test))}
        check_int("batch_size", batch_size, 1, n_train, expected=f"an integer <= n_train={n_train}")
        self.seed = int(seed)
        self.chance_loss = add_task_chance_loss(self.steps)
        self.save_hyperparameters(logger=False)

    def build_splits(self) -> dict[str, TensorDataset]:
        return {split: TensorDataset(*add_task(n, self.steps, self.seed + k))
                for k, (split, n) in enumerate(self.sizes.items())}
