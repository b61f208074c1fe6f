"""Dynamical Similarity Analysis (Ostrow et al., NeurIPS 2023; docs/papers/dsa.md).

Claims, as the tests assert them with these functions: DSA compares dynamics up to an orthogonal change
of basis, so a rotated/reflected copy scores ~0 (oracle 5; tests/test_dsa.py, README "exactly ~0",
where the reference implementation scores 0.048 / 0.153); at a rank equal to the signal dimension it
ignores observation noise (oracle 10; README "< 1 %"); Lorenz-63 regimes cluster by their dynamics at
the reference notebook's scale (oracle 11; README silhouette 0.99; the slow test of
tests/test_dsa_lorenz.py); and DSA separates attractor topologies whose condition averages match, which
Procrustes cannot (`experiment=dsa_attractors`, tests/test_dsa_case_studies.py's bars, seeds 0 and 1).
The flip-flop architecture comparison (`flipflop_silhouettes`) trains its networks and compares them with
`benchmarks/dsa_flipflop.py` (loaded from the checkout: the report runs from a checkout, like `make`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurobolts.callbacks.dsa.network_comparison import cluster_separation
from neurobolts.callbacks.dsa.similarity import dsa
from neurobolts.datamodules.dsa.lorenz import LORENZ_REGIME_RHOS, lorenz_regimes, lorenz_trajectory
from neurobolts.reproduce.results import PaperResult, Row, Settings
from neurobolts.reproduce.runner import log_run, save_figure, stopwatch, torch_threads, train_experiment

PAPER = "dsa"
SCORES = ("angular", "euclidean", "wasserstein")
# a rotated copy: bounds from the computation (tests/test_dsa.py explains them), not from a measurement
ROTATION_LIMITS = {"angular": 1e-8, "euclidean": 1e-8, "wasserstein": 1e-10}
NOISE_SHARE = 0.01  # d(clean, noisy) / d(rho 28, rho 100) at rank 3
REGIME_SILHOUETTE = 0.99
REGIME_WITHIN_BETWEEN = 0.01
ATTRACTOR_SEEDS = (0, 1)
ATTRACTOR_DSA, ATTRACTOR_PROCRUSTES, ATTRACTOR_GAP = 0.3, 0.1, 0.3


# ------------------------------------------------------------------------ linear systems (oracle 5)
def linear_system(A: np.ndarray, T: int, seed: int, trials: int | None = None) -> np.ndarray:
    """x_{t+1} = A x_t + N(0, I) noise; (T, N) or (trials, T, N)."""
    rng = np.random.default_rng(seed)
    n = A.shape[0]
    shape = (T, n) if trials is None else (trials, T, n)
    noise = rng.standard_normal(shape)
    x = np.zeros(shape)
    for t in range(1, T):
        x[..., t, :] = x[..., t - 1, :] @ A.T + noise[..., t, :]
    return x


def random_stable_matrix(n: int, seed: int, radius: float = 0.95) -> np.ndarray:
    A = np.random.default_rng(seed).standard_normal((n, n))
    return A * radius / np.abs(np.linalg.eigvals(A)).max()


def reflection(n: int, seed: int) -> np.ndarray:
    """A random orthogonal matrix with determinant -1."""
    from scipy.stats import ortho_group

    Q = ortho_group.rvs(n, random_state=seed)
    if np.linalg.det(Q) > 0:
        Q[:, 0] *= -1
    return Q


def spec_linear_system() -> np.ndarray:
    """The specification's linear system (section 6): N = 10, spectral radius 0.95, T = 2000."""
    return linear_system(random_stable_matrix(10, 0), 2000, seed=1)


def rotated_copy_distances(rank: int, system: np.ndarray | None = None) -> dict[str, float]:
    """{score: DSA distance between the system and a rotated/reflected copy X Q^T} at `rank`, 10 delays."""
    system = spec_linear_system() if system is None else system
    rotated = system @ reflection(system.shape[1], seed=rank).T
    return {method: float(dsa(system, rotated, n_delays=10, rank=rank, score_method=method)) for method in SCORES}


