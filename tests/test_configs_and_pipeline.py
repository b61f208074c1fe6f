"""Hydra configs, the train pipeline and its errors (composed through the Compose API)."""

from __future__ import annotations

import pytest
import torch
from hydra.errors import MissingConfigException
from omegaconf import open_dict

from neurobolts.plugins.experiments import available_experiments
from neurobolts.plugins.instantiate import ConfigError
from neurobolts.plugins.pipeline import build, train

FAST = ["logger=none", "callbacks=none", "trainer.fast_dev_run=true", "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false"]


def test_packaged_experiments_are_discoverable():
    assert {"diffusion_bumps", "diffusion_bumps_imbalanced", "diffusion_bumps_paper"} <= set(available_experiments())


def test_searchpath_plugin_is_discovered_by_hydra():
    from hydra.core.plugins import Plugins
    from hydra.plugins.search_path_plugin import SearchPathPlugin

    names = [p.__name__ for p in Plugins.instance().discover(SearchPathPlugin)]
    assert "NeuroboltsSearchPathPlugin" in names


# GGS: one seed, a 4,000-node graph (more than any task's training set), 2 rounds of 8 parents x 5 proposals
GGS_SMOKE = ["data.num_seeds=1", "data.holdout_size=50", "model.smoothing.num_nodes=4000", "model.sampler.rounds=2",
             "model.sampler.clusters=8", "model.sampler.proposals=5", "model.sampler.unsmoothed_proposals=5",
             "model.top_k=8"]
# GFP sequences are 237 long: small batches, a 3,000-node graph (the training sets hold 2,828 and 2,426)
GGS_GFP_SMOKE = ["model.oracle.batch_size=64", "model.predictor.batch_size=64", "model.smoothing.batch_size=64",
                 "model.smoothing.num_nodes=3000"]
GGS_EXPERIMENTS = ("ggs_aav_medium", "ggs_aav_hard", "ggs_gfp_medium", "ggs_gfp_hard", "ggs_ehrlich")
# Extra overrides that shrink an experiment to a seconds-long CPU smoke run (paper-scale variants
# keep their architecture but run on the CPU in float32 with tiny batches).
SMOKE_OVERRIDES = {
    "diffusion_bumps_paper": ["trainer.accelerator=cpu", "trainer.precision=32-true", "data.batch_size=4",
                              "data.eval_batch_size=8", "model.sampling_steps=2", "data.eval_margin=12"],
    "expander_hopfield": ["model.n_neurons=150", "callbacks.recall_curve.sizes=[30]",
                          "callbacks.recall_curve.trials=4", "callbacks.recall_curve.capacity_loads=[0.1]",
                          "callbacks.recall_curve.capacity_size=30"],
    # KMNIST is not downloaded: the paper-scale MLP runs on the synthetic teacher data instead
    "align_wide_paper": ["trainer.accelerator=cpu", "data=align_teacher"],
    "align_add": ["data.steps=10"],
    "align_add_paper": ["trainer.accelerator=cpu", "data.batch_size=2", "data.eval_batch_size=2", "data.steps=10"],
    "dsa_attractors": ["data.n_models=2", "data.n_trials=4", "data.steps=200"],
    "dsa_flipflop": ["data.n_train=64", "data.n_val=16", "data.steps=30", "data.n_probe=4"],
    # one PPO iteration; short episodes so that one ends in it and the optimized metric exists
    "far_curiosity": ["data.num_envs=2", "model.num_steps=64", "model.obs_norm_init_steps=0",
                      "data.env_kwargs={max_episode_steps:40}"],
    # Atari on the CPU (ale-py and OpenCV come with the dev extra): Pong, preprocessing of spec 2.6
    "far_curiosity_atari": ["trainer.accelerator=cpu", "data.env=ALE/Pong-v5", "data.num_envs=2", "model.num_steps=16", "model.num_minibatches=2",
                            "model.obs_norm_init_steps=32", "model.lstm_hidden=64", "data.env_kwargs={max_episode_steps:12}"],
    "far_curiosity_forgetting": ["data.steps_per_phase=60", "data.chunk=30", "model.eval_every=30"],
    "map_induction": ["data.worlds=[repeated_2x2]", "data.seeds=[0]", "model.tree_queries=20", "model.max_depth=6"],
    "map_induction_paper": ["data.worlds=[repeated_3x3]", "data.seeds=[0]", "model.tree_queries=20",
                            "model.max_depth=6", "model.max_steps=60"],
    **{name: GGS_SMOKE + (GGS_GFP_SMOKE if "gfp" in name else []) for name in GGS_EXPERIMENTS},
    **{f"{name}_paper": [*GGS_SMOKE, *(GGS_GFP_SMOKE if "gfp" in name else []), "trainer.accelerator=cpu",
                         "model.smoothing.device=cpu"] for name in GGS_EXPERIMENTS},
}


