"""Hydra entry points (`train.py`, `eval.py`, and the `neurobolts-train` / `neurobolts-eval` scripts).

Configs come from the installed package (`pkg://neurobolts.configs`), so the entry points work from
any directory and from an installed wheel.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

CONFIG_PATH = "pkg://neurobolts.configs"


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="train")
def train_main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from neurobolts.plugins.pipeline import optimized_metric, train

    metrics, _ = train(cfg)
    in_sweep = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    return optimized_metric(cfg, metrics, required=in_sweep)


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="eval")
def eval_main(cfg: DictConfig) -> None:
    from neurobolts.plugins.pipeline import evaluate

    evaluate(cfg)
