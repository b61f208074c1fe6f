"""DDP parity on CPU: `trainer=ddp_cpu` (2 processes, gloo) logs the same metrics as one process.

Each experiment runs twice through the real CLI (`python train.py`, a subprocess: Lightning's `ddp`
strategy re-executes the script for rank 1), with the same global batch and seed and the CSV
logger, then every logged (metric, step) pair is compared.

Why the runs can agree closely: `GlobalBatchSampler` gives the ranks halves of the single-process
batch, per-sample noise is drawn for the global batch and shared out (`global_batch_share`), the
pipeline re-seeds before `fit` as Lightning's DDP does, evaluation metrics are summed/averaged over
ranks, and callbacks compute on fixed probe data on rank zero. What remains is float32 rounding:
DDP averages two half-batch gradients where one process averages one full batch, a difference of a
few ulps per step that training amplifies. Measured over all 11 experiments (these runs): at most
3.7e-6 relative (diffusion_bumps, 24 steps), 0 where nothing is trained. The tolerance, rtol 1e-4 +
atol 1e-6, keeps a margin of more than 25x over that, while a real desynchronisation (different
batches or noise) shows up at 1e-3 to 1e-1 (2e-2 on train/loss when the random streams differed).
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT

COMMON = ["logger=csv", "trainer.enable_progress_bar=false",
          "trainer.enable_model_summary=false", "test=false"]

# tiny but real runs: at least two validations, every experiment's callbacks attached
RUNS = {
    "diffusion_bumps": ["trainer.max_steps=24", "trainer.val_check_interval=12", "model.sampling_steps=5"],
    "align_wide": ["trainer.max_steps=20", "trainer.val_check_interval=10", "model.cosine_every_n_steps=5"],
    "align_add": ["trainer.max_steps=10", "trainer.val_check_interval=5", "data.steps=10",
                  "model.cosine_every_n_steps=5"],
    "dsa_flipflop": ["trainer.max_epochs=2", "data.n_train=128", "data.n_val=32", "data.steps=40", "data.n_probe=8",
                     "callbacks.dynamical_similarity.every_n_epochs=1"],
    "ibc_tasks": ["trainer.max_steps=20", "trainer.val_check_interval=10",
                  "callbacks.inductive_bias_complexity.num_queries=400"],
    "expander_hopfield": ["model.n_neurons=150", "callbacks.recall_curve.sizes=[30]", "callbacks.recall_curve.trials=4",
                          "callbacks.recall_curve.capacity_loads=[0.1]", "callbacks.recall_curve.capacity_size=30",
                          "test=true"],
    "dsa_attractors": ["data.n_models=2", "data.n_trials=4", "data.steps=200", "test=true"],
    # 3 episodes on 2 ranks (2 + 1): unpadded shares, sums reduced over ranks
    "farmap": ["data.map_ids=[150,151,152]", "data.seeds=[0]", "data.num_steps=150", "test=true"],
    # 3 episodes on 2 ranks (2 + 1): per-world paired tests from the gathered records
    "map_induction": ["data.worlds=[repeated_2x2,control_2x2,repeated_1x4]", "data.seeds=[0]",
                      "model.agents=[uniform,dpomcp]", "model.tree_queries=20", "model.max_depth=6", "test=true"],
}
SLOW_RUNS = {
    "diffusion_bumps_imbalanced": ["trainer.max_steps=24", "trainer.val_check_interval=12", "model.sampling_steps=5"],
    "diffusion_bumps_paper": ["trainer.accelerator=cpu", "trainer.precision=32-true", "data.batch_size=8",
                              "data.eval_batch_size=8", "model.sampling_steps=2", "data.eval_margin=12",
                              "trainer.max_steps=4", "trainer.val_check_interval=2"],
    "align_wide_paper": ["trainer.accelerator=cpu", "data=align_teacher", "trainer.max_epochs=1",
                         "trainer.limit_train_batches=10"],
    "farmap_paper": ["data.map_ids=[0,1,2,3,4]", "data.seeds=[0]", "data.num_steps=100", "test=true"],
    "map_induction_paper": ["data.worlds=[repeated_3x3,control_3x3]", "data.seeds=[0]", "model.tree_queries=30",
                            "model.max_depth=8", "model.max_steps=150", "model.agents=[uniform,dpomcp]", "test=true"],
    "align_add_paper": ["trainer.accelerator=cpu", "data.batch_size=4", "data.eval_batch_size=4", "data.steps=10",
                        "trainer.max_steps=6", "trainer.val_check_interval=3"],
}
# metrics whose parity a run must cover: the held-out set has 49 conditions, which 2 ranks share
# unevenly (25 + 24); a padded share would count one condition twice and miss the tolerance
MUST_LOG = {"diffusion_bumps": ("val_heldout/loss", "gen_heldout/frac_C", "gen_heldout/loc_error"),
            "farmap": ("farmap/coverage_auc", "frontier/memory_mean", "farmap/memory_vs_frontier"),
            "map_induction": ("dpomcp/steps_to_all_rewards", "repeated_2x2/dpomcp_p_value")}
# lines a callback writes when it computes: rank 1's log must have none of them
COMPUTE_LINES = ("manifold phase", "DSA snapshot", "Inductive-bias complexity statistics")
RTOL, ATOL = 1e-4, 1e-6
# wall-clock measurements: logged, but not expected to repeat between runs
TIMINGS = ("steps_per_s", "decisions_per_s")


def run_cli(out: Path, overrides: list[str], timeout: float = 400,
            environ: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python train.py <overrides>` writing to `out`, warnings off unless `environ` turns them on."""
    env = {**os.environ, "NEUROBOLTS_ROOT": str(out.parent), "PYTHONWARNINGS": "ignore", **(environ or {})}
    cmd = [sys.executable, "train.py", *overrides, f"hydra.run.dir={out}"]
    try:
        result = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:  # a collective waiting forever
        pytest.fail(f"{' '.join(overrides)} did not finish in {timeout} s (deadlock?)\n{exc.stderr}")
    assert result.returncode == 0, f"{' '.join(overrides)} failed:\n{result.stderr[-4000:]}"
    return result


