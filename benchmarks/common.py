"""Shared pieces of the benchmark scripts: compose an experiment's config outside a Hydra app."""

from __future__ import annotations

import tempfile

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

QUIET = ["logger=none", "callbacks.rich_progress_bar=null", "callbacks.model_summary=null",
         "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


def compose_experiment(overrides: list[str]) -> DictConfig:
    """The composed train config with `overrides`, writing under a fresh temporary directory."""
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="neurobolts.configs", version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    tmp = tempfile.mkdtemp(prefix="nb_bench_")
    with open_dict(cfg):
        cfg.paths.root_dir = cfg.paths.output_dir = cfg.paths.log_dir = tmp
        cfg.hydra.runtime.output_dir = tmp
        cfg.hydra.job.num = 0
    HydraConfig().set_config(cfg)
    return cfg
