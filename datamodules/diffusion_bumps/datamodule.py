"""DataModule for the Gaussian-bump diffusion experiments (diffusion_bumps spec, sections 2.1-2.2, 6).

Training set: one image per centre of a (dx, dy) lattice, optionally subsampled to a fraction lambda,
optionally without a held-out block of the lattice. Validation and test sets (`eval_set_names`), on
each of which the LightningModule generates one sample per condition and scores it:
- `gen`: the integer conditions of the evaluation grid (lattice points of the training set: in
  distribution; those inside a held-out block are left out);
- `gen_heldout`: conditions between the training centres (`offgrid_conditions`, half a lattice
  step from every training centre along both axes), which the model never saw;
- `gen_heldout_block` (with `heldout_block`): the evaluation-grid conditions inside the block removed
  from training.

Batches are `(image, condition)`: image (B, 1, N, N) in [-1, 1], condition (B, 2) = (mu_x, mu_y).
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.datamodules.common.evaluation_order import evaluation_loader
from neurobolts.datamodules.common.global_batch_order import training_loader
from neurobolts.datamodules.diffusion_bumps.bumps import (
    evaluation_grid,
    in_block,
    lattice_centres,
    offgrid_conditions,
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
    is_number,
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
        heldout_stride: spacing (in evaluation-grid steps) of the off-lattice held-out conditions; null
            switches that set off. Every evaluation set is shared out over DDP ranks without padding
            (`evaluation_loader`), so its metrics are those of one process.
        heldout_block: [x0, y0, x1, y1]: training centres in this rectangle (bounds included) are
            removed, and the evaluation conditions inside it are scored apart; null keeps the lattice.
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
        heldout_stride: int | None = 2,
        heldout_block: list[float] | None = None,
    ) -> None:
        super().__init__()
        if heldout_block is not None and not isinstance(heldout_block, str):
            heldout_block = list(heldout_block)  # a plain list (a ListConfig would not load weights_only)
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
        # Validate the grids now so a bad margin or block fails before training.
        self.eval_conditions = evaluation_grid(image_size, self.eval_margin, self.periodic)
        check_positive_int("heldout_stride", heldout_stride, allow_none=True)
        if heldout_block is not None:
            if not isinstance(heldout_block, list) or len(heldout_block) != 4 or not all(is_number(v) for v in heldout_block) or \
                    heldout_block[0] > heldout_block[2] or heldout_block[1] > heldout_block[3]:
                raise ValueError(f"heldout_block must be [x0, y0, x1, y1] with x0 <= x1 and y0 <= y1, "
                                 f"got {heldout_block!r}")
        self.heldout_block = heldout_block
        self.eval_sets: dict[str, torch.Tensor] = {"gen": self.eval_conditions}
        if heldout_block is not None:
            inside = in_block(self.eval_conditions, heldout_block)
            if not inside.any():
                raise ValueError(f"heldout_block={heldout_block!r} holds no evaluation condition (integer "
                                 f"centres {self.eval_margin} .. {image_size - 1 - self.eval_margin})")
            self.eval_sets["gen"] = self.eval_conditions[~inside]
        if heldout_stride is not None:
            self.eval_sets["gen_heldout"] = offgrid_conditions(image_size, self.dx, self.dy, self.eval_margin,
                                                               heldout_stride, self.periodic)
        if heldout_block is not None:
            self.eval_sets["gen_heldout_block"] = self.eval_conditions[inside]
        self.eval_set_names = list(self.eval_sets)
        self.train_set: TensorDataset | None = None
        self.eval_datasets: list[TensorDataset] | None = None

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
            if self.heldout_block is not None:
                centres = centres[~in_block(centres, self.heldout_block)]
            self.train_set = TensorDataset(self.render(centres), centres)
            self.eval_datasets = [TensorDataset(self.render(c), c) for c in self.eval_sets.values()]

    def _eval_loader(self) -> list[DataLoader] | DataLoader:
        """One loader per evaluation set, in the order of `eval_set_names` (a single loader when only
        the grid is evaluated)."""
        # Starting a DataLoader iterator draws a worker seed from the loader's generator, or from the
        # global one. The held-out loaders get generators of their own, so adding them leaves the
        # training noise of a seeded run as it was; the grid loader keeps its one global draw per
        # validation, as before, so seeded runs repeat the numbers measured before held-out sets existed.
        loaders = [
            evaluation_loader(dataset, self.eval_batch_size, self.trainer, num_workers=self.num_workers,
                              pin_memory=self.pin_memory,
                              generator=None if i == 0 else torch.Generator().manual_seed(self.seed))
            for i, dataset in enumerate(self.eval_datasets)
        ]
        return loaders if len(loaders) > 1 else loaders[0]

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
