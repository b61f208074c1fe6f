"""Runs as users manage them (docs/guides/runs.md): MLflow's model-training view, `ckpt_path=latest` /
a run directory, and the parent MLflow run of a seed multirun."""

from __future__ import annotations

import math
import os
import pickle
import shutil
import statistics
import sys
import time
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf, open_dict

from neurobolts.plugins.instantiate import ConfigError

# diffusion_bumps in a few CPU seconds: 2-step validations, 2 sampling steps, no manifold analysis
TINY = ["experiment=diffusion_bumps", "trainer.val_check_interval=2", "model.sampling_steps=2", "test=false",
        "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", "callbacks.rich_progress_bar=null",
        "callbacks.latent_manifold=null", "callbacks.model_summary=null"]


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> Path:
    """An empty MLflow sqlite store, created once (creating one takes seconds: schema migrations)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def store_uri(empty_store, tmp_path) -> str:
    """A fresh copy of the empty store as `<tmp_path>/mlflow.db` (the project's default location)."""
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path}/mlflow.db"


def test_experiments_are_tagged_for_the_model_training_view_keeping_a_users_kind(store_uri, tmp_path):
    from mlflow.tracking import MlflowClient

    from neurobolts.plugins.mlflow_tracking import EXPERIMENT_KIND_TAG, mlflow_logger

    uri = store_uri
    client = MlflowClient(uri)
    client.create_experiment("chosen", tags={EXPERIMENT_KIND_TAG: "genai_development"})
    for name in ("fresh", "chosen"):
        logger = mlflow_logger(name, uri, artifact_dir=str(tmp_path / "art"))
        logger.log_hyperparams({"a": 1})
        logger.finalize("success")
    assert client.get_experiment_by_name("fresh").tags[EXPERIMENT_KIND_TAG] == "custom_model_development"
    assert client.get_experiment_by_name("chosen").tags[EXPERIMENT_KIND_TAG] == "genai_development"


# --- ckpt_path=latest / a run directory ---------------------------------------------------------------

def _fake_run(runs: Path, name: str, age_s: float) -> Path:
    ckpt = runs / name / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"")
    stamp = time.time() - age_s
    os.utime(ckpt, (stamp, stamp))
    return ckpt


def test_ckpt_path_latest_and_run_directories_resolve_to_a_checkpoint_file(make_cfg, tmp_path):
    from neurobolts.plugins.pipeline import _check_checkpoint_file

    runs = tmp_path / "logs" / "diffusion_bumps" / "runs"
    older = _fake_run(runs, "2026-01-02_00-00-00", age_s=300)
    newer = _fake_run(runs, "2026-01-01_00-00-00", age_s=100)  # written last, though its name sorts first
    own = _fake_run(runs, "2026-01-03_00-00-00", age_s=0)  # this run's own directory: never chosen
    (runs / "2026-01-04_00-00-00").mkdir()  # a run without checkpoints

    def resolve(value, latest=True, own_dir=own.parent.parent):
        cfg = make_cfg(["experiment=diffusion_bumps", f"ckpt_path={value}"])
        with open_dict(cfg):
            cfg.paths.output_dir = str(own_dir)
        return _check_checkpoint_file(cfg, latest=latest), cfg.ckpt_path

    assert resolve("latest") == (str(newer), str(newer))  # written back into the config
    assert resolve(older.parent.parent)[0] == str(older)  # a run directory
    assert resolve(older.parent)[0] == str(older)  # its checkpoints/ directory
    assert resolve(older)[0] == str(older)  # a file, as given
    with pytest.raises(ConfigError, match=r"is a directory without a checkpoint: searched .*2026-01-04_00-00-00"):
        resolve(runs / "2026-01-04_00-00-00")
    with pytest.raises(ConfigError, match="ckpt_path=latest resumes a training"):
        resolve("latest", latest=False)  # eval/predict: a file or a run directory
    for ckpt in (older, newer):
        ckpt.unlink()
    with pytest.raises(ConfigError, match=r"ckpt_path=latest found no checkpoint: searched "
                                          rf"{runs}/\*/checkpoints/last.ckpt \(the runs of task_name='diffusion_bumps'"):
        resolve("latest")


