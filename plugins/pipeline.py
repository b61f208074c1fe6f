"""The train, eval and predict pipelines behind `train.py` / `eval.py` / `predict.py`
(lightning-hydra-template style).

train: seed -> datamodule -> model -> callbacks -> loggers -> Trainer -> log config -> fit -> test
(the last weights, or the best checkpoint with `test_ckpt=best`) -> metrics. Every object is built
before training starts, so a bad config value fails at once with a `ConfigError` naming the field.
A failure marks the MLflow run FAILED; checkpoints already written stay on disk.

Resuming (`ckpt_path=<dir>/checkpoints/last.ckpt`, `ckpt_path=<run dir>`, or `ckpt_path=latest`: the
last.ckpt of this task's newest run, see `_latest_run_checkpoint`; the choice is resolved before anything
is built, and logged): every run carries a `ResumeState` callback that
stores the RNG states and the MLflow run id in its checkpoints; the resumed run restores the RNGs,
continues the same MLflow run (its params stay those of the first start; the resumed config is
logged as `config/resumed_<time>.yaml`) and, with the checkpoint-synced MLflow logger, logs every
step exactly once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from omegaconf import DictConfig, open_dict

from neurobolts.plugins.instantiate import ConfigError, _target_error, instantiate_group, instantiate_node
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


LATEST_CHECKPOINT = "latest"


def _latest_run_checkpoint(cfg: DictConfig):
    """`ckpt_path=latest`: the checkpoints/last.ckpt written last among the runs of this task
    (`<paths.log_dir>/<task_name>/runs/*/checkpoints/last.ckpt`, the layout of configs/hydra/default.yaml),
    leaving out this run's own directory. Multirun jobs (`multiruns/`) are not searched: each job of a
    sweep has its own checkpoint to resume."""
    from pathlib import Path

    paths = cfg.get("paths") or {}
    if not paths.get("log_dir"):
        raise ConfigError("ckpt_path=latest needs paths.log_dir (the runs are searched under "
                          "<paths.log_dir>/<task_name>/runs)")
    runs = Path(paths.log_dir) / str(cfg.get("task_name")) / "runs"
    own = Path(paths.output_dir).resolve() if paths.get("output_dir") else None
    found = [p for p in runs.glob("*/checkpoints/last.ckpt") if p.is_file() and p.parent.parent.resolve() != own]
    if not found:
        raise ConfigError(f"ckpt_path=latest found no checkpoint: searched {runs}/*/checkpoints/last.ckpt (the "
                          f"runs of task_name={cfg.get('task_name')!r}, this run's own directory left out); give "
                          f"a run directory or a checkpoint file instead")
    return max(found, key=lambda p: (p.stat().st_mtime_ns, str(p)))


def _check_checkpoint_file(cfg: DictConfig, latest: bool = False) -> str | None:
    """The checkpoint file of `ckpt_path`, resolved and written back into the config: a file as given;
    a run directory -> its checkpoints/last.ckpt; `latest` (only where `latest` is true: resuming a
    training) -> the newest run's last.ckpt (`_latest_run_checkpoint`). The choice is logged."""
    from pathlib import Path

    ckpt_path = cfg.get("ckpt_path")
    if not ckpt_path:
        return None
    chosen = None
    if ckpt_path == LATEST_CHECKPOINT:
        if not latest:
            raise ConfigError("ckpt_path=latest resumes a training (train.py: the newest run of its task); "
                              "here give a checkpoint file or a run directory")
        chosen = _latest_run_checkpoint(cfg)
    elif Path(ckpt_path).is_dir():
        candidates = [Path(ckpt_path) / "checkpoints" / "last.ckpt", Path(ckpt_path) / "last.ckpt"]
        chosen = next((c for c in candidates if c.is_file()), None)
        if chosen is None:
            raise ConfigError(f"ckpt_path={ckpt_path!r} is a directory without a checkpoint: searched "
                              f"{candidates[0]} and {candidates[1]} (expected a run directory or a checkpoint file)")
    elif not Path(ckpt_path).is_file():
        raise ConfigError(f"ckpt_path={ckpt_path!r} does not exist (expected a checkpoint file, e.g. "
                          f"<output dir>/checkpoints/last.ckpt, a run directory, or `latest` in train.py)")
    if chosen is not None:
        log.info("ckpt_path=%s: using the checkpoint %s", ckpt_path, chosen)
        with open_dict(cfg):
            cfg.ckpt_path = str(chosen)
    return str(cfg.ckpt_path)


def _mlflow_node(cfg: DictConfig):
    return (cfg.get("logger") or {}).get("mlflow")


