"""Staged experiments: a module that needs earlier stages (models trained on other data, a graph
computation, ...) before its own test, each stage an MLflow run of its own nested under the
experiment's run (GGS: oracle -> predictor -> smoothing -> smoothed predictor -> sampling).

A LightningModule opts in by defining `run_stages(runner: StageRunner)`; `pipeline.train` calls it
after the experiment's loggers exist and before its own fit / test. The runner gives each stage:
- `trainer(stage, callbacks)`: a Trainer built from the run's `trainer` config (same accelerator,
  devices and strategy: under DDP every rank runs the same stages and joins each fit), logging to the
  stage's own loggers: an MLflow run named `<stage>` tagged `mlflow.parentRunId` = the experiment's
  run, a CSV logger in `<csv dir>/<stage>`;
- `log(stage, metrics=..., params=..., artifacts=...)`: for stages that do not run a Trainer;
- `cached(stage, key_parts)`: a directory keyed by the stage's settings under `paths.cache_dir`,
  so a stage whose settings did not change is reused by the next run (and a changed setting reruns
  only the stages it reaches). Written atomically by global rank zero.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from neurobolts.plugins.instantiate import instantiate_group, instantiate_node

log = logging.getLogger(__name__)

MLFLOW_FACTORY = "neurobolts.plugins.mlflow_tracking.mlflow_logger"


def _global_rank() -> int:
    from lightning.pytorch.utilities import rank_zero_only

    return int(getattr(rank_zero_only, "rank", 0) or 0)


def settings_key(parts: Any) -> str:
    """A short stable hash of JSON-able settings (the cache key of a stage)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


class StageRunner:
    """Builds the trainers and loggers of an experiment's stages (module docstring)."""

    def __init__(self, cfg: DictConfig, parent_loggers: list, cache_dir: str | Path | None = None) -> None:
        self.cfg = cfg
        self.parent_loggers = parent_loggers
        root = cache_dir or cfg.get("paths", {}).get("cache_dir") or Path(cfg.paths.output_dir) / "cache"
        self.cache_root = Path(root)
        self.output_dir = Path(cfg.paths.output_dir)
        self._stage_loggers: dict[str, list] = {}

    # --- ranks -------------------------------------------------------------------------------------
    @property
    def is_global_zero(self) -> bool:
        return _global_rank() == 0

    @staticmethod
    def barrier() -> None:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()

    # --- loggers -----------------------------------------------------------------------------------
    def parent_run_id(self) -> str | None:
        from lightning.pytorch.loggers import MLFlowLogger

        if not self.is_global_zero:
            return None
        for logger in self.parent_loggers:
            if isinstance(logger, MLFlowLogger):
                return logger.run_id
        return None

    def loggers(self, stage: str) -> list:
        """The stage's loggers (built once per stage): the run's logger configs, each MLflow logger as a
        run named `stage` nested under the experiment's run, each other logger with `/<stage>` added to
        its name."""
        if stage in self._stage_loggers:
            return self._stage_loggers[stage]
        nodes = self.cfg.get("logger")
        if not nodes:
            self._stage_loggers[stage] = []
            return []
        parent = self.parent_run_id()
        stage_nodes = OmegaConf.create({})
        for name, node in nodes.items():
            if node is None or not isinstance(node, DictConfig) or "_target_" not in node:
                continue
            node = OmegaConf.create(OmegaConf.to_container(node, resolve=True))
            if node._target_ == MLFLOW_FACTORY:
                node.run_name = stage
                node.run_id = None
                tags = dict(node.get("tags") or {})
                tags["neurobolts.stage"] = stage
                if parent is not None:
                    tags["mlflow.parentRunId"] = parent
                node.tags = tags
                node.commit_on_checkpoint = False
            elif "name" in node:
                node.name = f"{node.name}/{stage}"
            stage_nodes[name] = node
        self._stage_loggers[stage] = instantiate_group(stage_nodes, "logger")
        return self._stage_loggers[stage]

    def trainer(self, stage: str, callbacks: Iterable = (), **overrides: Any):
        """A Trainer for `stage` from the run's trainer config (`overrides` replace its fields, e.g.
        max_epochs), with the configured progress bar and the stage's loggers; its files go to
        `<output dir>/stages/<stage>`."""
        from lightning.pytorch.callbacks import ProgressBar

        node = OmegaConf.create(OmegaConf.to_container(self.cfg.trainer, resolve=True))
        for key, value in overrides.items():
            node[key] = value
        node.default_root_dir = str(self.output_dir / "stages" / stage)
        callbacks = list(callbacks)
        if node.get("enable_progress_bar", True) is not False:
            callbacks += [cb for cb in instantiate_group(self.cfg.get("callbacks"), "callbacks")
                          if isinstance(cb, ProgressBar)]
        loggers = self.loggers(stage)
        return instantiate_node(node, "trainer", callbacks=callbacks, logger=loggers or False)

    def log(self, stage: str, *, metrics: dict[str, float] | None = None, params: dict[str, Any] | None = None,
            artifacts: Iterable[str | Path] = (), artifact_dir: str | None = None, step: int = 0) -> None:
        """Log to the stage's loggers on global rank zero (stages that run no Trainer)."""
        from lightning.pytorch.loggers import MLFlowLogger

        if not self.is_global_zero:
            return
        for logger in self.loggers(stage):
            if params:
                logger.log_hyperparams(params)
            if metrics:
                logger.log_metrics(dict(metrics), step=step)
            if isinstance(logger, MLFlowLogger):
                for path in artifacts:
                    logger.experiment.log_artifact(logger.run_id, str(path), artifact_dir)
            logger.save()

    def finish(self, stage: str, status: str = "success") -> None:
        """Close the stage's loggers (MLflow marks its run FINISHED or FAILED)."""
        if not self.is_global_zero:
            return
        for logger in self._stage_loggers.get(stage, []):
            logger.finalize(status)

    def log_parent(self, metrics: dict[str, float] | None = None, params: dict[str, Any] | None = None,
                   step: int = 0) -> None:
        """Log on the experiment's own run (rank zero)."""
        if not self.is_global_zero:
            return
        for logger in self.parent_loggers:
            if params:
                logger.log_hyperparams(params)
            if metrics:
                logger.log_metrics(dict(metrics), step=step)

    # --- cache -------------------------------------------------------------------------------------
    def cache_path(self, stage: str, key_parts: Any) -> Path:
        """The directory of `stage`'s outputs for these settings (may not exist yet)."""
        return self.cache_root / f"{stage}-{settings_key(key_parts)}"

    @staticmethod
    def is_complete(path: Path) -> bool:
        return (path / "COMPLETE").is_file()

    def commit(self, path: Path, files: dict[str, Any], meta: dict[str, Any]) -> None:
        """Write a stage's outputs atomically on global rank zero: `files` maps names to writer
        callables `write(target_path)`; `meta` goes to meta.json; COMPLETE marks the directory usable."""
        if not self.is_global_zero:
            return
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        for name, write in files.items():
            write(tmp / name)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
        (tmp / "COMPLETE").write_text("")
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
