"""Error correction by the network's own dynamics (issue 8 items 2-3; spec section 7 oracles 3, 6 and
the negative controls of section 5), and the Hebbian Hopfield baseline's capacity collapse.

The default run checks one graph per size with a few hundred trials; `-m slow` repeats the threshold
check on three graphs per size with 1,000 trials each."""

from __future__ import annotations

import pytest

from neurobolts.callbacks.recall_curve.recall import recall_trials
from neurobolts.lightning_modules.expander_hopfield.memory import build_memory

# the reproduction report (`make reproduce`) runs these same functions
from neurobolts.reproduce.expander_hopfield import (
    hebbian_at_half_load,
    majority_recall,
    recall_at_four_percent,
    recall_on_another_graph,
)

# the bar: P(exact recall) >= 0.95 at p = 1 % and >= 0.85 at p = 2 %, for N = 150, 600, 2400
BAR = {0.01: 0.95, 0.02: 0.85}


@pytest.mark.parametrize("n", [150, 600, 2400])
def test_finite_fraction_of_errors_is_corrected_at_every_size(n):
    """Oracle 3 (light), the experiment's network: Hamming(15,11), gamma = 3, lambda_self = 0, adaptive
    dynamics; one graph, 300 trials per point. Failures may only be unconverged cues (oscillations),
    never another codeword. README: "recovers every cue up to p = 4 % at N = 600 and 2400", asserted
    as stated (measured: exact recall 1.0 at p = 1, 2, 4 % for N = 600 and 2400; N = 150, for which
    the README claims nothing beyond the issue's bar, 1.0 / 0.993 at p = 1 / 2 %)."""
    net = build_memory("expander", n, seed=0, dynamics="adaptive")
    for p, bar in BAR.items():
        outcome = recall_trials(net, p, trials=300, seed=1)
        assert outcome["exact_recall"] >= (1.0 if n >= 600 else bar), (n, p, outcome)
        assert outcome["wrong_memory"] == 0.0 and outcome["spurious"] == 0.0
        # oracle 6: a few parallel steps (O(log N)), far below the cap of 30
        assert outcome["steps"] <= 4.0, (n, p, outcome)
    if n >= 600:  # p = 4 %: every cue too (mean steps 5.2 / 9.4 at N = 600 / 2400, so no step bound here)
        outcome = recall_trials(net, 0.04, trials=300, seed=1)
        assert outcome["exact_recall"] == 1.0, (n, outcome)


@pytest.mark.parametrize("n", [150, 600, pytest.param(2400, marks=pytest.mark.slow)])
def test_spec_majority_dynamics_reach_about_the_bar(n):
    """Oracle 3 for the spec's own update (3-vote majority): >= 0.95 at p = 1 % and about the 0.85 bar
    at p = 2 % (the spec's table: 0.93 / 0.88 / 0.93 from 40 trials; here 300 trials on one graph).
    Every failure ends in a spurious fixed point, never at another codeword. README: at the issue's
    85 % bar at p = 2 %; measured (seeded, deterministic) 0.937 / 0.903 / 0.867 at N = 150 / 600 / 2400
    and 1.0 / 0.98 / 0.987 at p = 1 %."""
    outcomes = majority_recall(n, trials=300)
    low, high = outcomes[0.01], outcomes[0.02]
    assert low["exact_recall"] >= 0.95, low
    assert high["exact_recall"] >= BAR[0.02], high
    for outcome in (low, high):
        assert outcome["unconverged"] == 0.0 and outcome["wrong_memory"] == 0.0
        assert outcome["exact_recall"] + outcome["spurious"] == pytest.approx(1.0)
        assert outcome["steps"] <= 4.0, outcome  # oracle 6


