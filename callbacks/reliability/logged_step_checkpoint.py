"""Checkpoint file names that carry the step of the metrics logged with them.

Lightning's `ModelCheckpoint` fills `{step}` in a file name with `trainer.global_step`, the number of
optimizer steps taken, while its loggers put the metrics of a training batch and of the validation
that follows it at the count of batches that stepped the optimizer *before* that batch
(`fit_loop.epoch_loop._batches_that_stepped`, one less). A run validating every 100 steps therefore
logged `val/acc` at step 99 and saved it as `best_step000100.ckpt`. A module can log a `step` value
itself, which the loggers then take as the x-axis (diffusion_bumps and align log the global step at
each validation).

`LoggedStepCheckpoint` names files with the loggers' step instead, following the same rule as the
loggers:

- a checkpoint written at the end of a validation: the `step` the module logged in that validation
  if it logged one, else the batch counter;
- a checkpoint written after a training batch (`every_n_train_steps`), at the end of an epoch or of
  training: the batch counter.

So `best_step000099.ckpt` holds the weights whose validation metrics sit at step 99 in the CSV,
TensorBoard or MLflow logs, and its `best_model_score` is the value logged there. Every checkpoint
written while this callback is attached also stores that step as `checkpoint["logged_step"]`
(`checkpoint_logged_step` reads it back; the pipeline reports it as `test/checkpoint_step`). The
stored `global_step` is unchanged (resuming is Lightning's as before), and the callback state is kept
under the key a plain `ModelCheckpoint` with the same settings uses, so checkpoints resume across
the two.
"""

from __future__ import annotations

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

LOGGED_STEP_KEY = "logged_step"


def logged_step(trainer) -> int:
    """The step at which the loggers put the metrics logged just now (see the module docstring)."""
    if trainer.validating:
        step = trainer.callback_metrics.get("step")
        if step is not None:
            return int(step)
    return int(trainer.fit_loop.epoch_loop._batches_that_stepped)


def checkpoint_logged_step(path) -> int:
    """The logged step stored in a checkpoint file; its `global_step` for a checkpoint written
    without `LoggedStepCheckpoint` attached (there the two numbers are what Lightning stored)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    return int(checkpoint.get(LOGGED_STEP_KEY, checkpoint["global_step"]))


def weights_logged_step(trainer) -> int:
    """The logged step of the weights the trainer holds now: the step stored with the last checkpoint
    written at the trainer's current global step (the file name's step), else the global step (no
    checkpoint holds these weights)."""
    for callback in trainer.checkpoint_callbacks:
        saved = getattr(callback, "last_saved_steps", None)
        if saved is not None and saved[0] == trainer.global_step:
            return saved[1]
    return int(trainer.global_step)


class LoggedStepCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` whose `{step}` is the loggers' step (see the module docstring); every other
    argument and behaviour is Lightning's."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # (global step, logged step) of the last checkpoint written by any checkpoint callback
        self.last_saved_steps: tuple[int, int] | None = None

    @property
    def state_key(self) -> str:
        # the key of a ModelCheckpoint with the same settings: checkpoints resume across the two classes
        return super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)

    def _monitor_candidates(self, trainer) -> dict[str, torch.Tensor]:
        candidates = super()._monitor_candidates(trainer)
        candidates["step"] = torch.tensor(logged_step(trainer))
        return candidates

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        # runs for every checkpoint the trainer writes, whichever callback triggered it
        step = logged_step(trainer)
        checkpoint[LOGGED_STEP_KEY] = step
        self.last_saved_steps = (int(trainer.global_step), step)
