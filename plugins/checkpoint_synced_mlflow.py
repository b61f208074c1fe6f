"""An MLFlowLogger whose metrics reach MLflow together with the checkpoints.

A run killed between two checkpoints and resumed from the last one recomputes the steps after that
checkpoint. Had those steps already been sent to MLflow, they would appear twice in the run's
history (MLflow cannot delete single metric values). This logger keeps metrics in memory and
writes them once the checkpoint a run resumes from has been written (`after_save_checkpoint`) and
when the run ends or fails (`finalize`): what MLflow holds always matches that checkpoint, a hard
crash loses only metrics that the resumed run logs again, and no step is lost or doubled. The
original time stamps are kept.

Which save commits: with `commit_on="last"` only the save of a `last*.ckpt` file (the resume point;
a best-model checkpoint written just before it in the same validation must not commit, or a crash
between the two writes would leave MLflow ahead of last.ckpt); with `commit_on="any"` every save
(for setups without a last checkpoint). The pipeline picks "last" when a ModelCheckpoint keeps one.

The write of last.ckpt and the commit that follows it are two steps; a crash between them would
lose the steps up to that checkpoint (the resumed run does not recompute them). So the metrics not
yet committed are also stored in the checkpoint (`uncommitted_metrics`, via `ResumeState`), and a
resumed run logs those of them MLflow does not hold (`recommit`).

Trade-off: the MLflow UI shows a running job's metrics up to its last checkpoint. Pass
`commit_on_checkpoint=False` for live metrics (at the price of doubled steps after a crash).

The experiment a run logs to is tagged for MLflow's model-training view when the run starts
(`mark_model_training` in plugins/mlflow_tracking.py; a kind already set is kept).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from time import time

from lightning.fabric.utilities.logger import _add_prefix
from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities import rank_zero_only

MAX_METRICS_PER_BATCH = 1000  # MLflow's log_batch limit


class CheckpointSyncedMLFlowLogger(MLFlowLogger):
    def __init__(self, *args, commit_on_checkpoint: bool = True, commit_on: str = "any", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if commit_on not in ("last", "any"):
            raise ValueError(f"commit_on must be 'last' or 'any', got {commit_on!r}")
        self.commit_on_checkpoint = bool(commit_on_checkpoint)
        self.commit_on = commit_on
        self._pending = []

    @property
    def experiment(self):
        """The MlflowClient (Lightning's property); the first use, which creates or finds the run, also
        tags its experiment for MLflow's model-training view (global rank zero only)."""
        from neurobolts.plugins.mlflow_tracking import mark_model_training

        first_use = not self._initialized
        client = super().experiment
        if first_use and self._initialized:
            mark_model_training(client, self._experiment_id)
        return client

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if not self.commit_on_checkpoint:
            super().log_metrics(metrics, step)
            return
        from mlflow.entities import Metric

        stamp = int(time() * 1000)
        for key, value in _add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR).items():
            if isinstance(value, str):
                continue
            key = re.sub("[^a-zA-Z0-9_/. -]+", "", key)
            self._pending.append(Metric(key=key, value=float(value), timestamp=stamp, step=step or 0))

    @rank_zero_only
    def flush_metrics(self) -> None:
        """Write the buffered metrics to MLflow."""
        pending, self._pending = self._pending, []
        self._write(pending)

    def _write(self, metrics: list) -> None:
        for start in range(0, len(metrics), MAX_METRICS_PER_BATCH):
            self.experiment.log_batch(run_id=self.run_id, metrics=metrics[start : start + MAX_METRICS_PER_BATCH])

    def uncommitted_metrics(self) -> list[list]:
        """The buffered metrics as [key, value, timestamp, step] lists (for checkpoints)."""
        return [[m.key, m.value, m.timestamp, m.step] for m in self._pending]

    @rank_zero_only
    def recommit(self, entries: list[list]) -> int:
        """Log the entries (from `uncommitted_metrics` of a checkpoint) that the run does not hold
        yet; returns how many were logged."""
        from mlflow.entities import Metric

        held: dict[str, set[int]] = {}
        missing = []
        for key, value, stamp, step in entries:
            if key not in held:
                held[key] = {m.step for m in self.experiment.get_metric_history(self.run_id, key)}
            if int(step) not in held[key]:
                missing.append(Metric(key=key, value=float(value), timestamp=int(stamp), step=int(step)))
        self._write(missing)
        return len(missing)

    def after_save_checkpoint(self, checkpoint_callback) -> None:
        # the file just written (a private attribute of ModelCheckpoint; without it, commit on every save)
        saved = getattr(checkpoint_callback, "_last_checkpoint_saved", None)
        if self.commit_on == "any" or saved is None or Path(saved).name.startswith("last"):
            self.flush_metrics()
        super().after_save_checkpoint(checkpoint_callback)

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        if self._initialized:
            self.flush_metrics()
        super().finalize(status)
