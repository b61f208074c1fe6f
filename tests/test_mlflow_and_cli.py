"""What a user sees: the CLI entry point and the MLflow record of a run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import PROJECT_ROOT

from neurobolts.plugins.pipeline import train


def test_train_py_fast_dev_run_subprocess(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.run(
        [sys.executable, "train.py", "experiment=diffusion_bumps", "debug=fdr", f"paths.root_dir={tmp_path}",
         "trainer.enable_progress_bar=false"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = list((tmp_path / "logs" / "debug" / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / ".hydra" / "config.yaml").exists()
    assert "test/frac_C" in proc.stdout
    # what configs/debug/fdr.yaml says: the loggers are muted (no MLflow run), last.ckpt is written
    assert (runs[0] / "checkpoints" / "last.ckpt").exists()
    if (tmp_path / "mlflow.db").exists():
        import sqlite3

        with sqlite3.connect(tmp_path / "mlflow.db") as db:
            assert db.execute("select count(*) from runs").fetchone()[0] == 0


def test_train_py_unknown_experiment_prints_the_choices(tmp_path):
    proc = subprocess.run(
        [sys.executable, "train.py", "experiment=nope", f"paths.root_dir={tmp_path}"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    assert "Could not find 'experiment/nope'" in proc.stderr and "diffusion_bumps_imbalanced" in proc.stderr


@pytest.mark.parametrize("full_error", [False, True])
def test_a_bad_config_value_prints_one_line_unless_hydra_full_error(tmp_path, full_error):
    """Issue 20 item 3: the ConfigError line (field, value, what is allowed) without the chained tracebacks
    in front of it; HYDRA_FULL_ERROR=1 gives the full trace."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "HYDRA_FULL_ERROR")}
    if full_error:
        env["HYDRA_FULL_ERROR"] = "1"
    proc = subprocess.run(
        [sys.executable, "train.py", "experiment=diffusion_bumps", "logger=none", "data.sigma=-1",
         f"paths.root_dir={tmp_path}"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    line = "ConfigError: invalid config `data` (neurobolts.datamodules.diffusion_bumps.datamodule.DiffusionBumpsDataModule): " \
           "ValueError: sigma must be a finite number > 0, got -1"
    assert line in proc.stderr, proc.stderr[-3000:]
    assert ("Traceback" in proc.stderr) is full_error, proc.stderr[-3000:]


def test_mlflow_run_holds_params_metrics_figures_and_checkpoint(make_cfg, tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = make_cfg([
        "experiment=diffusion_bumps", f"logger.mlflow.tracking_uri={uri}", "callbacks.rich_progress_bar=null",
        "trainer.enable_progress_bar=false", "trainer.max_steps=20", "trainer.val_check_interval=10",
        "model.sampling_steps=2", "seed=3",
    ])
    metrics, objects = train(cfg)
    run_id = objects["loggers"][0].run_id
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["data/sigma"] == "1.0" and run.data.params["seed"] == "3"
    assert run.info.artifact_uri.startswith((tmp_path / "mlartifacts").as_uri())
    for key in ("gen/frac_A", "gen/frac_B", "gen/frac_C", "gen/loc_error"):
        history = client.get_metric_history(run_id, key)
        assert [m.step for m in history] == [10, 20], key
    assert [m.step for m in client.get_metric_history(run_id, "test/frac_C")]
    assert client.get_metric_history(run_id, "train/loss")
    # the experiment's LatentManifoldOrdering callback: step-0 baseline, then every validation
    for key in ("manifold/trustworthiness", "manifold/participation_ratio", "manifold/phase"):
        assert [m.step for m in client.get_metric_history(run_id, key)] == [0, 10, 20], key

    def listing(path=None):
        out = []
        for item in client.list_artifacts(run_id, path):
            out += listing(item.path) if item.is_dir else [item.path]
        return out

    artifacts = listing()
    assert "config/config.yaml" in artifacts
    assert "figures/samples/step_000010.png" in artifacts and "figures/samples/step_000020.png" in artifacts
    assert "figures/phases.png" in artifacts and "figures/manifold/summary.png" in artifacts
    checkpoints = [a for a in artifacts if a.startswith("checkpoints/")]
    assert "checkpoints/last.ckpt" in checkpoints
    assert any(a.startswith("checkpoints/best_step") and a.endswith(".ckpt") for a in checkpoints), artifacts


def test_unreachable_tracking_server_fails_at_once_naming_the_uri(make_cfg):
    from neurobolts.plugins.instantiate import ConfigError
    from neurobolts.plugins.pipeline import build

    cfg = make_cfg(["experiment=diffusion_bumps", "logger.mlflow.tracking_uri=http://127.0.0.1:9"])
    with pytest.raises(ConfigError, match=r"http://127.0.0.1:9 is unreachable"):
        build(cfg)
