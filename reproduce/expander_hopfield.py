"""Bipartite expander Hopfield networks (Chaudhuri & Fiete, NeurIPS 2019; docs/papers/expander_hopfield.md).

Claims, as tests/test_expander_hopfield_recall.py asserts them with these functions: exponentially
many stable states, 2^(0.2 N) (the Tanner rate bound, constant in N); a finite fraction of flipped
bits corrected by the network's own dynamics at every size N = 150, 600, 2400 (the issue's bar:
P(exact) >= 0.95 at p = 1 %, >= 0.85 at p = 2 %; three more graphs, 1,000 cues each), for the
experiment's adaptive dynamics and for the specification's majority update; a threshold that does
not shrink with N (tested for the adaptive dynamics; reported, untested, for the majority update from
the experiment's recall curve); and a Hebbian Hopfield network of the same N failing at N / 2 patterns. The
experiment itself (`experiment=expander_hopfield`, recall curves) goes to MLflow with its figure."""

from __future__ import annotations

from pathlib import Path

from neurobolts.callbacks.recall_curve.recall import recall_trials
from neurobolts.lightning_modules.expander_hopfield.memory import build_memory
from neurobolts.reproduce.results import PaperResult, Row, Settings
from neurobolts.reproduce.runner import log_run, save_figure, stopwatch, train_experiment

PAPER = "expander_hopfield"
SIZES = (150, 600, 2400)
GRAPH_SEEDS = (1, 2, 3)
BAR = {0.01: 0.95, 0.02: 0.85}  # the bar: P(exact recall) at p = 1 % and 2 %
RATE = 0.2  # 1 - gamma r / z for Hamming(15,11), gamma = 3
HEBBIAN_FAIL = 0.05  # P(exact) of a Hebbian network asked for N / 2 patterns, at most


def stored_states(sizes=SIZES) -> dict[int, dict[str, float]]:
    """{N: log2 of the stored states, the rate log2(#) / N and the Tanner bound} of the experiment's
    network (graph seed 0)."""
    out = {}
    for n in sizes:
        net = build_memory("expander", n, seed=0)
        out[n] = {"log2_stored_states": float(net.log2_stored_states), "rate": float(net.rate),
                  "rate_bound": float(net.rate_bound)}
    return out


def recall_on_another_graph(n: int, graph_seed: int, trials: int = 1000) -> dict[str, dict]:
    """Oracle 3 (heavy) on graph `graph_seed`: the adaptive dynamics at p = 1 % and 2 %, and the spec's
    majority update at p = 1 %, `trials` cues each (cue seed 10 + graph_seed).
    {"adaptive": {p: outcome}, "majority": {0.01: outcome}} (outcomes of `recall_trials`)."""
    adaptive = build_memory("expander", n, seed=graph_seed, dynamics="adaptive")
    majority = build_memory("expander", n, seed=graph_seed)
    return {"adaptive": {p: recall_trials(adaptive, p, trials=trials, seed=10 + graph_seed) for p in BAR},
            "majority": {0.01: recall_trials(majority, 0.01, trials=trials, seed=10 + graph_seed)}}


def majority_recall(n: int, trials: int = 300) -> dict[float, dict]:
    """The spec's own update (3-vote majority) on graph 0: {p: outcome} at p = 1 % and 2 % (cue seed 1)."""
    net = build_memory("expander", n, seed=0)
    return {p: recall_trials(net, p, trials=trials, seed=1) for p in (0.01, 0.02)}


def recall_at_four_percent(sizes=SIZES, trials: int = 200) -> dict[int, float]:
    """P(exact) of the adaptive dynamics at p = 4 % per N (graph 0, cue seed 7): the threshold does not
    shrink with N."""
    return {n: recall_trials(build_memory("expander", n, seed=0, dynamics="adaptive"), 0.04, trials=trials,
                             seed=7)["exact_recall"] for n in sizes}