def _check_resume(cfg: DictConfig) -> None:
    """Fail early on a missing checkpoint; point the MLflow logger at the run the checkpoint recorded."""
    from neurobolts.callbacks.reliability.resume_state import checkpoint_run_id

    ckpt_path = _check_checkpoint_file(cfg, latest=True)
    if not ckpt_path:
        return
    mlflow_node = _mlflow_node(cfg)
    if mlflow_node is not None and "run_id" in mlflow_node and mlflow_node.get("run_id") is None:
        run_id = checkpoint_run_id(ckpt_path)
        if run_id is not None and _run_exists(mlflow_node.get("tracking_uri"), run_id):
            log.info("Resuming MLflow run %s recorded in %s", run_id, ckpt_path)
            with open_dict(cfg):
                cfg.logger.mlflow.run_id = run_id
        elif run_id is not None:
            # a checkpoint brought from another machine or store: train on in a new run that names it
            log.warning("The MLflow run %s recorded in %s is not in this tracking store: the resumed "
                        "training logs to a new run (tag neurobolts.resumed_from_run)", run_id, ckpt_path)
            with open_dict(cfg):
                cfg.logger.mlflow.tags = {**(mlflow_node.get("tags") or {}), "neurobolts.resumed_from_run": run_id}


def _link_evaluation_run(cfg: DictConfig, kind: str = "evaluation", prefix: str = "eval",
                         run_tag: str = "neurobolts.evaluates_run") -> None:
    """An evaluation is its own MLflow run (never the training run: its params would clash), named
    `eval-<checkpoint>-<time>`, tagged with the checkpoint and, when the checkpoint recorded a training
    run that this tracking store holds, nested under it (`mlflow.parentRunId`), so `mlflow ui` shows it
    below the run that trained the weights. A prediction run is linked the same way (`kind`
    "prediction", name `predict-<checkpoint>-<time>`, tag `neurobolts.predicts_with_run`); without a
    checkpoint (a model that needs none) it is a run of its own named `predict-<time>`."""
    from pathlib import Path

    from neurobolts.callbacks.reliability.resume_state import checkpoint_run_id

    ckpt_path = _check_checkpoint_file(cfg)
    mlflow_node = _mlflow_node(cfg)
    if mlflow_node is None:
        return
    tags = {"neurobolts.kind": kind}
    if ckpt_path:
        tags["neurobolts.checkpoint"] = str(Path(ckpt_path).resolve())
        training_run = checkpoint_run_id(ckpt_path)
        if training_run is not None:
            tags[run_tag] = training_run
            if _run_exists(mlflow_node.get("tracking_uri"), training_run):
                tags["mlflow.parentRunId"] = training_run
            else:
                log.info("The checkpoint's training run %s is not in this tracking store: the %s run "
                         "is not nested", training_run, kind)
    name = f"{prefix}-{Path(ckpt_path).stem}" if ckpt_path else prefix
    with open_dict(cfg):
        cfg.logger.mlflow.run_id = None
        cfg.logger.mlflow.run_name = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        cfg.logger.mlflow.tags = {**(cfg.logger.mlflow.get("tags") or {}), **tags}


def _run_exists(tracking_uri: str | None, run_id: str) -> bool:
    if not tracking_uri:
        return False
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient(tracking_uri).get_run(run_id)
    except MlflowException:
        return False
    return True


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


def build(cfg: DictConfig, extra_callbacks: list | None = None, training: bool = True) -> dict[str, Any]:
    """Instantiate datamodule, model, callbacks, loggers and trainer from a composed config.

    `extra_callbacks` (already built objects) are attached after the configured ones. `training`:
    the objects are for `train` (a checkpoint in `ckpt_path` is resumed, in its MLflow run, and the
    run-wide `ResumeState` and `FinalValidation` callbacks are attached); false for `evaluate` (the
    checkpoint is tested in a run of its own).
    """
    import lightning as L

    from neurobolts.callbacks.reliability.final_validation import FinalValidation
    from neurobolts.callbacks.reliability.resume_state import ResumeState

    for key in ("data", "model", "trainer"):
        if cfg.get(key) is None:
            raise ConfigError(f"config `{key}` is missing: choose one with `{key}=<name>` or an experiment")
    if training:
        _check_resume(cfg)
    else:
        _link_evaluation_run(cfg)
    _check_trainer_fields(cfg.trainer)
    if cfg.get("test_ckpt", "last") not in TEST_CHECKPOINTS:
        raise ConfigError(f"test_ckpt must be one of {TEST_CHECKPOINTS}, got {cfg.get('test_ckpt')!r}")
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
    if training and cfg.get("train", True):
        for run_wide in (ResumeState, FinalValidation):
            if not any(isinstance(cb, run_wide) for cb in callbacks):
                callbacks.append(run_wide())
    _commit_metrics_with_last_checkpoint(loggers, callbacks)
    try:
        trainer = instantiate_node(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False)
    except Exception:
        _finalize_failed(loggers)
        raise
    return {"cfg": cfg, "datamodule": datamodule, "model": model, "callbacks": callbacks,
            "loggers": loggers, "trainer": trainer}


