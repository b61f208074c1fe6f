"""The paper's phases A -> B -> C on the CPU setup (spec section 6 and oracle 6).

The light test (CI) trains 750 steps of `experiment=diffusion_bumps` and checks that the model
reaches phase B (one bump at the wrong place for most conditions) before it learns the positions.
The slow tests run the whole experiment for three seeds and check the final C fraction and the order.
"""

from __future__ import annotations

import pytest

from neurobolts.callbacks import LatentManifoldOrdering
from neurobolts.callbacks.manifold.phases import classify_phase
from neurobolts.lightning_modules.diffusion_bumps.scoring import phase_milestones
from neurobolts.plugins.pipeline import train

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


def _relabelled(manifold: dict[str, list]) -> list[float]:
    """The phase labels recomputed from the recorded metrics against the step-0 record."""
    keys = ("trustworthiness", "participation_ratio")
    baseline = {k: manifold[k][0] for k in keys}
    return [float(classify_phase({k: manifold[k][i] for k in keys}, baseline)) for i in range(len(manifold["step"]))]


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
    assert m["phase"] == _relabelled(m), m["phase"]
    assert all(a <= b for a, b in zip(m["phase"], m["phase"][1:], strict=False)), m["phase"]
    assert m["phase"][m["step"].index(h["step"][i])] == 1.0, (m["phase"], h["step"][i])
    assert min(m["participation_ratio"][1:]) <= 3.0
    assert m["trustworthiness"][-1] > m["trustworthiness"][0]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_run_reaches_phase_C_in_order(make_cfg, seed):
    h, manifold = _histories(make_cfg, seed=seed)
    m = phase_milestones(h["step"], h["frac_B"], h["frac_C"])
    assert h["frac_C"][-1] >= 0.95
    assert m["frac_B_peak"] >= 0.5
    assert m["order_ABC"] == 1.0, m
    # issue 4: trustworthiness >= 0.99 once C passes 0.5; PR about 2-3 in B; labels A -> B -> C
    at = manifold["step"].index(m["step_C50"])
    assert manifold["trustworthiness"][at] >= 0.99
    b_steps = [i for i, s in enumerate(manifold["step"]) if 0 < s <= m["step_B_peak"]]
    assert 1.5 <= min(manifold["participation_ratio"][i] for i in b_steps) <= 3.5
    labels = manifold["phase"]
    assert labels == _relabelled(manifold), labels
    # B first appears after step 0 and strictly before the first C; the run ends in C; never back
    assert 0 < labels.index(1.0) < labels.index(2.0) and labels[-1] == 2, labels
    assert all(a <= b for a, b in zip(labels, labels[1:], strict=False)), labels
