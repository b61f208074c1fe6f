"""New conditions for a trained diffusion_bumps model (`predict.py experiment=diffusion_bumps`).

Each condition (mu_x, mu_y) of `predict.inputs` (see datamodules/common/prediction_inputs.py) gets
`samples_per_condition` samples, each from its own initial noise image x_T drawn from one generator
seeded with `seed`, so a prediction run repeats exactly. Batches are `(conditions (B, 2), x_T (B, 1, N, N))`,
the input of `DiffusionBumpsModule.predict_step`.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.datamodules.common.prediction_inputs import load_inputs
from neurobolts.plugins.checks import check_int, check_positive_int
from neurobolts.plugins.instantiate import ConfigError


def check_conditions(conditions: torch.Tensor, image_size: int, field: str = "predict.inputs") -> None:
    """Raise ConfigError unless `conditions` is (n, 2) with every (x, y) in [0, image_size), the square the
    training centres tile (pixel units; x is the column, y the row)."""
    if conditions.shape[1] != 2:
        raise ConfigError(f"{field} must have 2 columns, the bump centre (x, y) in pixels, got "
                          f"{conditions.shape[1]} columns (first row: {conditions[0].tolist()})")
    outside = ((conditions < 0) | (conditions >= image_size)).any(dim=1).nonzero()
    if len(outside):
        row = int(outside[0])
        x, y = conditions[row].tolist()
        raise ConfigError(f"{field} row {row + 1}: (x, y) = ({x:g}, {y:g}) is outside the image: both must be in "
                          f"[0, {image_size}) (pixel units, image_size={image_size})")


class ConditionsDataModule(LightningDataModule):
    """The new conditions of a prediction run, each repeated with its own initial noise.

    Args:
        inputs: the conditions, a file or a list of (x, y) rows (`predict.inputs`).
        image_size: N of the trained model's images (the config passes `${data.image_size}`).
        samples_per_condition: samples generated for every condition (each from its own noise).
        batch_size: samples per batch.
        num_workers: DataLoader workers.
        pin_memory: DataLoader pin_memory.
        seed: seed of the initial noise images.
    """

    def __init__(self, inputs: Any, image_size: int = 16, samples_per_condition: int = 1, batch_size: int = 256,
                 num_workers: int = 0, pin_memory: bool = False, seed: int = 0) -> None:
        super().__init__()
        check_int("image_size", image_size, 4)
        check_positive_int("samples_per_condition", samples_per_condition)
        check_positive_int("batch_size", batch_size)
        check_int("seed", seed)
        requested = load_inputs(inputs).to(torch.float32)
        check_conditions(requested, image_size)
        self.requested = requested
        self.conditions = requested.repeat_interleave(samples_per_condition, dim=0)
        generator = torch.Generator().manual_seed(seed)
        self.noise = torch.randn((len(self.conditions), 1, image_size, image_size), generator=generator)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.conditions, self.noise), batch_size=self.batch_size, shuffle=False,
                          num_workers=self.num_workers, pin_memory=self.pin_memory)
