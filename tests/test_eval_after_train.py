"""The README's sequence, as a user types it: `train.py` with the default MLflow store, then `eval.py`
on the run's last.ckpt and on its best checkpoint. Each evaluation is an MLflow run of its own, nested
under the training run; the training run's params stay as they were."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import PROJECT_ROOT

SMALL = ["trainer.max_steps=6", "trainer.val_check_interval=3", "model.sampling_steps=2",
         "trainer.enable_progress_bar=false", "callbacks.latent_manifold=null"]


def run(script: str, args: list[str], root) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # the default store
    env["PYTHONWARNINGS"] = "ignore"
    proc = subprocess.run([sys.executable, script, "experiment=diffusion_bumps", *args, f"paths.root_dir={root}"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{script} {args} failed:\n{proc.stderr[-4000:]}"
    return proc


def test_train_then_eval_last_and_best_checkpoints(tmp_path):
    from mlflow.tracking import MlflowClient

    run("train.py", SMALL, tmp_path)
    run_dir = next((tmp_path / "logs" / "diffusion_bumps" / "runs").iterdir())
    checkpoints = run_dir / "checkpoints"
    best = next(checkpoints.glob("best_step*.ckpt"))
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    (experiment,) = [e for e in client.search_experiments() if e.name == "diffusion_bumps"]
    (training,) = client.search_runs([experiment.experiment_id])
    params_before = dict(training.data.params)

    for ckpt in (checkpoints / "last.ckpt", best):
        proc = run("eval.py", [f"ckpt_path={ckpt}", "trainer.enable_progress_bar=false", "model.sampling_steps=2"],
                   tmp_path)
        assert "test/frac_C" in proc.stdout

    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    assert len(runs) == 3
    assert runs[0].info.run_id == training.info.run_id
    assert dict(client.get_run(training.info.run_id).data.params) == params_before
    for evaluation, ckpt in zip(runs[1:], ("last", best.stem), strict=True):
        assert evaluation.info.status == "FINISHED"
        assert evaluation.data.tags["mlflow.parentRunId"] == training.info.run_id  # nested in `mlflow ui`
        assert evaluation.data.tags["neurobolts.checkpoint"].endswith(f"{ckpt}.ckpt")
        assert evaluation.info.run_name.startswith(f"eval-{ckpt}-")
        assert "test/frac_C" in evaluation.data.metrics and "test/loss" in evaluation.data.metrics
        assert evaluation.data.params["ckpt_path"].endswith(f"{ckpt}.ckpt")
        artifacts = [a.path for a in client.list_artifacts(evaluation.info.run_id, "config")]
        assert "config/config.yaml" in artifacts