@pytest.mark.slow
@pytest.mark.parametrize("n", [150, 600, 2400])
@pytest.mark.parametrize("graph_seed", [1, 2, 3])
def test_finite_fraction_of_errors_is_corrected_on_several_graphs(n, graph_seed):
    """Oracle 3 (heavy): three more graphs per size, 1,000 trials per point, adaptive dynamics; and
    the spec's majority dynamics stay >= 0.95 at p = 1 %."""
    outcomes = recall_on_another_graph(n, graph_seed, trials=1000)
    for p, bar in BAR.items():
        outcome = outcomes["adaptive"][p]
        assert outcome["exact_recall"] >= bar, (n, graph_seed, p, outcome)
    majority = outcomes["majority"][0.01]
    assert majority["exact_recall"] >= 0.95, majority


@pytest.mark.slow
def test_adaptive_dynamics_threshold_does_not_shrink_with_n():
    """The curves do not shift left with N: at p = 4 % recall is at least as good at N = 2400 as at
    N = 150 (the transition sharpens)."""
    recall = recall_at_four_percent((150, 600, 2400), trials=200)
    # measured 1.0 at every N (200 cues each); the README's "every cue up to 4 %" at N = 600 and 2400
    assert recall[2400] >= recall[150] - 0.02 and recall[600] == recall[2400] == 1.0, recall


def test_weak_expansion_has_no_finite_fraction_threshold():
    """Negative control (spec section 5): Hamming(7,4) with gamma = 2 (2 votes per bit) corrects 2 % of
    the bits at N = 70 but not at N = 700: recovery falls with N (spec: 1.00, 0.60, 0.15)."""
    recall = {n: recall_trials(build_memory("expander", n, seed=0, hamming_r=3, degree=2), 0.02,
                               trials=400, seed=3)["exact_recall"] for n in (70, 210, 700)}
    assert recall[70] >= 0.9, recall
    assert recall[70] > recall[210] > recall[700], recall
    assert recall[700] <= 0.4, recall


def test_self_coupling_one_collapses_recovery():
    """Negative control (spec section 5): with lambda_self = 1 a wrong bit needs all 3 votes against it
    (spec, N = 2400: 0.00 at p = 1 %), while lambda_self = 0 recovers >= 0.95 on the same graph."""
    n = 2400
    coupled = recall_trials(build_memory("expander", n, seed=0, self_coupling=1.0), 0.01, trials=100, seed=4)
    plain = recall_trials(build_memory("expander", n, seed=0), 0.01, trials=100, seed=4)
    assert plain["exact_recall"] >= 0.95
    assert coupled["exact_recall"] <= 0.1, coupled


def test_hebbian_hopfield_collapses_beyond_its_linear_capacity():
    """The baseline at N = 600, cues at p = 1 %: K = 0.05 N patterns are recalled; beyond about 0.138 N
    the retrieval collapses (bit accuracy far below 1, exact recall near 0), whereas the expander
    network of the same N holds 2^120 states and recalls them."""
    n = 600
    inside = recall_trials(build_memory("hopfield", n, n_patterns=30), 0.01, trials=200, seed=5)
    beyond = recall_trials(build_memory("hopfield", n, n_patterns=180), 0.01, trials=200, seed=5)
    expander = build_memory("expander", n, seed=0)
    assert inside["exact_recall"] >= 0.95 and inside["bit_accuracy"] >= 0.999
    assert beyond["exact_recall"] <= 0.05 and beyond["bit_accuracy"] <= 0.9, beyond
    assert expander.log2_stored_states == 120
    assert recall_trials(expander, 0.01, trials=200, seed=5)["exact_recall"] >= 0.95


@pytest.mark.parametrize("n", [150, 600, pytest.param(2400, marks=pytest.mark.slow)])
def test_hopfield_of_the_same_size_fails_when_asked_to_store_half_as_many_patterns_as_neurons(n):
    """Issue item 2: the expander stores 2^(0.2 N) states (2^30 at N = 150); listing that many patterns
    is impossible, and a Hebbian network of the same N asked for only K = N / 2 fails at p = 1 %."""
    outcome = hebbian_at_half_load(n, trials=100)
    assert outcome["exact_recall"] <= 0.05, (n, outcome)
