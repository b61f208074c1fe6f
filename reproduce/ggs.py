"""GGS: protein optimisation on a graph-smoothed fitness model (Kirjner et al., ICLR 2024;
docs/papers/ggs.md).

Claims, each measured by running the experiments as `python train.py experiment=<name>` runs them
(`train_experiment`: the oracle, predictor, smoothing and smoothed-predictor stages are cached under
the report root's `cache/`, so the runs below that differ only in the sampler reuse them):

- Table 4 (AAV medium / hard, 5 seeds): GGS's median normalised fitness within 0.05 of the paper's
  0.51 / 0.60 and above unsmoothed GWG (paper 0.43 / 0.33); with textbook MH (the default) and with the
  reference's filter (`model.sampler.acceptance=code`, defects 5.1-5.2);
- smoothing lowers the holdout MAE (paper, AAV hard: 3.70 -> 3.09);
- how GGS's fitness grows with the graph's node count N (AAV hard), the measurement the issue asks for
  when the CPU scale falls short;
- tau = 1 is worse than tau = 0.1 (Table 5; oracle 7.9);
- Ehrlich (length 32, 4 motifs of length 4; exact function): GGS, unsmoothed GWG and uniform random
  mutation;
- cost: `experiment=ggs_aav_hard` within 15 minutes on 2 cores (issue 19).

The numbers are reported as they come out. `--quick` shrinks every run to seconds (numbers meaningless).
"""

from __future__ import annotations

from collections.abc import Sequence

from neurobolts.reproduce.results import PaperResult, Row, Settings
from neurobolts.reproduce.runner import fetch_artifact, stopwatch, train_experiment

PAPER = "ggs"
TABLE4 = {"aav_medium": {"ggs": 0.51, "gwg": 0.43}, "aav_hard": {"ggs": 0.60, "gwg": 0.33}}
HOLDOUT_MAE_AAV_HARD = (3.70, 3.09)  # paper: unsmoothed -> smoothed
TOLERANCE = 0.05  # issue 19: GGS within 0.05 of the paper
DEFAULT_NODES = 20000  # configs/model/ggs.yaml: smoothing.num_nodes
BUDGET_S = 900.0  # issue 19: experiment=ggs_aav_hard within 15 minutes on 2 cores
QUICK = ["data.num_seeds=2", "data.holdout_size=100", "model.oracle.epochs=1", "model.predictor.epochs=2",
         "model.smoothing.num_nodes=4000", "model.smoothing.epochs=1", "model.sampler.rounds=2",
         "model.sampler.clusters=8", "model.sampler.proposals=5", "model.sampler.unsmoothed_proposals=5",
         "model.top_k=16"]
SUMMARY_KEYS = ("median_fitness", "diversity", "novelty", "acceptance")
# the groups of the task's metrics: ggs/... (the task) and <method>/... (lightning_modules/ggs/study.py METHODS)
METRIC_GROUPS = ("ggs", "gwg", "random")


def run_task(experiment: str, settings: Settings, name: str, overrides: Sequence[str] = ()) -> dict:
    """One GGS experiment through the pipeline: its logged metrics (means over seeds and their spread),
    wall seconds and MLflow run id."""
    extra = QUICK if settings.quick else []
    run = train_experiment([f"experiment={experiment}", *extra, *overrides], settings.root_dir, name, settings.tag)
    return {"metrics": {k: v for k, v in run.metrics.items() if k.split("/")[0] in METRIC_GROUPS}, "wall_s": run.wall_s,
            "run_id": run.run_id, "overrides": list(overrides)}


def method_text(metrics: dict, method: str) -> str:
    m = metrics
    return (f"{m.get(f'{method}/median_fitness', float('nan')):.3f} "
            f"(sd {m.get(f'{method}/median_fitness_std', float('nan')):.3f}), div "
            f"{m.get(f'{method}/diversity', float('nan')):.1f}, nov {m.get(f'{method}/novelty', float('nan')):.1f}, "
            f"acc {m.get(f'{method}/acceptance', float('nan')):.2f}")


