"""The bad-input catalogue (issue 9, item 6): one place listing the bad inputs a user can give, each
with the clear error it must raise, naming the field, the bad value and what was expected.

Every entry is a parametrize case with an id naming it, so
`pytest --collect-only -q tests/test_bad_input_catalogue.py` counts the catalogue. Config entries go
through the Hydra Compose API (`make_cfg`) and `plugins.pipeline.build` (instantiation only, nothing
trains); one entry goes through the `train.py` command line. Function and callback entries call the
public functions or the callback's hooks directly with a small model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import PROJECT_ROOT
from hydra.errors import MissingConfigException
from lightning.pytorch import LightningModule
from torch import nn
from torch.utils.data import TensorDataset

from neurobolts.plugins.instantiate import ConfigError
from neurobolts.plugins.pipeline import build

NO_SIDE_EFFECTS = ["logger=none", "callbacks=none", "trainer.enable_progress_bar=false"]

# ------------------------------------------------------------------------------------------------
# 1. Config groups that do not exist: Hydra names the group, the bad option and lists the choices.
# ------------------------------------------------------------------------------------------------
UNKNOWN_GROUP_OPTIONS = [
    pytest.param("experiment=diffusion_bumpz", r"Could not find 'experiment/diffusion_bumpz'(.|\n)*diffusion_bumps",
                 id="unknown-experiment"),
    pytest.param("trainer=tpu_pod", r"Could not find 'trainer/tpu_pod'(.|\n)*ddp_cpu(.|\n)*multinode",
                 id="unknown-trainer"),
    pytest.param("logger=wandb", r"Could not find 'logger/wandb'(.|\n)*csv(.|\n)*mlflow", id="unknown-logger"),
    pytest.param("data=mnist", r"Could not find 'data/mnist'(.|\n)*align_kmnist", id="unknown-data"),
    pytest.param("model=resnet50", r"Could not find 'model/resnet50'(.|\n)*ibc_mlp", id="unknown-model"),
    pytest.param("callbacks=early_stop", r"Could not find 'callbacks/early_stop'(.|\n)*model_checkpoint",
                 id="unknown-callbacks"),
]


@pytest.mark.parametrize("override, match", UNKNOWN_GROUP_OPTIONS)
def test_unknown_config_group_option(make_cfg, override, match):
    overrides = [override] if override.startswith("experiment=") else ["experiment=diffusion_bumps", override]
    with pytest.raises(MissingConfigException, match=match):
        make_cfg(overrides)


def test_unknown_logger_on_the_command_line(tmp_path):
    """The one CLI entry: what a user typing `python train.py ...` sees (Hydra fails before any build)."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.run(
        [sys.executable, "train.py", "experiment=diffusion_bumps", "logger=wandb", f"paths.root_dir={tmp_path}"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    assert "Could not find 'logger/wandb'" in proc.stderr
    assert "mlflow" in proc.stderr and "csv" in proc.stderr, proc.stderr[-2000:]


# ------------------------------------------------------------------------------------------------
# 2. Config values of the wrong type or out of range: `build` fails before training with a
#    ConfigError naming the config group, the field, the bad value and what is allowed.
# ------------------------------------------------------------------------------------------------
BAD_CONFIG_VALUES = [
    # wrong types
    pytest.param("ibc_tasks", "seed=abc", r"seed must be an integer or null, got 'abc'", id="seed-not-an-integer"),
    pytest.param("diffusion_bumps", "trainer.max_steps=abc", r"trainer.max_steps must be an integer, got 'abc'",
                 id="trainer-max-steps-not-an-integer"),
    pytest.param("dsa_flipflop", "trainer.num_nodes=1.5", r"trainer.num_nodes must be an integer, got 1.5",
                 id="trainer-num-nodes-not-an-integer"),
    pytest.param("ibc_tasks", "data.batch_size=x",
                 r"`data` \(.*SphereTasksDataModule\).*batch_size must be an integer >= 1, got 'x'",
                 id="ibc-batch_size-string"),
    pytest.param("dsa_flipflop", "data.n_train=1.5",
                 r"`data` \(.*FlipFlopDataModule\).*n_train must be an integer >= 1, got 1.5",
                 id="flipflop-n_train-float"),
    pytest.param("align_add", "data.batch_size=x",
                 r"`data` \(.*AddTaskDataModule\).*batch_size must be an integer >= 1, got 'x'",
                 id="align-batch_size-string"),
    pytest.param("align_add", "model.width=x", r"`model` \(.*AlignModule\).*width must be an integer >= 1, got 'x'",
                 id="align-rnn-width-string"),
    # out of range
    pytest.param("diffusion_bumps", "data.sigma=-1.0", r"`data`.*sigma must be a finite number > 0, got -1.0",
                 id="negative-sigma"),
    pytest.param("diffusion_bumps", "data.subsample_fraction=1.5",
                 r"`data`.*subsample_fraction must be a finite number in \(0, 1\], got 1.5", id="subsample-lambda-above-1"),
    pytest.param("dsa_flipflop", "data.pulse_probability=1.5",
                 r"`data`.*pulse_probability must be a finite number in \(0, 1\), got 1.5", id="pulse-probability-above-1"),
    pytest.param("expander_hopfield", "data.flip_fraction=-0.1",
                 r"`data`.*flip_fraction must be a finite number in \[0, 1\], got -0.1", id="flip-fraction-negative"),
    pytest.param("dsa_attractors", "model.rank=0",
                 r"`model` \(.*AttractorSimilarityStudy\).*rank must be an integer >= 1, 'svht' or None, got 0",
                 id="dsa-rank-0"),
    pytest.param("dsa_attractors", "model.n_delays=0", r"`model`.*n_delays must be an integer >= 1, got 0",
                 id="dsa-n_delays-0"),
    pytest.param("dsa_attractors", "model.score_method=cosine",
                 r"`model`.*score_method must be one of \('angular', 'euclidean', 'wasserstein'\), got 'cosine'",
                 id="dsa-unknown-score-method"),
    pytest.param("dsa_attractors", "data.noise=-0.1", r"`data`.*noise must be a finite number > 0, got -0.1",
                 id="attractor-negative-noise"),
    pytest.param("ibc_tasks", "data.margin=10", r"`data`.*margin must be a finite number in \[0, radius=3.0\), got 10",
                 id="sphere-margin-beyond-radius"),
    pytest.param("expander_hopfield", "model.self_coupling=-1",
                 r"`model`.*self_coupling must be a finite number >= 0, got -1", id="negative-self-coupling"),
    pytest.param("dsa_flipflop", "model.hidden_size=0", r"`model`.*hidden_size must be an integer >= 1, got 0",
                 id="rnn-hidden-size-0"),
    # unknown choices
    pytest.param("dsa_flipflop", "model.cell=transformer",
                 r"`model`.*cell must be one of \('rnn_tanh', 'rnn_relu', 'gru', 'lstm'\), got 'transformer'",
                 id="unknown-rnn-cell"),
    pytest.param("align_add", "model.rule=magic",
                 r"`model`.*rule must be one of \('backprop', 'align_zero', 'align_ada'\), got 'magic'",
                 id="unknown-learning-rule"),
    pytest.param("diffusion_bumps", "trainer.accelerator=quantum", r"`trainer`.*quantum", id="unknown-accelerator"),
    pytest.param("diffusion_bumps", "ckpt_path=/nonexistent/last.ckpt",
                 r"ckpt_path='/nonexistent/last.ckpt' does not exist \(expected a checkpoint file",
                 id="resume-checkpoint-missing"),
]


@pytest.mark.parametrize("experiment, override, match", BAD_CONFIG_VALUES)
def test_bad_config_value_fails_before_training(make_cfg, experiment, override, match):
    cfg = make_cfg([f"experiment={experiment}", *NO_SIDE_EFFECTS, override])
    with pytest.raises(ConfigError, match=match):
        build(cfg)


EXPERIMENTS = sorted(path.stem for path in (PROJECT_ROOT / "configs" / "experiment").glob("*.yaml"))
NO_BATCH_SIZE = {"dsa_attractors", "farmap", "farmap_paper",  # one batch of all systems / one episode a batch
                 "far_curiosity_forgetting", "far_curiosity", "far_curiosity_atari",  # a walk in chunks / PPO rollouts
                 "map_induction", "map_induction_paper",  # one episode a batch
                 # one sampling seed a batch (the stages' batch sizes are model.*.batch_size)
                 *(f"ggs_{t}{v}" for t in ("aav_medium", "aav_hard", "gfp_medium", "gfp_hard", "ehrlich")
                   for v in ("", "_paper"))}


def test_only_the_listed_experiments_have_no_batch_size(make_cfg):
    assert {e for e in EXPERIMENTS if "batch_size" not in make_cfg([f"experiment={e}"]).data} == NO_BATCH_SIZE


@pytest.mark.parametrize("experiment", sorted(set(EXPERIMENTS) - NO_BATCH_SIZE))
def test_bool_batch_size_is_refused_by_every_datamodule(make_cfg, experiment):
    """`data.batch_size=true` is never read as 1: every DataModule refuses a bool where it wants an integer."""
    cfg = make_cfg([f"experiment={experiment}", *NO_SIDE_EFFECTS, "data.batch_size=true"])
    assert cfg.data.batch_size is True
    with pytest.raises(ConfigError, match=r"`data` \(.*\).*batch_size must be an integer >= 1, got True"):
        build(cfg)


# ------------------------------------------------------------------------------------------------
# 3. DataModules: missing data paths and a global batch that the world size does not divide.
# ------------------------------------------------------------------------------------------------
def _kmnist_missing(tmp_path):
    from neurobolts.datamodules import ImageClassificationDataModule

    ImageClassificationDataModule(dataset="kmnist", root=str(tmp_path / "no_such_dir")).setup("fit")


def _cifar_missing(tmp_path):
    from neurobolts.datamodules import ImageClassificationDataModule

    ImageClassificationDataModule(dataset="cifar10", root=str(tmp_path / "no_such_dir"), input_dim=3072).setup("fit")


def _idx_not_an_idx_file(tmp_path):
    from neurobolts.datamodules.align.image_archives import read_idx

    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"this is not an IDX archive")
    read_idx(path)


