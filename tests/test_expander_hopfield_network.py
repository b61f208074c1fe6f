"""The expander Hopfield construction (docs/papers/expander_hopfield.md sections 2 and 7): GF(2) algebra,
Hamming local codes, the biregular graph, stored states, dynamics and their equivalent paths."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from neurobolts.callbacks.recall_curve.recall import run_to_fixed_point
from neurobolts.datamodules.expander_hopfield.bit_flips import (
    corrupt,
    flip_count,
    flip_masks,
    random_messages,
)
from neurobolts.lightning_modules.expander_hopfield.gf2 import (
    gf2_null_space_parametrisation,
    gf2_rank,
    gf2_row_reduce,
)
from neurobolts.lightning_modules.expander_hopfield.memory import build_memory
from neurobolts.lightning_modules.expander_hopfield.network import (
    ExpanderHopfieldNetwork,
    hamming_codewords,
    hamming_parity_check,
    random_biregular_windows,
    update_from_field,
)


def all_states(n: int) -> torch.Tensor:
    """(2^n, n) every 0/1 state."""
    codes = torch.arange(2**n).unsqueeze(1)
    return ((codes >> torch.arange(n)) & 1).float()


def random_codewords(net, count: int, seed: int = 0) -> torch.Tensor:
    return net.stored_states(random_messages(count, net.n_neurons, torch.Generator().manual_seed(seed)))


# ----------------------------------------------------------------------------------- GF(2)
@pytest.mark.parametrize("shape", [(3, 5), (6, 6), (8, 10), (12, 9), (5, 70)])
def test_gf2_rank_matches_the_null_space_size_by_enumeration(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(5):
        matrix = (rng.random(shape) < 0.4).astype(np.uint8)
        matrix[1] = matrix[0] ^ matrix[2 % shape[0]]  # force a dependent row
        rank = gf2_rank(matrix)
        free, pivots, pivot_from_free = gf2_null_space_parametrisation(matrix)
        assert free.size == shape[1] - rank and pivots.size == rank
        if shape[1] <= 12:
            xs = all_states(shape[1]).numpy().astype(np.int64)
            assert ((xs @ matrix.T) % 2 == 0).all(axis=1).sum() == 2 ** (shape[1] - rank)
        # every parametrised vector is a null vector, and distinct free bits give distinct vectors
        bits = rng.integers(0, 2, (32, free.size))
        x = np.zeros((32, shape[1]), dtype=np.int64)
        x[:, free] = bits
        x[:, pivots] = (bits @ pivot_from_free.T) % 2
        assert ((x @ matrix.T) % 2 == 0).all()


def test_gf2_row_reduce_gives_identity_on_pivots_and_spans_the_rows():
    rng = np.random.default_rng(1)
    matrix = (rng.random((40, 130)) < 0.1).astype(np.uint8)
    reduced, pivots = gf2_row_reduce(matrix)
    assert (reduced[:, pivots] == np.eye(pivots.size, dtype=np.uint8)).all()
    assert gf2_rank(np.vstack([reduced, matrix])) == pivots.size


def test_gf2_rejects_non_binary_input():
    with pytest.raises(ValueError, match="only 0 and 1"):
        gf2_rank(np.array([[0, 2]]))


# ---------------------------------------------------------------------------- local code
@pytest.mark.parametrize("r", [2, 3, 4])
def test_hamming_code_is_perfect_with_distance_three(r):
    z = 2**r - 1
    words = hamming_codewords(r)
    assert words.shape == (2 ** (z - r), z)
    assert ((words.long() @ hamming_parity_check(r).long().T) % 2 == 0).all()
    assert len(words.unique(dim=0)) == len(words)
    # a linear code: its minimum distance is the minimum weight of a nonzero codeword
    assert words.sum(dim=1).sort().values[1] == 3
    # perfect: the radius-1 balls around the codewords cover {0, 1}^z exactly once
    assert len(words) * (z + 1) == 2**z


# --------------------------------------------------------------------------------- graph
@pytest.mark.parametrize("n, degree, r", [(150, 3, 4), (600, 3, 4), (20, 3, 4), (14, 2, 3), (70, 2, 3)])
def test_structure_every_input_in_gamma_glomeruli_of_z_distinct_inputs_with_binary_weights(n, degree, r):
    """Oracle 5."""
    net = ExpanderHopfieldNetwork(n, hamming_r=r, degree=degree, generator=torch.Generator().manual_seed(n))
    net.check_structure()
    z = 2**r - 1
    assert net.windows.shape == (n * degree // z, z)
    assert torch.equal(torch.bincount(net.windows.reshape(-1), minlength=n), torch.full((n,), degree))
    weights = net.synaptic_weights()
    assert weights.shape == (2 ** (z - r), z)  # one hidden unit per local codeword, each with z inputs
    assert set(weights.unique().tolist()) == {-1.0, 1.0}


def test_biregular_wiring_differs_between_seeds_and_repeats_for_a_seed():
    a = random_biregular_windows(600, 3, 15, torch.Generator().manual_seed(0))
    b = random_biregular_windows(600, 3, 15, torch.Generator().manual_seed(0))
    c = random_biregular_windows(600, 3, 15, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_neurons": 601}, r"n_neurons \* degree must be divisible by the window size z=15"),
        ({"n_neurons": 10}, r"n_neurons must be an integer >= the window size z=15"),
        ({"n_neurons": 150, "hamming_r": 1}, r"hamming_r must be an integer >= 2, got 1"),
        ({"n_neurons": 150, "degree": 0}, r"degree must be an integer >= 1, got 0"),
        ({"n_neurons": 150, "self_coupling": -1.0}, r"self_coupling must be a finite number >= 0, got -1.0"),
        ({"n_neurons": 150, "decoder": "bp"}, r"decoder must be one of \('syndrome', 'wta'\), got 'bp'"),
        ({"n_neurons": 150, "wiring": "csr"}, r"wiring must be one of \('sparse', 'dense'\), got 'csr'"),
        ({"n_neurons": 150, "dynamics": "async"}, r"dynamics must be one of \('majority', 'adaptive'\)"),
    ],
)
def test_bad_network_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExpanderHopfieldNetwork(**kwargs)


# ------------------------------------------------------------------- stable states, rate
@pytest.mark.parametrize("n, degree, r", [(150, 3, 4), (600, 3, 4), (140, 2, 3), (210, 2, 3)])
def test_every_codeword_is_a_fixed_point(n, degree, r):
    """Oracle 1: 20/20 random global codewords are stored states and fixed points, also with
    lambda_self = 1."""
    for coupling in (0.0, 1.0):
        net = ExpanderHopfieldNetwork(n, hamming_r=r, degree=degree, self_coupling=coupling)
        states = random_codewords(net, 20)
        assert len(states.unique(dim=0)) == 20
        assert net.is_stored(states).all()
        assert torch.equal(net.step(states), states)


@pytest.mark.parametrize(
    "n, degree, r, rate", [(70, 2, 3, 1 / 7), (210, 2, 3, 1 / 7), (700, 2, 3, 1 / 7),
                           (150, 3, 4, 0.2), (600, 3, 4, 0.2), (2400, 3, 4, 0.2)],
)
def test_rate_is_the_tanner_bound_constant_in_n(n, degree, r, rate):
    """Oracle 2: log2(#codewords) / N = N - rank_GF(2)(H_global) over N, >= 1 - gamma r / z and equal
    to it for these random graphs (1/7 for Hamming(7,4), gamma = 2; 0.2 for Hamming(15,11), gamma = 3)."""
    net = ExpanderHopfieldNetwork(n, hamming_r=r, degree=degree)
    assert net.rate >= net.rate_bound - 1e-12
    assert net.log2_stored_states == round(rate * n)
    assert net.log2_stored_states == n - gf2_rank(net.global_parity_check().numpy())


@pytest.mark.parametrize(
    "n, degree, r", [(14, 2, 3), (14, 3, 3), pytest.param(20, 3, 4, marks=pytest.mark.slow)]
)
def test_stable_states_counted_exactly_by_enumeration(n, degree, r):
    """Issue item 1: enumerate all 2^N states. The states whose every window is a local codeword
    number exactly 2^(N - rank) = 2^(log2_stored_states) and all are fixed points. Under the adaptive
    dynamics they are the only fixed points: exactly 2^(N - rank) stable states. The spec's majority
    vote has many more (spurious) fixed points; they are counted (printed with `pytest -s`)."""
    majority = ExpanderHopfieldNetwork(n, hamming_r=r, degree=degree, generator=torch.Generator().manual_seed(3))
    adaptive = ExpanderHopfieldNetwork(n, hamming_r=r, degree=degree, dynamics="adaptive",
                                       generator=torch.Generator().manual_seed(3))
    codewords = fixed_majority = fixed_adaptive = 0
    for states in all_states(n).split(1 << 15):
        stored = majority.is_stored(states)
        stable_majority = (majority.step(states) == states).all(dim=1)
        stable_adaptive = (adaptive.step(states) == states).all(dim=1)
        codewords += int(stored.sum())
        fixed_majority += int(stable_majority.sum())
        fixed_adaptive += int(stable_adaptive.sum())
        assert stable_majority[stored].all()
        assert torch.equal(stable_adaptive, stored)
    assert codewords == fixed_adaptive == 2**majority.log2_stored_states
    assert majority.log2_stored_states >= round(majority.rate_bound * n)
    print(f"N={n} gamma={degree} Hamming(r={r}): {codewords} codewords = 2^{majority.log2_stored_states} "
          f"(Tanner bound 2^{majority.rate_bound * n:g}); adaptive: {fixed_adaptive} stable states; "
          f"majority: {fixed_majority} stable states ({fixed_majority - codewords} spurious)")


# ------------------------------------------------------------------------------ dynamics
@pytest.mark.parametrize("n, degree, r", [(150, 3, 4), (600, 3, 4), (70, 2, 3)])
def test_any_single_error_is_corrected_in_one_step(n, degree, r):
    """Oracle 4: flip each bit of a codeword in turn (so each error sits inside its windows alone)."""
    net = ExpanderHopfieldNetwork(n, hamming_r=r, degree=degree)
    target = random_codewords(net, 1)
    cues = corrupt(target.expand(n, -1), torch.eye(n, dtype=torch.bool))
    assert torch.equal(net.step(cues), target.expand(n, -1))


@pytest.mark.parametrize("dynamics", ["majority", "adaptive"])
@pytest.mark.parametrize("n, degree, r", [(14, 2, 3), (70, 2, 3), (210, 3, 3), (30, 3, 4)])
def test_explicit_wta_and_syndrome_decoding_give_identical_trajectories(n, degree, r, dynamics):
    """Oracle 7: from random states and from corrupted codewords, 6 parallel steps of the explicit
    hidden units + argmax and of syndrome decoding coincide, step by step."""
    generator = torch.Generator().manual_seed(n)
    syndrome = ExpanderHopfieldNetwork(n, hamming_r=r, degree=degree, dynamics=dynamics,
                                       generator=torch.Generator().manual_seed(5))
    wta = ExpanderHopfieldNetwork(n, hamming_r=r, degree=degree, decoder="wta", dynamics=dynamics,
                                  generator=torch.Generator().manual_seed(5))
    noisy = corrupt(random_codewords(syndrome, 32), flip_masks(32, n, 0.1, generator))
    x = torch.cat([random_messages(32, n, generator), noisy])
    y = x.clone()
    for _ in range(6):
        x, y = syndrome.step(x), wta.step(y)
        assert torch.equal(x, y)


@pytest.mark.parametrize("decoder, n, r", [("syndrome", 300, 4), ("wta", 70, 3)])
@pytest.mark.parametrize("dynamics", ["majority", "adaptive"])
def test_dense_wiring_gives_the_same_dynamics_as_sparse(decoder, n, r, dynamics):
    kwargs = {"decoder": decoder, "dynamics": dynamics, "hamming_r": r, "degree": 3}
    sparse = ExpanderHopfieldNetwork(n, **kwargs, generator=torch.Generator().manual_seed(2))
    dense = ExpanderHopfieldNetwork(n, wiring="dense", **kwargs, generator=torch.Generator().manual_seed(2))
    x = random_messages(50, n, torch.Generator().manual_seed(0))
    for _ in range(5):
        x_sparse, x = sparse.step(x), dense.step(x)
        assert torch.equal(x_sparse, x)


def test_ties_keep_the_current_state_and_self_coupling_adds_to_the_field():
    x = torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.0, 1.0]])
    field = torch.tensor([[0.0, 0.0, 2.0, 2.0, -1.0, -1.0]])
    assert update_from_field(x, field).tolist() == [[0.0, 1.0, 1.0, 1.0, 0.0, 0.0]]
    # a single error: both of its gamma = 2 windows vote to restore it
    net = ExpanderHopfieldNetwork(70, hamming_r=3, degree=2)
    target = random_codewords(net, 1)
    x = target.clone()
    x[0, 0] = 1 - x[0, 0]
    assert net.field(x)[0, 0] == (-2.0 if x[0, 0] == 1 else 2.0)
    coupled = ExpanderHopfieldNetwork(150, self_coupling=1.0)
    plain = ExpanderHopfieldNetwork(150)
    state = random_messages(8, 150, torch.Generator().manual_seed(1))
    assert torch.equal(coupled.field(state), plain.field(state) + (2 * state - 1))


def test_run_to_fixed_point_counts_steps_and_stops_at_the_cap():
    net = build_memory("expander", 600, seed=0)
    generator = torch.Generator().manual_seed(0)
    targets = net.stored_states(random_messages(100, 600, generator))
    cues = corrupt(targets, flip_masks(100, 600, 0.02, generator))
    result = run_to_fixed_point(net, cues, max_steps=30)
    assert result.converged.all()
    assert torch.equal(net.step(result.final), result.final)
    # replaying each cue for its own step count reaches the same state
    for i in range(10):
        x = cues[i : i + 1]
        for _ in range(int(result.steps[i])):
            x = net.step(x)
        assert torch.equal(x, result.final[i : i + 1])
    capped = run_to_fixed_point(net, cues, max_steps=1)
    moving = result.steps > 1
    assert moving.any() and (capped.steps <= 1).all() and not capped.converged[moving].any()


def test_flip_masks_flip_exactly_floor_pn_bits():
    masks = flip_masks(50, 600, 0.01, torch.Generator().manual_seed(0))
    assert (masks.sum(dim=1) == 6).all() and flip_count(150, 0.02) == 3 and flip_count(2400, 0.01) == 24
    assert len({tuple(row.nonzero().flatten().tolist()) for row in masks}) == 50
    with pytest.raises(ValueError, match=r"flip_fraction must be a finite number in \[0, 1\], got 1.5"):
        flip_count(10, 1.5)


def test_hamming_window_syndrome_is_the_error_position():
    net = ExpanderHopfieldNetwork(14, hamming_r=3, degree=2)
    target = random_codewords(net, 1)
    for g, j in itertools.product(range(net.n_windows), range(net.window)):
        x = target.clone()
        x[0, net.windows[g, j]] = 1 - x[0, net.windows[g, j]]
        assert net.window_syndromes(x)[0, g] == j + 1
