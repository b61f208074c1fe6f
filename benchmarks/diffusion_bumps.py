"""Steps and wall seconds for `experiment=diffusion_bumps` to reach C >= 0.5 and C >= 0.95.

Also prints each seed's phase curve (with the LatentManifoldOrdering metrics of the experiment's
callback) and the per-axis milestones: the first steps with x- and y-accuracy >= 0.8 against the
width of the B -> C transition (`--experiment diffusion_bumps_imbalanced` for P1's imbalance result).

Runs the experiment's own config in this process for each seed (logger off, so the figures are the
only files written, under a temporary directory) and prints, per seed, the B-peak step, the first
validation step with C >= 0.5 and with C >= 0.95, the wall seconds to each, the final C fraction
and the whole run's wall time as a ratio of the issue's 10-minute limit (target: under 5).

    python benchmarks/diffusion_bumps.py --seeds 0 1 2 [--max-steps 3000] [--experiment NAME] [override ...]
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from common import QUIET, compose_experiment
from lightning.pytorch import Callback

from neurobolts.callbacks import LatentManifoldOrdering
from neurobolts.lightning_modules.diffusion_bumps.scoring import first_step_at_least, phase_milestones
from neurobolts.plugins.pipeline import train

LIMIT_S = 600.0
TARGET_S = 300.0


class WallClock(Callback):
    """Wall seconds since fit start at each validation end, by global step."""

    def __init__(self) -> None:
        self.start = None
        self.wall_at_step: dict[int, float] = {}

    def on_fit_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.wall_at_step[trainer.global_step] = time.perf_counter() - self.start


def print_curves(seed: int, generation: dict[str, list], callbacks: list) -> None:
    """The phase curve of one seed, with the latent-manifold metrics when the callback is attached."""
    manifold = next((c.history for c in callbacks if isinstance(c, LatentManifoldOrdering)), {})
    gen_at = {int(s): i for i, s in enumerate(generation["step"])}
    man_at = {int(s): i for i, s in enumerate(manifold.get("step", []))}
    print(f"seed {seed}: {'step':>5} {'A':>5} {'B':>5} {'C':>5} {'trust':>6} {'cont':>6} {'PR':>5} {'phase':>5}")
    for step in sorted(set(gen_at) | set(man_at)):
        i, j = gen_at.get(step), man_at.get(step)
        gen = ["-"] * 3 if i is None else [f"{generation[k][i]:.3f}" for k in ("frac_A", "frac_B", "frac_C")]
        man = ["-"] * 4 if j is None else [
            f"{manifold['trustworthiness'][j]:.4f}", f"{manifold['continuity'][j]:.4f}",
            f"{manifold['participation_ratio'][j]:.2f}", "ABC"[int(manifold["phase"][j])]]
        print(f"seed {seed}: {step:>5} " + " ".join(f"{v:>5}" for v in gen) + " "
              + " ".join(f"{v:>6}" for v in man))


def run_seed(seed: int, max_steps: int | None, overrides: list[str], experiment: str) -> dict[str, float]:
    cfg = compose_experiment([f"experiment={experiment}", f"seed={seed}", "test=false", *QUIET,
                              *([] if max_steps is None else [f"trainer.max_steps={max_steps}"]), *overrides])
    clock = WallClock()
    start = time.perf_counter()
    _, objects = train(cfg, extra_callbacks=[clock])
    total = time.perf_counter() - start
    h = objects["model"].generation_history
    print_curves(seed, h, objects["callbacks"])
    m = phase_milestones(h["step"], h["frac_B"], h["frac_C"])
    wall = clock.wall_at_step
    return {
        "seed": seed,
        **m,
        "wall_C50": wall.get(int(m["step_C50"]), math.nan) if not math.isnan(m["step_C50"]) else math.nan,
        "wall_C95": wall.get(int(m["step_C95"]), math.nan) if not math.isnan(m["step_C95"]) else math.nan,
        "final_C": h["frac_C"][-1] if h["frac_C"] else math.nan,
        "step_x80": first_step_at_least(h["step"], h["acc_x"], 0.8),
        "step_y80": first_step_at_least(h["step"], h["acc_y"], 0.8),
        "wall_total": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-steps", type=int, default=None, help="default: the experiment's trainer.max_steps")
    parser.add_argument("--experiment", default="diffusion_bumps",
                        help="diffusion_bumps or diffusion_bumps_imbalanced")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice, all cores)")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [run_seed(s, args.max_steps, args.overrides, args.experiment) for s in args.seeds]
    header = (f"{'seed':>4} {'B_peak@':>8} {'B_peak':>6} {'C50@':>6} {'wall_C50':>9} {'C95@':>6} "
              f"{'wall_C95':>9} {'final_C':>7} {'ABC':>4} {'wall_s':>7} {'wall/limit':>10} {'wall/target':>11}")
    print(header)
    for r in rows:
        print(f"{r['seed']:>4} {r['step_B_peak']:>8.0f} {r['frac_B_peak']:>6.2f} {r['step_C50']:>6.0f} "
              f"{r['wall_C50']:>9.1f} {r['step_C95']:>6.0f} {r['wall_C95']:>9.1f} {r['final_C']:>7.3f} "
              f"{'yes' if r['order_ABC'] else 'no':>4} {r['wall_total']:>7.1f} {r['wall_total'] / LIMIT_S:>10.2f} "
              f"{r['wall_total'] / TARGET_S:>11.2f}")
    print(f"\n{'seed':>4} {'x80@':>6} {'y80@':>6} {'|x80-y80|':>9} {'B->C width':>10}   (per-axis accuracy >= 0.8; "
          "C < 0.15 -> C > 0.75)")
    for r in rows:
        print(f"{r['seed']:>4} {r['step_x80']:>6.0f} {r['step_y80']:>6.0f} {abs(r['step_x80'] - r['step_y80']):>9.0f} "
              f"{r['transition_width']:>10.0f}")


if __name__ == "__main__":
    main()
