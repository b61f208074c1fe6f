"""Under DDP (`trainer=ddp_cpu`, 2 processes) the project's own logging draws no Lightning warning about
`sync_dist` ("It is recommended to use `self.log(..., sync_dist=True)` when logging on epoch level in
distributed setting"). Lightning raises it for every value logged at epoch level without
`sync_dist=True` under DDP; the project logs values that are the same on every rank (already reduced,
broadcast from rank zero, or computed alike) with `sync_dist=True`, whose mean over ranks is the value.

The runs go through the real CLI (tests/test_ddp_parity.py's `run_cli`) with Python's warnings on.
"""

from __future__ import annotations

import pytest
from test_ddp_parity import COMMON, RUNS, run_cli
from test_ggs_pipeline import TINY as GGS_TINY

WARNINGS_ON = {"PYTHONWARNINGS": "default"}
# a warning Lightning always gives in these runs (it shards the test set with a DistributedSampler):
# seeing it proves the run's warnings reach stderr, so an absent sync_dist warning means something
SHOWN = "Using `DistributedSampler` with the dataloaders. During `trainer.test()`"
FAST = ("ibc_tasks", "dsa_flipflop")  # a callback broadcasting rank zero's values, one reducing a metric


def sync_dist_warnings(tmp_path, overrides: list[str], shown: str | None = SHOWN) -> list[str]:
    proc = run_cli(tmp_path / "ddp", [*overrides, "trainer=ddp_cpu"], environ=WARNINGS_ON)
    if shown is not None:
        assert shown in proc.stderr, "Lightning's warnings did not reach stderr: the check would see nothing"
    return [line for line in proc.stderr.splitlines() if "sync_dist" in line]


@pytest.mark.parametrize("experiment", FAST)
def test_no_sync_dist_warning_under_ddp(tmp_path, experiment):
    overrides = [f"experiment={experiment}", *COMMON, *RUNS[experiment], "test=true"]
    assert sync_dist_warnings(tmp_path, overrides) == []


# the broader sweep: the same runner and warning settings as the fast tests, which show that Lightning's
# warnings reach stderr (here not every run has the DistributedSampler one: some shard their test sets)
@pytest.mark.slow
@pytest.mark.parametrize("experiment", sorted(set(RUNS) - set(FAST)))
def test_no_sync_dist_warning_under_ddp_in_any_parity_run(tmp_path, experiment):
    overrides = [f"experiment={experiment}", *COMMON, *RUNS[experiment], "test=true"]
    assert sync_dist_warnings(tmp_path, overrides, shown=None) == []


# the experiments without a parity run (their own DDP checks): RL logs per step only, GGS at test end
OWN_DDP_RUNS = {
    "far_curiosity": ["experiment=far_curiosity", *COMMON, "data.num_envs=2", "data.iterations=3",
                      "model.num_steps=16", "model.obs_norm_init_steps=0"],
    "far_curiosity_forgetting": ["experiment=far_curiosity_forgetting", *COMMON, "data.steps_per_phase=150",
                                 "data.chunk=50", "model.eval_every=50"],
    "ggs_ehrlich": [*(o for o in GGS_TINY if not o.startswith("data.num_seeds")), "logger=csv", "data.num_seeds=3",
                    "model.methods=[ggs]"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(OWN_DDP_RUNS))
def test_no_sync_dist_warning_under_ddp_in_the_other_experiments(tmp_path, name):
    assert sync_dist_warnings(tmp_path, OWN_DDP_RUNS[name], shown=None) == []