def logged_metrics(run_dir: Path) -> dict[tuple[str, int], list[float]]:
    """{(metric, step): [values]} from the CSV logger (a list: a doubled log shows as two values)."""
    values: dict[tuple[str, int], list[float]] = {}
    for row in csv.DictReader(open(run_dir / "csv" / "version_0" / "metrics.csv")):
        for key, value in row.items():
            if key != "step" and value != "":
                values.setdefault((key, int(row["step"])), []).append(float(value))
    return values


def check_parity(tmp_path: Path, experiment: str, overrides: list[str]) -> None:
    args = [f"experiment={experiment}", *COMMON, *overrides]
    run_cli(tmp_path / "single", args)
    run_cli(tmp_path / "ddp", [*args, "trainer=ddp_cpu"])
    single, ddp = logged_metrics(tmp_path / "single"), logged_metrics(tmp_path / "ddp")
    assert single, "nothing was logged"
    missing = [name for name in MUST_LOG.get(experiment, ()) if not any(key == name for key, _ in single)]
    assert not missing, f"not logged: {missing}"
    assert set(single) == set(ddp), f"metric/step pairs differ: {sorted(set(single) ^ set(ddp))}"
    doubled = [key for key, values in ddp.items() if len(values) != len(single[key])]
    assert not doubled, f"logged more than once under DDP: {doubled}"
    worst = 0.0
    for key in sorted(single):
        if key[0].endswith(TIMINGS):
            continue
        for a, b in zip(single[key], ddp[key], strict=True):
            same_nan = math.isnan(a) and math.isnan(b)  # e.g. gen/loc_error before any sample is right
            assert same_nan or abs(a - b) <= ATOL + RTOL * abs(a), f"{key}: one process {a!r}, DDP {b!r}"
            if not same_nan:
                worst = max(worst, abs(a - b) / max(abs(a), 1e-12))
    print(f"{experiment}: {len(single)} (metric, step) pairs equal within tolerance; "
          f"largest relative difference {worst:.1e}")
    # every callback computed once: on rank zero only
    rank0_log = (tmp_path / "ddp" / "train.log").read_text()
    rank1_log = (tmp_path / "ddp" / "train_ddp_process_1.log").read_text()
    single_log = (tmp_path / "single" / "train.log").read_text()
    for line in COMPUTE_LINES:
        assert rank0_log.count(line) == single_log.count(line), line
        assert line not in rank1_log, f"rank 1 computed: {line}"


