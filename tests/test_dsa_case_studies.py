"""DSA case studies: the attractor family (experiment=dsa_attractors) and the flip-flop task pieces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neurobolts.callbacks.dsa.network_comparison import cluster_separation
from neurobolts.callbacks.dsa.procrustes import procrustes_distance
from neurobolts.datamodules.dsa.attractor_dynamics import KINDS, attractor_family
from neurobolts.datamodules.dsa.flip_flop import FlipFlopDataModule, flip_flop_sequences
from neurobolts.lightning_modules.dsa.flip_flop_rnn import CELLS, FlipFlopRNN
from neurobolts.plugins.pipeline import train


def test_attractor_kinds_share_their_condition_averages():
    family = attractor_family(n_models=3, n_trials=40, steps=200, seed=1)
    assert family["trials"].shape == (9, 80, 200, 2) and family["averages"].shape == (9, 2, 200, 2)
    assert family["kind"].tolist() == [0, 1, 2] * 3 and family["model"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    avg = family["averages"]
    within = max(np.abs(avg[3 * m + k] - avg[3 * m]).max() for m in range(3) for k in (1, 2))
    between = min(np.abs(avg[3 * m] - avg[3 * n]).max() for m in range(3) for n in range(3) if m != n)
    assert within < 0.06 < between
    # the kinds differ in their single trials: the line attractor integrates noise, the point damps it
    spread = family["trials"][:3, :, -1, 0].reshape(3, 2, 40).std(axis=2).mean(axis=1)
    assert spread[1] > spread[2]


def test_attractor_family_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_models must be an integer >= 1"):
        attractor_family(n_models=0)
    with pytest.raises(ValueError, match="noise must be a finite number > 0"):
        attractor_family(noise=-1.0)


def test_procrustes_distance_is_rotation_invariant_and_bounded():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 4))
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    assert procrustes_distance(X, X @ Q + 3.0) < 1e-6
    assert 0 < procrustes_distance(X, rng.standard_normal((50, 4))) <= np.pi / 2
    with pytest.raises(ValueError, match="same number of samples"):
        procrustes_distance(X, X[:10])


def test_cluster_separation_on_perfect_clusters():
    labels = np.array([0, 0, 1, 1])
    D = np.array([[0, 1, 9, 9], [1, 0, 9, 9], [9, 9, 0, 1], [9, 9, 1, 0]], dtype=float)
    sep = cluster_separation(D, labels)
    assert abs(sep["silhouette"] - (1 - 1 / 9)) < 1e-12 and abs(sep["within_between"] - 1 / 9) < 1e-12


def test_dsa_separates_attractors_that_procrustes_cannot(make_cfg):
    cfg = make_cfg(["experiment=dsa_attractors", "logger=none", "trainer.enable_progress_bar=false"])
    metrics, objects = train(cfg)
    assert metrics["attractors/silhouette_dsa"] > 0.3
    assert metrics["attractors/silhouette_procrustes"] < 0.1
    assert metrics["attractors/silhouette_dsa"] > metrics["attractors/silhouette_procrustes"] + 0.3
    results = objects["model"].results
    assert results["dsa"].shape == (12, 12) and len(KINDS) == 3
    assert any(Path(cfg.paths.output_dir).rglob("distances.png"))


def test_flip_flop_targets_hold_the_last_pulse():
    inputs, targets = flip_flop_sequences(16, 50, n_bits=3, pulse_probability=0.1, seed=3)
    expected = torch.zeros_like(targets)
    for b in range(16):
        for c in range(3):
            held = 0.0
            for t in range(50):
                if inputs[b, t, c] != 0:
                    held = float(inputs[b, t, c])
                expected[b, t, c] = held
    assert torch.equal(targets, expected) and bool((targets != 0).all())


@pytest.mark.parametrize("cell", CELLS)
def test_flip_flop_rnn_cells(cell):
    model = FlipFlopRNN(cell=cell, hidden_size=8)
    x, _ = flip_flop_sequences(2, 10)
    assert model(x).shape == (2, 10, 3) and model.hidden_states(x).shape == (2, 10, 8)


def test_flip_flop_bad_arguments():
    with pytest.raises(ValueError, match="cell must be one of"):
        FlipFlopRNN(cell="transformer")
    with pytest.raises(ValueError, match=r"pulse_probability must be a finite number in \(0, 1\), got 1.5"):
        FlipFlopDataModule(pulse_probability=1.5)