# ------------------------------------------------------------------------------ Lorenz (10, 11)
def lorenz_noise_and_regime(score_method: str, rank: int = 3, trajectories: dict | None = None) -> dict[str, float]:
    """d(clean, noisy sigma = 0.1) and d(rho = 28, rho = 100) at `rank`, 10 delays (oracle 10)."""
    t = trajectories or lorenz_pair()
    kwargs = dict(n_delays=10, rank=rank, score_method=score_method)
    return {"noise": float(dsa(t["clean"], t["noisy"], **kwargs)), "regime": float(dsa(t["clean"], t["rho100"], **kwargs))}


def lorenz_pair() -> dict[str, np.ndarray]:
    return {"clean": lorenz_trajectory(seed=0), "noisy": lorenz_trajectory(seed=0, noise=0.1),
            "rho100": lorenz_trajectory(seed=0, rho=100.0)}


def lorenz_regime_separation(n_clips: int, steps: int, with_distances: bool = False) -> dict:
    """Silhouette and within/between ratio of 5 rho regimes x `n_clips` clips of `steps` steps under
    DSA (70 delays, rank 6, Wasserstein; oracle 11). The reference notebook's scale: 20 x 2000."""
    systems, labels = lorenz_regimes(LORENZ_REGIME_RHOS, n_clips=n_clips, steps=steps)
    distances = dsa(systems, n_delays=70, rank=6, score_method="wasserstein")
    separation = cluster_separation(distances, labels)
    if with_distances:
        separation = {**separation, "distances": np.asarray(distances), "labels": np.asarray(labels)}
    return separation


# ---------------------------------------------------------------------------- attractors (case 2)
def attractor_silhouettes(seed: int, root_dir: Path, tag: str = "tests", extra: list[str] = ()) -> dict:
    """`experiment=dsa_attractors` through the pipeline into MLflow: silhouettes by attractor kind of DSA
    (single-trial fluctuations) and of Procrustes (condition averages), the distance matrices, wall
    seconds and MLflow run id."""
    run = train_experiment(["experiment=dsa_attractors", f"seed={seed}", *extra], root_dir,
                           f"dsa_attractors-seed{seed}", tag)
    m, results = run.metrics, run.objects["model"].results
    return {"silhouette_dsa": m["attractors/silhouette_dsa"], "silhouette_procrustes": m["attractors/silhouette_procrustes"],
            "distances": {k: np.asarray(v).tolist() for k, v in results.items()}, "wall_s": run.wall_s,
            "run_id": run.run_id}


def attractors_separate(result: dict) -> bool:
    """The bars of tests/test_dsa_case_studies.py: DSA > 0.3, Procrustes < 0.1, DSA - Procrustes > 0.3."""
    d, p = result["silhouette_dsa"], result["silhouette_procrustes"]
    return d > ATTRACTOR_DSA and p < ATTRACTOR_PROCRUSTES and d > p + ATTRACTOR_GAP


def _regime_figure(separation: dict):
    from neurobolts.plugins.figures import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4))
    image = ax.imshow(np.log10(separation["distances"] + 1e-12), cmap="viridis")
    fig.colorbar(image, ax=ax, label="log10 Wasserstein DSA distance")
    labels = separation["labels"]
    ticks = [int(np.flatnonzero(labels == k).mean()) for k in np.unique(labels)]
    ax.set_xticks(ticks, [f"rho {r:g}" for r in LORENZ_REGIME_RHOS[: len(ticks)]], fontsize=7, rotation=30)
    ax.set_yticks(ticks, [f"rho {r:g}" for r in LORENZ_REGIME_RHOS[: len(ticks)]], fontsize=7)
    ax.set_title(f"Lorenz regimes: silhouette {separation['silhouette']:.3f}", fontsize=9)
    return fig


FLIPFLOP_CELLS = ("rnn_tanh", "rnn_relu", "gru", "lstm")
FLIPFLOP_DSA = 0.15  # DSA's silhouette by architecture stays below this (no architecture clusters)
FLIPFLOP_GAP = 0.05  # Procrustes clusters by architecture more than DSA by at least this


