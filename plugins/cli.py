"""Hydra entry points (`train.py`, `eval.py`, and the `neurobolts-train` / `neurobolts-eval` scripts).

Configs come from the installed package (`pkg://neurobolts.configs`), so the entry points work from
any directory and from an installed wheel.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import hydra
from omegaconf import DictConfig

from neurobolts.plugins.instantiate import ConfigError

CONFIG_PATH = "pkg://neurobolts.configs"


def _one_line_config_errors(run: Callable[[], Any]) -> Any:
    """Run `run()`; a bad config value (ConfigError) prints its one line, naming the field, the value and
    what is allowed, and exits with status 1, instead of Hydra's chained tracebacks. HYDRA_FULL_ERROR=1
    keeps the full trace, as Hydra users expect."""
    try:
        return run()
    except ConfigError as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"ConfigError: {exc}\n(set HYDRA_FULL_ERROR=1 for the full trace)", file=sys.stderr)
        raise SystemExit(1) from None


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="train")
def train_main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from neurobolts.plugins.pipeline import optimized_metric, train

    metrics, _ = _one_line_config_errors(lambda: train(cfg))
    in_sweep = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    return optimized_metric(cfg, metrics, required=in_sweep)


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="eval")
def eval_main(cfg: DictConfig) -> None:
    from neurobolts.plugins.pipeline import evaluate

    _one_line_config_errors(lambda: evaluate(cfg))