def _world_size_2(datamodule):
    datamodule.trainer = SimpleNamespace(world_size=2)
    datamodule.setup("fit")


def _flipflop_odd_batch(tmp_path):
    from neurobolts.datamodules import FlipFlopDataModule

    _world_size_2(FlipFlopDataModule(n_train=8, n_val=4, steps=10, batch_size=3, n_probe=2))


def _sphere_odd_batch(tmp_path):
    from neurobolts.datamodules import SphereTasksDataModule

    _world_size_2(SphereTasksDataModule(num_train=40, num_val=10, num_test=10, batch_size=7, eval_batch_size=10))


def _teacher_odd_batch(tmp_path):
    from neurobolts.datamodules import TeacherClassificationDataModule

    _world_size_2(TeacherClassificationDataModule(n_train=32, n_val=8, n_test=8, batch_size=5, eval_batch_size=8))


DATA_CASES = [
    pytest.param(_kmnist_missing, FileNotFoundError,
                 r"KMNIST files not found; searched: .*no_such_dir.*expected there: train-images-idx3-ubyte",
                 id="kmnist-root-missing"),
    pytest.param(_cifar_missing, FileNotFoundError,
                 r"CIFAR-10 \(python version\) files not found; searched: .*no_such_dir.*data_batch_1",
                 id="cifar10-root-missing"),
    pytest.param(_idx_not_an_idx_file, ValueError, r"train-images-idx3-ubyte is not an IDX file \(bad magic number",
                 id="idx-file-corrupt"),
    pytest.param(_flipflop_odd_batch, ValueError, r"data.batch_size=3 is not divisible by the world size 2",
                 id="flipflop-batch-vs-world-size"),
    pytest.param(_sphere_odd_batch, ValueError, r"data.batch_size=7 is not divisible by the world size 2",
                 id="sphere-batch-vs-world-size"),
    pytest.param(_teacher_odd_batch, ValueError, r"data.batch_size=5 is not divisible by the world size 2",
                 id="teacher-batch-vs-world-size"),
]


