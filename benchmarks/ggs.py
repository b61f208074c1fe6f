"""GGS costs (docs/papers/ggs.md sections 2.4, 2.5, 6; issue 19), side by side in one process:

(a) the exact kNN graph of graph-based smoothing: seconds per 10k nodes of `knn_graph` (Hamming, chunked
    one-hot matrix products in torch; Levenshtein, rapidfuzz) at N = --nodes on AAV-length sequences
    (L = 28, Hamming-1..3 mutants of random parents, as augmentation makes them), against scikit-learn's
    exact brute-force `NearestNeighbors(metric="hamming")` as the peer (ratio = sklearn / ours); the two
    Hamming graphs are checked to have the same distances;
(b) the GWG sampler: proposals scored per second of one `GWGSampler.step` (a BaseCNN, --parents parents x
    --proposals proposals, textbook and code acceptance, gradient and uniform proposals), against the
    limit of scoring the same number of sequences with one forward pass each (ratio = step / limit:
    what the gradients at parents and mutants cost on top).

    python benchmarks/ggs.py [--nodes 10000 20000] [--parents 128] [--proposals 100] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def mutants(num_nodes: int, length: int = 28, parents: int = 500, seed: int = 0) -> torch.Tensor:
    """`num_nodes` unique sequences: random parents and their 1-3 point mutants (augmentation-like)."""
    generator = torch.Generator().manual_seed(seed)
    base = torch.randint(0, 20, (parents, length), generator=generator)
    rows = base[torch.randint(0, parents, (num_nodes * 2,), generator=generator)].clone()
    for _ in range(3):
        position = torch.randint(0, length, (len(rows),), generator=generator)
        rows[torch.arange(len(rows)), position] = torch.randint(0, 20, (len(rows),), generator=generator)
    unique = torch.unique(rows, dim=0)
    return unique[torch.randperm(len(unique), generator=generator)[:num_nodes]]


def knn_benchmark(num_nodes: int) -> dict:
    from sklearn.neighbors import NearestNeighbors

    from neurobolts.lightning_modules.ggs.graph import default_k, knn_graph

    tokens = mutants(num_nodes)
    k = default_k(num_nodes)
    out = {"nodes": num_nodes, "k": k}
    start = time.perf_counter()
    _, _, ours = knn_graph(tokens, k, metric="hamming")
    out["hamming_s"] = time.perf_counter() - start
    start = time.perf_counter()
    _, _, edit = knn_graph(tokens, k, metric="levenshtein")
    out["levenshtein_s"] = time.perf_counter() - start
    start = time.perf_counter()
    search = NearestNeighbors(n_neighbors=k + 1, metric="hamming", algorithm="brute").fit(tokens.numpy())
    distances, _ = search.kneighbors(tokens.numpy())
    out["sklearn_s"] = time.perf_counter() - start
    sklearn_sorted = np.sort(np.rint(distances[:, 1:] * tokens.shape[1]).astype(np.int64), axis=1)
    out["same_distances"] = bool(np.array_equal(np.sort(ours.reshape(num_nodes, k), axis=1), sklearn_sorted))
    out["levenshtein_le_hamming"] = bool((edit.reshape(num_nodes, k).sum(1) <= ours.reshape(num_nodes, k).sum(1)).all())
    return out


def gwg_benchmark(parents: int, proposals: int) -> list[dict]:
    from neurobolts.lightning_modules.ggs.cnn import BaseCNN, predict_fitness
    from neurobolts.lightning_modules.ggs.gwg import GWGSampler

    torch.manual_seed(0)
    model = BaseCNN().eval()
    tokens = torch.randint(0, 20, (parents, 28), generator=torch.Generator().manual_seed(1))
    batch = torch.randint(0, 20, (parents * proposals, 28), generator=torch.Generator().manual_seed(2))
    start = time.perf_counter()
    predict_fitness(model, batch)
    limit = len(batch) / (time.perf_counter() - start)
    rows = []
    for acceptance, proposal in (("textbook", "gradient"), ("code", "gradient"), ("textbook", "uniform")):
        sampler = GWGSampler(model, temperature=0.1, num_proposals=proposals, acceptance=acceptance, proposal=proposal)
        start = time.perf_counter()
        result = sampler.step(tokens, torch.Generator().manual_seed(3))
        seconds = time.perf_counter() - start
        scored = len(result.mutant_scores)
        rows.append({"acceptance": acceptance, "proposal": proposal, "seconds": seconds,
                     "scored_per_s": scored / seconds, "limit_per_s": limit, "ratio": scored / seconds / limit,
                     "accepted": float(result.accepted.float().mean())})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[10000, 20000])
    parser.add_argument("--parents", type=int, default=128)
    parser.add_argument("--proposals", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"(a) exact kNN graph, L = 28, torch threads {args.threads}")
    print(f"{'N':>7} {'k':>4} {'hamming s/10k':>14} {'levenshtein s/10k':>18} {'sklearn s/10k':>14} "
          f"{'sklearn/ours':>12} {'same graph':>10}")
    for num_nodes in args.nodes:
        r = knn_benchmark(num_nodes)
        per = 1e4 / num_nodes
        print(f"{r['nodes']:>7} {r['k']:>4} {r['hamming_s'] * per:>14.2f} {r['levenshtein_s'] * per:>18.2f} "
              f"{r['sklearn_s'] * per:>14.2f} {r['sklearn_s'] / r['hamming_s']:>12.2f} {str(r['same_distances']):>10}")
    print(f"\n(b) GWG step, BaseCNN, {args.parents} parents x {args.proposals} proposals, temperature 0.1")
    print(f"{'acceptance':>10} {'proposal':>9} {'s/step':>8} {'scored/s':>9} {'forward limit/s':>16} {'ratio':>6}")
    for r in gwg_benchmark(args.parents, args.proposals):
        print(f"{r['acceptance']:>10} {r['proposal']:>9} {r['seconds']:>8.2f} {r['scored_per_s']:>9.0f} "
              f"{r['limit_per_s']:>16.0f} {r['ratio']:>6.2f}")


if __name__ == "__main__":
    main()
