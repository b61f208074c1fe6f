"""MLflow helpers: a logger factory with safe defaults, and logging of the resolved run config.

Default store: `sqlite:///<project root>/mlflow.db` with artifacts in `<project root>/mlartifacts`
(see ../shared/ECOSYSTEM_NOTES.md section 1: file stores are refused by mlflow >= 3.13, and sqlite
without an artifact location writes into the CWD). `MLFLOW_TRACKING_URI` points at a server instead.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger(__name__)

LOCAL_SCHEMES = ("sqlite", "file", "")

# MLflow 3's UI shows an experiment either as model training (runs, metric charts) or as GenAI
# development (traces, evaluations). Its UI reads the kind from this experiment tag (values
# "custom_model_development" and "genai_development"; "..._inferred" ones are its own guesses), so the
# project tags every experiment it logs to. MLflow 3.17's UI has, besides, a GenAI / Model training
# switch in its sidebar (kept in the browser; `?workflowType=machine_learning` in a URL selects model
# training) which decides the view there: see docs/guides/mlflow.md.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"

# The longest metric name the project logs. MLflow's experiment chart view titles each chart card with
# the whole metric name and cuts it with an ellipsis where it is wider than the card. Measured in
# MLflow 3.17.2's UI (headless Chromium, 1920 x 4000 window, three cards a row, assistant panel
# closed): a title box of 327 px and ~7 px a character of its 13 px semibold font; a 40-character name
# took 280 px, a 45-character one 288 px, a 55-character one 365 px (cut). (The run page's charts are
# titled with the part after the last "/" only.) tests/conftest.py fails a test that logs a longer name.
MAX_METRIC_NAME = 40


def too_long_metric_names(names) -> list[str]:
    """The names longer than `MAX_METRIC_NAME` characters, sorted."""
    return sorted({str(name) for name in names if len(str(name)) > MAX_METRIC_NAME})


def mark_model_training(client, experiment_id: str) -> None:
    """Tag an experiment `mlflow.experimentKind=custom_model_development` (MLflow's model-training view)
    unless it already has a kind, e.g. one a user chose in the UI. Best effort: a store that refuses the
    tag (no permission to edit the experiment) gets a warning, the run goes on."""
    from mlflow.exceptions import MlflowException

    try:
        if EXPERIMENT_KIND_TAG not in client.get_experiment(experiment_id).tags:
            client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND)
    except MlflowException as exc:
        log.warning("Could not tag MLflow experiment %s with %s=%s: %s", experiment_id, EXPERIMENT_KIND_TAG,
                    MODEL_TRAINING_KIND, exc)


def _check_server_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail at once, naming the URI, when a tracking server does not answer (no silent fallback)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            pass
    except urllib.error.HTTPError:
        return  # the server answered, even if /health is not served
    except (urllib.error.URLError, OSError) as exc:
        raise ConnectionError(f"MLflow tracking server at {uri} is unreachable: {exc}") from exc


def mlflow_logger(
    experiment_name: str,
    tracking_uri: str,
    artifact_dir: str | None = None,
    run_name: str | None = None,
    tags: dict[str, Any] | None = None,
    log_model: bool | str = False,
    run_id: str | None = None,
    commit_on_checkpoint: bool = True,
    parent_run_id: str | None = None,
):
    """Build an MLFlowLogger (`CheckpointSyncedMLFlowLogger`).

    Args:
        experiment_name: MLflow experiment (created on first use).
        tracking_uri: `sqlite:///path/mlflow.db`, `http(s)://host:port`, ...
        artifact_dir: local artifact root, used only when the experiment is created in a local
            (sqlite/file) store; a server decides its own artifact location.
        run_name, tags: of the MLflow run.
        log_model: Lightning's own checkpoint logging; the pipeline logs the best and last
            checkpoints itself (`log_checkpoints`), so the default config sets it off.
        run_id: continue this existing run instead of starting one (the pipeline sets it when
            resuming from a checkpoint that recorded its run, see callbacks/reliability/resume_state.py).
        commit_on_checkpoint: write metrics to MLflow when a checkpoint is saved (and at the end),
            so that a crashed-and-resumed run neither loses nor doubles a step; false: live metrics.
        parent_run_id: nest a new run under this run (tag `mlflow.parentRunId`, unless `tags` sets one);
            the config reads it from `NEUROBOLTS_MLFLOW_PARENT_RUN_ID`, which a multirun's parent run
            exports (plugins/multirun_parent.py). Ignored when `run_id` continues an existing run.
    """
    from neurobolts.plugins.checkpoint_synced_mlflow import CheckpointSyncedMLFlowLogger

    if not tracking_uri:
        raise ValueError("logger.mlflow.tracking_uri must be set (or MLFLOW_TRACKING_URI exported)")
    scheme = urlparse(tracking_uri).scheme
    artifact_location = None
    if scheme in LOCAL_SCHEMES:
        if scheme == "sqlite":
            db_path = tracking_uri[len("sqlite:///") :]
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        if artifact_dir:
            artifact_location = Path(artifact_dir).resolve().as_uri()
    elif scheme in ("http", "https"):
        _check_server_reachable(tracking_uri)
    tags = {str(k): str(v) for k, v in (tags or {}).items() if v is not None}  # a server (REST) takes strings only
    if parent_run_id and run_id is None:
        tags.setdefault("mlflow.parentRunId", str(parent_run_id))
    return CheckpointSyncedMLFlowLogger(
        commit_on_checkpoint=commit_on_checkpoint,
        run_id=run_id,
        experiment_name=experiment_name,
        run_name=run_name,
        tracking_uri=tracking_uri,
        tags=tags or None,
        log_model=log_model,
        artifact_location=artifact_location,
    )


def log_run_config(trainer, cfg, resumed: bool = False) -> None:
    """Log the resolved config (without the hydra node) to every logger as hyperparameters and, for
    MLflow, as `config/config.yaml` plus the command-line overrides. Rank zero only.

    `resumed`: the run continues from a checkpoint. MLflow params cannot change once logged, so a
    continued MLflow run keeps its first params and gets the new config as
    `config/resumed_<time>.yaml` (+ overrides) instead."""
    from lightning.pytorch.loggers import MLFlowLogger
    from omegaconf import OmegaConf

    if not trainer.is_global_zero or not trainer.loggers:
        return
    container = OmegaConf.to_container(cfg, resolve=True)
    container.pop("hydra", None)
    for logger in trainer.loggers:
        is_mlflow = isinstance(logger, MLFlowLogger)
        name = "config"
        if is_mlflow and resumed and logger.experiment.get_run(logger.run_id).data.params:
            name = "resumed_" + time.strftime("%Y%m%d-%H%M%S")
        else:
            logger.log_hyperparams(container)
        if is_mlflow:
            logger.experiment.log_text(logger.run_id, OmegaConf.to_yaml(container), f"config/{name}.yaml")
            overrides = _hydra_overrides()
            if overrides is not None:
                suffix = "" if name == "config" else "_" + name
                logger.experiment.log_text(logger.run_id, "\n".join(overrides) + "\n", f"config/overrides{suffix}.txt")


def log_checkpoints(trainer) -> list[str]:
    """Log the best and the last checkpoint of every ModelCheckpoint to MLflow under `checkpoints/`.

    (Lightning's `log_model=True` only scans the checkpoint callback that saved last, so with a
    best-model and a latest-state checkpointer the best one would be missed.) Rank zero only.
    """
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import MLFlowLogger

    if not trainer.is_global_zero:
        return []
    paths = []
    for callback in trainer.callbacks:
        if isinstance(callback, ModelCheckpoint):
            for path in (callback.best_model_path, callback.last_model_path):
                if path and Path(path).exists() and path not in paths:
                    paths.append(path)
    for logger in trainer.loggers:
        if isinstance(logger, MLFlowLogger) and logger.run_id is not None:
            for path in paths:
                logger.experiment.log_artifact(logger.run_id, path, "checkpoints")
    return paths


def _hydra_overrides() -> list[str] | None:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return list(HydraConfig.get().overrides.task)
