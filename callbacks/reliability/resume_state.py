"""What an interrupted run needs beyond Lightning's own checkpoint to continue exactly.

Lightning checkpoints hold the weights, optimizer, loop progress and callback states, but neither the
random number generators nor the tracking run. `ResumeState` stores both in every checkpoint:

- the global RNG states (torch CPU, CUDA when present, numpy, python `random`) at the moment of
  saving, restored when the checkpoint is loaded, so the noise a resumed run draws after the
  checkpoint is the noise the uninterrupted run drew (with `GlobalBatchSampler`, which also resumes
  the epoch's order, a resumed run then repeats the uninterrupted one);
- the MLflow run id, which `plugins.pipeline` reads (`checkpoint_run_id`) before building the logger,
  so the resumed run logs into the same MLflow run instead of opening a new one;
- the metrics a checkpoint-synced MLflow logger has not committed yet when the checkpoint is written
  (they are committed right after the write); the resumed run logs those MLflow lacks, so a crash
  between the write and the commit loses nothing.

All state is tensors, ints and lists (loads with `weights_only=True`). The pipeline attaches the
callback to every run; add it yourself (`callbacks=[ResumeState()]`) when training outside it.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback


def capture_rng_states() -> dict[str, Any]:
    """The global RNG states as weights_only-safe values."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": int(version), "internal": list(internal),
                   "gauss": None if gauss is None else float(gauss)},
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    np_state = states["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["cached_gaussian"]))
    py = states["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


def tracking_run_id(trainer) -> str | None:
    from lightning.pytorch.loggers import MLFlowLogger

    for logger in trainer.loggers:
        if isinstance(logger, MLFlowLogger) and logger.run_id is not None:
            return str(logger.run_id)
    return None


class ResumeState(Callback):
    """Checkpoints the RNG states, the MLflow run id and the uncommitted metrics; restores them on resume."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.recommitted = 0  # metrics re-logged on resume (they were in the checkpoint, not in MLflow)
        self._loggers: list = []
        self._uncommitted_to_restore: list = []

    def on_fit_start(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        self.run_id = tracking_run_id(trainer)
        from neurobolts.plugins.checkpoint_synced_mlflow import CheckpointSyncedMLFlowLogger

        # isinstance, not hasattr: fast_dev_run's DummyLogger answers every attribute
        self._loggers = [lg for lg in trainer.loggers if isinstance(lg, CheckpointSyncedMLFlowLogger)]
        if self._uncommitted_to_restore:
            for logger in self._loggers:
                self.recommitted += logger.recommit(self._uncommitted_to_restore)
            self._uncommitted_to_restore = []

    def state_dict(self) -> dict[str, Any]:
        uncommitted = [entry for lg in self._loggers for entry in lg.uncommitted_metrics()]
        return {"rng": capture_rng_states(), "mlflow_run_id": self.run_id, "uncommitted_metrics": uncommitted}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Lightning loads callback states after the model and before the loops run: nothing draws
        # from the global RNGs between here and the first training step (GlobalBatchSampler and
        # ResumableDataLoader make re-creating the interrupted epoch's iterator RNG-neutral).
        restore_rng_states(state_dict["rng"])
        self.run_id = state_dict.get("mlflow_run_id") or self.run_id
        self._uncommitted_to_restore = list(state_dict.get("uncommitted_metrics", []))


def checkpoint_run_id(ckpt_path: str) -> str | None:
    """The MLflow run id stored in a checkpoint by `ResumeState`, or None."""
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    for key, state in checkpoint.get("callbacks", {}).items():
        if key == ResumeState.__qualname__ and isinstance(state, dict):
            return state.get("mlflow_run_id")
    return None