@pytest.mark.parametrize("call, error, match", DATA_CASES)
def test_bad_data_input(tmp_path, call, error, match):
    with pytest.raises(error, match=match):
        call(tmp_path)


# ------------------------------------------------------------------------------------------------
# 4. Analyses (pure functions): mismatched shapes, NaN, out-of-range and conflicting options.
# ------------------------------------------------------------------------------------------------
RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 4))
Y = RNG.normal(size=(40, 4))
X_NAN = X.copy()
X_NAN[3, 1] = np.nan


def _dsa(*args, **kwargs):
    from neurobolts.callbacks.dsa.similarity import dsa

    return dsa(*args, **kwargs)


def _manifold_metrics(*args, **kwargs):
    from neurobolts.callbacks.manifold.metrics import manifold_metrics

    return manifold_metrics(*args, **kwargs)


def _procrustes(*args, **kwargs):
    from neurobolts.callbacks.dsa.procrustes import procrustes_distance

    return procrustes_distance(*args, **kwargs)


def _mle(*args, **kwargs):
    from neurobolts.callbacks.inductive_bias.intrinsic_dimension import mle_intrinsic_dim

    return mle_intrinsic_dim(*args, **kwargs)


def _ibc_bits(target_error):
    from neurobolts.callbacks.inductive_bias.difficulty import classification_difficulty

    return classification_difficulty(n=1000, intrinsic_dim=3, radius=1.0, resolution=0.1,
                                     target_error=target_error, num_classes=2)


