"""DSA case 1: do trained flip-flop RNNs cluster by architecture? DSA should say no, Procrustes yes.

Trains `experiment=dsa_flipflop` for every cell and seed (logger off, in this process), records every
network's hidden states on the same probe sequences, then computes between all networks

- DSA (angular) on the hidden-state trajectories (each network projected on its top `--pcs` principal
  components first, so that networks of any width are compared in the same number of dimensions);
- angular Procrustes on the same hidden states (time x units point clouds);

and prints the silhouette by architecture of each distance matrix (higher = clustered by architecture).

    python benchmarks/dsa_flipflop.py [--cells rnn_tanh rnn_relu gru lstm] [--seeds 0 1] [--epochs 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from neurobolts.callbacks.dsa import dsa
from neurobolts.callbacks.procrustes import pairwise_procrustes_distances
from neurobolts.lightning_modules.dsa_attractors import cluster_separation
from neurobolts.lightning_modules.flip_flop_rnn import CELLS
from neurobolts.plugins.pipeline import train


def train_network(cell: str, seed: int, epochs: int, overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="neurobolts.configs", version_base="1.3"):
        cfg = compose("train", overrides=["experiment=dsa_flipflop", f"model.cell={cell}", f"seed={seed}",
                                          "logger=none", "callbacks=none", "test=false",
                                          "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false",
                                          f"trainer.max_epochs={epochs}", *overrides],
                      return_hydra_config=True)
    tmp = tempfile.mkdtemp(prefix="nb_flipflop_")
    with open_dict(cfg):
        cfg.paths.root_dir = cfg.paths.output_dir = cfg.paths.log_dir = tmp
        cfg.hydra.runtime.output_dir = tmp
        cfg.hydra.job.num = 0
        cfg.hydra.job.id = 0
        cfg.callbacks = {}
    HydraConfig().set_config(cfg)
    metrics, objects = train(cfg)
    return objects["model"], objects["datamodule"], metrics


def principal_components(states: np.ndarray, k: int) -> np.ndarray:
    """(B, T, H) -> (B, T, k) projected on the top-k PCs of all time points."""
    flat = states.reshape(-1, states.shape[-1])
    flat = flat - flat.mean(axis=0)
    _, _, vt = np.linalg.svd(flat, full_matrices=False)
    return (flat @ vt[:k].T).reshape(*states.shape[:2], k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="+", default=list(CELLS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--pcs", type=int, default=10)
    parser.add_argument("--n-delays", type=int, default=5)
    parser.add_argument("--rank", type=int, default=20)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    torch.set_num_threads(1)
    states, labels = [], []
    for cell in args.cells:
        for seed in args.seeds:
            start = time.perf_counter()
            model, datamodule, metrics = train_network(cell, seed, args.epochs, args.overrides)
            probe = datamodule.probe_batch()[0]
            with torch.no_grad():
                model.eval()
                hidden = model.hidden_states(probe).double().numpy()
            states.append(principal_components(hidden, args.pcs))
            labels.append(args.cells.index(cell))
            print(f"{cell:<9} seed {seed}: val/accuracy {metrics.get('val/accuracy', float('nan')):.4f}, "
                  f"val/loss {metrics.get('val/loss', float('nan')):.4f} ({time.perf_counter() - start:.0f} s)",
                  flush=True)
    start = time.perf_counter()
    dsa_distances = dsa(states, n_delays=args.n_delays, rank=args.rank, score_method="angular")
    dsa_seconds = time.perf_counter() - start
    procrustes = pairwise_procrustes_distances([s.reshape(-1, s.shape[-1]) for s in states])
    print(f"\n{len(states)} networks, {len(states) * (len(states) - 1) // 2} pairs; DSA all pairs "
          f"{dsa_seconds:.1f} s (n_delays={args.n_delays}, rank={args.rank}, {args.pcs} PCs)")
    for name, distances in (("DSA (angular)", dsa_distances), ("Procrustes (angular)", procrustes)):
        sep = cluster_separation(distances, labels)
        print(f"{name:<22} silhouette by architecture {sep['silhouette']:+.3f}   "
              f"within/between {sep['within_between']:.3f}")
    np.set_printoptions(precision=3, suppress=True, linewidth=160)
    print("labels:", [args.cells[i] for i in labels])
    print("DSA:\n", dsa_distances, "\nProcrustes:\n", procrustes)


if __name__ == "__main__":
    main()
