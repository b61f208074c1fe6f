"""Map Induction's effect on the episodes of `experiment=map_induction` (oracle 7.8, issue 18), with the
functions the reproduction report (`make reproduce`) calls: 3 repeated-room worlds + the control, 10
seeds, Uniform-, MAP- and D-POMCP at the CPU planner settings (200 tree queries, depth 15). All `slow`
(~1 min per observation mode on one core).

Measured (make reproduce, this machine): with a 3 x 3 view (`fixed_radius`) MAP-POMCP needs fewer
steps than Uniform-POMCP on every repeated world (137 vs 177, 108 vs 163, 103 vs 139; p = 0.001, 0.001,
0.002); D-POMCP only on repeated_1x4 (p = 0.011). With `room` observations no inductive agent is faster
(D-POMCP 83-100 vs Uniform 79-95 steps), and on the control D-POMCP is slower than Uniform (87 vs 80,
two-sided p = 0.004): the belief^4-weighted hypothesis rewards pull it along routes Uniform does not
take. The oracle's D-POMCP claim is kept below as a strict xfail: it does not reproduce here, and the
test says so if that changes."""

from __future__ import annotations

import pytest

from neurobolts.reproduce.map_induction import ALPHA, REPEATED, effect_study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fixed_radius():
    return {row["world"]: row for row in effect_study(mode="fixed_radius")["table"]}


def test_map_pomcp_beats_uniform_pomcp_on_repeated_worlds_with_a_small_view(fixed_radius):
    for world in REPEATED:
        row = fixed_radius[world]
        assert row["p_map_lt_uniform"] < ALPHA, row
        assert row["map_steps"] < row["uniform_steps"], row


@pytest.mark.xfail(strict=True, reason="does not reproduce at CPU scale (module docstring): D-POMCP is faster "
                                       "than Uniform-POMCP on one of the three repeated worlds only")
def test_dpomcp_beats_uniform_pomcp_on_every_repeated_world(fixed_radius):
    for world in REPEATED:
        assert fixed_radius[world]["p_dpomcp_lt_uniform"] < ALPHA, fixed_radius[world]


def test_the_cpu_experiment_fits_its_ten_minute_budget():
    run = effect_study(mode="room")
    assert run["wall_s"] < 600, run["wall_s"]
    assert len(run["episodes"]) == 4 * 10 * 3
