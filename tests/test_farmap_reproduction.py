"""FARMap against Frontier on the episodes of `experiment=farmap` (docs/papers/farmap.md oracle 7.11, issue
16): active memory, coverage AUC, early coverage on map 100, agent speed.

`-m slow` runs the specification's CPU setup (maps 150-159, seeds 0 and 1, 2,000 steps: ~15 s of agent
work) and map 100 (10 seeds, 800 steps), with the functions the reproduction report (`make reproduce`)
calls. The default run checks the memory claim on a light version (maps 150-152, seed 0, 1,000 steps,
about a second).

Measured on the CPU setup (the numbers of the slow tests; 2-core machine, load ~4-5): mean active
memory 1,441 (FARMap) vs 2,864 (Frontier) cells, ratio 0.50, lower in 19 of 20 episodes (map 159 seed 1:
FARMap never fragments there, ratio 1.01); coverage AUC 0.891 vs 0.908 (diff -0.017, the bar is
-0.02: it holds by 0.003); steps to 90 % 552 vs 429. Map 100: steps to 90 % 145 vs 171, memory 1,035 vs
1,632."""

from __future__ import annotations

import pytest

# the reproduction report (`make reproduce`) runs these same functions
from neurobolts.reproduce.farmap import (
    AUC_MARGIN,
    REQUIRED_STEPS_PER_S,
    agent_speed,
    cpu_setup_comparison,
    map100_comparison,
)


def _episode_lines(summary: dict) -> str:
    return "\n".join(f"map {e['map_id']} seed {e['seed']}: memory {e['memory'][0]:.0f} vs {e['memory'][1]:.0f} "
                     f"(ratio {e['memory_ratio']:.2f}), AUC {e['auc'][0]:.3f} vs {e['auc'][1]:.3f} "
                     f"({e['auc_diff']:+.3f}), {e['fragmentations']:.0f} fragmentations"
                     for e in summary["episodes"])


@pytest.fixture(scope="module")
def cpu_setup():
    """Oracle 7.11's comparison: maps 150-159, seeds 0 and 1, 2,000 steps, both agents (20 episodes)."""
    return cpu_setup_comparison()


@pytest.mark.slow
def test_farmap_uses_less_active_memory_than_frontier_on_the_cpu_setup(cpu_setup):
    """Oracle 7.11, memory: FARMap's mean active memory (bounding box of the active local map) below
    Frontier's, over the 20 episodes. Per episode it is lower in 19 of 20 (measured; map 159 seed 1 has
    no fragmentation, so both agents hold the whole map): the per-episode table is printed (`-s`) and
    is the message of a failure."""
    print(_episode_lines(cpu_setup))
    assert cpu_setup["episodes_count"] == 20
    assert cpu_setup["memory_vs_frontier"] < 1.0, _episode_lines(cpu_setup)


@pytest.mark.slow
def test_farmap_coverage_auc_is_within_the_bar_of_frontier_on_the_cpu_setup(cpu_setup):
    """Oracle 7.11, coverage: FARMap's coverage AUC >= Frontier's - 0.02 (the specification's recommended
    bar). Measured 0.891 vs 0.908 (diff -0.017): it holds, narrowly (an earlier version of the agent
    measured 0.886 vs 0.915, which failed it). FARMap covers these looped room maps more slowly: a new
    fragment does not know what earlier fragments saw and the pose-based recall fires only on fracture
    lines, so the agent re-explores old territory entered by another way (docs/papers/farmap.md section
    6); it reaches 90 % later (552 vs 429 steps) and in 19 of 20 episodes (Frontier 20)."""
    means = cpu_setup["means"]
    print(_episode_lines(cpu_setup))
    assert cpu_setup["auc_diff"] >= -AUC_MARGIN, (means["farmap"]["coverage_auc"], means["frontier"]["coverage_auc"])


@pytest.mark.slow
def test_farmap_reaches_90_percent_coverage_sooner_on_map_100():
    """The reference run's picture on map 100 (spec section 6: 222 vs 334 steps to 90 %, one seed, 800
    steps): FARMap's mean over 10 seeds is below Frontier's (measured 145 vs 171; FARMap is faster in 7
    of 10 seeds), and its mean active memory is lower (measured 1,035 vs 1,632 cells, ratio 0.63; the
    reference's ~0.73)."""
    summary = map100_comparison()
    steps = summary["steps_to_90_per_seed"]
    assert summary["means"]["farmap"]["reached_90"] == summary["means"]["frontier"]["reached_90"] == 1.0, steps
    assert summary["means"]["farmap"]["steps_to_90"] < summary["means"]["frontier"]["steps_to_90"], steps
    assert summary["memory_vs_frontier"] < 1.0, summary["means"]


@pytest.mark.slow
def test_both_agents_run_at_least_1000_steps_per_second_on_maps_100_and_299():
    """Issue 16's speed bar, one process, a fresh world per run (cold view cache), 2,000 steps, seeds 0
    and 1 (measured 4,000-7,000 steps/s at load ~4 on 2 cores; the reference code: 1.6 on map 100).
    Frontier stops once map 100 is covered (~350 moves): only the moves it made count."""
    runs = agent_speed()
    slowest = min(runs, key=lambda r: r["steps_per_s"])
    assert slowest["steps_per_s"] >= REQUIRED_STEPS_PER_S, runs


def test_farmap_memory_is_lower_on_a_light_version_of_the_cpu_setup():
    """Default-run version of the memory claim: maps 150-152, seed 0, 1,000 steps (about a second).
    Measured ratio 0.56 in aggregate, per episode 0.71 / 0.71 / 0.35."""
    summary = cpu_setup_comparison((150, 151, 152), (0,), 1000)
    assert summary["memory_vs_frontier"] < 1.0, _episode_lines(summary)
    assert summary["memory_lower_episodes"] == 3, _episode_lines(summary)
