"""DataModule for the inductive-bias-complexity experiments (`experiment=ibc_tasks`): one synthetic
classification task on an m-sphere embedded in R^ambient_dim with a controlled class margin
(datamodules/inductive_bias/sphere_tasks.py). Batches are `(x, y)`: x (B, ambient_dim) float32, y (B,) int64.

It declares `intrinsic_dim` (= sphere_dim), `resolution` (= 2 margin) and `num_classes`, known by
construction, which the InductiveBiasComplexity callback takes instead of estimating (with
`cross_check=True` it also reports its estimates); the radius is measured from the data.
"""

from __future__ import annotations

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.datamodules.common.global_batch_order import training_loader
from neurobolts.datamodules.inductive_bias.sphere_tasks import sphere_classification_task
from neurobolts.plugins.checks import check_positive_int


class SphereTasksDataModule(LightningDataModule):
    """Nearest-centre classification on a sphere of intrinsic dimension `sphere_dim`.

    Args:
        sphere_dim: m, the intrinsic dimension.
        ambient_dim: dimension of the space the sphere is embedded in (the inputs' size).
        num_classes: number of classes (random centres).
        margin: points closer than this to a class boundary are rejected (delta = 2 margin).
        radius: radius of the sphere.
        num_train, num_val, num_test: split sizes (one stream of samples, same task).
        batch_size: global training batch size; divided by the world size under DDP.
        eval_batch_size: validation/test batch size.
        num_workers, pin_memory: DataLoader options.
        seed: seed of the task (centres, embedding, samples).
    """

    def __init__(
        self,
        sphere_dim: int = 4,
        ambient_dim: int = 32,
        num_classes: int = 4,
        margin: float = 0.3,
        radius: float = 3.0,
        num_train: int = 4000,
        num_val: int = 1000,
        num_test: int = 1000,
        batch_size: int = 64,
        eval_batch_size: int = 500,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test),
                            ("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
            check_positive_int(name, value)
        self.save_hyperparameters(logger=False)
        # fail on bad task arguments now rather than at setup
        sphere_classification_task(1, sphere_dim, ambient_dim, num_classes, margin, radius, seed)
        self.sphere_dim, self.ambient_dim = sphere_dim, ambient_dim
        self.num_classes = num_classes
        self.train_set: TensorDataset | None = None
        self.val_set: TensorDataset | None = None
        self.test_set: TensorDataset | None = None

    @property
    def intrinsic_dim(self) -> int:
        """Declared for InductiveBiasComplexity: the sphere's dimension m."""
        return self.sphere_dim

    @property
    def resolution(self) -> float | None:
        """Declared for InductiveBiasComplexity: the task's resolution, 2 margin (None without a margin)."""
        margin = float(self.hparams.margin)
        return 2.0 * margin if margin > 0 else None

    def setup(self, stage: str | None = None) -> None:
        hp = self.hparams
        if self.trainer is not None:
            world = self.trainer.world_size
            if hp.batch_size % world != 0:
                raise ValueError(f"data.batch_size={hp.batch_size} is not divisible by the world size {world}")
        if self.train_set is None:
            total = hp.num_train + hp.num_val + hp.num_test
            x, y = sphere_classification_task(
                total, hp.sphere_dim, hp.ambient_dim, hp.num_classes, hp.margin, hp.radius, hp.seed
            )
            a, b = hp.num_train, hp.num_train + hp.num_val
            self.train_set = TensorDataset(x[:a], y[:a])
            self.val_set = TensorDataset(x[a:b], y[a:b])
            self.test_set = TensorDataset(x[b:], y[b:])

    def _eval_loader(self, dataset: TensorDataset) -> DataLoader:
        return DataLoader(
            dataset, batch_size=self.hparams.eval_batch_size,
            num_workers=self.hparams.num_workers, pin_memory=self.hparams.pin_memory,
            persistent_workers=self.hparams.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return training_loader(self.train_set, self.hparams.batch_size, self.trainer,
                               drop_last=len(self.train_set) >= self.hparams.batch_size,
                               num_workers=self.hparams.num_workers, pin_memory=self.hparams.pin_memory)

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader(self.test_set)