def _render(sigma):
    from neurobolts.datamodules.diffusion_bumps.bumps import render_bumps

    return render_bumps(torch.full((2, 2), 8.0), 16, sigma)


ANALYSIS_CASES = [
    pytest.param(lambda: _dsa((RNG.normal(size=(30, 4)), RNG.normal(size=(30, 5))), Y),
                 r"X: every trial must have the same number of neurons \(last dimension\), got \[4, 5\]",
                 id="dsa-neuron-count-differs-within-a-system"),
    pytest.param(lambda: _dsa(X, Y, rank=2, rank_thresh=0.1),
                 r"give at most one of rank, rank_thresh, rank_explained_variance.*got \['rank', 'rank_thresh'\]",
                 id="dsa-two-rank-options"),
    pytest.param(lambda: _dsa(X, Y, rank=0), r"rank must be an integer >= 1, 'svht' or None, got 0", id="dsa-rank-0"),
    pytest.param(lambda: _dsa(X, Y, n_delays=0), r"n_delays must be an integer >= 1, got 0", id="dsa-n_delays-0"),
    pytest.param(lambda: _dsa(X, Y, n_delays=50),
                 r"X: a trial has T=40 time steps, too few for n_delays=50.*need T >= .* = 50",
                 id="dsa-more-delays-than-time-steps"),
    pytest.param(lambda: _dsa(X, Y, rank_explained_variance=1.5),
                 r"rank_explained_variance must be a finite number in \(0, 1\] or None, got 1.5",
                 id="dsa-explained-variance-above-1"),
    pytest.param(lambda: _dsa(X, Y, lamb=-1.0), r"lamb must be a finite number >= 0, got -1.0", id="dsa-negative-ridge"),
    pytest.param(lambda: _dsa(X_NAN, Y), r"X contains NaN or infinite values; expected finite numbers", id="dsa-nan"),
    pytest.param(lambda: _dsa(np.zeros((2, 3, 4, 5)), Y),
                 r"X must have shape \(time, neurons\) or \(trials, time, neurons\), got shape \(2, 3, 4, 5\)",
                 id="dsa-4d-array"),
    pytest.param(lambda: _dsa([X, RNG.normal(size=(40, 6))]),
                 r"operators have different sizes \[4, 6\]: fix `rank`.*or pass zero_pad=True",
                 id="dsa-systems-of-different-sizes"),
    pytest.param(lambda: _manifold_metrics(X, Y[:30]),
                 r"latents and factors must have the same number of points, got 40 and 30",
                 id="manifold-latents-factors-length-mismatch"),
    pytest.param(lambda: _manifold_metrics(X, X_NAN), r"factors contains NaN or inf values in 1 of 40 rows",
                 id="manifold-nan-factors"),
    pytest.param(lambda: _manifold_metrics(X[:8], Y[:8], k=5), r"k=5 neighbours needs more than 10 probe points, got 8",
                 id="manifold-k-too-large-for-the-samples"),
    pytest.param(lambda: _procrustes(X, Y[:30]), r"X and Y must have the same number of samples, got 40 and 30",
                 id="procrustes-sample-count-mismatch"),
    pytest.param(lambda: _procrustes(X_NAN, Y), r"X contains NaN or infinite values", id="procrustes-nan"),
    pytest.param(lambda: _mle(X[:5], k=10), r"data must have more than k=10 samples for the MLE, got n=5",
                 id="mle-k-larger-than-sample-count"),
    pytest.param(lambda: _mle(X_NAN, k=5), r"data contains NaN or infinite values \(1 of 40 samples\)",
                 id="mle-nan"),
    pytest.param(lambda: _ibc_bits(1.5), r"target_error must be a finite number in \(0, 1\), got 1.5",
                 id="ibc-error-probability-above-1"),
    pytest.param(lambda: _render(-1.0), r"sigma_x must be a finite number > 0, got -1.0", id="bumps-negative-sigma"),
]


