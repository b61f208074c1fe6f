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