@pytest.mark.parametrize("experiment", sorted(RUNS))
def test_ddp_cpu_logs_the_same_metrics_as_one_process(tmp_path, experiment):
    check_parity(tmp_path, experiment, RUNS[experiment])


@pytest.mark.slow
@pytest.mark.parametrize("experiment", sorted(SLOW_RUNS))
def test_ddp_cpu_parity_of_the_experiment_variants(tmp_path, experiment):
    check_parity(tmp_path, experiment, SLOW_RUNS[experiment])


# RL: under DDP every rank runs its own environments (issue 17), so 2 processes collect twice the
# experience of one and parity is not expected; `test_ppo_under_ddp_...` checks what DDP must do there
# The forgetting study is one stream that every rank walks alike; thousands of Adam steps amplify the
# float rounding of a different thread count (measured: F 0.6700 vs 0.6683 after 450 steps, 2.5e-3
# relative), so it is checked to run and log under DDP (below, slow), not for 1e-4 parity.
# RL: each rank its own environments; GGS: the stages' models train under DDP (float rounding between one
# process and two changes which mutants the sampler accepts), seeds shared over ranks (tests/test_ggs_pipeline.py)
OWN_DDP_CHECK = {"far_curiosity", "far_curiosity_atari", "far_curiosity_forgetting",
                 *(f"ggs_{t}{v}" for t in ("aav_medium", "aav_hard", "gfp_medium", "gfp_hard", "ehrlich")
                   for v in ("", "_paper"))}


def test_every_experiment_has_a_parity_run():
    from neurobolts.plugins.experiments import available_experiments

    assert set(available_experiments()) == set(RUNS) | set(SLOW_RUNS) | OWN_DDP_CHECK


def test_ppo_under_ddp_each_rank_runs_its_own_environments_and_the_policy_stays_in_sync(tmp_path):
    """`experiment=far_curiosity trainer=ddp_cpu`: 2 ranks x 2 environments x 16 steps x 3 iterations; the
    logged environment steps count both ranks' experience, each rank's curiosity fragments on its own
    (it is no DDP parameter), and the ranks' policies are identical at the end (gradients synchronised)."""
    out = tmp_path / "ddp"
    run_cli(out, ["experiment=far_curiosity", *COMMON, "trainer=ddp_cpu", "data.num_envs=2", "data.iterations=3",
                  "model.num_steps=16", "model.obs_norm_init_steps=0"])
    metrics = logged_metrics(out)
    steps = sorted(v for (key, _), values in metrics.items() if key == "rollout/env_steps" for v in values)
    assert steps == [2 * 2 * 16 * k for k in (1, 2, 3)], steps
    digests = [line.split("policy digest ")[1].strip() for name in ("train.log", "train_ddp_process_1.log")
               for line in (out / name).read_text().splitlines() if "policy digest " in line]
    assert len(digests) == 2 and digests[0] == digests[1], digests


def test_callback_compute_lines_are_still_logged():
    """Guards the rank-1 check above: the phrases must be what the callbacks actually log."""
    sources = "".join((PROJECT_ROOT / "callbacks" / name).read_text() for name in
                      ("manifold/callback.py", "dsa/callback.py", "inductive_bias/callback.py"))
    for line in COMPUTE_LINES:
        assert line in sources, line


@pytest.mark.slow
def test_the_forgetting_study_runs_the_same_walk_on_every_rank(tmp_path):
    out = tmp_path / "ddp"
    run_cli(out, ["experiment=far_curiosity_forgetting", *COMMON, "trainer=ddp_cpu", "data.steps_per_phase=150",
                  "data.chunk=50", "model.eval_every=50"])
    metrics = logged_metrics(out)
    for key in ("forgetting/F", "forgetting/fragmentations", "forgetting/recalls"):
        assert any(name == key for name, _ in metrics), key
    assert all(len(values) == 1 for values in metrics.values())  # logged once, not once per rank
    e_a_steps = sorted(step for name, step in metrics if name == "forgetting/e_A")  # against the walk step:
    assert e_a_steps[:3] == [49, 99, 149] and len(e_a_steps) >= 9, e_a_steps  # every 50 steps and phase ends
