"""The paper's phases A -> B -> C on the CPU setup (spec section 6 and oracle 6).

The light test (CI) trains 750 steps of `experiment=diffusion_bumps` and checks that the model
reaches phase B (one bump at the wrong place for most conditions) before it learns the positions.
The slow tests run the whole experiment for three seeds and check the final C fraction and the order,
through `neurobolts.reproduce.diffusion_bumps.run_seed`: the function the reproduction report
(`make reproduce`) runs, so the report and these tests measure the same runs.
"""

from __future__ import annotations

import pytest

from neurobolts.callbacks import LatentManifoldOrdering
from neurobolts.plugins.pipeline import train
from neurobolts.reproduce.diffusion_bumps import phase_checks, relabelled_phases, run_seed

QUIET = ["logger=none", "callbacks.rich_progress_bar=null", "callbacks.model_summary=null",
         "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


def _histories(make_cfg, seed: int, max_steps: int | None = None) -> tuple[dict[str, list], dict[str, list]]:
    """(generation history, latent-manifold history) of one run of the experiment, or of its first
    `max_steps` steps (same learning-rate schedule as the whole run)."""
    steps = [] if max_steps is None else [f"trainer.max_steps={max_steps}", "model.scheduler.T_max=3000"]
    cfg = make_cfg(["experiment=diffusion_bumps", f"seed={seed}", *steps,
                    "test=false", "callbacks.latent_manifold.log_embedding=false", *QUIET])
    _, objects = train(cfg)
    manifold = next(c for c in objects["callbacks"] if isinstance(c, LatentManifoldOrdering))
    return objects["model"].generation_history, manifold.history


def test_phase_B_appears_before_positions_are_learned(make_cfg):
    h, m = _histories(make_cfg, seed=0, max_steps=750)
    assert h["step"] == [250, 500, 750] and m["step"] == [0, 250, 500, 750]
    # multi-bump / blank images vanish for most conditions (not necessarily for good: on some CPUs
    # frac_A rebounds between validations, e.g. 0.39 / 0.73 / 0.20 at steps 500 / 750 / 1000) ...
    assert min(h["frac_A"]) < 0.5
    # ... into one bump at the wrong place: B dominates while C is still low (oracle 6: B >= 50 %)
    i = max(range(3), key=lambda k: h["frac_B"][k])
    assert h["frac_B"][i] >= 0.5
    assert h["frac_C"][i] < 0.15
    # the latent manifold: every label is the phase rule against the step-0 record (the baseline; step
    # 0 itself is A by construction, so not asserted), labels never go back, and the manifold is in B at
    # the generation B peak (measured, seed 0: B peak 0.74 at step 750 with C 0.07; labels A, B, B, B;
    # T 0.775 / 0.899 / 0.910 / 0.988, so order gain 0.95 < 0.98 at step 750; PR 5.80 / 2.93 / 2.69 /
    # 2.03); collapsed to ~2 dimensions in B (oracle 7: PR <= 3),
    # trustworthiness above its step-0 baseline
    assert m["phase"] == relabelled_phases(m), m["phase"]
    assert all(a <= b for a, b in zip(m["phase"], m["phase"][1:], strict=False)), m["phase"]
    assert m["phase"][m["step"].index(h["step"][i])] == 1.0, (m["phase"], h["step"][i])
    assert min(m["participation_ratio"][1:]) <= 3.0
    assert m["trustworthiness"][-1] > m["trustworthiness"][0]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_run_reaches_phase_C_in_order(tmp_path, seed):
    result = run_seed(seed, root_dir=tmp_path)  # the report's run: heldout_stride=2, tested, MLflow in tmp_path
    h, manifold, m = result["history"], result["manifold"], result["milestones"]
    assert h["frac_C"][-1] >= 0.95
    assert m["frac_B_peak"] >= 0.5
    assert m["order_ABC"] == 1.0, m
    # oracle 7: trustworthiness >= 0.99 once C passes 0.5; the participation ratio dips to <= 3 in B
    # (the spec's bar; a lower bound of 1.5 used before failed seed 2 at 1.43, a flatter B manifold, which
    # the spec does not exclude); labels A -> B -> C
    at = manifold["step"].index(m["step_C50"])
    assert manifold["trustworthiness"][at] >= 0.99
    b_steps = [i for i, s in enumerate(manifold["step"]) if 0 < s <= m["step_B_peak"]]
    assert min(manifold["participation_ratio"][i] for i in b_steps) <= 3.0
    labels = manifold["phase"]
    assert labels == relabelled_phases(manifold), labels
    # B first appears after step 0 and strictly before the first C; the run ends in C; never back
    assert 0 < labels.index(1.0) < labels.index(2.0) and labels[-1] == 2, labels
    assert all(a <= b for a, b in zip(labels, labels[1:], strict=False)), labels
    # the report's verdicts are these assertions (reproduce/diffusion_bumps.py: phase_checks)
    assert all(phase_checks(result).values()), phase_checks(result)
    # the held-out conditions and the test step (its own noise) were scored; the report shows them
    for key in ("gen_heldout/frac_C", "test/frac_C", "test_heldout/frac_C"):
        assert 0.0 <= result["metrics"][key] <= 1.0, (key, result["metrics"])


@pytest.mark.slow
def test_imbalanced_axes_are_learned_together(tmp_path):
    """P1's imbalance claim, oracle 9: with dx = 0.25 and dy = 1.0 the steps at which x- and y-accuracy
    first reach 80 % on the grid differ by at most half the B -> C transition width (measured, seed 0,
    2026-12-05: x at 2375, y at 2250, width 1125). On the held-out conditions (y between its training
    values, tolerance 0.25 px) neither axis reached 80 % in 3,000 steps (final 0.735 / 0.755), so the
    report's held-out row does not hold; asserted here: no "x learned, y not" regime at the end there
    (final acc_y >= acc_x - 0.1)."""
    from neurobolts.reproduce.diffusion_bumps import run_imbalanced

    result = run_imbalanced(0, tmp_path)
    grid = result["grid"]
    assert grid["coupled"] == 1.0, grid
    metrics = result["metrics"]
    assert metrics["gen_heldout/acc_y"] >= metrics["gen_heldout/acc_x"] - 0.1, metrics
