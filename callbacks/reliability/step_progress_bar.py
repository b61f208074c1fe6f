"""The project's progress bar: Lightning's `RichProgressBar`, counting steps when the run is bounded by
steps.

Lightning's bar counts the batches of the current epoch and labels it "Epoch 187/-2" when a run is
bounded by `trainer.max_steps` with `max_epochs=-1` (the epoch total is `max_epochs - 1`). Such a run
(every experiment on `trainer=default`) has no meaningful epoch count, so `StepProgressBar` shows one
bar over the whole run instead, labelled with the optimizer steps taken and the bound:
"step 1200/3000" (`trainer.global_step` / `trainer.max_steps`), filled to the same fraction. A run
bounded by epochs (`max_epochs` >= 0) keeps Lightning's per-epoch bar and its "Epoch 3/19" label; an
unbounded one (both -1) says "Epoch 3" without a total. Validation, test and predict bars, the
metrics and the theme are Lightning's.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import RichProgressBar


def counts_steps(trainer) -> bool:
    """True when `max_steps` bounds the run and `max_epochs` does not."""
    bounded_by_steps = trainer.max_steps is not None and trainer.max_steps > 0
    return bounded_by_steps and (trainer.max_epochs is None or trainer.max_epochs < 0)


class StepProgressBar(RichProgressBar):
    """`RichProgressBar` labelled "step <global step>/<max_steps>" for runs bounded by steps (see the
    module docstring); the arguments are Lightning's."""

    @property
    def total_train_batches(self) -> int | float:
        if counts_steps(self.trainer):
            return self.trainer.max_steps
        return super().total_train_batches

    def _get_train_description(self, current_epoch: int) -> str:
        trainer = self.trainer
        if counts_steps(trainer):
            description = f"step {trainer.global_step}/{trainer.max_steps}"
        elif trainer.max_epochs is None or trainer.max_epochs < 0:
            description = f"Epoch {current_epoch}"
        else:
            return super()._get_train_description(current_epoch)
        # as wide as the validation bar's label, as Lightning pads it (no flicker when they alternate)
        return description.ljust(len(self.validation_description))

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        super().on_train_epoch_start(trainer, pl_module)  # (re)creates the bar at 0 with the description
        if counts_steps(trainer):
            self._show_steps(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not counts_steps(trainer):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
            return
        if not self.is_disabled and self.train_progress_bar_id is None:  # resumed mid-epoch
            self._initialize_train_progress_bar_id()
        self._show_steps(trainer)
        self._update_metrics(trainer, pl_module)
        self.refresh()

    def _show_steps(self, trainer) -> None:
        """Fill the training bar to the global step and relabel it."""
        if self.progress is None or not self.is_enabled or self.train_progress_bar_id is None:
            return
        description = self._get_train_description(trainer.current_epoch)
        if self.theme.description:  # the markup `_add_task` puts around a description
            description = f"[{self.theme.description}]{description}"
        self.progress.update(self.train_progress_bar_id, completed=trainer.global_step, description=description)
