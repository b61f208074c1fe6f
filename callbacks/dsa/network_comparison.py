"""Compare many trained networks by their dynamics (DSA) and their geometry (Procrustes): DSA case 1.

`compare_networks(states, labels, ...)` takes every network's hidden-state trajectories on the same probe
inputs, (trials, time, units) each (units may differ between networks), and returns the DSA and the
angular Procrustes distance matrices between all networks with the silhouette of `labels` (e.g. the
architecture) on each (`cluster_separation`: higher = clustered by label).

`multirun_checkpoints(sweep_dir)` finds the `last.ckpt` of every job of a Hydra multirun
(`<sweep dir>/<job>/checkpoints/last.ckpt`), in job order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurobolts.callbacks.dsa.procrustes import pairwise_procrustes_distances
from neurobolts.callbacks.dsa.similarity import dsa
from neurobolts.plugins.checks import check_positive_int

__all__ = ["cluster_separation", "compare_networks", "multirun_checkpoints", "principal_components"]


def cluster_separation(distances: np.ndarray, labels) -> dict[str, float]:
    """Silhouette (precomputed distances) and mean within-label / mean between-label distance."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    within = distances[same & off_diagonal].mean() if (same & off_diagonal).any() else float("nan")
    between = distances[~same].mean() if (~same).any() else float("nan")
    n_labels = len(np.unique(labels))
    silhouette = (float(silhouette_score(distances, labels, metric="precomputed"))
                  if 2 <= n_labels < len(labels) else float("nan"))
    return {"silhouette": silhouette, "within_between": float(within / between) if between > 0 else float("nan")}


def principal_components(states: np.ndarray, k: int | None) -> np.ndarray:
    """(trials, time, units) centred over all time points and projected on its top-k PCs (None: all units)."""
    states = np.asarray(states, dtype=np.float64)
    flat = states.reshape(-1, states.shape[-1])
    flat = flat - flat.mean(axis=0)
    k = check_positive_int("pcs", k, allow_none=True)
    if k is not None:
        _, _, vt = np.linalg.svd(flat, full_matrices=False)
        flat = flat @ vt[:k].T
    return flat.reshape(*states.shape[:2], flat.shape[-1])


def compare_networks(states: list, labels, *, n_delays: int = 1, rank=3, score_method: str = "angular",
                     dsa_pcs: int | None = None, procrustes_pcs: int | None = None, seed: int = 0) -> dict:
    """DSA and Procrustes distances between networks, with the silhouette of `labels` on each.

    Args:
        states: one (trials, time, units) array per network, all on the same probe inputs.
        labels: one label per network (e.g. its architecture).
        n_delays, rank, score_method, seed: DSA settings (`neurobolts.callbacks.dsa.dsa`).
        dsa_pcs / procrustes_pcs: project each network's states on its top-k PCs first (None: all units).

    Returns: {"dsa", "procrustes": (n, n) matrices, "silhouette_dsa", "silhouette_procrustes",
    "within_between_dsa", "within_between_procrustes"}.
    """
    if len(states) < 2:
        raise ValueError(f"states must hold at least 2 networks, got {len(states)}")
    if len(labels) != len(states):
        raise ValueError(f"labels must have one entry per network: {len(labels)} labels for {len(states)} networks")
    shapes = {tuple(np.shape(s)[:2]) for s in states}
    if any(np.ndim(s) != 3 for s in states) or len(shapes) != 1:
        raise ValueError("states must be (trials, time, units) arrays on the same probe (same trials and time), "
                         f"got shapes {[np.shape(s) for s in states]}")
    dsa_states = [principal_components(s, dsa_pcs) for s in states]
    distances = dsa(dsa_states, n_delays=n_delays, rank=rank, score_method=score_method, seed=seed)
    geometry = [principal_components(s, procrustes_pcs) for s in states]
    procrustes = pairwise_procrustes_distances([g.reshape(-1, g.shape[-1]) for g in geometry])
    out = {"dsa": distances, "procrustes": procrustes}
    for name, matrix in (("dsa", distances), ("procrustes", procrustes)):
        for key, value in cluster_separation(matrix, labels).items():
            out[f"{key}_{name}"] = value
    return out


def multirun_checkpoints(sweep_dir, filename: str = "last.ckpt") -> list[Path]:
    """`<sweep_dir>/<job>/checkpoints/<filename>` of every job of a Hydra multirun, in job-number order."""
    sweep = Path(sweep_dir)
    if not sweep.is_dir():
        raise ValueError(f"sweep_dir={str(sweep)!r} is not a directory; expected a Hydra multirun directory")
    found = list(sweep.glob(f"*/checkpoints/{filename}"))

    def job_number(path: Path):
        name = path.parent.parent.name
        return (0, int(name), "") if name.isdigit() else (1, 0, name)

    found.sort(key=job_number)
    if not found:
        raise ValueError(f"no */checkpoints/{filename} under sweep_dir={str(sweep)!r}; did the multirun jobs finish?")
    return found
