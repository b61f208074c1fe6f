"""FARCuriosity's forgetting study at the specification's scale (oracle 7.9, issue 17 item 3), with the
functions the reproduction report (`make reproduce`) calls: 3 seeds x RND / FAR / FAR + recall on the
walk A -> B -> A (predictor width 128, 2,000 steps per phase), the width sweep and the z-rule ablation.
All `slow` (about 4 minutes on one core); tests/test_far_curiosity_forgetting.py runs one seed in CI."""

from __future__ import annotations

import pytest

from neurobolts.reproduce.far_curiosity import (
    MAX_F_FAR,
    NEAR_DOOR,
    REQUIRED_F_SINGLE,
    SEEDS,
    forgetting_run,
    forgetting_study,
    summarise,
    width_sweep,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study():
    import torch

    torch.set_num_threads(1)
    return {c: summarise(runs)["per_seed"] for c, runs in forgetting_study(SEEDS).items()}


def test_single_rnd_forgets_in_every_seed(study):
    assert min(study["rnd"]["F"]) >= REQUIRED_F_SINGLE, study["rnd"]
    assert all(n == 0 for n in study["rnd"]["fragmentations"])


def test_far_fragments_once_near_the_door_and_does_not_forget(study):
    far = study["far"]
    assert all(n == 1 for n in far["fragmentations_A_to_B"]), far  # once, on the way into B ...
    assert all(n == 2 for n in far["fragmentations"]), far  # ... and, without recall, once more on the way back
    assert all(d <= NEAR_DOOR for d in far["fragmentation_door_distance"]), far
    assert max(far["F"]) <= MAX_F_FAR, far


def test_far_with_recall_reuses_room_a_on_return(study):
    rec = study["far_recall"]
    assert all(n == 1 for n in rec["fragmentations"]), rec  # ... and with recall nothing new on the way back
    assert all(r >= 1 for r in rec["recalls"]) and min(rec["reuse_A"]) >= 0.5, rec
    assert max(rec["F"]) <= MAX_F_FAR, rec


def test_width_sweep_has_a_width_where_the_ratio_rule_never_fires():
    sweep = width_sweep((16, 128), SEEDS)
    assert all(n == 1 for n in sweep[128]["fragmentations"]), sweep
    # the spec's prototype: at width 32 the all-history ratio rule never reaches 10x (0, 0, 0); here the
    # predictor is weak enough at width 16 (measured: 0, 0, 0 fragmentations, F 7-12 like single RND)
    assert sum(sweep[16]["fragmentations"]) == 0, sweep
    assert min(sweep[16]["far"]) >= 5, sweep  # so FAR forgets like a single predictor


def test_z_rule_fires_and_keeps_room_a():
    runs = [forgetting_run("far", s, phases=("A", "B"), criterion="z", threshold=2.0)["summary"] for s in SEEDS]
    assert all(r["fragmentations"] >= 1 for r in runs), runs
