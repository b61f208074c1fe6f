"""Sweep `experiment=ibc_tasks` over intrinsic dimension m and margin: train the small classifier
on each synthetic task with the InductiveBiasComplexity callback attached (cross-check on), and
print per task: the declared m and delta = 2 margin, the MLE / TwoNN / sample-delta estimates,
the task's log10 bits at target error 0.01 (declared statistics and fully estimated ones), the
final validation error and the model's log10 bits ("architecture information").
Writes a figure of log10 bits versus m and versus delta to --figure.

Shows the spec's pitfall 5.2 on data: with declared statistics the bits grow with m and fall with
delta; with estimated ones the sample delta grows with m (distance concentration).

    python benchmarks/ibc_tasks_sweep.py [--dims 2 4 6 8] [--margins 0.15 0.3] [--max-steps 300]
"""

from __future__ import annotations

import argparse
import math
import warnings

from common import QUIET, compose_experiment

from neurobolts.callbacks import InductiveBiasComplexity
from neurobolts.callbacks.inductive_bias.difficulty import classification_difficulty
from neurobolts.plugins.pipeline import train


def log10_bits(n, m, radius, delta, error, classes) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        v = classification_difficulty(n=n, intrinsic_dim=m, radius=radius, resolution=delta,
                                      target_error=error, num_classes=classes).log10_bits
    return v if math.isfinite(v) else math.nan


def run_task(m: int, margin: float, max_steps: int, seed: int) -> dict:
    cfg = compose_experiment(["experiment=ibc_tasks", *QUIET, "test=false", f"seed={seed}",
                              f"data.sphere_dim={m}", f"data.margin={margin}", f"trainer.max_steps={max_steps}",
                              "callbacks.inductive_bias_complexity.plot=false"])
    metrics, objects = train(cfg)
    ibc = next(c for c in objects["callbacks"] if isinstance(c, InductiveBiasComplexity))
    s = dict(ibc.statistics)
    s["mle_round"] = float(max(1, round(s["intrinsic_dim_mle"])))
    s.update(
        m=m, margin=margin,
        task_log10=metrics.get("ibc/task_log10_bits", math.nan),
        estimated_log10=log10_bits(s["n"], s["mle_round"], s["radius"], s["resolution_estimate"], 0.01,
                                   s["num_classes"]),
        val_error=metrics.get("val/error", math.nan),
        model_log10=metrics.get("ibc/model_log10_bits", math.nan),
    )
    return s


def figure(rows: list[dict], path: str) -> None:
    from neurobolts.plugins.figures import pyplot

    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for margin in sorted({r["margin"] for r in rows}):
        sel = sorted((r for r in rows if r["margin"] == margin), key=lambda r: r["m"])
        ms = [r["m"] for r in sel]
        axes[0].plot(ms, [r["task_log10"] for r in sel], "o-", label=f"declared, delta={2 * margin:g}")
        axes[0].plot(ms, [r["estimated_log10"] for r in sel], "x--", label=f"estimated (margin {margin:g})")
        axes[0].plot(ms, [r["model_log10"] for r in sel], "s:", label=f"model at its error (margin {margin:g})")
    axes[0].set(xlabel="intrinsic dimension m", ylabel="log10 bits (target error 0.01)")
    axes[0].legend(fontsize=7)
    for m in sorted({r["m"] for r in rows}):
        sel = sorted((r for r in rows if r["m"] == m), key=lambda r: r["margin"])
        axes[1].plot([r["resolution"] for r in sel], [r["task_log10"] for r in sel], "o-", label=f"m={m}")
    axes[1].set_xscale("log")
    axes[1].set(xlabel="resolution delta (declared)", ylabel="log10 bits")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"figure: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 4, 6, 8])
    parser.add_argument("--margins", type=float, nargs="+", default=[0.15, 0.3])
    parser.add_argument("--max-steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figure", default="ibc_tasks_sweep.png")
    args = parser.parse_args()
    rows = []
    print(f"{'m':>3} {'margin':>6} {'delta':>6} {'mle':>6} {'twonn':>6} {'delta_est':>9} {'log10 task':>10} "
          f"{'log10 est':>9} {'val err':>7} {'log10 model':>11}")
    for margin in args.margins:
        for m in args.dims:
            r = run_task(m, margin, args.max_steps, args.seed)
            rows.append(r)
            print(f"{m:>3} {margin:>6.3f} {r['resolution']:>6.3f} {r['intrinsic_dim_mle']:>6.2f} "
                  f"{r['intrinsic_dim_twonn']:>6.2f} {r['resolution_estimate']:>9.3f} {r['task_log10']:>10.3f} "
                  f"{r['estimated_log10']:>9.3f} {r['val_error']:>7.4f} {r['model_log10']:>11.3f}", flush=True)
    figure(rows, args.figure)


if __name__ == "__main__":
    main()
