"""Running the experiments of a reproduction: compose an experiment's Hydra config as `train.py` does
(the packaged config tree, command-line style overrides), train it through the project's pipeline so
it goes to MLflow under its experiment name, and time it; log the experiments that are plain function
calls (no Lightning run) to MLflow as runs of their own."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# no progress bars or model summaries in a report's log (removed where the experiment has them);
# everything else as `train.py` runs it
QUIET_CALLBACKS = ("rich_progress_bar", "model_summary")
# the MLflow tag that names the report a run belongs to
REPORT_TAG = "neurobolts.reproduce"


def tracking_uri(root_dir: Path) -> str:
    """MLFLOW_TRACKING_URI if set, else the project's default store `sqlite:///<root>/mlflow.db`
    (the same rule as configs/logger/mlflow.yaml)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(root_dir).resolve()}/mlflow.db"


def compose_train_config(overrides: list[str], root_dir: Path, run_name: str, tag: str):
    """The composed `train` config with `overrides`, as `python train.py <overrides>` would build it from
    the project root `root_dir`, without progress bar and model summary; the run writes to
    `<root>/logs/<task_name>/reproduce/<tag>/<run_name>` and its MLflow run is named
    `reproduce-<run_name>` and tagged with the report id `tag`."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="neurobolts.configs", version_base="1.3"):
        cfg = compose(config_name="train", overrides=list(overrides), return_hydra_config=True)
    root = Path(root_dir).resolve()
    run_dir = root / "logs" / str(cfg.task_name) / "reproduce" / tag / run_name
    with open_dict(cfg):
        cfg.paths.root_dir = str(root)
        cfg.paths.output_dir = str(run_dir)
        cfg.hydra.runtime.output_dir = str(run_dir)
        cfg.hydra.job.num = 0
        cfg.hydra.job.id = 0
        cfg.trainer.enable_progress_bar = False
        cfg.trainer.enable_model_summary = False
        for name in QUIET_CALLBACKS:
            if cfg.get("callbacks") and name in cfg.callbacks:
                cfg.callbacks[name] = None
        mlflow = (cfg.get("logger") or {}).get("mlflow")
        if mlflow is not None:
            cfg.logger.mlflow.run_name = f"reproduce-{run_name}"
            cfg.logger.mlflow.tags = {**(mlflow.get("tags") or {}), REPORT_TAG: tag}
    HydraConfig().set_config(cfg)
    return cfg


@dataclass
class Run:
    """One trained experiment: the pipeline's metrics and objects, its wall seconds, its MLflow run id
    (None without an MLflow logger)."""

    metrics: dict[str, float]
    objects: dict[str, Any]
    wall_s: float
    run_id: str | None


def train_experiment(overrides: list[str], root_dir: Path, run_name: str, tag: str = "tests") -> Run:
    """Compose (`compose_train_config`) and run `neurobolts.plugins.pipeline.train`, timed."""
    from hydra.core.global_hydra import GlobalHydra
    from lightning.pytorch.loggers import MLFlowLogger

    from neurobolts.plugins.pipeline import train

    cfg = compose_train_config(overrides, root_dir, run_name, tag)
    try:
        with stopwatch() as clock:
            metrics, objects = train(cfg)
    finally:
        GlobalHydra.instance().clear()
    run_id = next((lg.run_id for lg in objects["loggers"] if isinstance(lg, MLFlowLogger)), None)
    return Run(metrics=metrics, objects=objects, wall_s=clock.seconds, run_id=run_id)


def log_run(root_dir: Path, experiment: str, run_name: str, tag: str, params: dict[str, Any],
            metrics: dict[str, float], figures: list[Path] = (), raw: dict[str, Any] | None = None) -> str:
    """Log an experiment that is a plain function call (no Lightning run) to MLflow: the MLflow
    experiment `experiment`, a run `reproduce-<run_name>` tagged with the report id, its parameters,
    its metrics, the figures (under `figures/`) and the raw numbers (`results.json`). Returns the run id."""
    import math

    from neurobolts.plugins.mlflow_tracking import mlflow_logger

    logger = mlflow_logger(experiment, tracking_uri(root_dir), artifact_dir=str(Path(root_dir).resolve() / "mlartifacts"),
                           run_name=f"reproduce-{run_name}", tags={REPORT_TAG: tag}, commit_on_checkpoint=False)
    logger.log_hyperparams({k: str(v) for k, v in params.items()})
    finite = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
    if finite:
        logger.log_metrics(finite)
    for path in figures:
        logger.experiment.log_artifact(logger.run_id, str(path), "figures")
    if raw is not None:
        logger.experiment.log_dict(logger.run_id, raw, "results.json")
    logger.finalize("success")
    return logger.run_id


class _Clock:
    seconds: float = 0.0


@contextlib.contextmanager
def stopwatch() -> Iterator[_Clock]:
    """`with stopwatch() as clock: ...` then `clock.seconds` (wall time, also when the body raised)."""
    clock = _Clock()
    start = time.perf_counter()
    try:
        yield clock
    finally:
        clock.seconds = time.perf_counter() - start


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the body with `torch.set_num_threads(n)`, restored afterwards (many small sequential ops
    run fastest single-threaded on a busy 2-core machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def save_figure(figure, path: Path) -> Path:
    """Write a matplotlib figure as PNG (100 dpi, tight) and close it."""
    import matplotlib.pyplot as plt

    try:
        figure.tight_layout()
        figure.savefig(path, dpi=100, bbox_inches="tight")
    finally:
        plt.close(figure)
    return Path(path)


def fetch_artifact(root_dir: Path, run_id: str | None, artifact_path: str, dest: Path) -> Path | None:
    """Copy one artifact of an MLflow run to `dest` (None when there is no run or no such artifact)."""
    import shutil
    import tempfile

    if run_id is None:
        return None
    from mlflow.tracking import MlflowClient

    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = MlflowClient(tracking_uri(root_dir)).download_artifacts(run_id, artifact_path, tmp)
            shutil.copyfile(local, dest)
    except Exception as exc:  # noqa: BLE001 - a missing figure is reported, not fatal
        print(f"note: could not fetch {artifact_path} of MLflow run {run_id}: {exc}")
        return None
    return Path(dest)
