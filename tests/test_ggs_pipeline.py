"""The GGS experiment as users run it (issue 19): stages as nested MLflow runs with their artefacts, the
metrics outside checks read, stage reuse from the cache, `model.rerun`, bad input, and DDP sharing of the
seeds. Tiny settings on the Ehrlich task (no oracle CNN to train); the AAV and GFP experiments run as
fast_dev_runs in tests/test_configs_and_pipeline.py."""

from __future__ import annotations

import csv
import logging
import math

import pytest
from conftest import PROJECT_ROOT
from test_ddp_parity import run_cli

from neurobolts.plugins.instantiate import ConfigError
from neurobolts.plugins.pipeline import train

TINY = ["experiment=ggs_ehrlich", "callbacks=none", "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false", "data.num_seeds=2", "data.holdout_size=100",
        "data.ehrlich.num_train=300", "model.predictor.epochs=2", "model.smoothing.num_nodes=600",
        "model.smoothing.epochs=1", "model.sampler.rounds=2", "model.sampler.clusters=8", "model.sampler.proposals=5",
        "model.sampler.unsmoothed_proposals=5", "model.top_k=8"]
INTERFACE = ("ggs/median_fitness", "ggs/diversity", "ggs/novelty", "gwg/median_fitness",
             "ggs/holdout_mae_unsmoothed", "ggs/holdout_mae_smoothed")


def test_stages_are_nested_mlflow_runs_with_their_artefacts(make_cfg, tmp_path, one_torch_thread):
    from mlflow.tracking import MlflowClient

    cfg = make_cfg([*TINY, "logger=mlflow"])
    metrics, objects = train(cfg)
    for name in INTERFACE:
        assert math.isfinite(metrics[name]), (name, metrics.get(name))
    assert metrics["ggs/seeds"] == 2
    task_run = objects["loggers"][0].run_id
    client = MlflowClient(cfg.logger.mlflow.tracking_uri)
    run = client.get_run(task_run)
    assert set(INTERFACE) <= set(run.data.metrics)
    assert run.data.params["model/sampler/acceptance"] == "textbook"  # the acceptance mode is logged with the run
    children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{task_run}'")
    stages = {child.info.run_name: child for child in children}
    assert set(stages) == {"predictor", "smoothing", "smoothed_predictor", "sampling"}  # Ehrlich: no oracle CNN
    artefacts = {child: [a.path for a in client.list_artifacts(stages[child].info.run_id, folder)]
                 for child, folder in (("smoothing", "smoothed_labels"), ("sampling", "samples"),
                                       ("predictor", "checkpoints"))}
    assert artefacts["smoothing"] == ["smoothed_labels/smoothed.csv"]
    assert {f"samples/{m}_seed{s}_pairs.csv" for m in ("ggs", "gwg", "random") for s in (0, 1)} <= set(artefacts["sampling"])
    assert artefacts["predictor"], "the predictor's checkpoint is an artefact of its run"
    assert stages["smoothing"].data.metrics["nodes"] == 600
    assert "ggs/1" not in stages["sampling"].data.metrics  # per-seed numbers are logged by method
    assert {"ggs/median_fitness", "gwg/median_fitness"} <= set(stages["sampling"].data.metrics)


def test_a_second_run_reuses_the_stages_and_rerun_recomputes_one(make_cfg, caplog, one_torch_thread):
    caplog.set_level(logging.INFO, logger="neurobolts.lightning_modules.ggs.stages")
    train(make_cfg([*TINY, "logger=none", "model.methods=[ggs]"]))
    assert "reusing" not in caplog.text
    caplog.clear()
    # another temperature: only the sampling changes, every stage before it is reused
    metrics, _ = train(make_cfg([*TINY, "logger=none", "model.methods=[ggs]", "model.sampler.temperature=0.5"]))
    assert caplog.text.count("reusing") == 3, caplog.text
    assert math.isfinite(metrics["ggs/median_fitness"])
    caplog.clear()
    train(make_cfg([*TINY, "logger=none", "model.methods=[ggs]", "model.rerun=[smoothing]"]))
    assert "GGS stage smoothing: reusing" not in caplog.text and "GGS stage smoothing: 600 nodes" in caplog.text
    caplog.clear()
    # a new predictor setting reaches the stages after it: predictor, smoothing and smoothed predictor rerun
    train(make_cfg([*TINY, "logger=none", "model.methods=[ggs]", "model.predictor.epochs=1"]))
    assert "reusing" not in caplog.text


@pytest.mark.parametrize("override, match", [
    ("data.task=aav_easy", r"task must be one of .*aav_medium"),
    ("model.smoothing.gamma=-1", r"smoothing.gamma must be .*>= 0.*-1"),
    ("model.sampler.temperature=0", r"sampler.temperature must be .*> 0"),
    ("model.sampler.acceptance=greedy", r"sampler.acceptance must be one of"),
    ("model.rerun=[sampler]", r"rerun must be one of .*oracle"),
    ("data.root=/nonexistent/ggs", r"data.root"),
])
def test_bad_settings_fail_before_anything_is_trained(make_cfg, override, match):
    with pytest.raises(ConfigError, match=match):
        train(make_cfg(["experiment=ggs_aav_hard", "logger=none", override]))


def test_the_gfp_tasks_name_the_missing_ground_truth(make_cfg):
    with pytest.raises(ConfigError, match=r"gfp_ground_truth"):
        train(make_cfg(["experiment=ggs_gfp_hard", "logger=none"]))


def test_a_ground_truth_without_the_expected_columns_is_refused(make_cfg, tmp_path):
    bad = tmp_path / "gt.csv"
    bad.write_text("seq,fitness\nAAAA,1.0\n")
    with pytest.raises(ConfigError, match=r"score"):
        train(make_cfg(["experiment=ggs_gfp_medium", "logger=none", f"data.gfp_ground_truth={bad}"]))


def test_under_ddp_the_seeds_are_shared_over_the_ranks(tmp_path):
    """`trainer=ddp_cpu`: both ranks run the stages (their fits synchronised), the 3 seeds are sampled
    2 + 1 on the two ranks, each once, and rank zero logs the means over all 3."""
    out = tmp_path / "ddp"
    overrides = [o for o in TINY if not o.startswith("data.num_seeds")]
    proc = run_cli(out, [*overrides, "logger=csv", "trainer=ddp_cpu", "data.num_seeds=3", "model.methods=[ggs]"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "csv" / "version_0" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    seeds = [float(r["ggs/seeds"]) for r in rows if r.get("ggs/seeds")]
    assert seeds == [3.0], seeds
    samples = sorted(p.name for p in (out / "ggs_samples").glob("*_pairs.csv"))
    assert samples == [f"ggs_seed{s}_pairs.csv" for s in range(3)], samples
    assert (PROJECT_ROOT / "train.py").exists()