@pytest.mark.parametrize("call, match", ANALYSIS_CASES)
def test_bad_analysis_input(one_torch_thread, call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------------------------------
# 5. Probe-based callbacks: malformed probes, unknown layers, conflicting options.
# ------------------------------------------------------------------------------------------------
class TinyAutoEncoder(LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 2))
        self.decoder = nn.Linear(2, 6)

    def forward(self, x):
        return self.decoder(self.encoder(x))


class TinyRNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(3, 5, batch_first=True)
        self.readout = nn.Linear(5, 3)

    def forward(self, x):
        return self.readout(self.rnn(x)[0])


class TinyConvNet(nn.Module):
    """A layer whose output is an image batch, not (batch, time, units) hidden states."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1)

    def forward(self, x):
        return self.conv(x)


FAKE_TRAINER = SimpleNamespace(datamodule=None, global_step=0, loggers=[], is_global_zero=True)
FACTORS = torch.rand(20, 2)


def _lmo(**kwargs):
    from neurobolts.callbacks import LatentManifoldOrdering

    return LatentManifoldOrdering(**{"log_embedding": False, **kwargs})


def _lmo_measure(probe):
    _lmo(layer="encoder", probe=probe, k=3)._measure_on_rank_zero(FAKE_TRAINER, TinyAutoEncoder())


def _ds(**kwargs):
    from neurobolts.callbacks import DynamicalSimilarity

    return DynamicalSimilarity(**{"rank": 2, **kwargs})


def _ibc(**kwargs):
    from neurobolts.callbacks import InductiveBiasComplexity

    return InductiveBiasComplexity(**{"target_error": 0.1, **kwargs})


def _recall_curve(**kwargs):
    from neurobolts.callbacks import RecallCurve

    return RecallCurve(**kwargs)


CALLBACK_CASES = [
    pytest.param(lambda: _lmo(layer="encodr").setup(FAKE_TRAINER, TinyAutoEncoder(), "fit"), ValueError,
                 r"layer='encodr' is not a submodule of TinyAutoEncoder; available: encoder, encoder.0",
                 id="manifold-callback-unknown-layer"),
    pytest.param(lambda: _lmo_measure((torch.rand(20, 7), FACTORS)), ValueError,
                 r"the probe tensor\(20, 7\) float32 does not fit TinyAutoEncoder.forward.*shapes cannot be multiplied",
                 id="manifold-callback-probe-wrong-shape"),
    pytest.param(lambda: _lmo_measure((torch.randint(0, 3, (20, 6)), FACTORS)), ValueError,
                 r"the probe tensor\(20, 6\) int64 does not fit TinyAutoEncoder.forward.*dtype",
                 id="manifold-callback-probe-wrong-dtype"),
    pytest.param(lambda: _lmo_measure((torch.rand(20, 6), FACTORS[:12])), ValueError,
                 r"the probe gave 20 latents but 12 factor rows", id="manifold-callback-factor-rows-mismatch"),
    pytest.param(lambda: _lmo_measure(torch.rand(20, 6)), ValueError,
                 r"the probe must be a pair \(inputs, factors\)", id="manifold-callback-probe-not-a-pair"),
    pytest.param(lambda: _ds(layer="gru").setup(FAKE_TRAINER, TinyRNN(), "fit"), ValueError,
                 r"layer='gru' is not a submodule of TinyRNN; available: rnn, readout",
                 id="dsa-callback-unknown-layer"),
    pytest.param(lambda: _ds(layer="rnn").record_states(TinyRNN(), torch.rand(2, 4, 10, 3)), ValueError,
                 r"the probe tensor\(2, 4, 10, 3\) float32 does not fit TinyRNN.forward.*GRU",
                 id="dsa-callback-probe-4d"),
    pytest.param(lambda: _ds(layer="rnn").record_states(TinyRNN(), torch.rand(4, 10, 7)), ValueError,
                 r"the probe tensor\(4, 10, 7\) float32 does not fit TinyRNN.forward.*input.size\(-1\) must be "
                 r"equal to input_size",
                 id="dsa-callback-probe-wrong-feature-count"),
    pytest.param(lambda: _ds(layer="conv").record_states(TinyConvNet(), torch.rand(2, 1, 4, 4)), ValueError,
                 r"layer 'conv' returned a tensor of shape \(2, 2, 4, 4\), not a time series \(batch, time, units\)",
                 id="dsa-callback-layer-output-4d"),
    pytest.param(lambda: _ds(layer="rnn", rank=2, rank_explained_variance=0.9), ValueError,
                 r"give at most one of rank, rank_thresh, rank_explained_variance",
                 id="dsa-callback-two-rank-options"),
    pytest.param(lambda: _ibc(target_error=1.5), ValueError,
                 r"target_error must be a finite number in \(0, 1\), got 1.5", id="ibc-callback-target-error"),
    pytest.param(lambda: _ibc().collect(TensorDataset(torch.rand(10, 3), torch.rand(10))), ValueError,
                 r"labels must be integer class indices, got dtype torch.float32", id="ibc-callback-float-labels"),
    pytest.param(lambda: _ibc(input_key=5).collect(TensorDataset(torch.rand(10, 3), torch.zeros(10).long())),
                 ValueError, r"input_key=5 does not select an element of the train batch",
                 id="ibc-callback-input-key-missing"),
    pytest.param(lambda: _recall_curve(flip_fractions=[0.01, 1.5]), ValueError,
                 r"flip_fractions must be a non-empty list of numbers in \[0, 1\], got \[0.01, 1.5\]",
                 id="recall-callback-flip-fraction-above-1"),
    pytest.param(lambda: _recall_curve(sizes=[600, 1]), ValueError,
                 r"sizes must be a non-empty list of integers >= 2, got \[600, 1\]", id="recall-callback-size-1"),
    pytest.param(lambda: _recall_curve().on_test_end(FAKE_TRAINER, TinyAutoEncoder()), TypeError,
                 r"RecallCurve needs a module with build_memory\(n_neurons\); TinyAutoEncoder has none",
                 id="recall-callback-module-without-memory"),
]


@pytest.mark.parametrize("call, error, match", CALLBACK_CASES)
def test_bad_callback_input(one_torch_thread, call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_probe_errors_leave_the_model_as_it_was():
    """A rejected probe must not leave a forward hook or eval mode behind."""
    model = TinyAutoEncoder().train()
    with pytest.raises(ValueError, match="does not fit"):
        _lmo(layer="encoder", probe=(torch.rand(20, 7), FACTORS), k=3)._measure_on_rank_zero(FAKE_TRAINER, model)
    assert model.training and not model.encoder._forward_hooks
