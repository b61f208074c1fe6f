"""Overhead of the LatentManifoldOrdering callback on `experiment=diffusion_bumps`.

Trains the same seed with and without the callback in this process and prints the wall times and
their ratio (issue 4's limit: under 5 % at the default cadence). A short warm-up run first pays the
one-off costs (imports, allocator, first figure), and each repeat alternates the order (without/with,
then with/without) so that neither variant always runs second; the best time of each is compared.
It also prints the time spent inside the callback's measurements as a share of its run's wall time,
which does not suffer from the run-to-run noise of a shared machine.

    python benchmarks/latent_manifold_overhead.py [--max-steps 1000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

from common import QUIET, compose_experiment

from neurobolts.callbacks import LatentManifoldOrdering
from neurobolts.plugins.pipeline import train

LIMIT = 0.05


CALLBACK_SECONDS: list[float] = []


def wall_seconds(with_callback: bool, max_steps: int, seed: int) -> float:
    overrides = ["experiment=diffusion_bumps", f"seed={seed}", "test=false", f"trainer.max_steps={max_steps}",
                 *QUIET]
    if not with_callback:
        overrides.append("callbacks.latent_manifold=null")
    cfg = compose_experiment(overrides)
    start = time.perf_counter()
    _, objects = train(cfg)
    wall = time.perf_counter() - start
    for callback in objects["callbacks"]:
        if isinstance(callback, LatentManifoldOrdering):
            CALLBACK_SECONDS.append(callback.seconds_spent / wall)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    wall_seconds(True, 20, args.seed)  # warm-up, not measured
    CALLBACK_SECONDS.clear()
    without, with_cb = [], []
    for repeat in range(args.repeats):
        for with_callback in ((False, True) if repeat % 2 == 0 else (True, False)):
            (with_cb if with_callback else without).append(wall_seconds(with_callback, args.max_steps, args.seed))
    base, cb = min(without), min(with_cb)
    overhead = cb / base - 1.0
    print(f"steps={args.max_steps} repeats={args.repeats} (best of each); without: "
          + " ".join(f"{t:.1f}" for t in without) + " s; with: " + " ".join(f"{t:.1f}" for t in with_cb) + " s")
    print(f"without callback: {base:8.1f} s   with callback: {cb:8.1f} s")
    print(f"ratio with/without: {cb / base:.3f}   overhead: {100 * overhead:.1f} %   "
          f"overhead/limit(5 %): {overhead / LIMIT:.2f}")
    share = min(CALLBACK_SECONDS)
    print(f"time inside the callback / wall time of its run (less noisy than the difference): "
          f"{100 * share:.2f} %  (each run: " + " ".join(f"{100 * c:.2f}" for c in CALLBACK_SECONDS)
          + f" %)   share/limit(5 %): {share / LIMIT:.2f}")


if __name__ == "__main__":
    main()