def flipflop_silhouettes(cells=FLIPFLOP_CELLS, seeds=(0, 1, 2), epochs: int = 10, figure: Path | None = None) -> dict:
    """Case 1 (docs/papers/dsa.md 4): train `experiment=dsa_flipflop` for every cell and seed, run all
    networks on the task probe and return the primary protocol's result (rank 3 = n_bits, no delays,
    angular; `compare_networks`): silhouette_dsa, silhouette_procrustes (raw units) and the matrices."""
    import importlib.util
    import sys

    bench_dir = Path(__file__).resolve().parents[1] / "benchmarks"
    if not (bench_dir / "dsa_flipflop.py").is_file():
        raise FileNotFoundError(f"{bench_dir / 'dsa_flipflop.py'} is missing: the flip-flop row runs from a checkout")
    sys.path.insert(0, str(bench_dir))  # the script trains through benchmarks/common.py
    try:
        spec = importlib.util.spec_from_file_location("dsa_flipflop_benchmark", bench_dir / "dsa_flipflop.py")
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
        with torch_threads(1):
            results = bench.main(["--cells", *cells, "--seeds", *map(str, seeds), "--epochs", str(epochs),
                                  "--primary-only", "--figure", str(figure or Path("dsa_flipflop_mds.png"))])
    finally:
        sys.path.remove(str(bench_dir))
    return next(v for k, v in results.items() if k.startswith("task/primary"))


def flipflop_holds(primary: dict) -> bool:
    return primary["silhouette_dsa"] < FLIPFLOP_DSA and \
        primary["silhouette_procrustes"] > primary["silhouette_dsa"] + FLIPFLOP_GAP


