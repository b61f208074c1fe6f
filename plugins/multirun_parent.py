"""One parent MLflow run per multirun: `python train.py -m experiment=X seed=0,1,2` writes, besides the
three runs of its jobs, a run `multirun-<time>` that holds the mean and spread of every final metric
over the jobs, with the jobs' runs nested under it in `mlflow ui`.

`MultirunParentRun` is a Hydra callback (configs/hydra/default.yaml, `hydra.callbacks`), on for every
multirun of `train.py` and `eval.py` whose config has an MLflow logger (`logger.mlflow`) and no
`trainer.fast_dev_run` (which mutes the loggers):

- `on_multirun_start` (in the process that starts the sweep, before any job): creates the parent run in
  the jobs' experiment and tracking store (the logger config's own `experiment_name`, `tracking_uri`
  and `artifact_dir`, resolved as the jobs resolve them) and exports its id as the environment
  variable `NEUROBOLTS_MLFLOW_PARENT_RUN_ID`; the MLflow logger config reads it
  (`logger.mlflow.parent_run_id`), so each job's run is tagged `mlflow.parentRunId`. Jobs launched in
  other processes (joblib, submitit/SLURM) inherit the variable from this process's environment.
- `on_job_end` (jobs in this process, the basic launcher): notes the jobs that failed, with their
  overrides and error.
- `on_multirun_end`: reads the final value (the last step's) of every metric of the nested runs that
  finished from the tracking store and logs, for each metric `m` that at least one of them logged,
  `m_mean`, `m_std` (sample standard deviation, n - 1; logged from two runs on) and `m_n` (how many
  runs logged it) on the parent, with `multirun/finished` (the number of finished runs summarised),
  then ends it: FINISHED, or FAILED when a job failed (a nested run not FINISHED, or a job noted by
  `on_job_end`; a failed run's partial metrics are left out of the statistics), naming them in the
  tag `neurobolts.failed_jobs` and the artifact `failed_jobs.txt`. A sweep that stops on an error never reaches `on_multirun_end` (Hydra raises
  first): the parent is then summarised and ended FAILED when the process exits.

The parent holds the sweep's overrides (tag `neurobolts.sweep`) and directory (`neurobolts.sweep_dir`)
and is tagged `neurobolts.kind=multirun`.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import time
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

PARENT_RUN_ENV = "NEUROBOLTS_MLFLOW_PARENT_RUN_ID"
MAX_TAG_CHARS = 5000  # MLflow keeps tag values up to 8000 characters


def summarize(finals: list[dict[str, float]]) -> dict[str, float]:
    """`<m>_mean`, `<m>_std` (n - 1; only where n >= 2) and `<m>_n` for every metric m of the runs'
    final values `finals` (one dict per run; NaN and infinite values are left out of the statistics)."""
    keys = sorted({key for final in finals for key in final})
    out: dict[str, float] = {}
    for key in keys:
        values = [final[key] for final in finals if key in final and math.isfinite(final[key])]
        out[f"{key}_n"] = float(len(values))
        if not values:
            continue
        mean = sum(values) / len(values)
        out[f"{key}_mean"] = mean
        if len(values) >= 2:
            out[f"{key}_std"] = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return out


class MultirunParentRun(Callback):
    """Hydra callback: the parent MLflow run of a multirun (module docstring)."""

    def __init__(self) -> None:
        self.client = None  # MlflowClient of the parent's store
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.failed: list[str] = []
        self._started: dict[str, str] = {}  # job number -> overrides, for jobs that did not end
        self._previous_env: str | None = None
        self._ended = False

    # --- the parent run ----------------------------------------------------------------------------
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if OmegaConf.select(config, "trainer.fast_dev_run", default=False):
            log.info("trainer.fast_dev_run mutes the loggers: no parent MLflow run for this multirun")
            return
        node = _resolved_mlflow_node(config)
        if node is None:
            log.info("No MLflow logger in this multirun: no parent run")
            return
        from neurobolts.plugins.mlflow_tracking import mlflow_logger

        sweep = [str(o) for o in OmegaConf.select(config, "hydra.overrides.task", default=[]) or []]
        sweep_dir = str(OmegaConf.select(config, "hydra.sweep.dir", default="") or "")
        tags = {**(node.get("tags") or {}), "neurobolts.kind": "multirun",
                "neurobolts.sweep": " ".join(sweep)[:MAX_TAG_CHARS], "neurobolts.sweep_dir": sweep_dir}
        tags = {k: v for k, v in tags.items() if k != "seed"}  # the jobs' seeds differ: not the parent's
        logger = mlflow_logger(experiment_name=node["experiment_name"], tracking_uri=node["tracking_uri"],
                               artifact_dir=node.get("artifact_dir"),
                               run_name=f"multirun-{time.strftime('%Y%m%d-%H%M%S')}", tags=tags,
                               commit_on_checkpoint=False)
        self.client = logger.experiment  # creates the run (and the experiment, tagged for model training)
        self.run_id, self.experiment_id = logger.run_id, logger.experiment_id
        self._previous_env = os.environ.get(PARENT_RUN_ENV)
        os.environ[PARENT_RUN_ENV] = self.run_id
        atexit.register(self._end_at_exit)
        log.info("Multirun parent MLflow run %s (experiment %s); the jobs' runs are nested under it",
                 self.run_id, node["experiment_name"])

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if self.run_id is not None:
            self._started[_job_number(config)] = _job_overrides(config)

    def on_job_end(self, config: DictConfig, job_return: Any = None, **kwargs: Any) -> None:
        if self.run_id is None:
            return
        from hydra.core.utils import JobStatus

        number = _job_number(config)
        self._started.pop(number, None)
        if job_return is not None and job_return.status == JobStatus.FAILED:
            error = job_return._return_value  # the exception (reading return_value would raise it)
            self.failed.append(f"job {number} ({_job_overrides(config)}): {type(error).__name__}: {error}")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._end(sweep_finished=True)

    def _end_at_exit(self) -> None:
        if not self._ended:
            self._end(sweep_finished=False)

    def _end(self, sweep_finished: bool) -> None:
        if self.run_id is None or self._ended:
            return
        self._ended = True
        try:
            failed = list(self.failed)
            for number, overrides in sorted(self._started.items()):
                failed.append(f"job {number} ({overrides}) did not finish")
            children = self.children()
            finished = [r for r in children if r.info.status == "FINISHED"]
            failed += [f"run {r.info.run_name} ({r.info.run_id}): {r.info.status}" for r in children
                       if r.info.status != "FINISHED"]
            if not sweep_finished and not failed:
                failed.append("the sweep stopped on an error before its end (see the Hydra log)")
            self._log_summary(finished, failed)
            status = "FAILED" if failed else "FINISHED"
            self.client.set_terminated(self.run_id, status)
            log.info("Multirun parent MLflow run %s: %d finished nested runs summarised, %s", self.run_id,
                     len(finished), status)
        finally:
            if self._previous_env is None:
                os.environ.pop(PARENT_RUN_ENV, None)
            else:
                os.environ[PARENT_RUN_ENV] = self._previous_env

    def children(self) -> list:
        """The runs nested under the parent (tag mlflow.parentRunId), oldest first."""
        runs, token = [], None
        while True:
            page = self.client.search_runs([self.experiment_id], f"tags.`mlflow.parentRunId` = '{self.run_id}'",
                                           max_results=1000, order_by=["attributes.start_time ASC"],
                                           page_token=token)
            runs += list(page)
            token = page.token
            if not token:
                return runs

    def _log_summary(self, finished: list, failed: list[str]) -> None:
        from mlflow.entities import Metric

        finals = [{k: float(v) for k, v in run.data.metrics.items()} for run in finished]
        stamp = int(time.time() * 1000)
        metrics = [Metric(key=k, value=v, timestamp=stamp, step=0) for k, v in summarize(finals).items()]
        metrics.append(Metric(key="multirun/finished", value=float(len(finished)), timestamp=stamp, step=0))
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[start : start + 1000])
        if failed:
            text = "\n".join(failed)
            self.client.set_tag(self.run_id, "neurobolts.failed_jobs", text[:MAX_TAG_CHARS])
            self.client.log_text(self.run_id, text + "\n", "failed_jobs.txt")


def _resolved_mlflow_node(config: DictConfig) -> dict | None:
    """The `logger.mlflow` node of the sweep's config, resolved (tracking URI, experiment name, artifact
    dir as the jobs will resolve them), or None when the config logs no MLflow run."""
    from hydra.core.hydra_config import HydraConfig

    if OmegaConf.select(config, "logger.mlflow", default=None) is None:
        return None
    if not HydraConfig.initialized():  # the `hydra:` resolver (paths.root_dir) reads it
        HydraConfig.instance().set_config(config)
    node = OmegaConf.to_container(config.logger.mlflow, resolve=True)
    return node if isinstance(node, dict) and node.get("tracking_uri") else None


def _job_number(config: DictConfig) -> str:
    return str(OmegaConf.select(config, "hydra.job.num", default="?"))


def _job_overrides(config: DictConfig) -> str:
    return " ".join(str(o) for o in OmegaConf.select(config, "hydra.overrides.task", default=[]) or [])
