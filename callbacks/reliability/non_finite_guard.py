"""Stop training at the first non-finite loss, gradient or weight, before anything broken is saved.

`NonFiniteGuard` raises `FloatingPointError` with the step and the offending tensor's name when

- the training loss is non-finite, before its backward pass (`on_before_backward`, also called by
  `manual_backward`; `on_train_batch_end` checks a returned loss that had no backward), so a NaN loss
  is reported as the loss, not as the NaN gradients it would produce, and nothing is updated,
- a gradient is non-finite just before the optimizer would apply it (`on_before_optimizer_step`,
  also called for manual optimisation), so the weights never take a broken update,
- a checkpoint is about to be written while a weight is non-finite (`on_save_checkpoint`): the
  checkpoint file is not written, so `last.ckpt` keeps the last good weights.

The error propagates through `trainer.fit`; the pipeline then marks the MLflow run FAILED.
"""

from __future__ import annotations

import torch
from lightning.pytorch import Callback


def first_non_finite(named_tensors) -> str | None:
    """Name of the first tensor with a NaN or inf entry, or None."""
    for name, tensor in named_tensors:
        if tensor is not None and not torch.isfinite(tensor).all():
            return name
    return None


class NonFiniteGuard(Callback):
    """Args:
    check_gradients: inspect every gradient before each optimizer step (one pass over the
        parameters; switch off for very large models if the cost matters).
    """

    def __init__(self, check_gradients: bool = True) -> None:
        self.check_gradients = bool(check_gradients)
        self._batch_idx: int | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self._batch_idx = batch_idx

    def on_before_backward(self, trainer, pl_module, loss: torch.Tensor) -> None:
        if not torch.isfinite(loss.detach()).all():
            raise FloatingPointError(
                f"non-finite training loss {loss.detach().flatten()[0].item()} at step {trainer.global_step} "
                f"(batch {self._batch_idx}); training stopped before the backward pass, "
                f"the last good checkpoint is kept")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor) and not torch.isfinite(loss).all():
            raise FloatingPointError(
                f"non-finite training loss {loss.detach().flatten()[0].item()} at step {trainer.global_step} "
                f"(batch {batch_idx}); training stopped, the last good checkpoint is kept")

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if not self.check_gradients:
            return
        name = first_non_finite((n, p.grad) for n, p in pl_module.named_parameters())
        if name is not None:
            raise FloatingPointError(
                f"non-finite gradient of `{name}` at step {trainer.global_step}; the update was not applied, "
                f"training stopped, the last good checkpoint is kept")

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        name = first_non_finite(pl_module.named_parameters())
        if name is not None:
            raise FloatingPointError(
                f"weight `{name}` is non-finite at step {trainer.global_step}: checkpoint not written, "
                f"the last good checkpoint is kept")
