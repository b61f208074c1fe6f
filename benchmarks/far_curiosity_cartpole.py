"""Is FARCuriosity's PPO learner right? An outside benchmark with the curiosity off (issue text;
docs/papers/far_curiosity.md section 2.6): gymnasium's CartPole-v1 with CleanRL's `ppo.py` settings
must reach a mean return over the last 20 episodes >= 450 within 500k environment steps in 3 of 3
seeds (CleanRL's ppo.py reaches 492 +- 13 there).

Each seed is one run of the real `PPOCuriosity` LightningModule (curiosity=None) on `RLEnvDataModule`
through a Lightning Trainer (CPU, no logger, no checkpoints, no progress bar; one PPO iteration per
loader item, max_epochs=1). A small callback reads the logged metrics after each iteration.

CleanRL ppo.py settings: 4 environments x 128 steps, Adam lr 2.5e-4 annealed linearly to 0, 4
minibatches x 4 epochs, clip 0.2 (policy and value), entropy 0.01, value coefficient 0.5, gamma 0.99,
GAE lambda 0.95, max grad norm 0.5, normalised advantages, separate actor and critic MLPs 64-64 tanh.
The run length is ceil(steps / 512) iterations (the lr anneals over it, as CleanRL's over its budget).

Prints per seed: the environment steps at which return_last20 first reached the threshold, the final
return_last20, steps/s; then whether every seed reached it within the budget. Writes results.json and
return_vs_steps.png under --out.

    python benchmarks/far_curiosity_cartpole.py [--seeds 0 1 2] [--steps 500000] [--threshold 450]
                                                [--out logs/far_curiosity_cartpole] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
from pathlib import Path

import torch

from neurobolts.reproduce import far_curiosity  # the report (make reproduce) runs the same function

ENV_ID, NUM_ENVS = far_curiosity.CARTPOLE, far_curiosity.CARTPOLE_ENVS
THRESHOLD, BUDGET = far_curiosity.CARTPOLE_THRESHOLD, far_curiosity.CARTPOLE_BUDGET
CLEANRL_PPO, CLEANRL_REFERENCE = far_curiosity.CLEANRL_PPO, far_curiosity.CLEANRL_REFERENCE
ROOT = Path(__file__).resolve().parents[1]


def run_seed(seed: int, steps: int, threshold: float = THRESHOLD) -> dict:
    """One CartPole run of PPOCuriosity through a Lightning Trainer (`cartpole_run`), quiet."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    return far_curiosity.cartpole_run(seed, steps, threshold)


def figure(results: list[dict], threshold: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for run in results:
        rows = [row for row in run["curve"] if "return_last20" in row]
        ax.plot([row["env_steps"] for row in rows], [row["return_last20"] for row in rows], label=f"seed {run['seed']}")
    ax.axhline(threshold, color="k", lw=0.8, ls="--", label=f"threshold {threshold:g}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean return, last 20 episodes")
    ax.set_title(f"PPOCuriosity (curiosity off) on {ENV_ID}, CleanRL ppo.py settings", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=BUDGET, help="environment steps per seed (the budget)")
    parser.add_argument("--threshold", type=float, default=THRESHOLD, help="return_last20 every seed must reach")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    parser.add_argument("--out", default=str(ROOT / "logs" / "far_curiosity_cartpole"))
    args = parser.parse_args()
    if args.steps <= 0:
        parser.error(f"--steps must be a positive integer, got {args.steps}")
    torch.set_num_threads(args.threads)
    print(f"PPOCuriosity (curiosity off) on {ENV_ID}, CleanRL ppo.py settings, {NUM_ENVS} envs, "
          f"{args.steps} env steps per seed, seeds {args.seeds}; torch {torch.__version__}, "
          f"python {platform.python_version()}, {args.threads} thread(s)", flush=True)
    results = []
    for seed in args.seeds:
        run = run_seed(seed, args.steps, args.threshold)
        results.append(run)
        reached = run["steps_to_threshold"]
        print(f"  seed {seed}: return_last20 >= {args.threshold:g} at "
              f"{'never' if reached is None else f'{reached} env steps'}; final {run['final_return_last20']:.1f} "
              f"(max {run['max_return_last20']:.1f}); {run['steps_per_s']:.0f} steps/s, {run['seconds']:.0f} s",
              flush=True)
    passed = sum(run["steps_to_threshold"] is not None for run in results)
    verdict = "PASS" if passed == len(results) else "FAIL"
    print(f"{verdict}: {passed} of {len(results)} seeds reach return_last20 >= {args.threshold:g} within "
          f"{args.steps} env steps (CleanRL ppo.py: {CLEANRL_REFERENCE} at 500k)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"env": ENV_ID, "settings": CLEANRL_PPO, "num_envs": NUM_ENVS, "steps": args.steps,
               "threshold": args.threshold, "seeds": args.seeds, "passed": passed, "verdict": verdict,
               "runs": results}
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    figure(results, args.threshold).savefig(out / "return_vs_steps.png", dpi=100)
    print(f"wrote {out / 'results.json'} and {out / 'return_vs_steps.png'}")


if __name__ == "__main__":
    main()
