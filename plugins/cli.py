"""Hydra entry points (`train.py`, `eval.py`, `predict.py`, and the `neurobolts-train` / `neurobolts-eval` /
`neurobolts-predict` scripts).

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


def _register_search_path_plugin() -> None:
    """Register neurobolts' SearchPathPlugin (third-party config trees, docs/guides/third_party.md) with
    Hydra explicitly. Hydra finds plugins by listing the `hydra_plugins` folders on sys.path, which
    misses the module under an editable install (`make`, `pip install -e .`) when the command runs
    outside the checkout; registering the class Hydra's own scan produced (if any) adds it only once."""
    from hydra.core.plugins import Plugins

    plugins = Plugins.instance()  # scans hydra_plugins first (and may re-execute our module)
    from hydra_plugins.neurobolts_searchpath import neurobolts_searchpath

    plugins.register(neurobolts_searchpath.NeuroboltsSearchPathPlugin)


_register_search_path_plugin()


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


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="predict")
def predict_main(cfg: DictConfig) -> None:
    from neurobolts.plugins.pipeline import predict

    _one_line_config_errors(lambda: predict(cfg))