@pytest.mark.parametrize("experiment", available_experiments())
def test_fast_dev_run_of_every_experiment(make_cfg, experiment, gfp_ground_truth_stand_in):
    # the GFP ground truth is not shipped: a generated stand-in of the right shape (conftest.py)
    gfp = [f"data.gfp_ground_truth={gfp_ground_truth_stand_in}"] if experiment.startswith("ggs_gfp") else []
    cfg = make_cfg([f"experiment={experiment}", *FAST, *SMOKE_OVERRIDES.get(experiment, []), *gfp])
    metrics, objects = train(cfg)
    assert objects["trainer"].state.finished
    if cfg.get("optimized_metric"):
        assert cfg.optimized_metric in metrics, sorted(metrics)


def test_default_experiment_matches_the_cpu_setup(make_cfg):
    cfg = make_cfg(["experiment=diffusion_bumps"])
    assert cfg.data.image_size == 16 and cfg.data.sigma == 1.0 and cfg.data.dx == 0.5
    assert cfg.model.num_timesteps == 200 and cfg.trainer.accelerator == "cpu"
    assert cfg.logger.mlflow.tracking_uri.startswith("sqlite:///")
    assert cfg.callbacks.model_checkpoint.monitor == "gen/frac_C"


def test_mlflow_tracking_uri_comes_from_the_environment(make_cfg, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    cfg = make_cfg(["experiment=diffusion_bumps"])
    assert cfg.logger.mlflow.tracking_uri == "http://127.0.0.1:5999"


def test_unknown_experiment_lists_the_available_ones(make_cfg):
    with pytest.raises(MissingConfigException) as info:
        make_cfg(["experiment=diffusion_bumpz"])
    assert "diffusion_bumps" in str(info.value) and "diffusion_bumpz" in str(info.value)


def test_unknown_trainer_lists_the_available_ones(make_cfg):
    with pytest.raises(MissingConfigException) as info:
        make_cfg(["experiment=diffusion_bumps", "trainer=tpu_pod"])
    assert "ddp_cpu" in str(info.value) and "multinode" in str(info.value)


@pytest.mark.parametrize(
    "override, match",
    [
        ("data.sigma=-1.0", r"`data`.*sigma must be a finite number > 0, got -1.0"),
        ("data.dx=0", r"`data`.*dx must be a finite number in \(0, image_size=16\], got 0"),
        ("data.subsample_fraction=1.5", r"`data`.*subsample_fraction must be a finite number in \(0, 1\], got 1.5"),
        ("data.image_size=18", r"`model`.*image_size must be a positive multiple of 4 .*downsamples it 2 times.*got 18"),
        ("model.sampler=euler", r"`model`.*sampler must be one of \('ddim', 'ddpm'\)"),
        ("seed=abc", r"seed must be an integer"),
        ("trainer.accelerator=quantum", r"`trainer`.*quantum"),
    ],
)
def test_bad_values_fail_before_training_naming_the_field(make_cfg, override, match):
    cfg = make_cfg(["experiment=diffusion_bumps", *FAST, override])
    with pytest.raises(ConfigError, match=match):
        build(cfg)


def test_missing_model_group_is_named(make_cfg):
    cfg = make_cfg(["experiment=diffusion_bumps", *FAST])
    with open_dict(cfg):
        cfg.model = None
    with pytest.raises(ConfigError, match="config `model` is missing"):
        build(cfg)


def test_learning_rate_monitor_is_dropped_without_a_logger(make_cfg):
    cfg = make_cfg(["experiment=diffusion_bumps", "logger=none", "trainer.fast_dev_run=true"])
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint

    callbacks = build(cfg)["callbacks"]
    assert not any(isinstance(c, LearningRateMonitor) for c in callbacks)
    assert any(isinstance(c, ModelCheckpoint) for c in callbacks)


def test_resume_from_last_checkpoint_with_weights_only(make_cfg, tmp_path):
    """Train 20 steps, resume to 30 from last.ckpt (torch.load weights_only=True)."""
    common = ["experiment=diffusion_bumps", "logger=none", "callbacks.rich_progress_bar=null",
              "callbacks.model_summary=null", "trainer.enable_progress_bar=false", "trainer.val_check_interval=10",
              "trainer.limit_val_batches=1", "data.eval_batch_size=16", "model.sampling_steps=2", "test=false"]
    metrics, objects = train(make_cfg([*common, "trainer.max_steps=20"]))
    assert objects["model"].generation_history["step"] == [10, 20]
    last = tmp_path / "output" / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=True)
    assert ckpt["global_step"] == 20 and ckpt["generation_history"]["step"] == [10, 20]

    metrics, objects = train(make_cfg([*common, "trainer.max_steps=30", f"ckpt_path={last}"]))
    assert objects["trainer"].global_step == 30
    assert objects["model"].generation_history["step"] == [10, 20, 30]
