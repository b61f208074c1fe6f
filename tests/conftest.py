"""Shared fixtures: Hydra configs composed through the Compose API, pointed at tmp paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def compose_config(config_name: str, overrides: list[str], tmp_path: Path) -> DictConfig:
    """Compose `config_name` with overrides, on CPU, without logger, writing under tmp_path."""
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="neurobolts.configs", version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.root_dir = str(tmp_path)
        cfg.paths.output_dir = str(tmp_path / "output")
        cfg.paths.log_dir = str(tmp_path / "logs")
        cfg.hydra.runtime.output_dir = str(tmp_path / "output")
        cfg.hydra.job.num = 0
        cfg.hydra.job.id = 0
    HydraConfig().set_config(cfg)
    return cfg


def pytest_configure(config):
    config.addinivalue_line("markers", "long_metric_names: the test logs metric names longer than MLflow's "
                                       "chart titles show on purpose (the metric-name check is off)")


def _logger_classes_with_log_metrics() -> list[type]:
    """Lightning's Logger base (fabric's, which the Trainer's loggers derive from too) and every subclass
    imported so far (the project's own included) that defines its own `log_metrics`."""
    from lightning.fabric.loggers.logger import Logger

    import neurobolts.plugins.checkpoint_synced_mlflow  # noqa: F401 - a Logger subclass of the project

    found, stack = [], [Logger]
    while stack:
        cls = stack.pop()
        if cls not in found:
            found.append(cls)
            stack.extend(cls.__subclasses__())
    return [cls for cls in found if "log_metrics" in cls.__dict__]


@pytest.fixture(autouse=True)
def metric_names_fit_mlflow_charts(request, monkeypatch):
    """Fail a test that makes the project log a metric name longer than `MAX_METRIC_NAME` characters
    (MLflow cuts longer chart titles; plugins/mlflow_tracking.py): every name given to
    `LightningModule.log` and to any logger's `log_metrics` during the test is recorded (fast_dev_run's
    DummyLogger included). `@pytest.mark.long_metric_names` turns the check off for a test."""
    import functools

    from lightning.pytorch import LightningModule

    from neurobolts.plugins.mlflow_tracking import MAX_METRIC_NAME, too_long_metric_names

    names: set[str] = set()

    def record_log(original):
        @functools.wraps(original)
        def log(self, name, *args, **kwargs):
            names.add(name)
            return original(self, name, *args, **kwargs)
        return log

    def record_log_metrics(original):
        @functools.wraps(original)
        def log_metrics(self, metrics, *args, **kwargs):
            names.update(metrics)
            return original(self, metrics, *args, **kwargs)
        return log_metrics

    monkeypatch.setattr(LightningModule, "log", record_log(LightningModule.log))
    for cls in _logger_classes_with_log_metrics():
        monkeypatch.setattr(cls, "log_metrics", record_log_metrics(cls.__dict__["log_metrics"]))
    yield names
    long = too_long_metric_names(names)
    if long and request.node.get_closest_marker("long_metric_names") is None:
        pytest.fail(f"metric names longer than {MAX_METRIC_NAME} characters (MLflow cuts them in its chart "
                    f"titles; shorten them, keeping the group/name form): {long}", pytrace=False)


@pytest.fixture
def make_cfg(tmp_path):
    """make_cfg(overrides, config_name="train") -> composed DictConfig under tmp_path."""

    def _make(overrides: list[str], config_name: str = "train") -> DictConfig:
        return compose_config(config_name, overrides, tmp_path)

    yield _make
    GlobalHydra.instance().clear()


@pytest.fixture
def one_torch_thread():
    """torch.set_num_threads(1) for the test, restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def gfp_ground_truth_stand_in(tmp_path_factory) -> Path:
    """A generated stand-in for the GFP ground truth (not shipped): 1,200 point mutants of the GFP medium
    training sequences (237 aa) with random scores, `sequence,score` like the real file."""
    import numpy as np

    from neurobolts.datamodules.ggs.sequences import ALPHABET
    from neurobolts.datamodules.ggs.tasks import read_fitness_csv

    base = read_fitness_csv(SHARED_DATA / "ggs" / "GFP" / "mutations_6" / "percentile_0.2_0.4" / "base_seqs.csv")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(1200):
        sequence = list(base.sequences[i % len(base)])
        position = int(rng.integers(len(sequence)))
        sequence[position] = ALPHABET[int(rng.integers(len(ALPHABET)))]
        rows.append(f"{''.join(sequence)},{rng.uniform(1.3, 4.1):.4f}")
    path = tmp_path_factory.mktemp("gfp") / "ground_truth.csv"
    path.write_text("sequence,score\n" + "\n".join(rows) + "\n")
    return path
