"""Crash-safe resume: a training process killed with SIGKILL mid-run resumes from last.ckpt and ends
exactly where an uninterrupted run with the same seed ends, in the same MLflow run, every metric step
logged once.

Three `python train.py experiment=diffusion_bumps` processes share one sqlite MLflow store: an
uninterrupted run, a run killed between its step-40 and step-60 checkpoints, and the resume of the
killed run from its last.ckpt (`ckpt_path=...`, same output directory).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from conftest import PROJECT_ROOT

STEPS = ["trainer.max_steps=60", "trainer.val_check_interval=20", "model.sampling_steps=5", "seed=7"]


def command(run_dir: Path, db: Path, *extra: str) -> list[str]:
    return [sys.executable, "train.py", "experiment=diffusion_bumps", *STEPS, "test=false",
            "trainer.enable_progress_bar=false", f"logger.mlflow.tracking_uri=sqlite:///{db}",
            f"logger.mlflow.artifact_dir={db.parent / 'mlartifacts'}", f"hydra.run.dir={run_dir}", *extra]


def environment(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return dict(env, NEUROBOLTS_ROOT=str(root), PYTHONWARNINGS="ignore")


def run(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]


def kill_after_checkpoint(cmd: list[str], env: dict[str, str], run_dir: Path, step: int) -> int:
    """Start training, SIGKILL it as soon as last.ckpt holds `step`; returns the exit code."""
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    latest = run_dir / "checkpoints" / f"latest_step{step:06d}.ckpt"
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if latest.exists() and last.exists() and last.stat().st_mtime_ns >= latest.stat().st_mtime_ns:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


def histories(client, run_id: str) -> dict[str, list[tuple[int, float]]]:
    keys = client.get_run(run_id).data.metrics
    return {key: sorted((m.step, m.value) for m in client.get_metric_history(run_id, key)) for key in keys}


def manifold_state(checkpoint_path: Path) -> dict:
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    (state,) = [v for k, v in checkpoint["callbacks"].items() if k.startswith("LatentManifoldOrdering")]
    return {k: v for k, v in state.items() if k != "seconds_spent"}


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    from mlflow.tracking import MlflowClient

    db = tmp_path / "mlflow.db"
    env = environment(tmp_path)
    full_dir, crash_dir = tmp_path / "full", tmp_path / "crash"

    run(command(full_dir, db), env)
    code = kill_after_checkpoint(command(crash_dir, db), env, crash_dir, step=40)
    assert code == -signal.SIGKILL, f"the run was not killed mid-run (exit code {code})"
    client = MlflowClient(f"sqlite:///{db}")
    (experiment,) = [e for e in client.search_experiments() if e.name == "diffusion_bumps"]
    runs = {r.info.run_id: r for r in client.search_runs([experiment.experiment_id])}
    assert len(runs) == 2
    crashed = [r for r in runs.values() if r.info.status == "RUNNING"]
    assert len(crashed) == 1, "the killed run should still be RUNNING"
    crashed_id = crashed[0].info.run_id
    # what MLflow holds matches last.ckpt: nothing after step 40 was committed before the kill
    assert max(m.step for m in client.get_metric_history(crashed_id, "train/loss")) <= 40

    run(command(crash_dir, db, f"ckpt_path={crash_dir / 'checkpoints' / 'last.ckpt'}"), env)

    # (c) the MLflow run is continued, not duplicated
    runs = {r.info.run_id: r for r in client.search_runs([experiment.experiment_id])}
    assert len(runs) == 2 and crashed_id in runs
    assert runs[crashed_id].info.status == "FINISHED"
    artifacts = [a.path for a in client.list_artifacts(crashed_id, "config")]
    assert any(Path(a).name.startswith("resumed_") for a in artifacts), artifacts
    full_id = next(run_id for run_id in runs if run_id != crashed_id)
    full, resumed = histories(client, full_id), histories(client, crashed_id)
    # no metric step lost or doubled, and (a) the same values as the uninterrupted run
    assert sorted(full) == sorted(resumed)
    for key, points in full.items():
        steps = [step for step, _ in resumed[key]]
        assert len(steps) == len(set(steps)), f"{key}: doubled steps {steps}"
        assert [s for s, _ in points] == steps, f"{key}: steps {steps} vs uninterrupted {[s for s, _ in points]}"
        for (step, a), (_, b) in zip(points, resumed[key], strict=True):
            assert abs(a - b) <= 1e-6 * max(1.0, abs(a)) or (a != a and b != b), f"{key} at {step}: {a} vs {b}"
    assert resumed["gen/frac_C"][-1][0] == 60
    assert len(resumed["train/loss"]) == 60  # train/loss at every one of the 60 steps, once
    # (b) the callbacks' state was restored, not recomputed: the latent-manifold baseline (step 0) is
    # measured once, and the final callback state equals the uninterrupted run's
    assert [step for step, _ in resumed["manifold/trustworthiness"]] == [0, 20, 40, 60]
    assert manifold_state(crash_dir / "checkpoints" / "last.ckpt") == manifold_state(
        full_dir / "checkpoints" / "last.ckpt")
    full_weights = torch.load(full_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    resumed_weights = torch.load(crash_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    for name, tensor in full_weights["state_dict"].items():
        assert torch.equal(tensor, resumed_weights["state_dict"][name]), name


def test_metrics_uncommitted_at_a_crash_are_logged_once_on_resume(tmp_path):
    """The window between writing last.ckpt and committing the metrics: the checkpoint carries the
    uncommitted metrics, and the resumed run logs exactly those MLflow lacks."""
    from mlflow.tracking import MlflowClient

    from neurobolts.plugins.mlflow_tracking import mlflow_logger

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    first = mlflow_logger("crash", uri, artifact_dir=str(tmp_path / "art"))
    first.log_metrics({"train/loss": 1.0}, step=1)
    first.flush_metrics()  # committed with an earlier checkpoint
    first.log_metrics({"train/loss": 0.5}, step=2)
    first.log_metrics({"val/acc": 0.9}, step=2)
    stored = first.uncommitted_metrics()  # what ResumeState puts into the checkpoint
    assert [entry[0] for entry in stored] == ["train/loss", "val/acc"]
    # crash here: never flushed
    resumed = mlflow_logger("crash", uri, run_id=first.run_id)
    assert resumed.recommit(stored) == 2
    assert resumed.recommit(stored) == 0  # already there: nothing doubled
    client = MlflowClient(uri)
    assert [(m.step, m.value) for m in client.get_metric_history(first.run_id, "train/loss")] == [(1, 1.0), (2, 0.5)]
    assert [m.step for m in client.get_metric_history(first.run_id, "val/acc")] == [2]


def test_resume_from_a_checkpoint_whose_run_is_not_in_this_store_starts_a_named_new_run(make_cfg, tmp_path):
    """A checkpoint copied from another machine or store: resuming trains on, in a new MLflow run tagged
    with the run the checkpoint came from, instead of failing on the unknown run id."""
    from mlflow.tracking import MlflowClient

    from neurobolts.plugins.pipeline import train

    small = ["experiment=diffusion_bumps", "trainer.max_steps=4", "trainer.val_check_interval=2",
             "model.sampling_steps=2", "test=false", "trainer.enable_progress_bar=false",
             "callbacks.rich_progress_bar=null", "callbacks.latent_manifold=null"]
    first_store, second_store = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    _, objects = train(make_cfg([*small, f"logger.mlflow.tracking_uri={first_store}"]))
    first_run = objects["loggers"][0].run_id
    ckpt = tmp_path / "output" / "checkpoints" / "last.ckpt"
    _, resumed = train(make_cfg([*small, "trainer.max_steps=6", f"logger.mlflow.tracking_uri={second_store}",
                                 f"ckpt_path={ckpt}"]))
    assert resumed["trainer"].global_step == 6
    run = MlflowClient(second_store).get_run(resumed["loggers"][0].run_id)
    assert run.info.run_id != first_run and run.data.tags["neurobolts.resumed_from_run"] == first_run
    assert run.info.status == "FINISHED"