def hebbian_at_half_load(n: int, trials: int = 100) -> dict:
    """A Hebbian Hopfield network of N neurons storing K = N / 2 patterns, cued at p = 1 % (seed 6)."""
    return recall_trials(build_memory("hopfield", n, n_patterns=n // 2), 0.01, trials=trials, seed=6)


def run_experiment(root_dir: Path, tag: str = "tests", quick: bool = False, seed: int = 0) -> dict:
    """`experiment=expander_hopfield` through the pipeline into MLflow (fit, 400 test cues, the
    RecallCurve sweep); returns its metrics, the curve records, wall seconds and MLflow run id."""
    from neurobolts.callbacks import RecallCurve

    small = ["model.n_neurons=150", "callbacks.recall_curve.sizes=[30,60]", "callbacks.recall_curve.trials=4",
             "callbacks.recall_curve.capacity_loads=[0.1]", "callbacks.recall_curve.capacity_size=30"] if quick else []
    run = train_experiment(["experiment=expander_hopfield", f"seed={seed}", *small], root_dir,
                           f"expander_hopfield-seed{seed}", tag)
    curve = next(c for c in run.objects["callbacks"] if isinstance(c, RecallCurve))
    return {"metrics": run.metrics, "records": curve.records, "variants": list(curve.variants),
            "wall_s": run.wall_s, "run_id": run.run_id}


def _curve_figure(records: list[dict], variants: list[str]):
    from neurobolts.callbacks.recall_curve.figures import recall_curve_figure

    def of(label):
        return [r for r in records if r["label"] == label]

    return recall_curve_figure(of("model"), of("hopfield"), of("hopfield_capacity"),
                               [r for r in records if r["label"] in variants])


def reproduce(settings: Settings) -> PaperResult:
    """The stored-state count, recall on three more graphs per size, the spec's majority update, the
    4 % point per size, the Hebbian baseline at N / 2 patterns, and the experiment's recall curves
    (quick: N = 30-150, a few cues)."""
    quick = settings.quick
    sizes = (30, 60) if quick else SIZES
    graphs = GRAPH_SEEDS[:1] if quick else GRAPH_SEEDS
    trials = 10 if quick else None
    timings = {}
    with stopwatch() as clock:
        states = stored_states(sizes)
    timings["states"] = clock.seconds
    with stopwatch() as clock:
        graphs_recall = {f"{n}/{g}": recall_on_another_graph(n, g, trials or 1000) for n in sizes for g in graphs}
    timings["graphs"] = clock.seconds
    with stopwatch() as clock:
        majority = {n: majority_recall(n, trials or 300) for n in sizes}
    timings["majority"] = clock.seconds
    with stopwatch() as clock:
        four = recall_at_four_percent(sizes, trials or 200)
    timings["four_percent"] = clock.seconds
    with stopwatch() as clock:
        hebbian = {n: hebbian_at_half_load(n, trials or 100) for n in sizes}
    timings["hebbian"] = clock.seconds
    experiment = run_experiment(settings.root_dir, settings.tag, quick)
    png = save_figure(_curve_figure(experiment["records"], experiment["variants"]),
                      settings.figure_path("expander_hopfield_recall_curve.png"))
    fig = [settings.relative_figure(png)]
    raw = {"stored_states": states, "several_graphs": graphs_recall, "majority_graph0": majority,
           "four_percent": four, "hebbian_half_load": hebbian, "experiment": experiment, "wall_s": timings}
    log_run(settings.root_dir, "reproduce_expander_hopfield", "recall", settings.tag,
            params={"sizes": list(sizes), "graph_seeds": list(graphs), "quick": quick},
            # P(exact recall), named <measurement>/N<N>[/g<graph seed>][/p<p>]/recall
            metrics={**{f"graphs/N{k.replace('/', '/g')}/p{p}/recall": o["exact_recall"]
                        for k, v in graphs_recall.items() for p, o in v["adaptive"].items()},
                     **{f"majority/N{n}/p{p}/recall": o["exact_recall"] for n, v in majority.items()
                        for p, o in v.items()},
                     **{f"four_percent/N{n}/recall": v for n, v in four.items()},
                     **{f"hebbian_half_load/N{n}/recall": v["exact_recall"] for n, v in hebbian.items()}},
            raw={k: v for k, v in raw.items() if k != "experiment"})

    def worst(p, dynamics="adaptive"):
        return min(v[dynamics][p]["exact_recall"] for v in graphs_recall.values())

    # the experiment's curve of the spec's majority update (RecallCurve variant "spec_majority") at p = 4 %
    majority_four = {r["n_neurons"]: r["exact_recall"] for r in experiment["records"]
                     if r["label"] == "spec_majority" and abs(r["flip_fraction"] - 0.04) < 1e-9}
    per_size = {n: min(graphs_recall[f"{n}/{g}"]["adaptive"][p]["exact_recall"] for g in graphs for p in BAR)
                for n in sizes}
    graph_text = f"graphs {', '.join(map(str, graphs))} x N = {', '.join(map(str, sizes))}, {trials or 1000} cues each"
    rows = [
        Row(PAPER, "Exponentially many stable states: 2^(rate N) codewords, rate at the Tanner bound and constant in N",
            f"rate >= 1 - gamma r / z = {RATE} (2^(0.2 N); a Hebbian network holds ~0.138 N patterns)",
            ", ".join(f"N={n}: 2^{v['log2_stored_states']:g} (rate {v['rate']:.3f})" for n, v in states.items())
            + f"; experiment: fixed-point fraction {experiment['metrics'].get('fit/fixed_point_fraction', float('nan')):.2f}",
            all(abs(v["rate"] - v["rate_bound"]) < 1e-12 and v["rate"] >= RATE for v in states.values())
            and experiment["metrics"].get("fit/fixed_point_fraction") == 1.0,
            "graph 0", timings["states"] + experiment["wall_s"], fig),
        Row(PAPER, "A finite fraction of flipped bits is corrected by the network's own dynamics at every size "
                   "(adaptive dynamics, the experiment's default)",
            "P(exact) >= 0.95 at p = 1 %, >= 0.85 at p = 2 % for N = 150, 600, 2400 (spec run, majority: "
            "1.00 / 0.97 / 0.97 and 0.93 / 0.88 / 0.93)",
            f"lowest over graphs: p = 1 % {worst(0.01):.3f}, p = 2 % {worst(0.02):.3f}; per N (lowest of both p): "
            + ", ".join(f"{n}: {v:.3f}" for n, v in per_size.items()),
            all(worst(p) >= bar for p, bar in BAR.items()), graph_text, timings["graphs"], fig),
        Row(PAPER, "The specification's own update (3-vote majority) corrects 1 % everywhere and reaches the "
                   "85 % bar at p = 2 %",
            ">= 0.95 at p = 1 %; about 0.85 at p = 2 % (spec: 0.93 / 0.88 / 0.93)",
            f"p = 1 %: lowest over graphs {worst(0.01, 'majority'):.3f}; graph 0 ({trials or 300} cues) p = 1 % / 2 %: "
            + ", ".join(f"N={n} {v[0.01]['exact_recall']:.3f} / {v[0.02]['exact_recall']:.3f}" for n, v in majority.items()),
            worst(0.01, "majority") >= BAR[0.01]
            and all(v[0.01]["exact_recall"] >= BAR[0.01] and v[0.02]["exact_recall"] >= BAR[0.02] for v in majority.values()),
            f"{graph_text}; graph 0, {trials or 300} cues", timings["graphs"] + timings["majority"], fig),
        Row(PAPER, "The error threshold does not shrink with N (adaptive dynamics, p = 4 %)",
            "threshold ~2 % stable over a 16x range of N (spec); here: recall at N = 2400 >= N = 150 - 0.02, and "
            "every cue at N = 600 and 2400",
            ", ".join(f"N={n} {v:.3f}" for n, v in four.items()),
            four[sizes[-1]] >= four[sizes[0]] - 0.02 and all(four[n] == 1.0 for n in sizes[1:]),
            f"graph 0, {trials or 200} cues", timings["four_percent"], fig),
        Row(PAPER, "The same with the specification's majority update (p = 4 %, the experiment's recall curve)",
            "threshold ~2 % stable over a 16x range of N (spec); same bar: recall at N = 2400 >= N = 150 - 0.02",
            ", ".join(f"N={n} {v:.3f}" for n, v in majority_four.items()) if majority_four else "not measured",
            bool(majority_four) and majority_four[max(majority_four)] >= majority_four[min(majority_four)] - 0.02,
            f"graph seed 0 (experiment seed), {experiment['records'][0]['trials'] if experiment['records'] else 0} cues",
            experiment["wall_s"], fig),
        Row(PAPER, "A Hebbian Hopfield network of the same N fails when asked for N / 2 patterns (p = 1 %)",
            f"capacity ~0.138 N: P(exact) collapses (bar: <= {HEBBIAN_FAIL})",
            ", ".join(f"N={n} {v['exact_recall']:.3f}" for n, v in hebbian.items()),
            all(v["exact_recall"] <= HEBBIAN_FAIL for v in hebbian.values()), f"{trials or 100} cues",
            timings["hebbian"], fig),
    ]
    return PaperResult(rows, raw)
