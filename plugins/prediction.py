"""Prediction runs (`predict.py`, `neurobolts-predict`): which models support them, and the callback that
saves and logs their outputs.

A LightningModule supports prediction when it defines its own `predict_step` (a batch of new inputs
-> a dict of tensors, one row per input) and its model option has a prediction config,
`configs/predict/<model>.yaml`, naming the DataModule that reads `predict.inputs`. It may define
`log_predictions(trainer, predictions) -> dict[str, float]` to log figures and tables of the outputs
and return summary metrics, and `predict_without_checkpoint = True` when it holds nothing learned
(the network follows from the config, so no checkpoint is needed).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.callbacks import BasePredictionWriter

from neurobolts.plugins.figures import log_file

log = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions/predictions.npz"


def has_predict_step(model: Any) -> bool:
    """Whether `model` defines its own `predict_step` (Lightning's default just calls forward)."""
    return isinstance(model, LightningModule) and type(model).predict_step is not LightningModule.predict_step


def concatenate(batches: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The per-batch dicts of `predict_step` joined along the batch dimension."""
    if not batches:
        return {}
    if not all(isinstance(batch, dict) for batch in batches):
        raise TypeError(f"predict_step must return a dict of tensors, got {type(batches[0]).__name__}")
    return {key: torch.cat([torch.as_tensor(batch[key]) for batch in batches]) for key in batches[0]}


class PredictionWriter(BasePredictionWriter):
    """At the end of a prediction run (global rank zero): joins the outputs of `predict_step`, saves them
    as `predictions/predictions.npz` (one array per key; an MLflow artifact when an MLflow run is
    attached, else a file in the run's output folder, see plugins/figures.py), calls the module's
    `log_predictions` for its figures and tables, and logs the summary metrics it returns to every
    logger.

    After the run: `predictions` (the joined tensors), `summary` (the metrics) and `destinations`
    (where the file went).
    """

    def __init__(self) -> None:
        super().__init__(write_interval="epoch")
        self.predictions: dict[str, torch.Tensor] = {}
        self.summary: dict[str, float] = {}
        self.destinations: list[str] = []

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices) -> None:
        if not trainer.is_global_zero:
            return
        if predictions and isinstance(predictions[0], list):  # several dataloaders: one list each
            predictions = [batch for loader in predictions for batch in loader]
        self.predictions = concatenate(predictions)
        import tempfile

        import numpy as np

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(PREDICTIONS_FILE).name
            np.savez_compressed(path, **{key: value.numpy() for key, value in self.predictions.items()})
            self.destinations = [log_file(trainer, path, str(Path(PREDICTIONS_FILE).parent))]
        log_predictions = getattr(pl_module, "log_predictions", None)
        self.summary = dict(log_predictions(trainer, self.predictions)) if callable(log_predictions) else {}
        for logger in trainer.loggers:
            logger.log_metrics(self.summary, step=0)
        count = len(next(iter(self.predictions.values()))) if self.predictions else 0
        log.info("%d predictions saved to %s", count, ", ".join(self.destinations))
        for key, value in self.summary.items():
            log.info("%s = %.4f", key, value)