def test_ckpt_path_latest_continues_the_newest_run_in_its_mlflow_run(make_cfg, store_uri, tmp_path):
    from mlflow.tracking import MlflowClient

    from neurobolts.plugins.mlflow_tracking import EXPERIMENT_KIND_TAG
    from neurobolts.plugins.pipeline import train

    uri = store_uri
    runs = tmp_path / "logs" / "diffusion_bumps" / "runs"

    def cfg_in(run_dir: Path, *overrides: str):
        cfg = make_cfg([*TINY, f"logger.mlflow.tracking_uri={uri}", *overrides])
        with open_dict(cfg):
            cfg.paths.output_dir = str(run_dir)
        return cfg

    _, first = train(cfg_in(runs / "2026-01-01_00-00-00", "trainer.max_steps=2"))
    run_id = first["loggers"][0].run_id
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("diffusion_bumps")
    assert experiment.tags[EXPERIMENT_KIND_TAG] == "custom_model_development"  # MLflow's model-training view

    cfg = cfg_in(runs / "2026-01-01_00-05-00", "trainer.max_steps=4", "ckpt_path=latest")
    _, resumed = train(cfg)
    assert cfg.ckpt_path == str(runs / "2026-01-01_00-00-00" / "checkpoints" / "last.ckpt")
    assert resumed["trainer"].global_step == 4
    assert resumed["loggers"][0].run_id == run_id  # the same MLflow run, continued
    assert [r.info.run_id for r in client.search_runs([experiment.experiment_id])] == [run_id]
    assert client.get_run(run_id).info.status == "FINISHED"
    # the global step continues: every training step logged once, 1-2 by the first start, 3-4 resumed
    assert [m.step for m in client.get_metric_history(run_id, "train/loss")] == [0, 1, 2, 3]
    assert [m.step for m in client.get_metric_history(run_id, "gen/frac_C")] == [2, 4]
    resumed_configs = [a.path for a in client.list_artifacts(run_id, "config") if "resumed_" in a.path]
    assert len(resumed_configs) == 2, resumed_configs  # config/resumed_<time>.yaml and its overrides
    text = client.download_artifacts(run_id, next(p for p in resumed_configs if p.endswith(".yaml")), str(tmp_path))
    assert "ckpt_path: " + cfg.ckpt_path in Path(text).read_text()


# --- the parent run of a multirun --------------------------------------------------------------------

def test_seed_multirun_writes_a_parent_run_with_mean_and_std(store_uri, tmp_path, monkeypatch):
    """`train.py -m experiment=diffusion_bumps seed=0,1` (Hydra's basic launcher, in this process; the
    default store `<NEUROBOLTS_ROOT>/mlflow.db`)."""
    from mlflow.tracking import MlflowClient

    from neurobolts.plugins.cli import train_main
    from neurobolts.plugins.multirun_parent import PARENT_RUN_ENV

    monkeypatch.setenv("NEUROBOLTS_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(sys, "argv", ["train.py", "-m", *TINY, "seed=0,1", "trainer.max_steps=2",
                                      f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    GlobalHydra.instance().clear()
    try:
        train_main()
    finally:
        GlobalHydra.instance().clear()
    assert PARENT_RUN_ENV not in os.environ  # exported for the jobs only

    client = MlflowClient(store_uri)
    experiment = client.get_experiment_by_name("diffusion_bumps")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("neurobolts.kind") == "multirun"]
    children = [r for r in runs if r.info.run_id != parent.info.run_id]
    assert len(children) == 2 and parent.info.status == "FINISHED"
    assert {r.data.tags.get("mlflow.parentRunId") for r in children} == {parent.info.run_id}
    assert sorted(r.data.params["seed"] for r in children) == ["0", "1"]
    assert "seed=0,1" in parent.data.tags["neurobolts.sweep"].split()
    summary = parent.data.metrics
    assert summary["multirun/finished"] == 2
    spread = 0
    for key in children[0].data.metrics:
        values = [r.data.metrics[key] for r in children if math.isfinite(r.data.metrics[key])]
        assert summary[f"{key}_n"] == len(values), key  # NaN (e.g. no sample in a class) is not counted
        if len(values) < 2:
            assert f"{key}_std" not in summary, key
            continue
        assert summary[f"{key}_mean"] == pytest.approx(statistics.mean(values), rel=1e-9, abs=1e-12), key
        assert summary[f"{key}_std"] == pytest.approx(statistics.stdev(values), rel=1e-9, abs=1e-12), key
        spread += summary[f"{key}_std"] > 0
    assert spread > 0  # the seeds differ: the check compares real spreads, not zeros