TEST_CHECKPOINTS = ("last", "best")


def _test_checkpoint(cfg: DictConfig, trainer) -> tuple[str | None, int]:
    """(checkpoint path or None for the weights in memory, their step) for `cfg.test_ckpt`: "last" tests
    the weights at the end of training (what last.ckpt holds), "best" the checkpoint that was best on
    validation. The step (`test/checkpoint_step`) is the one in the checkpoint's file name, the step at
    which the loggers hold the validation metrics of those weights (`LoggedStepCheckpoint`); weights
    that no checkpoint holds report the trainer's global step. The choice and the step are logged."""
    from neurobolts.callbacks.reliability.logged_step_checkpoint import (
        checkpoint_logged_step,
        weights_logged_step,
    )

    choice = cfg.get("test_ckpt", "last")
    if choice == "best":
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback is not None else ""
        if best:
            step = checkpoint_logged_step(best)
            log.info("Testing the best checkpoint %s (step %d; test_ckpt=best)", best, step)
            return best, step
        log.warning("test_ckpt=best but no best checkpoint was written: testing the last weights.")
    step = weights_logged_step(trainer)
    log.info("Testing the last weights (step %d; test_ckpt=%s)", step, choice)
    return None, step


def train(cfg: DictConfig, extra_callbacks: list | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """Train (and optionally test) the model of a composed config; returns (metrics, objects)."""
    objects = build(cfg, extra_callbacks)
    trainer, model, datamodule = objects["trainer"], objects["model"], objects["datamodule"]
    weights_only = cfg.get("ckpt_weights_only", True)
    try:
        log_run_config(trainer, cfg, resumed=bool(cfg.get("ckpt_path")))
        run_stages = getattr(model, "run_stages", None)
        if callable(run_stages):  # a staged experiment (plugins/stages.py): its earlier stages first
            from neurobolts.plugins.stages import StageRunner

            run_stages(StageRunner(cfg, objects["loggers"]), datamodule)
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
            ckpt_path, step = _test_checkpoint(cfg, trainer)
            if trainer.is_global_zero:  # logged before testing, so the loggers commit it with the test metrics
                for logger in trainer.loggers:
                    logger.log_metrics({"test/checkpoint_step": float(step)}, step=step)
            trainer.test(model=model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=weights_only)
            metrics.update(_metrics_as_floats(trainer.callback_metrics))
            metrics["test/checkpoint_step"] = float(step)
    except BaseException:
        _finalize_failed(objects["loggers"])
        raise
    return metrics, objects


def evaluate(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Test a checkpoint (`ckpt_path`, required) with the composed data/model/trainer."""
    if not cfg.get("ckpt_path"):
        raise ConfigError("ckpt_path must point at a checkpoint to evaluate, e.g. ckpt_path=/path/last.ckpt")
    objects = build(cfg, training=False)
    trainer = objects["trainer"]
    try:
        log_run_config(trainer, cfg)
        trainer.test(model=objects["model"], datamodule=objects["datamodule"], ckpt_path=cfg.ckpt_path,
                     weights_only=cfg.get("ckpt_weights_only", True))
    except BaseException:
        _finalize_failed(objects["loggers"])
        raise
    return _metrics_as_floats(trainer.callback_metrics), objects


def _choice(group: str) -> str | None:
    """The option of a config group chosen in the running Hydra app (None outside one)."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.choices.get(group) if HydraConfig.initialized() else None


def _unsupported_predict(cfg: DictConfig, why: str) -> ConfigError:
    from neurobolts.plugins.experiments import predict_experiments

    experiment = _choice("experiment")
    name = f"experiment={experiment}" if experiment else f"model `{cfg.model.get('_target_')}`"
    return ConfigError(f"{name} does not support predict ({why}); experiments that do: "
                       f"{', '.join(predict_experiments())}")


def predict(cfg: DictConfig) -> tuple[dict[str, Any], dict[str, float], dict[str, Any]]:
    """Apply a trained checkpoint (`ckpt_path`) to new inputs (`predict.inputs`) and log the outputs.

    The model of the composed config is loaded from the checkpoint; the DataModule of `predict.data`
    (configs/predict/<model>.yaml) reads the inputs; the model's `predict_step` runs on them
    (plugins/prediction.py). The outputs (`predictions/predictions.npz`), the model's figures and tables
    (`log_predictions`) and summary metrics go to an MLflow run of its own, nested under the checkpoint's
    training run, or without MLflow into the run's folder (plugins/figures.py). Runs in one process.

    Returns (predictions: the joined outputs of `predict_step`, summary metrics, objects).
    """
    import warnings

    import lightning as L
    from omegaconf import OmegaConf

    from neurobolts.plugins.prediction import PredictionWriter, has_predict_step

    for key in ("model", "trainer"):
        if cfg.get(key) is None:
            raise ConfigError(f"config `{key}` is missing: choose one with `{key}=<name>` or an experiment")
    _check_trainer_fields(cfg.trainer)
    predict_node = cfg.get("predict")
    if predict_node is None or OmegaConf.is_missing(predict_node, "inputs") or predict_node.get("inputs") is None:
        raise ConfigError("predict.inputs is not set: give the new inputs as a file (predict.inputs=inputs.csv; "
                          ".csv, .txt or .npy, one input per row) or a list (predict.inputs=[[3,4],[7.5,2]])")
    data_node = predict_node.get("data")
    if data_node is None:
        model_option = _choice("model") or "<model>"
        raise _unsupported_predict(cfg, f"no prediction DataModule: there is no configs/predict/{model_option}.yaml")
    model = instantiate_node(cfg.model, "model")
    if not has_predict_step(model):
        raise _unsupported_predict(cfg, f"{type(model).__name__} has no predict_step")
    ckpt_path = _check_checkpoint_file(cfg)
    if not ckpt_path and not getattr(model, "predict_without_checkpoint", False):
        raise ConfigError("ckpt_path must point at a trained checkpoint, e.g. "
                          "ckpt_path=logs/<experiment>/runs/<run>/checkpoints/last.ckpt")
    if not ckpt_path:
        log.info("No ckpt_path: %s is built from the config (it holds nothing learned)", type(model).__name__)
    try:
        datamodule = instantiate_node(data_node, "predict.data")  # reads and checks the inputs
    except ConfigError as exc:  # a bad input names predict.inputs itself: show that error alone
        inner = _target_error(exc.__cause__) if exc.__cause__ is not None else None
        if isinstance(inner, ConfigError):
            raise inner from exc
        raise
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    _link_evaluation_run(cfg, kind="prediction", prefix="predict", run_tag="neurobolts.predicts_with_run")
    loggers = instantiate_group(cfg.get("logger"), "logger")
    writer = PredictionWriter()
    try:
        # no checkpointing: the run writes predictions, not weights
        trainer = instantiate_node(cfg.trainer, "trainer", callbacks=[writer], logger=loggers or False,
                                   enable_checkpointing=False)
        if trainer.world_size > 1:
            raise ConfigError(f"predict runs in one process, got a world size of {trainer.world_size}: set "
                              f"trainer.devices=1 trainer.num_nodes=1")
        log_run_config(trainer, cfg)
        with warnings.catch_warnings():
            # the training callbacks stored in the checkpoint (ModelCheckpoint, ResumeState) play no part here
            warnings.filterwarnings("ignore", message=".*callbacks used to create the checkpoint need to be provided")
            trainer.predict(model=model, datamodule=datamodule, ckpt_path=ckpt_path,
                            weights_only=cfg.get("ckpt_weights_only", True), return_predictions=False)
    except BaseException:
        _finalize_failed(loggers)
        raise
    objects = {"cfg": cfg, "datamodule": datamodule, "model": model, "loggers": loggers, "trainer": trainer,
               "writer": writer}
    return writer.predictions, writer.summary, objects


def optimized_metric(cfg: DictConfig, metrics: dict[str, float], required: bool = False) -> float | None:
    """The value of `cfg.optimized_metric` (returned to Hydra sweepers), or None when not set.

    A metric the run did not log is an error only where a sweeper needs the value (`required`, true in
    a multirun); a single run warns and returns None, since its metrics and checkpoints are complete.
    """
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if name not in metrics:
        message = f"optimized_metric={name!r} was not logged; logged metrics: {sorted(metrics)}"
        if required:
            raise ConfigError(message + " (a sweep needs it: log it, or set optimized_metric to a logged one)")
        log.warning(message)
        return None
    return metrics[name]
