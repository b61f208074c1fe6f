"""GGS on AAV hard at CPU scale (oracle 7.9, issue 19), with the function the reproduction report calls
(`reproduce.ggs.run_task`: `experiment=ggs_aav_hard` as `train.py` runs it, 5 sampling seeds). All
`slow`: one fresh run trains the oracle too (~15 minutes on 2 cores); the runs after it reuse the cached
oracle, predictor and smoothing and only sample again.

What `make reproduce` measured on this machine is in the README (GGS section) and
reproduction/REPORT.md; the claims that do not hold there are strict xfails here, so that this file
says so if that changes."""

from __future__ import annotations

import pytest

from neurobolts.reproduce.ggs import BUDGET_S, TABLE4, TOLERANCE, run_task
from neurobolts.reproduce.results import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("ggs")
    return Settings(quick=False, root_dir=root, figures_dir=root / "figures", tag="tests")


@pytest.fixture(scope="module")
def hard(settings) -> dict:
    return run_task("ggs_aav_hard", settings, "aav_hard")


def test_a_fresh_aav_hard_run_fits_its_budget(hard):
    assert hard["wall_s"] < BUDGET_S, hard["wall_s"]


def test_smoothing_lowers_the_holdout_error(hard):
    m = hard["metrics"]
    assert m["ggs/holdout_mae_smoothed"] < m["ggs/holdout_mae_unsmoothed"], m


@pytest.mark.xfail(strict=True, reason="measured: GGS 0.452 vs unsmoothed GWG 0.476 (32 clusters; 0.477 vs 0.452 with "
                                       "64): the spec's 50-epoch predictor is already smooth at this scale")
def test_ggs_is_at_least_as_fit_as_unsmoothed_gwg(hard):
    m = hard["metrics"]
    assert m["ggs/median_fitness"] >= m["gwg/median_fitness"], m


def test_with_a_rugged_predictor_smoothing_lowers_the_holdout_error_and_ggs_beats_gwg(settings, hard):
    """Measured: holdout MAE 3.845 -> 3.526; GGS 0.370 vs GWG 0.319 (the stages after the oracle recomputed)."""
    fitted = run_task("ggs_aav_hard", settings, "aav_hard_fitted", ["model.predictor.lr=1e-3"])["metrics"]
    assert fitted["ggs/holdout_mae_smoothed"] < fitted["ggs/holdout_mae_unsmoothed"], fitted
    assert fitted["ggs/median_fitness"] > fitted["gwg/median_fitness"], fitted


def test_temperature_one_is_worse_than_a_tenth(settings, hard):
    """With the reference's filter, as reproduce/ggs.py measures it (0.271 vs 0.335)."""
    code = ["model.sampler.acceptance=code", "model.methods=[ggs]"]
    tenth = run_task("ggs_aav_hard", settings, "aav_hard_code", code)["metrics"]
    one = run_task("ggs_aav_hard", settings, "aav_hard_tau1", [*code, "model.sampler.temperature=1.0"])["metrics"]
    assert one["ggs/median_fitness"] < tenth["ggs/median_fitness"], (one, tenth)


@pytest.mark.xfail(strict=True, reason="measured: 0.452 against the paper's 0.60 (AAV medium: 0.487 against 0.51 holds)")
def test_ggs_is_within_five_hundredths_of_the_paper(hard):
    value = hard["metrics"]["ggs/median_fitness"]
    assert abs(value - TABLE4["aav_hard"]["ggs"]) <= TOLERANCE, value
