"""The train and eval pipelines behind `train.py` / `eval.py` (lightning-hydra-template style).

train: seed -> datamodule -> model -> callbacks -> loggers -> Trainer -> log config -> fit -> test
with the best checkpoint -> metrics. Every object is built before training starts, so a bad config
value fails at once with a `ConfigError` naming the field. A failure marks the MLflow run FAILED;
checkpoints already written stay on disk.

Resuming (`ckpt_path=<dir>/checkpoints/last.ckpt`): every run carries a `ResumeState` callback that
stores the RNG states and the MLflow run id in its checkpoints; the resumed run restores the RNGs,
continues the same MLflow run (its params stay those of the first start; the resumed config is
logged as `config/resumed_<time>.yaml`) and, with the checkpoint-synced MLflow logger, logs every
step exactly once.
"""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig, open_dict

from neurobolts.plugins.instantiate import ConfigError, instantiate_group, instantiate_node
from neurobolts.plugins.mlflow_tracking import log_checkpoints, log_run_config

log = logging.getLogger(__name__)


def _metrics_as_floats(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def _compatible_callbacks(callbacks: list, has_logger: bool, progress_bar: bool) -> list:
    """Drop the callbacks the trainer settings rule out, with a note, instead of failing:
    LearningRateMonitor without a logger, a progress bar with `trainer.enable_progress_bar=false`."""
    from lightning.pytorch.callbacks import LearningRateMonitor, ProgressBar

    kept = []
    for cb in callbacks:
        if isinstance(cb, LearningRateMonitor) and not has_logger:
            log.info("No logger configured: LearningRateMonitor skipped.")
        elif isinstance(cb, ProgressBar) and not progress_bar:
            log.info("trainer.enable_progress_bar=false: %s skipped.", type(cb).__name__)
        else:
            kept.append(cb)
    return kept


def _finalize_failed(loggers: list) -> None:
    for logger in loggers:
        try:
            logger.finalize("failed")
        except Exception:  # noqa: BLE001 - best effort while another error propagates
            log.exception("Could not mark logger %s as failed", type(logger).__name__)


def _check_resume(cfg: DictConfig) -> None:
    """Fail early on a missing checkpoint; point the MLflow logger at the run the checkpoint recorded."""
    from pathlib import Path

    from neurobolts.callbacks.resume_state import checkpoint_run_id

    ckpt_path = cfg.get("ckpt_path")
    if not ckpt_path:
        return
    if not Path(ckpt_path).is_file():
        raise ConfigError(f"ckpt_path={ckpt_path!r} does not exist (expected a checkpoint file, "
                          f"e.g. <output dir>/checkpoints/last.ckpt)")
    mlflow_node = (cfg.get("logger") or {}).get("mlflow")
    if mlflow_node is not None and "run_id" in mlflow_node and mlflow_node.get("run_id") is None:
        run_id = checkpoint_run_id(ckpt_path)
        if run_id is not None:
            log.info("Resuming MLflow run %s recorded in %s", run_id, ckpt_path)
            with open_dict(cfg):
                cfg.logger.mlflow.run_id = run_id


def _commit_metrics_with_last_checkpoint(loggers: list, callbacks: list) -> None:
    """Checkpoint-synced MLflow loggers commit metrics with last.ckpt when a ModelCheckpoint keeps one."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from neurobolts.plugins.checkpoint_synced_mlflow import CheckpointSyncedMLFlowLogger

    if any(isinstance(cb, ModelCheckpoint) and cb.save_last for cb in callbacks):
        for logger in loggers:
            if isinstance(logger, CheckpointSyncedMLFlowLogger):
                logger.commit_on = "last"


INTEGER_TRAINER_FIELDS = ("max_steps", "max_epochs", "num_nodes", "log_every_n_steps", "num_sanity_val_steps")


def _check_trainer_fields(trainer_cfg: DictConfig) -> None:
    """Lightning compares these with ints deep inside; name the field instead of a TypeError there."""
    for field in INTEGER_TRAINER_FIELDS:
        value = trainer_cfg.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"trainer.{field} must be an integer, got {value!r}")


def build(cfg: DictConfig, extra_callbacks: list | None = None) -> dict[str, Any]:
    """Instantiate datamodule, model, callbacks, loggers and trainer from a composed config.

    `extra_callbacks` (already built objects) are attached after the configured ones.
    """
    import lightning as L

    from neurobolts.callbacks.resume_state import ResumeState

    for key in ("data", "model", "trainer"):
        if cfg.get(key) is None:
            raise ConfigError(f"config `{key}` is missing: choose one with `{key}=<name>` or an experiment")
    _check_resume(cfg)
    _check_trainer_fields(cfg.trainer)
    if cfg.get("seed") is not None:
        if not isinstance(cfg.seed, int):
            raise ConfigError(f"seed must be an integer or null, got {cfg.seed!r}")
        L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate_node(cfg.data, "data")
    model = instantiate_node(cfg.model, "model")
    loggers = instantiate_group(cfg.get("logger"), "logger")
    callbacks = _compatible_callbacks(
        instantiate_group(cfg.get("callbacks"), "callbacks"),
        has_logger=bool(loggers),
        progress_bar=cfg.trainer.get("enable_progress_bar", True) is not False,
    )
    callbacks += list(extra_callbacks or [])
    if cfg.get("train", True) and not any(isinstance(cb, ResumeState) for cb in callbacks):
        callbacks.append(ResumeState())
    _commit_metrics_with_last_checkpoint(loggers, callbacks)
    try:
        trainer = instantiate_node(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False)
    except Exception:
        _finalize_failed(loggers)
        raise
    return {"cfg": cfg, "datamodule": datamodule, "model": model, "callbacks": callbacks,
            "loggers": loggers, "trainer": trainer}


def train(cfg: DictConfig, extra_callbacks: list | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """Train (and optionally test) the model of a composed config; returns (metrics, objects)."""
    objects = build(cfg, extra_callbacks)
    trainer, model, datamodule = objects["trainer"], objects["model"], objects["datamodule"]
    weights_only = cfg.get("ckpt_weights_only", True)
    try:
        log_run_config(trainer, cfg, resumed=bool(cfg.get("ckpt_path")))
        if cfg.get("train", True):
            log.info("Starting training")
            if cfg.get("seed") is not None:
                # Lightning's DDP re-seeds every process when it sets up (reset_seed); re-seeding here
                # too gives one process the same random stream as a DDP run (parity)
                import lightning as L

                L.seed_everything(cfg.seed, workers=True, verbose=False)
            trainer.fit(model=model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=weights_only)
            log_checkpoints(trainer)
        metrics = _metrics_as_floats(trainer.callback_metrics)
        if cfg.get("test", False):
            ckpt_path = None
            if trainer.checkpoint_callback is not None:
                ckpt_path = trainer.checkpoint_callback.best_model_path or None
            if ckpt_path is None:
                log.warning("No best checkpoint found: testing the current weights.")
            log.info("Starting testing (checkpoint: %s)", ckpt_path)
            trainer.test(model=model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=weights_only)
            metrics.update(_metrics_as_floats(trainer.callback_metrics))
    except BaseException:
        _finalize_failed(objects["loggers"])
        raise
    return metrics, objects


def evaluate(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Test a checkpoint (`ckpt_path`, required) with the composed data/model/trainer."""
    if not cfg.get("ckpt_path"):
        raise ConfigError("ckpt_path must point at a checkpoint to evaluate, e.g. ckpt_path=/path/last.ckpt")
    objects = build(cfg)
    trainer = objects["trainer"]
    try:
        log_run_config(trainer, cfg)
        trainer.test(model=objects["model"], datamodule=objects["datamodule"], ckpt_path=cfg.ckpt_path,
                     weights_only=cfg.get("ckpt_weights_only", True))
    except BaseException:
        _finalize_failed(objects["loggers"])
        raise
    return _metrics_as_floats(trainer.callback_metrics), objects


def optimized_metric(cfg: DictConfig, metrics: dict[str, float]) -> float | None:
    """The value of `cfg.optimized_metric` (for Hydra sweepers), or None when not set."""
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if name not in metrics:
        raise ConfigError(
            f"optimized_metric={name!r} was not logged; logged metrics: {sorted(metrics)}"
        )
    return metrics[name]
