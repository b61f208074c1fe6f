"""Runs shorter than one validation interval still end validated: metrics, a checkpoint of the last
step, exit code 0 (issue: `trainer.max_steps=60` against an interval of 250 trained, then failed on
`optimized_metric`). A sweep over a metric that no run logs still fails, naming the metric."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
import torch
from conftest import PROJECT_ROOT
from test_configs_and_pipeline import SMOKE_OVERRIDES

from neurobolts.plugins.experiments import available_experiments
from neurobolts.plugins.instantiate import ConfigError
from neurobolts.plugins.pipeline import optimized_metric, train

QUIET = ["logger=none", "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false",
         "callbacks.rich_progress_bar=null", "test=false"]
# experiments whose fast settings keep a step-based schedule (the interval is far above 3 steps)
STEP_BASED = ["diffusion_bumps", "diffusion_bumps_imbalanced", "align_wide", "align_add", "ibc_tasks", "dsa_flipflop"]
# one pass, no validation loop: a short run still ends with its metrics and a last checkpoint
NO_VALIDATION = {
    "far_curiosity": ["data.iterations=3", "data.num_envs=2", "model.num_steps=300", "model.obs_norm_init_steps=0"],
    "far_curiosity_forgetting": ["data.steps_per_phase=60", "data.chunk=30", "model.eval_every=30"],
}
SHORT = {
    "diffusion_bumps": ["model.sampling_steps=2"],
    "diffusion_bumps_imbalanced": ["model.sampling_steps=2"],
    "ibc_tasks": ["callbacks.inductive_bias_complexity.num_queries=400"],
    "dsa_flipflop": SMOKE_OVERRIDES["dsa_flipflop"],  # 64 sequences / batch 32: 3 steps end inside epoch 2
    "align_add": SMOKE_OVERRIDES["align_add"],
}


def test_the_short_run_list_covers_every_trained_experiment():
    # `train: false`: their test step runs a study, nothing is fitted (GGS fits its stages' models before
    # the test, each with its own epoch count: tests/test_ggs_pipeline.py)
    untrained = {"dsa_attractors", "farmap", "map_induction", "ggs_aav_medium", "ggs_aav_hard", "ggs_gfp_medium",
                 "ggs_gfp_hard", "ggs_ehrlich"}
    trained = {e for e in available_experiments() if not e.endswith("_paper")} - untrained - {"expander_hopfield"}
    # expander_hopfield is epoch-bounded (below); the FARCuriosity runs have no validation loop (one pass over
    # a walk or over PPO iterations, below); the Atari one needs a GPU (tests/test_far_curiosity_ppo.py)
    assert trained == set(STEP_BASED) | set(NO_VALIDATION) | {"far_curiosity_atari"}


@pytest.mark.parametrize("experiment", STEP_BASED)
def test_a_run_shorter_than_one_interval_validates_its_last_step(make_cfg, tmp_path, experiment):
    cfg = make_cfg([f"experiment={experiment}", "trainer.max_steps=3", *QUIET, *SHORT.get(experiment, [])])
    assert cfg.trainer.max_steps < (cfg.trainer.val_check_interval or float("inf")) or \
        cfg.trainer.check_val_every_n_epoch is not None
    metrics, objects = train(cfg)
    trainer = objects["trainer"]
    assert trainer.global_step == 3
    value = optimized_metric(cfg, metrics, required=True)  # what a sweeper would get
    assert value is not None and value == value
    checkpoints = sorted(p.name for p in (tmp_path / "output" / "checkpoints").glob("*.ckpt"))
    assert "last.ckpt" in checkpoints, checkpoints
    last = torch.load(tmp_path / "output" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 3


@pytest.mark.parametrize("experiment", sorted(NO_VALIDATION))
def test_a_short_run_without_validation_logs_its_metric(make_cfg, tmp_path, experiment):
    cfg = make_cfg([f"experiment={experiment}", *QUIET, *NO_VALIDATION[experiment]])
    metrics, _ = train(cfg)
    value = optimized_metric(cfg, metrics, required=True)  # what a sweeper would get
    assert value is not None and value == value
    if experiment == "far_curiosity":  # PPO keeps its state for a resume (ckpt_path=last)
        last = torch.load(tmp_path / "output" / "checkpoints" / "last.ckpt", weights_only=True)
        assert last["ppo_state"]["iteration"] == 3 and "far_curiosity" in last


def test_a_step_the_schedule_validates_is_validated_once(make_cfg):
    """max_steps a multiple of the interval: FinalValidation adds no second validation at the end."""
    from lightning.pytorch import Callback

    class CountValidations(Callback):
        steps: list[int] = []

        def on_validation_end(self, trainer, pl_module):
            if not trainer.sanity_checking:
                self.steps.append(trainer.global_step)

    counter = CountValidations()
    cfg = make_cfg(["experiment=ibc_tasks", "trainer.max_steps=10", "trainer.val_check_interval=5", *QUIET,
                    *SHORT["ibc_tasks"]])
    train(cfg, extra_callbacks=[counter])
    assert counter.steps == [5, 10]
    cfg = make_cfg(["experiment=ibc_tasks", "trainer.max_steps=7", "trainer.val_check_interval=5", *QUIET,
                    *SHORT["ibc_tasks"]])
    counter.steps = []
    train(cfg, extra_callbacks=[counter])
    assert counter.steps == [5, 7]  # the last step is validated although 7 is not a multiple of 5


def test_a_last_epoch_outside_the_epoch_schedule_is_validated(make_cfg):
    cfg = make_cfg(["experiment=dsa_flipflop", "trainer.max_epochs=3", "trainer.check_val_every_n_epoch=2",
                    *QUIET, *SHORT["dsa_flipflop"]])
    metrics, objects = train(cfg)
    assert objects["trainer"].current_epoch == 3 and "val/accuracy" in metrics


def test_a_missing_optimized_metric_warns_in_a_single_run_and_fails_in_a_sweep(make_cfg, caplog):
    cfg = make_cfg(["experiment=ibc_tasks", "optimized_metric=val/not_a_metric"])
    assert optimized_metric(cfg, {"val/acc": 0.5}) is None
    assert "optimized_metric='val/not_a_metric' was not logged" in caplog.text
    with pytest.raises(ConfigError, match=r"optimized_metric='val/not_a_metric' was not logged.*a sweep needs it"):
        optimized_metric(cfg, {"val/acc": 0.5}, required=True)


def cli(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONWARNINGS"] = "ignore"
    return subprocess.run([sys.executable, "train.py", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_short_ddp_cpu_run_exits_zero_and_a_sweep_over_an_unlogged_metric_fails(tmp_path):
    """The issue's two CLI cases: a short `trainer=ddp_cpu` run, and a multirun whose optimized_metric is
    never logged (a sweeper needs it: the job fails, naming the metric)."""
    short = cli(["experiment=diffusion_bumps", "trainer=ddp_cpu", "trainer.max_steps=4", "model.sampling_steps=2",
                 "logger=csv", "test=false", "trainer.enable_progress_bar=false", f"paths.root_dir={tmp_path}"])
    assert short.returncode == 0, short.stderr[-3000:]
    with open(next((tmp_path / "logs").rglob("metrics.csv"))) as f:
        steps = [int(row["step"]) for row in csv.DictReader(f) if row.get("gen/frac_C")]
    assert steps == [4]  # validated once, at the last step

    sweep = cli(["-m", "experiment=ibc_tasks", "optimized_metric=val/not_a_metric", "trainer.max_steps=2",
                 "logger=none", "test=false", "trainer.enable_progress_bar=false", "seed=0",
                 "callbacks.inductive_bias_complexity.num_queries=400", f"paths.root_dir={tmp_path}"])
    assert sweep.returncode != 0
    assert "optimized_metric='val/not_a_metric' was not logged" in sweep.stderr + sweep.stdout
