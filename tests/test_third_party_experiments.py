"""Third-party experiments (issue 20 item 4): an installed package that declares its config tree in the
entry-point group `neurobolts.configs` adds its experiments, models and DataModules to
`neurobolts-train`. The example package examples/third_party_experiment is installed into a temporary
folder (offline, with the venv's pip and setuptools) and its experiment trained with `debug=fdr`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT
from hydra.core.config_search_path import ConfigSearchPath

EXAMPLE = PROJECT_ROOT / "examples" / "third_party_experiment"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    """examples/third_party_experiment installed with `pip install --target` (from a copy, so the build
    leaves nothing in the checkout); no network: no index, no build isolation."""
    root = tmp_path_factory.mktemp("third_party")
    source = root / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = root / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir",
         "--disable-pip-version-check", "-q", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (site / "example_lab" / "configs" / "experiment" / "example_sine.yaml").is_file()
    return site


def _train(args: list[str], cwd: Path, pythonpath: Path | None) -> subprocess.CompletedProcess:
    """`neurobolts-train <args>` (the venv's console script) from `cwd`, outside the checkout."""
    script = Path(sys.executable).parent / "neurobolts-train"
    command = [str(script)] if script.exists() else [sys.executable, "-c",
                                                     "from neurobolts.plugins.cli import train_main; train_main()"]
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PYTHONPATH")}
    env["OMP_NUM_THREADS"] = "1"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([*command, *args, f"paths.root_dir={cwd}"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_an_installed_package_experiment_trains_with_neurobolts_train(example_site, tmp_path):
    proc = _train(["experiment=example_sine", "debug=fdr", "trainer.enable_progress_bar=false"], tmp_path,
                  example_site)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the package's own LightningModule trained and was tested
    assert "example_lab: SineRegressor with 32 hidden units starts training" in proc.stdout
    assert "test/loss" in proc.stdout
    (run,) = (tmp_path / "logs" / "debug" / "runs").iterdir()
    config = (run / ".hydra" / "config.yaml").read_text()
    # its model and data configs, composed with neurobolts' trainer and callbacks groups
    assert "_target_: example_lab.module.SineRegressor" in config
    assert "_target_: example_lab.datamodule.NoisySineDataModule" in config
    assert "_target_: neurobolts.callbacks.reliability.non_finite_guard.NonFiniteGuard" in config
    assert "_target_: lightning.pytorch.trainer.Trainer" in config
    assert (run / "checkpoints" / "last.ckpt").is_file()


def test_without_the_package_the_experiment_is_unknown(tmp_path):
    proc = _train(["experiment=example_sine"], tmp_path, None)
    assert proc.returncode != 0
    assert "Could not find 'experiment/example_sine'" in proc.stderr
    assert "diffusion_bumps" in proc.stderr  # the choices that exist are listed


def test_available_experiments_lists_the_package_experiments(example_site):
    code = ("from neurobolts.plugins.experiments import available_experiments as a;"
            "print(int('example_sine' in a()), int('example_sine' in a(include_third_party=False)),"
            " int('diffusion_bumps' in a()))")
    env = {**os.environ, "PYTHONPATH": str(example_site)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["1", "0", "1"]


def _fake_distribution(site: Path, entry_points: str) -> None:
    info = site / "broken_lab-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-lab\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[neurobolts.configs]\n" + entry_points)


def test_a_broken_entry_point_warns_and_a_good_one_is_found_without_import(tmp_path, monkeypatch):
    """The plugin runs in every Hydra app: a bad entry point is skipped with a warning naming the
    distribution and the entry point; a good one is appended as its folder, and the package (whose
    `__init__` would fail here) is never imported."""
    from hydra._internal.config_search_path_impl import ConfigSearchPathImpl

    from hydra_plugins.neurobolts_searchpath.neurobolts_searchpath import NeuroboltsSearchPathPlugin

    _fake_distribution(tmp_path, "missing = no_such_lab.configs\nodd = fake_lab.configs:tree\n"
                                 "good = fake_lab.configs\n")
    (tmp_path / "fake_lab" / "configs" / "experiment").mkdir(parents=True)
    (tmp_path / "fake_lab" / "__init__.py").write_text("raise ImportError('fake_lab must not be imported')\n")
    (tmp_path / "fake_lab" / "configs" / "__init__.py").write_text("")
    (tmp_path / "fake_lab" / "configs" / "experiment" / "fake_run.yaml").write_text("# @package _global_\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    search_path: ConfigSearchPath = ConfigSearchPathImpl()
    with pytest.warns(UserWarning) as caught:
        NeuroboltsSearchPathPlugin().manipulate_search_path(search_path)
    messages = [str(w.message) for w in caught]
    assert any("`missing = no_such_lab.configs`" in m and "'broken-lab'" in m and "no package 'no_such_lab.configs'"
               in m for m in messages), messages
    assert any("`odd = fake_lab.configs:tree`" in m and "'broken-lab'" in m and "dotted name" in m
               for m in messages), messages
    paths = [(element.provider, element.path) for element in search_path.get_path()]
    assert paths[0] == ("neurobolts", "pkg://neurobolts.configs")
    assert paths[1:] == [("broken-lab", f"file://{tmp_path / 'fake_lab' / 'configs'}")]
    assert "fake_lab" not in sys.modules

    from neurobolts.plugins.experiments import available_experiments

    with pytest.warns(UserWarning, match="broken-lab"):
        assert "fake_run" in available_experiments()
    assert "fake_lab" not in sys.modules