def reproduce(settings: Settings) -> PaperResult:
    """The runs of the module docstring (quick: every run shrunk to seconds)."""
    raw: dict = {}
    runs = {}
    with stopwatch():
        # the cost claim first, on an empty cache of its own (the runs below share the report's cache)
        import tempfile

        with tempfile.TemporaryDirectory(prefix="ggs_cache_") as cache:
            fresh = run_task("ggs_aav_hard", settings, "aav_hard-fresh", [f"paths.cache_dir={cache}"])
        for task in ("aav_medium", "aav_hard"):
            for acceptance in ("textbook", "code"):
                runs[(task, acceptance)] = run_task(f"ggs_{task}", settings, f"{task}-{acceptance}",
                                                    [f"model.sampler.acceptance={acceptance}"])
        nodes = (5000, 10000) if not settings.quick else (4000,)
        sweep = {}
        for n in nodes:
            for acceptance in ("textbook", "code"):
                sweep[(n, acceptance)] = run_task("ggs_aav_hard", settings, f"aav_hard-N{n}-{acceptance}",
                                                  [f"model.smoothing.num_nodes={n}", f"model.sampler.acceptance={acceptance}",
                                                   "model.methods=[ggs]"])
        # the released unsmoothed predictors were trained far longer than 50 epochs (spec 2.3): a 10x
        # learning rate stands in for a rugged, well-fitted predictor
        fitted = {acceptance: run_task("ggs_aav_hard", settings, f"aav_hard-fitted-{acceptance}",
                                       ["model.predictor.lr=1e-3", f"model.sampler.acceptance={acceptance}"])
                  for acceptance in ("textbook", "code")}
        tau1 = run_task("ggs_aav_hard", settings, "aav_hard-tau1-code",
                        ["model.sampler.temperature=1.0", "model.sampler.acceptance=code", "model.methods=[ggs]"])
        ehrlich = {acceptance: run_task("ggs_ehrlich", settings, f"ehrlich-{acceptance}",
                                        [f"model.sampler.acceptance={acceptance}"]) for acceptance in ("textbook", "code")}
    raw["runs"] = {f"{t}/{a}": r for (t, a), r in runs.items()}
    raw["node_sweep"] = {f"{n}/{a}": r for (n, a), r in sweep.items()}
    raw["tau1"] = tau1
    raw["fresh"] = fresh
    raw["fitted_predictor"] = fitted
    raw["ehrlich"] = ehrlich
    figures = {}
    for key, run in (("aav_medium", runs[("aav_medium", "textbook")]), ("aav_hard", runs[("aav_hard", "textbook")]),
                     ("aav_hard_code", runs[("aav_hard", "code")]), ("ehrlich", ehrlich["textbook"])):
        path = fetch_artifact(settings.root_dir, run["run_id"], "figures/ggs_fitness.png",
                              settings.figure_path(f"ggs_{key}.png"))
        figures[key] = [settings.relative_figure(path)] if path is not None else []
    seeds_text = "5 seeds (sampling), predictor seed 0" if not settings.quick else "2 seeds (quick)"
    rows = []
    for acceptance in ("textbook", "code"):
        medium, hard = runs[("aav_medium", acceptance)]["metrics"], runs[("aav_hard", acceptance)]["metrics"]
        close = all(abs(m.get("ggs/median_fitness", -1) - TABLE4[t]["ggs"]) <= TOLERANCE
                    for t, m in (("aav_medium", medium), ("aav_hard", hard)))
        above = all(m.get("ggs/median_fitness", -1) > m.get("gwg/median_fitness", 1) for m in (medium, hard))
        label = "textbook MH (default)" if acceptance == "textbook" else "the reference's filter (acceptance=code)"
        rows.append(Row(PAPER, f"GGS reaches the paper's median normalised fitness on AAV medium / hard, {label}",
                        "Table 4: GGS 0.51 / 0.60 (sd 0.0); bar: within 0.05",
                        f"medium {method_text(medium, 'ggs')}; hard {method_text(hard, 'ggs')}", close, seeds_text,
                        runs[("aav_medium", acceptance)]["wall_s"] + runs[("aav_hard", acceptance)]["wall_s"],
                        figures["aav_medium"] + figures["aav_hard"] if acceptance == "textbook"
                        else figures["aav_hard_code"]))
        rows.append(Row(PAPER, f"GGS beats unsmoothed GWG on AAV medium and hard, {label}",
                        "Table 4: GWG 0.43 / 0.33 vs GGS 0.51 / 0.60",
                        f"GWG medium {method_text(medium, 'gwg')}; hard {method_text(hard, 'gwg')}", above, seeds_text,
                        runs[("aav_medium", acceptance)]["wall_s"] + runs[("aav_hard", acceptance)]["wall_s"]))
    hard = runs[("aav_hard", "textbook")]["metrics"]
    medium = runs[("aav_medium", "textbook")]["metrics"]
    lowers = all(m.get("ggs/holdout_mae_smoothed", 1e9) < m.get("ggs/holdout_mae_unsmoothed", -1) for m in (medium, hard))
    rows.append(Row(PAPER, "Smoothing lowers the holdout MAE of the predictor",
                    f"AAV hard {HOLDOUT_MAE_AAV_HARD[0]} -> {HOLDOUT_MAE_AAV_HARD[1]} (train MAE rises slightly)",
                    "; ".join(f"{t}: holdout {m.get('ggs/holdout_mae_unsmoothed', float('nan')):.2f} -> "
                              f"{m.get('ggs/holdout_mae_smoothed', float('nan')):.2f}, train "
                              f"{m.get('ggs/train_mae_unsmoothed', float('nan')):.2f} -> "
                              f"{m.get('ggs/train_mae_smoothed', float('nan')):.2f}"
                              for t, m in (("medium", medium), ("hard", hard))),
                    lowers, "predictor seed 0; holdout: 2,000 measured AAV sequences outside the training set",
                    runs[("aav_medium", "textbook")]["wall_s"] + runs[("aav_hard", "textbook")]["wall_s"]))
    default_nodes = DEFAULT_NODES
    curve = {a: [(n, sweep[(n, a)]["metrics"].get("ggs/median_fitness", float("nan"))) for n in nodes]
             + [(default_nodes, runs[("aav_hard", a)]["metrics"].get("ggs/median_fitness", float("nan")))]
             for a in ("textbook", "code")}
    rows.append(Row(PAPER, "GGS's fitness as the graph grows (AAV hard, N nodes; the paper used 250,000)",
                    "Sec. 4: 250k nodes beat 100k; larger gave no gain",
                    "; ".join(f"{a}: " + ", ".join(f"N {n}: {v:.3f}" for n, v in curve[a]) for a in curve),
                    all(curve[a][-1][1] >= curve[a][0][1] for a in curve), seeds_text,
                    sum(r["wall_s"] for r in sweep.values())))
    for acceptance, run in fitted.items():
        m = run["metrics"]
        rows.append(Row(PAPER, f"With a well-fitted predictor (lr 1e-3, a rugged model like the released ones), GGS "
                               f"beats unsmoothed GWG on AAV hard, {acceptance} acceptance",
                        "Table 4 / Tables 8-9: smoothing matters most when the predictor is rugged "
                        "(AAV hard 0.33 -> 0.60)",
                        f"GGS {method_text(m, 'ggs')}; GWG {method_text(m, 'gwg')}; holdout MAE "
                        f"{m.get('ggs/holdout_mae_unsmoothed', float('nan')):.2f} -> "
                        f"{m.get('ggs/holdout_mae_smoothed', float('nan')):.2f}",
                        m.get("ggs/median_fitness", -1) > m.get("gwg/median_fitness", 1), seeds_text,
                        run["wall_s"]))
    tau01 = runs[("aav_hard", "code")]["metrics"].get("ggs/median_fitness", float("nan"))
    tau1_value = tau1["metrics"].get("ggs/median_fitness", float("nan"))
    rows.append(Row(PAPER, "Temperature 1 is worse than 0.1 (AAV hard, the reference's filter)",
                    "Table 5: AAV hard 0.45 (tau 1) vs 0.60 (tau 0.1); oracle 7.9",
                    f"tau 1: {tau1_value:.3f}, tau 0.1: {tau01:.3f}", tau1_value < tau01, seeds_text, tau1["wall_s"]))
    for acceptance, run in ehrlich.items():
        m = run["metrics"]
        rows.append(Row(PAPER, f"Ehrlich (L 32, 4 motifs of 4; exact function): GGS vs unsmoothed GWG vs random "
                               f"mutation, {acceptance} acceptance",
                        "spec 3 (no paper number): smoothing should help on a rugged closed-form landscape",
                        "; ".join(f"{meth} {m.get(f'ggs/{meth}/median_fitness', float('nan')):.3f} (max "
                                  f"{m.get(f'ggs/{meth}/max_fitness', float('nan')):.3f}, feasible "
                                  f"{m.get(f'ggs/{meth}/feasible_fraction', float('nan')):.2f})"
                                  for meth in ("ggs", "gwg", "random")),
                        m.get("ggs/median_fitness", -1) > max(m.get("gwg/median_fitness", 1),
                                                                  m.get("random/median_fitness", 1)),
                        seeds_text, run["wall_s"], figures["ehrlich"] if acceptance == "textbook" else []))
    rows.append(Row(PAPER, "experiment=ggs_aav_hard finishes within 15 minutes on 2 CPU cores (every stage computed, "
                           "the oracle included)",
                    "issue 19", f"{fresh['wall_s']:.0f} s (a cache of its own: nothing reused)", fresh["wall_s"] < BUDGET_S,
                    "one run", fresh["wall_s"]))
    return PaperResult(rows, raw)
