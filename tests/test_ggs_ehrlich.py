"""Ehrlich test functions and the Ehrlich GGS task (docs/papers/ggs.md section 3; Stanton et al. 2024)."""

from __future__ import annotations

import pytest
import torch

from neurobolts.datamodules.ggs.ehrlich import EhrlichFunction, ehrlich_task
from neurobolts.datamodules.ggs.sequences import encode
from neurobolts.datamodules.ggs.tasks import load_task

SHAPES = [(32, 4, 4), (32, 2, 4), (64, 3, 4), (128, 4, 4), (16, 4, 4)]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("length", "num_motifs", "motif_length"), SHAPES)
def test_optimum_is_one_and_feasible(seed, length, num_motifs, motif_length):
    function = EhrlichFunction(length=length, num_motifs=num_motifs, motif_length=motif_length, seed=seed)
    optimum = function.optimal_solution()
    assert optimum.shape == (1, length) and optimum.dtype == torch.long
    assert function(optimum).tolist() == [1.0]  # exact: a product of 1.0s
    assert function.is_feasible(optimum).item()
    # every spaced motif fits into its block of L // c positions
    assert int(function.spacings[:, -1].max()) < length // num_motifs
    assert (function.spacings.diff(dim=1) >= 1).all()


def test_transition_matrix_is_a_sparse_ergodic_dmp():
    function = EhrlichFunction(seed=3)
    matrix = function.transition_matrix
    assert matrix.shape == (20, 20)
    torch.testing.assert_close(matrix.sum(dim=1), torch.ones(20, dtype=torch.float64))
    banned = (matrix == 0).sum(dim=1)
    assert (banned >= 1).all() and (banned <= 3).all()  # a band of 17 allowed states plus the diagonal
    assert (matrix.diagonal() > 0).all()
    assert (torch.linalg.matrix_power(matrix, 19 ** 2 + 1) > 0).all()


def test_infeasible_sequences_score_minus_infinity():
    function = EhrlichFunction(seed=1)
    optimum = function.optimal_solution()
    banned_from, banned_to = map(int, (function.transition_matrix == 0).nonzero()[0])
    broken = optimum.clone()
    broken[0, 10:12] = torch.tensor([banned_from, banned_to])
    assert function(broken).item() == float("-inf")
    assert not function.is_feasible(broken).item()
    # uniformly random sequences are almost all infeasible; DMP samples are always feasible
    generator = torch.Generator().manual_seed(0)
    uniform = torch.randint(20, (2000, 32), generator=generator)
    assert function.is_feasible(uniform).double().mean() < 0.1
    samples = function.sample_feasible(2000, generator)
    values = function(samples)
    assert torch.isfinite(values).all()
    assert ((values >= 0) & (values <= 1)).all()


@pytest.mark.parametrize(("quantization", "levels"), [(4, [0, 1 / 4, 2 / 4, 3 / 4, 1]), (2, [0, 1 / 2, 1]),
                                                      (1, [0, 1]), (3, [0, 1 / 3, 2 / 3, 1])])
def test_quantisation_levels(quantization, levels):
    function = EhrlichFunction(length=32, num_motifs=1, motif_length=4, quantization=quantization, seed=2)
    motif, offsets = function.motifs[0], function.spacings[0]
    absent = _absent_state(function)
    seen = set()
    # the first `matched` motif elements at their spaced positions, a state in no motif elsewhere
    for matched in range(5):
        sequence = torch.full((1, 32), absent)
        sequence[0, offsets[:matched]] = motif[:matched]
        presence = function.motif_presence(sequence)[0, 0].item()
        assert presence == int(matched * quantization / 4) / quantization  # exact: floor(.) / q
        seen.add(presence)
    assert sorted(seen) == pytest.approx(levels)
    assert function(function.optimal_solution()).item() == 1.0


def _absent_state(function: EhrlichFunction) -> int:
    """A state in no motif (so it adds no match anywhere)."""
    used = set(function.motifs.flatten().tolist())
    return next(s for s in range(function.num_states) if s not in used)


def test_values_of_feasible_sequences_are_products_of_levels():
    function = EhrlichFunction(seed=4)
    samples = function.sample_feasible(3000, torch.Generator().manual_seed(1))
    values = function(samples)
    presence = function.motif_presence(samples)
    assert set((presence * 4).flatten().tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    torch.testing.assert_close(values, presence.prod(dim=1))
    assert values.max() < 1.0  # random DMP samples do not solve the problem


def test_seeded_determinism():
    a, b, c = EhrlichFunction(seed=7), EhrlichFunction(seed=7), EhrlichFunction(seed=8)
    assert torch.equal(a.motifs, b.motifs) and torch.equal(a.spacings, b.spacings)
    assert torch.equal(a.transition_matrix, b.transition_matrix)
    assert not torch.equal(a.transition_matrix, c.transition_matrix)
    first = a.sample_feasible(50, torch.Generator().manual_seed(0))
    assert torch.equal(first, b.sample_feasible(50, torch.Generator().manual_seed(0)))
    assert torch.equal(a(first), b(first))


def test_argument_checks():
    with pytest.raises(ValueError, match=r"num_motifs \* motif_length must be <= length"):
        EhrlichFunction(length=15, num_motifs=4, motif_length=4)
    with pytest.raises(ValueError, match="quantization"):
        EhrlichFunction(motif_length=4, quantization=5)
    with pytest.raises(ValueError, match="num_states"):
        EhrlichFunction(num_states=1)
    function = EhrlichFunction()
    with pytest.raises(ValueError, match=r"tokens must be an integer tensor \(n, 32\)"):
        function(torch.zeros(3, 31, dtype=torch.long))
    with pytest.raises(ValueError, match=r"tokens must lie in \[0, 20\)"):
        function(torch.full((1, 32), 20))
    with pytest.raises(ValueError, match="max_train_fitness"):
        ehrlich_task(max_train_fitness=1.5)


def test_start_set_is_low_fitness(monkeypatch):
    task = ehrlich_task(num_train=500, holdout_size=500, seed=0)
    assert task.name == "ehrlich" and task.fitness_range == (0.0, 1.0) and task.negative_mean == 0.0
    assert task.oracle_data is None and task.num_states == 20 and task.length == 32
    assert task.train_tokens.shape == (500, 32) and len(task.train) == 500
    assert torch.equal(encode(task.train.sequences), task.train_tokens)
    exact = task.exact_oracle(task.train_tokens)
    assert exact.numpy().tolist() == task.train.scores.tolist()
    holdout = torch.from_numpy(task.holdout.scores)
    assert len(holdout) == 500 and torch.isfinite(holdout).all()
    # the lower quartile of DMP samples: below the holdout median, far from the optimum
    assert task.train.scores.max() <= holdout.median().item()
    assert task.train.scores.max() < 0.1
    assert task.train.scores.mean() < holdout.mean().item() / 2
    # with a threshold
    capped = load_task("ehrlich", num_train=200, max_train_fitness=0.01, holdout_size=0, seed=1)
    assert capped.train.scores.max() <= 0.01 and len(capped.train) == 200 and capped.holdout is None
    monkeypatch.setattr("neurobolts.datamodules.ggs.ehrlich._MAX_START_ROUNDS", 1)
    with pytest.raises(ValueError, match="max_train_fitness=0.0 is too low"):  # ~5 % of DMP samples score 0
        ehrlich_task(num_train=100, max_train_fitness=0.0, seed=0)
    again = ehrlich_task(num_train=500, holdout_size=500, seed=0)
    assert torch.equal(again.train_tokens, task.train_tokens)
