"""MLflow server mode: a real `mlflow server` on 127.0.0.1 (sqlite backend, local artifact store),
a run pointed at it through MLFLOW_TRACKING_URI, read back through the MLflow client; and the
fail-fast error when the server is not there (no silent fallback to a local store)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from neurobolts.plugins.instantiate import ConfigError
from neurobolts.plugins.pipeline import build, train

QUIET = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [str(mlflow_cli), "server", "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
         "--artifacts-destination", str(tmp_path / "server_artifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow server did not start: {proc.stderr.read()[-3000:]}") from None
                time.sleep(0.5)
        yield uri, tmp_path / "server_artifacts"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group (workers included)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_run_logs_to_a_real_mlflow_server(mlflow_server, make_cfg, monkeypatch):
    from mlflow.tracking import MlflowClient

    uri, artifact_root = mlflow_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    cfg = make_cfg(["experiment=diffusion_bumps", *QUIET, "trainer.max_steps=10", "trainer.val_check_interval=5",
                    "model.sampling_steps=2", "test=false", "callbacks.latent_manifold=null"])
    assert cfg.logger.mlflow.tracking_uri == uri
    _, objects = train(cfg)
    run_id = objects["loggers"][0].run_id

    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["trainer/max_steps"] == "10"
    assert [m.step for m in client.get_metric_history(run_id, "gen/frac_C")] == [5, 10]
    assert len({m.step for m in client.get_metric_history(run_id, "train/loss")}) == 10  # every step
    # artifacts went through the server into its artifact store, not into a local folder
    config_text = Path(client.download_artifacts(run_id, "config/config.yaml", str(Path(cfg.paths.output_dir)))).read_text()
    assert "diffusion_bumps" in config_text
    assert list(artifact_root.rglob("config.yaml")), "the server's artifact store holds no config.yaml"
    assert {a.path for a in client.list_artifacts(run_id, "checkpoints")} >= {"checkpoints/last.ckpt"}


def test_unreachable_server_from_the_environment_fails_at_once(make_cfg, monkeypatch, tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    cfg = make_cfg(["experiment=diffusion_bumps", *QUIET])
    start = time.monotonic()
    with pytest.raises(ConfigError, match=f"MLflow tracking server at {uri} is unreachable"):
        build(cfg)
    assert time.monotonic() - start < 30
    assert not (tmp_path / "mlflow.db").exists() and not list(tmp_path.rglob("mlruns"))  # no local fallback
