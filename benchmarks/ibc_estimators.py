"""Inductive-bias complexity: cost of the closed form and of the chunked data estimators.

1. The whole table of the spec (section 4: 4 image tasks, Omniglot, 3 MuJoCo tasks, Cartpole
   T = 1..5) evaluated `--repeats` times: seconds per table against the spec's 1 s limit.
2. MNIST-scale MLE intrinsic dimension (k = 5, 10,000 queries against 60,000 x 784 points, uniform
   on S^14 embedded in R^784): wall seconds and peak-RSS growth against the 4.8 GB an unchunked
   float64 distance matrix would need (ratio; target well under 1).
3. Sample resolution on `--resolution-subset` points of the same data: seconds and RSS growth.
4. Peer (optional): scikit-dimension's MLE (K = 5, comb='mle') and TwoNN on uniform S^m
   (n = 20,000) against ours: estimates and wall-time ratios. Runs when `skdim` is importable
   (install it in a separate venv / --target dir and put it on PYTHONPATH; never in the project venv).

    python benchmarks/ibc_estimators.py [--n 60000] [--features 784] [--queries 10000]
        [--resolution-subset 10000] [--skip-mnist-scale]
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from neurobolts.callbacks.inductive_bias.difficulty import (
    cartpole_difficulty,
    control_difficulty,
    meta_learning_difficulty,
    task_difficulty_bits,
)
from neurobolts.callbacks.inductive_bias.intrinsic_dimension import mle_intrinsic_dim, twonn_intrinsic_dim
from neurobolts.callbacks.inductive_bias.task_resolution import sample_resolution
from neurobolts.datamodules.inductive_bias.sphere_tasks import (
    random_embedding,
    sample_sphere,
    sphere_classification_task,
)

TABLE_LIMIT_S = 1.0


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def closed_form_table() -> list[float]:
    out = [
        task_difficulty_bits(n=60000, intrinsic_dim=14, radius=17.179045827183984, resolution=2.3987084824335305,
                             target_error=1e-3, num_classes=10),
        task_difficulty_bits(n=73257, intrinsic_dim=19, radius=53.86932485133339, resolution=1.5766998174969105,
                             target_error=1e-2, num_classes=10),
        task_difficulty_bits(n=50000, intrinsic_dim=27, radius=54.9156786783691, resolution=2.7506414616587023,
                             target_error=1e-2, num_classes=10),
        task_difficulty_bits(n=1280901, intrinsic_dim=48, radius=943.5923, resolution=65, target_error=0.1,
                             num_classes=1000),
        meta_learning_difficulty(n=1e40, within_dim=22, across_dim=29, radius=49.4064773081425,
                                 resolution=5.477225575051661, target_error=0.01).bits,
    ]
    out += [control_difficulty(n=1e6, observation_dim=m, action_dim=d).bits for m, d in [(6, 2), (15, 4), (17, 6)]]
    out += [cartpole_difficulty(num_observations=t).bits for t in range(1, 6)]
    return out


def bench_table(repeats: int) -> None:
    start = time.perf_counter()
    for _ in range(repeats):
        values = closed_form_table()
    per_table = (time.perf_counter() - start) / repeats
    print(f"[table] {len(values)} tasks: {per_table * 1e3:.3f} ms per table; "
          f"ratio to the {TABLE_LIMIT_S:.0f} s limit = {per_table / TABLE_LIMIT_S:.2e}")
    print("[table] bits: " + ", ".join(f"{v:.4g}" for v in values))


def bench_mnist_scale(n: int, features: int, queries: int, subset: int) -> None:
    g = torch.Generator().manual_seed(0)
    x = sample_sphere(n, 14, g) @ random_embedding(14, features, g) * 17.0
    base = rss_mib()
    start = time.perf_counter()
    m = mle_intrinsic_dim(x, k=5, num_queries=queries)
    wall = time.perf_counter() - start
    grown = rss_mib() - base
    full_mib = queries * n * 8 / 2**20
    print(f"[mle] {queries} queries x {n} points x {features} features: m = {m:.3f} (true 14), {wall:.1f} s, "
          f"peak RSS growth {grown:.0f} MiB vs unchunked matrix {full_mib:.0f} MiB: ratio {grown / full_mib:.3f}")
    y = torch.randint(0, 10, (n,), generator=g)
    base = rss_mib()
    start = time.perf_counter()
    delta = sample_resolution(x, y, subset)
    wall = time.perf_counter() - start
    grown = rss_mib() - base
    full_mib = subset * subset * 8 / 2**20
    print(f"[resolution] subset {subset} x {features} features: delta = {delta:.4f}, {wall:.1f} s, "
          f"peak RSS growth {grown:.0f} MiB vs unchunked matrix {full_mib:.0f} MiB: ratio {grown / full_mib:.3f}")


def bench_peer() -> None:
    try:
        import skdim
    except ImportError:
        print("[peer] scikit-dimension (skdim) not importable: peer comparison skipped")
        return
    for m in (2, 4, 8):
        x, _ = sphere_classification_task(20000, m, 16, 2, margin=0.0, seed=m)
        xd = x.double()
        xn = xd.numpy()
        t0 = time.perf_counter()
        ours_mle = mle_intrinsic_dim(xd, k=5, num_queries=None)
        t1 = time.perf_counter()
        peer_mle = skdim.id.MLE(K=5).fit(xn, n_neighbors=5, comb="mle").dimension_
        t2 = time.perf_counter()
        ours_two = twonn_intrinsic_dim(xd)
        t3 = time.perf_counter()
        peer_two = skdim.id.TwoNN(discard_fraction=0.1).fit(xn).dimension_
        t4 = time.perf_counter()
        print(f"[peer] S^{m} n=20000: MLE ours {ours_mle:.3f} ({t1 - t0:.2f} s) skdim {peer_mle:.3f} "
              f"({t2 - t1:.2f} s), time ratio ours/skdim {(t1 - t0) / (t2 - t1):.2f}; TwoNN ours {ours_two:.3f} "
              f"({t3 - t2:.2f} s) skdim {peer_two:.3f} ({t4 - t3:.2f} s), time ratio {(t3 - t2) / (t4 - t3):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60000)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--queries", type=int, default=10000)
    parser.add_argument("--resolution-subset", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--skip-mnist-scale", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    bench_table(args.repeats)
    if not args.skip_mnist_scale:
        bench_mnist_scale(args.n, args.features, args.queries, args.resolution_subset)
    bench_peer()


if __name__ == "__main__":
    main()