def reproduce(settings: Settings) -> PaperResult:
    """Rotated copies (ranks 10, 30), Lorenz noise vs regime (rank 3), Lorenz regimes (20 clips x T =
    2000) and the attractor study (seeds 0, 1); quick: rank 10, 3 clips x T = 300, tiny attractor runs."""
    from neurobolts.lightning_modules.dsa.figures import attractor_distances_figure

    quick = settings.quick
    with stopwatch() as clock:
        system = spec_linear_system()
        rotated = {rank: rotated_copy_distances(rank, system) for rank in ((10,) if quick else (10, 30))}
    rot_wall = clock.seconds
    with stopwatch() as clock:
        pair = lorenz_pair()
        noise = {method: lorenz_noise_and_regime(method, trajectories=pair) for method in SCORES}
    noise_wall = clock.seconds
    with stopwatch() as clock:
        regimes = lorenz_regime_separation(3, 300, True) if quick else lorenz_regime_separation(20, 2000, True)
    regime_wall = clock.seconds
    small = ["data.n_models=2", "data.n_trials=4", "data.steps=200"] if quick else []
    seeds = ATTRACTOR_SEEDS[:1] if quick else ATTRACTOR_SEEDS
    attractors = {s: attractor_silhouettes(s, settings.root_dir, settings.tag, small) for s in seeds}
    regime_png = save_figure(_regime_figure(regimes), settings.figure_path("dsa_lorenz_regimes.png"))
    first = attractors[seeds[0]]["distances"]
    attractor_png = save_figure(attractor_distances_figure(np.asarray(first["dsa"]), np.asarray(first["procrustes"]),
                                                           np.asarray(first["kind"])),
                                settings.figure_path("dsa_attractors_distances.png"))
    shares = {m: v["noise"] / v["regime"] for m, v in noise.items()}
    regime_raw = {k: v for k, v in regimes.items() if k not in ("distances", "labels")}
    log_run(settings.root_dir, "reproduce_dsa", "oracles", settings.tag, params={"quick": quick},
            metrics={**{f"rotated/rank{r}/{m}": v for r, d in rotated.items() for m, v in d.items()},
                     **{f"lorenz_noise_share/{m}": v for m, v in shares.items()},
                     **{f"lorenz_regimes/{k}": v for k, v in regime_raw.items()}},
            figures=[regime_png], raw={"rotated": rotated, "noise": noise, "regimes": regime_raw})
    worst_rot = {m: max(d[m] for d in rotated.values()) for m in SCORES}
    rows = [
        Row(PAPER, "DSA compares dynamics up to an orthogonal change of basis: a rotated/reflected copy scores ~0 "
                   f"(linear system N = 10, ranks {', '.join(map(str, rotated))})",
            "~0 (reference implementation: angular 0.048 / 0.153 at rank 10 / 30)",
            ", ".join(f"{m} {v:.1e}" for m, v in worst_rot.items())
            + f" (bars {', '.join(f'{v:g}' for v in ROTATION_LIMITS.values())})",
            all(worst_rot[m] <= ROTATION_LIMITS[m] for m in SCORES), "- (deterministic)", rot_wall, []),
        Row(PAPER, "At rank = the signal dimension (3, Lorenz-63) observation noise (sigma = 0.1) is ignored",
            f"d(clean, noisy) < {NOISE_SHARE:.0%} of d(rho 28, rho 100) (README; spec: smaller)",
            ", ".join(f"{m} {v:.2%}" for m, v in shares.items()),
            all(v <= NOISE_SHARE for v in shares.values()), "seed 0", noise_wall, []),
        Row(PAPER, "Lorenz-63 regimes (rho 10, 20, 152, 220, 75) cluster by their dynamics "
                   f"({3 if quick else 20} clips x T = {300 if quick else 2000}, 70 delays, rank 6, Wasserstein)",
            f"silhouette >= {REGIME_SILHOUETTE} (README; spec >= 0.8), within / between <= {REGIME_WITHIN_BETWEEN}",
            f"silhouette {regimes['silhouette']:.4f}, within / between {regimes['within_between']:.1e}",
            regimes["silhouette"] >= REGIME_SILHOUETTE and regimes["within_between"] <= REGIME_WITHIN_BETWEEN,
            "clip seeds of lorenz_regimes", regime_wall, [settings.relative_figure(regime_png)]),
        Row(PAPER, "DSA separates saddle / line / point attractors whose condition averages match; Procrustes "
                   "cannot (experiment=dsa_attractors)",
            f"DSA silhouette by kind > {ATTRACTOR_DSA}, Procrustes < {ATTRACTOR_PROCRUSTES}, gap > {ATTRACTOR_GAP} "
            "(paper: qualitative, MDS)",
            "; ".join(f"seed {s}: DSA {a['silhouette_dsa']:.2f}, Procrustes {a['silhouette_procrustes']:.2f}"
                      for s, a in attractors.items()),
            all(attractors_separate(a) for a in attractors.values()), ", ".join(map(str, seeds)),
            sum(a["wall_s"] for a in attractors.values()), [settings.relative_figure(attractor_png)]),
    ]
    ff_cells, ff_seeds, ff_epochs = (FLIPFLOP_CELLS[:2], (0, 1), 1) if quick else (FLIPFLOP_CELLS, (0, 1, 2), 10)
    ff_png = settings.figure_path("dsa_flipflop_mds.png")
    with stopwatch() as clock:
        flipflop = flipflop_silhouettes(ff_cells, ff_seeds, ff_epochs, ff_png)
    rows.append(Row(
        PAPER, "Flip-flop RNNs of different architectures share one dynamical solution: DSA does not cluster them "
               "by architecture, Procrustes on their geometry does (task probe; DSA rank 3 = n_bits, no delays)",
        f"qualitative (MDS, paper); bars: DSA silhouette < {FLIPFLOP_DSA}, Procrustes > DSA + {FLIPFLOP_GAP} "
        "(README: -0.02 vs +0.25)",
        f"DSA {flipflop['silhouette_dsa']:+.3f}, Procrustes {flipflop['silhouette_procrustes']:+.3f} "
        f"({len(ff_cells)} cells x {len(ff_seeds)} seeds, {ff_epochs} epochs)",
        flipflop_holds(flipflop), ", ".join(map(str, ff_seeds)), clock.seconds, [settings.relative_figure(ff_png)]))
    raw = {"rotated": rotated, "lorenz_noise": noise, "lorenz_regimes": regime_raw,
           "flipflop": {k: flipflop[k] for k in ("silhouette_dsa", "silhouette_procrustes", "within_between_dsa",
                                                 "within_between_procrustes") if k in flipflop},
           "attractors": {s: {k: v for k, v in a.items() if k != "distances"} for s, a in attractors.items()}}
    return PaperResult(rows, raw)
