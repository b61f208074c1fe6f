"""Validate the final training step, so every run ends with its metrics and a checkpoint.

Lightning validates every `val_check_interval` steps (or every `check_val_every_n_epoch` epochs); a
run whose last step falls between two validations ends with no metrics of its final weights, and a
run shorter than one interval (`trainer.max_steps=60` against an interval of 250) ends with none at
all: no `gen/frac_C`, no checkpoint to evaluate. `FinalValidation` asks Lightning to stop at the last
step through `trainer.should_stop`, which makes the training loop validate that step (once: a step
that the schedule validates anyway is not validated twice), and the checkpoint callbacks then save it.

The last step is known when the run is bounded by `max_steps` (global step reached) or by
`max_epochs` (last batch of the last epoch); an unbounded run (both -1) is left alone. Every rank
decides from the same counters, so the stop is the same on all ranks under DDP.
"""

from __future__ import annotations

import logging

from lightning.pytorch import Callback

log = logging.getLogger(__name__)


class FinalValidation(Callback):
    """Validate once at the last training step (see the module docstring)."""

    @staticmethod
    def is_final_step(trainer) -> bool:
        if trainer.max_steps is not None and trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps:
            return True
        max_epochs = trainer.max_epochs
        if max_epochs is None or max_epochs < 0:
            return False
        epoch_loop = trainer.fit_loop.epoch_loop
        return trainer.current_epoch + 1 >= max_epochs and bool(epoch_loop.batch_progress.is_last_batch)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.sanity_checking or not trainer.enable_validation or not self.is_final_step(trainer):
            return
        if trainer.check_val_every_n_epoch is not None and (trainer.current_epoch + 1) % trainer.check_val_every_n_epoch:
            # the last epoch is not one the schedule validates: let this (final) step validate
            trainer.check_val_every_n_epoch = None
        trainer.should_stop = True
