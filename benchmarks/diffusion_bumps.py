"""Steps and wall seconds for `experiment=diffusion_bumps` to reach C >= 0.5 and C >= 0.95.

Runs the experiment's own config in this process for each seed (logger off, so the figures are the
only files written, under a temporary directory) and prints, per seed, the B-peak step, the first
validation step with C >= 0.5 and with C >= 0.95, the wall seconds to each, the final C fraction
and the whole run's wall time as a ratio of the issue's 10-minute limit (target: under 5).

    python benchmarks/diffusion_bumps.py --seeds 0 1 2 [--max-steps 3000] [override ...]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch import Callback
from omegaconf import open_dict

from neurobolts.lightning_modules.bump_scoring import phase_milestones
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


def run_seed(seed: int, max_steps: int, overrides: list[str]) -> dict[str, float]:
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="neurobolts.configs", version_base="1.3"):
        cfg = compose(
            "train",
            overrides=["experiment=diffusion_bumps", f"seed={seed}", "logger=none", "test=false",
                       "callbacks.rich_progress_bar=null", "trainer.enable_progress_bar=false",
                       f"trainer.max_steps={max_steps}", *overrides],
            return_hydra_config=True,
        )
    tmp = tempfile.mkdtemp(prefix="nb_bench_")
    with open_dict(cfg):
        cfg.paths.root_dir = cfg.paths.output_dir = cfg.paths.log_dir = tmp
        cfg.hydra.runtime.output_dir = tmp
        cfg.hydra.job.num = 0
    HydraConfig().set_config(cfg)
    clock = WallClock()
    start = time.perf_counter()
    _, objects = train(cfg, extra_callbacks=[clock])
    total = time.perf_counter() - start
    h = objects["model"].generation_history
    m = phase_milestones(h["step"], h["frac_B"], h["frac_C"])
    wall = clock.wall_at_step
    return {
        "seed": seed,
        **m,
        "wall_C50": wall.get(int(m["step_C50"]), math.nan) if not math.isnan(m["step_C50"]) else math.nan,
        "wall_C95": wall.get(int(m["step_C95"]), math.nan) if not math.isnan(m["step_C95"]) else math.nan,
        "final_C": h["frac_C"][-1] if h["frac_C"] else math.nan,
        "wall_total": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-steps", type=int, default=3000)
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    args = parser.parse_args()
    rows = [run_seed(s, args.max_steps, args.overrides) for s in args.seeds]
    header = (f"{'seed':>4} {'B_peak@':>8} {'B_peak':>6} {'C50@':>6} {'wall_C50':>9} {'C95@':>6} "
              f"{'wall_C95':>9} {'final_C':>7} {'ABC':>4} {'wall_s':>7} {'wall/limit':>10} {'wall/target':>11}")
    print(header)
    for r in rows:
        print(f"{r['seed']:>4} {r['step_B_peak']:>8.0f} {r['frac_B_peak']:>6.2f} {r['step_C50']:>6.0f} "
              f"{r['wall_C50']:>9.1f} {r['step_C95']:>6.0f} {r['wall_C95']:>9.1f} {r['final_C']:>7.3f} "
              f"{'yes' if r['order_ABC'] else 'no':>4} {r['wall_total']:>7.1f} {r['wall_total'] / LIMIT_S:>10.2f} "
              f"{r['wall_total'] / TARGET_S:>11.2f}")


if __name__ == "__main__":
    main()
