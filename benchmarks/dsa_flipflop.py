"""DSA case 1 (docs/papers/dsa.md 4): do flip-flop RNNs of different architectures cluster by architecture?

The paper's claim (Maheswaranathan et al. 2019 networks; qualitative, MDS plots): LSTM, GRU and vanilla
RNNs trained on the 3-bit flip-flop task share the same dynamical solution (2^3 stable fixed points) but
differ in geometry, so Procrustes clusters them by architecture and DSA does not.

Every network runs the same two probes: "task", the probe sequences (`FlipFlopDataModule.probe_batch()`:
32 x 100 steps of task input), and "relaxation", autonomous dynamics from perturbed fixed points
(`relaxation_states`: 8 patterns x 10 perturbations, 60 zero-input steps). Their hidden states (h; for an
LSTM the output h, not the cell state) are compared between all networks by

- Procrustes (angular, Williams et al. 2021) on the time x units point clouds: all units ("raw") and
  the top-10 PCs;
- DSA under a fixed grid of protocols, every one printed (`PROTOCOLS`). The first is the primary
  protocol: rank = n_bits = 3, the task's latent dimension (the cube of 2^3 fixed points; the
  signal-dimension rule of docs/papers/dsa.md 5.7), no delays, angular score.

It prints the silhouette by architecture of every distance matrix (higher = clustered by
architecture; 0 = no structure) and saves an MDS figure (sklearn metric MDS on the precomputed
distances) of the primary DSA and the raw Procrustes matrices on the task probe.

Measured (README, DSA section): 12 networks, 4 cells x 3 seeds, 10 epochs: task probe, primary DSA
-0.02 vs Procrustes +0.25; DSA with delays and rank 10-20 clusters by architecture (+0.21 to +0.53).

Two ways to get the networks:

    # train every cell and seed here (checkpoints under a temporary directory)
    python benchmarks/dsa_flipflop.py --cells rnn_tanh rnn_relu gru lstm --seeds 0 1 --epochs 10
    # analyse a Hydra multirun (each job's <job>/checkpoints/last.ckpt); several sweeps and checkpoints mix
    python train.py -m experiment=dsa_flipflop model.cell=rnn_tanh,gru,lstm seed=0,1
    python benchmarks/dsa_flipflop.py --from-multirun logs/dsa_flipflop/multiruns/<date_time>
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from neurobolts.callbacks.dsa.network_comparison import compare_networks, multirun_checkpoints
from neurobolts.datamodules.dsa.flip_flop import FlipFlopDataModule
from neurobolts.lightning_modules.dsa.flip_flop_rnn import CELLS, load_flip_flop_rnn
from neurobolts.plugins.figures import pyplot

# (name, DSA settings); Procrustes does not depend on them. The first is the primary protocol.
PROTOCOLS = [
    ("primary: rank 3 (= n_bits), d=1, angular", dict(n_delays=1, rank=3, score_method="angular", dsa_pcs=None)),
    ("rank 3, d=1, wasserstein", dict(n_delays=1, rank=3, score_method="wasserstein", dsa_pcs=None)),
    ("rank 3, d=5, angular", dict(n_delays=5, rank=3, score_method="angular", dsa_pcs=None)),
    ("rank 3, d=10, angular", dict(n_delays=10, rank=3, score_method="angular", dsa_pcs=None)),
    ("10 PCs, d=5, rank 10, angular", dict(n_delays=5, rank=10, score_method="angular", dsa_pcs=10)),
    ("10 PCs, d=5, rank 20, angular", dict(n_delays=5, rank=20, score_method="angular", dsa_pcs=10)),
    ("10 PCs, d=5, rank 20, wasserstein", dict(n_delays=5, rank=20, score_method="wasserstein", dsa_pcs=10)),
    ("10 PCs, d=10, rank 10, angular", dict(n_delays=10, rank=10, score_method="angular", dsa_pcs=10)),
]


def train_checkpoints(cells: list[str], seeds: list[int], epochs: int, overrides: list[str]) -> list[Path]:
    """Train `experiment=dsa_flipflop` for every cell and seed in this process; their last.ckpt paths."""
    from common import QUIET, compose_experiment

    from neurobolts.plugins.pipeline import train

    paths = []
    for cell in cells:
        for seed in seeds:
            start = time.perf_counter()
            cfg = compose_experiment(["experiment=dsa_flipflop", f"model.cell={cell}", f"seed={seed}", *QUIET,
                                      "callbacks.dynamical_similarity=null", "test=false",
                                      f"trainer.max_epochs={epochs}", *overrides])
            metrics, _ = train(cfg)
            paths.append(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
            print(f"trained {cell:<9} seed {seed}: val/accuracy {float(metrics.get('val/accuracy', np.nan)):.4f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    return paths


def relaxation_states(model, n_perturbations: int = 10, settle: int = 50, steps: int = 60, scale: float = 0.5,
                      seed: int = 0) -> torch.Tensor:
    """Autonomous dynamics around the 2^n_bits fixed points: (2^n_bits * n_perturbations, steps + 1, hidden).

    Each bit pattern is written by one input pulse and held for `settle` zero-input steps (the state then
    sits at that pattern's fixed point); the state (h, and c for an LSTM) is perturbed by Gaussian noise
    of `scale` x its standard deviation over all fixed points, and evolves for `steps` steps with zero
    input. The trajectories start at the perturbed state.
    """
    n_bits = model.hparams.n_bits
    patterns = torch.tensor([[(p >> b) & 1 for b in range(n_bits)] for p in range(2**n_bits)]) * 2.0 - 1
    pulse = torch.zeros(len(patterns), settle + 1, n_bits)
    pulse[:, 0] = patterns
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        _, state = model.rnn(pulse)
        parts = state if isinstance(state, tuple) else (state,)
        parts = [part.repeat_interleave(n_perturbations, dim=1) for part in parts]
        parts = [part + scale * part.std() * torch.randn(part.shape, generator=generator) for part in parts]
        start = tuple(parts) if isinstance(state, tuple) else parts[0]
        hidden, _ = model.rnn(torch.zeros(parts[0].shape[1], steps, n_bits), start)
    return torch.cat([parts[0].transpose(0, 1), hidden], dim=1)


def probe_hidden_states(paths: list[Path]) -> tuple[dict[str, list[np.ndarray]], list[str], list[float]]:
    """Every network's hidden states on the common probes ("task": the probe sequences; "relaxation":
    `relaxation_states`), its cell and its accuracy on the task probe."""
    states, cells, accuracies = {"task": [], "relaxation": []}, [], []
    probe = targets = None
    for path in paths:
        model = load_flip_flop_rnn(path)
        if probe is None:
            probe, targets = FlipFlopDataModule(n_bits=model.hparams.n_bits).probe_batch()
        elif model.hparams.n_bits != probe.shape[-1]:
            raise ValueError(f"{path}: n_bits={model.hparams.n_bits}, but the first network has {probe.shape[-1]}")
        with torch.no_grad():
            hidden = model.hidden_states(probe)
            accuracies.append(float((torch.sign(model.readout(hidden)) == targets).float().mean()))
        states["task"].append(hidden.double().numpy())
        states["relaxation"].append(relaxation_states(model).double().numpy())
        cells.append(model.hparams.cell)
    return states, cells, accuracies


def save_mds_figure(result: dict, cells: list[str], path: Path, dsa_name: str) -> None:
    plt = pyplot()
    from sklearn.manifold import MDS

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    colours = {cell: f"C{i}" for i, cell in enumerate(sorted(set(cells), key=list(CELLS + tuple(cells)).index))}
    for ax, key, title in ((axes[0], "dsa", f"DSA ({dsa_name})"), (axes[1], "procrustes", "Procrustes (raw)")):
        mds = MDS(n_components=2, metric="precomputed", init="random", n_init=4, random_state=0)
        coords = mds.fit_transform(result[key])
        for cell, colour in colours.items():
            idx = [i for i, c in enumerate(cells) if c == cell]
            ax.scatter(coords[idx, 0], coords[idx, 1], c=colour, label=cell, s=40)
        ax.set_title(f"{title}\nsilhouette by architecture {result[f'silhouette_{key}']:+.2f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from-multirun", nargs="+", default=[], metavar="SWEEP_DIR",
                        help="Hydra multirun directories whose jobs hold checkpoints/last.ckpt")
    parser.add_argument("--checkpoints", nargs="+", default=[], help="further FlipFlopRNN checkpoints")
    parser.add_argument("--cells", nargs="+", default=list(CELLS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--figure", type=Path, default=None,
                        help="MDS figure path (default: <first sweep dir>/dsa_flipflop_mds.png or ./)")
    parser.add_argument("--primary-only", action="store_true", help="only the primary DSA protocol")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for in-process training")
    args = parser.parse_args(argv)
    paths = [p for sweep in args.from_multirun for p in multirun_checkpoints(sweep)]
    paths += [Path(p) for p in args.checkpoints]
    if not paths:
        paths = train_checkpoints(args.cells, args.seeds, args.epochs, args.overrides)
    states, cells, accuracies = probe_hidden_states(paths)
    for path, cell, accuracy in zip(paths, cells, accuracies, strict=True):
        print(f"{cell:<9} task-probe accuracy {accuracy:.4f}  {path}")
    if len(set(cells)) < 2:
        raise SystemExit(f"need networks of at least 2 architectures, got {sorted(set(cells))}")
    protocols = PROTOCOLS[:1] if args.primary_only else PROTOCOLS
    results = {}
    print(f"\n{len(cells)} networks ({', '.join(f'{c}: {cells.count(c)}' for c in dict.fromkeys(cells))}); "
          "silhouette by architecture (higher = clustered by architecture), within/between mean distance")
    for probe, probe_states in states.items():
        if probe != "task" and args.primary_only:
            continue
        print(f"probe: {probe}")
        for pcs in (None, 10):
            result = compare_networks(probe_states, cells, procrustes_pcs=pcs, **protocols[0][1])
            name = "raw" if pcs is None else f"{pcs}pcs"
            print(f"  Procrustes (angular), {'raw units' if pcs is None else f'{pcs} PCs':<28} silhouette "
                  f"{result['silhouette_procrustes']:+.3f}   within/between {result['within_between_procrustes']:.3f}")
            results[f"{probe}/procrustes_{name}"] = result
        for name, settings in protocols:
            start = time.perf_counter()
            result = compare_networks(probe_states, cells, **settings)
            results[f"{probe}/{name}"] = result
            print(f"  DSA {name:<43} silhouette {result['silhouette_dsa']:+.3f}   within/between "
                  f"{result['within_between_dsa']:.3f}   ({time.perf_counter() - start:.1f} s)", flush=True)
    primary = results[f"task/{protocols[0][0]}"]
    primary["procrustes"] = results["task/procrustes_raw"]["procrustes"]
    primary["silhouette_procrustes"] = results["task/procrustes_raw"]["silhouette_procrustes"]
    figure = args.figure or (Path(args.from_multirun[0]) if args.from_multirun else Path(".")) / "dsa_flipflop_mds.png"
    save_mds_figure(primary, cells, figure, protocols[0][0].split(": ")[-1])
    print(f"\nprimary (task probe): DSA silhouette {primary['silhouette_dsa']:+.3f} vs Procrustes (raw) "
          f"{primary['silhouette_procrustes']:+.3f}; MDS figure {figure}")
    return results


if __name__ == "__main__":
    torch.set_num_threads(1)  # small matrices: more threads only add overhead (docs/papers/dsa.md 5.8)
    main()