def test_parent_run_fails_naming_the_failed_jobs_and_leaves_them_out_of_the_statistics(make_cfg, store_uri,
                                                                                         monkeypatch):
    """The callback's hooks in the order Hydra calls them; the jobs' loggers come from the config's own
    `logger.mlflow` node, which reads the parent's id from the environment."""
    from hydra.core.utils import JobReturn, JobStatus
    from mlflow.tracking import MlflowClient

    from neurobolts.plugins.instantiate import instantiate_node
    from neurobolts.plugins.multirun_parent import PARENT_RUN_ENV, MultirunParentRun

    monkeypatch.delenv(PARENT_RUN_ENV, raising=False)
    uri = store_uri
    cfg = make_cfg(["experiment=diffusion_bumps", f"logger.mlflow.tracking_uri={uri}"])
    client = MlflowClient(uri)

    def job(number: int) -> OmegaConf:
        return OmegaConf.create({"hydra": {"job": {"num": number}, "overrides": {"task": [f"seed={number}"]}}})

    callback = MultirunParentRun()
    callback.on_multirun_start(cfg)
    assert os.environ[PARENT_RUN_ENV] == callback.run_id
    copy = pickle.loads(pickle.dumps(callback))  # as launchers that run jobs elsewhere send it (joblib, submitit)
    assert copy.run_id == callback.run_id and copy.client.get_run(copy.run_id).info.status == "RUNNING"
    for number, (loss, status) in enumerate([(0.5, "success"), (0.9, "failed")]):
        callback.on_job_start(job(number), task_function=None)
        logger = instantiate_node(cfg.logger.mlflow, "logger.mlflow")
        logger.log_hyperparams({"seed": number})
        logger.log_metrics({"val/loss": loss}, step=1)
        logger.finalize(status)
        assert client.get_run(logger.run_id).data.tags["mlflow.parentRunId"] == callback.run_id
        error = JobReturn(status=JobStatus.FAILED if status == "failed" else JobStatus.COMPLETED,
                          _return_value=RuntimeError("diverged") if status == "failed" else 1.0)
        callback.on_job_end(job(number), job_return=error)
    callback.on_multirun_end(cfg)
    parent = client.get_run(callback.run_id)
    assert parent.info.status == "FAILED" and PARENT_RUN_ENV not in os.environ
    failed = parent.data.tags["neurobolts.failed_jobs"].splitlines()
    assert failed[0] == "job 1 (seed=1): RuntimeError: diverged"
    assert failed[1].startswith("run ") and failed[1].endswith(": FAILED")
    # only the finished job's values: no spread from one run
    assert parent.data.metrics["val/loss_mean"] == 0.5 and parent.data.metrics["val/loss_n"] == 1
    assert "val/loss_std" not in parent.data.metrics and parent.data.metrics["multirun/finished"] == 1

    # a sweep that stops on an error never reaches on_multirun_end: the parent ends when the process exits
    stopped = MultirunParentRun()
    stopped.on_multirun_start(cfg)
    stopped.on_job_start(job(0), task_function=None)
    stopped._end_at_exit()
    run = client.get_run(stopped.run_id)
    assert run.info.status == "FAILED" and run.data.tags["neurobolts.failed_jobs"] == "job 0 (seed=0) did not finish"


@pytest.mark.slow
def test_jobs_in_other_processes_are_nested_under_the_parent(tmp_path):
    """`hydra/launcher=submitit_local` (the SLURM launcher's local twin: each job a process of its own,
    the callbacks pickled to it): the jobs read the parent's id from the environment they inherit."""
    import subprocess

    from conftest import PROJECT_ROOT
    from mlflow.tracking import MlflowClient

    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(NEUROBOLTS_ROOT=str(tmp_path), PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "train.py", "-m", "hydra/launcher=submitit_local", *TINY,
                           "trainer.max_steps=2", "seed=0,1"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("diffusion_bumps").experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("neurobolts.kind") == "multirun"]
    children = [r for r in runs if r is not parent]
    assert len(children) == 2 and {r.data.tags.get("mlflow.parentRunId") for r in children} == {parent.info.run_id}
    assert parent.info.status == "FINISHED" and parent.data.metrics["multirun/finished"] == 2
    losses = [r.data.metrics["train/loss"] for r in children]
    assert parent.data.metrics["train/loss_mean"] == pytest.approx(statistics.mean(losses), rel=1e-9)
