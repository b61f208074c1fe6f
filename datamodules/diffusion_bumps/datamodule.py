"""DataModule for the Gaussian-bump diffusion experiments (diffusion_bumps spec, sections 2.1-2.2, 6).

Training set: one image per centre of a (dx, dy) lattice, optionally subsampled to a fraction lambda.
Validation and test sets: the fixed evaluation grid of integer conditions; the LightningModule
generates one sample per condition there and scores it.

Batches are `(image, condition)`: image (B, 1, N, N) in [-1, 1], condition (B, 2) = (mu_x, mu_y).
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.datamodules.common.global_batch_order import training_loader
from neurobolts.datamodules.diffusion_bumps.bumps import (
    evaluation_grid,
    lattice_centres,
    render_bumps,
    subsample,
    to_model_range,
)
from neurobolts.plugins.checks import (
    check_fraction,
    check_int,
    check_number,
    check_positive,
    check_positive_int,
)


class DiffusionBumpsDataModule(LightningDataModule):
    """Images of single 2D Gaussian bumps conditioned on their centre.

    Args:
        image_size: N (images are N x N).
        sigma: bump width in pixels (both axes unless `sigma_y` is given).
        sigma_y: optional separate width along y (an alternative imbalance).
        dx, dy: lattice steps of the training centres along x and y; dx != dy gives the
            imbalanced dataset of the spec (x seen at many more distinct values than y).
        subsample_fraction: lambda, the fraction of the lattice kept for training.
        periodic: bumps wrap around the borders (torus label space).
        eval_margin: evaluation conditions are the integer centres at least this far from the border.
        batch_size: global batch size; divided by the world size under DDP (must divide evenly).
        eval_batch_size: conditions per validation/test batch (each gets one generated sample).
        num_workers, pin_memory: DataLoader options.
        seed: seed of the subsampling.
        probe_timestep, probe_seed: the fixed timestep and noise image of `probe_batch()`.
    """

    def __init__(
        self,
        image_size: int = 16,
        sigma: float = 1.0,
        sigma_y: float | None = None,
        dx: float = 0.5,
        dy: float = 0.5,
        subsample_fraction: float = 1.0,
        periodic: bool = False,
        eval_margin: int = 1,
        batch_size: int = 64,
        eval_batch_size: int = 256,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 0,
        probe_timestep: int = 100,
        probe_seed: int = 0,
    ) -> None:
        super().__init__()
        check_int("image_size", image_size, 4)
        check_positive("sigma", sigma)
        check_positive("sigma_y", sigma_y, allow_none=True)
        for name, value in (("dx", dx), ("dy", dy)):
            check_number(name, value, 0, image_size, low_open=True,
                         expected=f"a finite number in (0, image_size={image_size}]")
        check_fraction("subsample_fraction", subsample_fraction, low_open=True)
        for name, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
            check_positive_int(name, value)
        self.save_hyperparameters(logger=False)
        self.image_size = image_size
        self.sigma = float(sigma)
        self.sigma_y = float(sigma_y) if sigma_y is not None else None
        self.dx, self.dy = float(dx), float(dy)
        self.subsample_fraction = float(subsample_fraction)
        self.periodic = bool(periodic)
        self.eval_margin = int(eval_margin)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.seed = seed
        check_int("probe_timestep", probe_timestep, 0)
        self.probe_timestep = probe_timestep
        self.probe_seed = probe_seed
        # Validate the grid now so a bad margin fails before training.
        self.eval_conditions = evaluation_grid(image_size, self.eval_margin, self.periodic)
        self.train_set: TensorDataset | None = None
        self.eval_set: TensorDataset | None = None

    def render(self, centres: torch.Tensor) -> torch.Tensor:
        """Images in the model's [-1, 1] range for the given (n, 2) centres."""
        images = render_bumps(centres, self.image_size, self.sigma, self.sigma_y, self.periodic)
        return to_model_range(images)

    def setup(self, stage: str | None = None) -> None:
        if self.trainer is not None:
            world = self.trainer.world_size
            if self.batch_size % world != 0:
                raise ValueError(
                    f"data.batch_size={self.batch_size} is not divisible by the world size {world}"
                )
        if self.train_set is None:
            centres = lattice_centres(self.image_size, self.dx, self.dy)
            centres = subsample(centres, self.subsample_fraction, self.seed)
            self.train_set = TensorDataset(self.render(centres), centres)
            self.eval_set = TensorDataset(self.render(self.eval_conditions), self.eval_conditions)

    def _eval_loader(self) -> DataLoader:
        return DataLoader(
            self.eval_set,
            batch_size=self.eval_batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return training_loader(self.train_set, self.batch_size, self.trainer,
                               drop_last=len(self.train_set) >= self.batch_size, num_workers=self.num_workers,
                               pin_memory=self.pin_memory)

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader()

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader()

    def probe_batch(self) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        """Probe protocol for analysis callbacks: `((x_t, t, cond), factors)`.

        The evaluation grid of conditions, all with the same fixed noise image x_t and the same
        timestep (spec section 2.6), so the latents vary only with the condition; the factors are the
        conditions (mu_x, mu_y). The model's forward is `forward(x_t, t, cond)`.
        """
        n = len(self.eval_conditions)
        generator = torch.Generator().manual_seed(self.probe_seed)
        noise = torch.randn((1, 1, self.image_size, self.image_size), generator=generator)
        t = torch.full((n,), self.probe_timestep, dtype=torch.long)
        return (noise.expand(n, -1, -1, -1).clone(), t, self.eval_conditions.clone()), self.eval_conditions.clone()
