"""New cues for a built associative memory (`predict.py experiment=expander_hopfield`).

Each row of `predict.inputs` (see datamodules/common/prediction_inputs.py) is one cue: a binary vector
of the memory's N neurons (0 and 1). Batches are `(cues (B, N),)`, the input of
`ExpanderHopfieldModule.predict_step`, which runs the network's dynamics from each cue.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.datamodules.common.prediction_inputs import load_inputs
from neurobolts.plugins.checks import check_positive_int
from neurobolts.plugins.instantiate import ConfigError


def check_cues(cues: torch.Tensor, n_neurons: int, field: str = "predict.inputs") -> None:
    """Raise ConfigError unless `cues` is (n, n_neurons) of 0 and 1."""
    if cues.shape[1] != n_neurons:
        raise ConfigError(f"{field} must have {n_neurons} columns, one bit per neuron (model.n_neurons="
                          f"{n_neurons}), got {cues.shape[1]} columns")
    bad = ((cues != 0) & (cues != 1)).nonzero()
    if len(bad):
        row, column = (int(i) for i in bad[0])
        raise ConfigError(f"{field} row {row + 1}, column {column + 1} is {cues[row, column].item():g} "
                          f"(expected a bit: cues are binary vectors of 0 and 1)")


class CuesDataModule(LightningDataModule):
    """The new cues of a prediction run.

    Args:
        inputs: the cues, a file or a list of rows of 0/1 (`predict.inputs`).
        n_neurons: N of the memory (the config passes `${model.n_neurons}`).
        batch_size: cues per batch.
        num_workers: DataLoader workers.
        pin_memory: DataLoader pin_memory.
    """

    def __init__(self, inputs: Any, n_neurons: int = 600, batch_size: int = 500, num_workers: int = 0,
                 pin_memory: bool = False) -> None:
        super().__init__()
        check_positive_int("n_neurons", n_neurons)
        check_positive_int("batch_size", batch_size)
        cues = load_inputs(inputs)
        check_cues(cues, n_neurons)
        self.cues = cues.to(torch.float32)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.cues), batch_size=self.batch_size, shuffle=False,
                          num_workers=self.num_workers, pin_memory=self.pin_memory)
