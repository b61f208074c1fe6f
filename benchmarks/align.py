"""The measurements of the Align issue on CPU (docs/papers/align.md sections 4, 6, 7), sized for 2 cores.

1. Accuracy: `experiment=align_wide` (teacher task, full-batch SGD) for each rule at each width of
   --acc-widths: test accuracy (best validation checkpoint), its gap to backprop, the final
   per-layer cosine between the rule's update and the backprop gradient, and wall seconds.
2. Cosine vs width (--cos-widths, --cos-steps): (a) along each Align rule's own trajectory, the
   logged metric align/cos_layer<i> at the last measurement; (b) the spec's oracle protocol: train
   with backprop, then compare the backprop gradient with each Align rule's update at that point.
3. Add task: `experiment=align_add` for each rule: test loss (summed over time) against the
   input-blind predictor's sum_t Var(y_t) (ratio < 1: the network uses its inputs).

Prints tables, writes results.json and accuracy_cosine_vs_width.png under --out, and with
--mlflow logs the numbers and the figure to an MLflow run (experiment `align_sweep`, the default
store `sqlite:///<project root>/mlflow.db` unless MLFLOW_TRACKING_URI is set).

    python benchmarks/align.py                       # everything, CPU defaults
    python benchmarks/align.py --parts acc --acc-widths 32 512 --steps 1000 --mlflow
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import torch
from common import QUIET, compose_experiment

from neurobolts.lightning_modules.align.rules import align_update, backprop_gradient, layer_cosines
from neurobolts.plugins.figures import pyplot
from neurobolts.plugins.pipeline import train

RULES = ("backprop", "align_zero", "align_ada")
ROOT = Path(__file__).resolve().parents[1]
# runs whose test set is not used keep no checkpoints
NO_CHECKPOINTS = ["test=false", "callbacks.model_checkpoint=null", "callbacks.last_checkpoint=null",
                  "trainer.enable_checkpointing=false"]


def run(experiment: str, overrides: list[str]) -> tuple[dict[str, float], object, float]:
    """Train one config of the experiment in this process; (metrics, model, wall seconds)."""
    cfg = compose_experiment([f"experiment={experiment}", *QUIET, *overrides])
    start = time.perf_counter()
    try:
        metrics, objects = train(cfg)
    finally:
        shutil.rmtree(cfg.paths.output_dir, ignore_errors=True)
    return metrics, objects, time.perf_counter() - start


def accuracy_vs_width(widths, steps, seed) -> list[dict]:
    rows = []
    for width in widths:
        for rule in RULES:
            try:
                metrics, objects, wall = run("align_wide", [f"model.rule={rule}", f"model.width={width}",
                                                            f"trainer.max_steps={steps}", f"seed={seed}"])
            except FloatingPointError as exc:  # a narrow network under an Align rule may diverge
                rows.append({"width": width, "rule": rule, "test_acc": float("nan"), "final_cos": [],
                             "diverged": str(exc)})
                print(f"  width {width:5d} {rule:10s} DIVERGED: {exc}", flush=True)
                continue
            history = objects["model"].alignment_history
            rows.append({"width": width, "rule": rule, "test_acc": metrics["test/acc"],
                         "final_cos": history["cos"][-1], "wall_s": wall})
            print(f"  width {width:5d} {rule:10s} test/acc {metrics['test/acc']:.4f}  "
                  f"cos {_fmt(history['cos'][-1])}  ({wall:.0f} s)", flush=True)
    return rows


def cosine_vs_width(widths, steps, seed) -> list[dict]:
    rows = []
    for width in widths:
        row = {"width": width}
        for rule in ("align_zero", "align_ada"):
            _, objects, wall = run("align_wide", [f"model.rule={rule}", f"model.width={width}",
                                                  f"trainer.max_steps={steps}", f"seed={seed}",
                                                  f"trainer.val_check_interval={steps}", *NO_CHECKPOINTS])
            row[f"own_{rule}"] = objects["model"].alignment_history["cos"][-1]
            row[f"wall_{rule}"] = wall
        # the spec's protocol: a backprop-trained network, then both Align updates at that point
        _, objects, wall = run("align_wide", ["model.rule=backprop", f"model.width={width}",
                                              f"trainer.max_steps={steps}", f"seed={seed}",
                                              f"trainer.val_check_interval={steps}", *NO_CHECKPOINTS])
        module, dm = objects["model"], objects["datamodule"]
        x, labels = dm.splits["train"].tensors
        _, _, grad = backprop_gradient(module.net, x, labels, module.loss)
        for rule in ("align_zero", "align_ada"):
            _, _, update = align_update(rule, module.net, module.frozen_net, x, labels, module.loss)
            row[f"bp_{rule}"] = layer_cosines(update, grad, module.layer_groups)
        row["wall_backprop"] = wall
        rows.append(row)
        print(f"  width {width:5d}  own trajectory: zero {_fmt(row['own_align_zero'])}  ada {_fmt(row['own_align_ada'])}"
              f"   on the backprop trajectory: zero {_fmt(row['bp_align_zero'])}  ada {_fmt(row['bp_align_ada'])}",
              flush=True)
    return rows


def add_task(steps, width, seed) -> list[dict]:
    rows = []
    for rule in RULES:
        metrics, objects, wall = run("align_add", [f"model.rule={rule}", f"model.width={width}",
                                                   f"trainer.max_steps={steps}", f"seed={seed}"])
        rows.append({"rule": rule, "test_loss": metrics["test/loss"], "chance_loss": metrics["test/chance_loss"],
                     "ratio": metrics["test/loss_over_chance"], "wall_s": wall})
        print(f"  {rule:10s} test/loss {metrics['test/loss']:.3f}  chance {metrics['test/chance_loss']:.3f}  "
              f"ratio {metrics['test/loss_over_chance']:.3f}  ({wall:.0f} s)", flush=True)
    return rows


def _fmt(values) -> str:
    return "/".join(f"{v:.3f}" for v in values)


def figure(results: dict):
    plt = pyplot()

    fig, (ax_acc, ax_cos) = plt.subplots(1, 2, figsize=(10, 4))
    colors = {"backprop": "k", "align_zero": "tab:blue", "align_ada": "tab:orange"}
    for rule in RULES:
        rows = sorted((r for r in results.get("accuracy", []) if r["rule"] == rule), key=lambda r: r["width"])
        if rows:
            ax_acc.plot([r["width"] for r in rows], [100 * r["test_acc"] for r in rows], "o-", color=colors[rule],
                        label=rule)
        for r in rows:
            if r.get("diverged"):
                ax_acc.annotate(f"{rule} diverged", (r["width"], 0.03), xycoords=("data", "axes fraction"),
                                color=colors[rule], fontsize=8)
    ax_acc.set_xscale("log", base=2)
    ax_acc.set_xlabel("width")
    ax_acc.set_ylabel("test accuracy (%)")
    ax_acc.set_title("teacher task: accuracy vs width", fontsize=9)
    ax_acc.legend(fontsize=8)
    rows = sorted(results.get("cosine", []), key=lambda r: r["width"])
    if rows:
        widths = [r["width"] for r in rows]
        for rule in ("align_zero", "align_ada"):
            n_layers = len(rows[0][f"own_{rule}"])
            for i in range(n_layers):
                style = {"align_zero": "-", "align_ada": "--"}[rule]
                ax_cos.plot(widths, [r[f"own_{rule}"][i] for r in rows], style, marker="o", ms=3,
                            color=f"C{i}", label=f"{rule} layer {i + 1}")
        ax_cos.axhline(1.0, color="k", lw=0.5)
        ax_cos.legend(fontsize=7)
    ax_cos.set_xscale("log", base=2)
    ax_cos.set_xlabel("width")
    ax_cos.set_ylabel("cos(update, backprop gradient)")
    ax_cos.set_title("per-layer cosine with backprop (own trajectory); backprop = 1", fontsize=9)
    fig.tight_layout()
    return fig


def log_to_mlflow(results: dict, fig, args) -> str:
    from neurobolts.plugins.mlflow_tracking import mlflow_logger

    uri = os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{ROOT}/mlflow.db")
    logger = mlflow_logger("align_sweep", uri, artifact_dir=str(ROOT / "mlartifacts"),
                           run_name=f"width-sweep-seed{args.seed}", tags={"benchmark": "benchmarks/align.py"})
    logger.log_hyperparams({k: str(v) for k, v in vars(args).items()})
    metrics = {}
    for r in results.get("accuracy", []):
        metrics[f"acc/{r['rule']}/w{r['width']}"] = r["test_acc"]
    for r in results.get("cosine", []):
        for rule in ("align_zero", "align_ada"):
            for i, v in enumerate(r[f"own_{rule}"], start=1):
                metrics[f"cos/{rule}/w{r['width']}/layer{i}"] = v
    for r in results.get("add", []):
        metrics[f"add/{r['rule']}/loss_over_chance"] = r["ratio"]
    logger.log_metrics(metrics)
    logger.experiment.log_figure(logger.run_id, fig, "figures/accuracy_cosine_vs_width.png")
    logger.experiment.log_dict(logger.run_id, results, "results.json")
    logger.finalize("success")
    return f"{uri} run {logger.run_id}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["acc", "cos", "add"], choices=["acc", "cos", "add"])
    parser.add_argument("--acc-widths", nargs="+", type=int, default=[32, 512])
    parser.add_argument("--steps", type=int, default=1000, help="training steps of the accuracy runs")
    parser.add_argument("--cos-widths", nargs="+", type=int, default=[32, 128, 512, 2048])
    parser.add_argument("--cos-steps", type=int, default=200)
    parser.add_argument("--add-steps", type=int, default=600)
    parser.add_argument("--add-width", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a shared 2-core machine more threads oversubscribe)")
    parser.add_argument("--out", default=str(ROOT / "logs" / "align_sweep"))
    parser.add_argument("--mlflow", action="store_true", help="log the numbers and the figure to MLflow")
    parser.add_argument("--from-results", help="redraw (and --mlflow log) a results.json instead of running")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results: dict = json.loads(Path(args.from_results).read_text()) if args.from_results else {}
    if args.from_results:
        args.parts = []
    start = time.perf_counter()
    if "acc" in args.parts:
        print(f"[1] accuracy vs width, {args.steps} full-batch steps (teacher task, seed {args.seed})")
        results["accuracy"] = accuracy_vs_width(args.acc_widths, args.steps, args.seed)
        by = {(r["width"], r["rule"]): r["test_acc"] for r in results["accuracy"]}
        for width in args.acc_widths:
            gaps = {rule: 100 * (by[(width, rule)] - by[(width, "backprop")]) for rule in RULES[1:]}
            print(f"  width {width}: gap to backprop (points) zero {gaps['align_zero']:+.1f}  ada {gaps['align_ada']:+.1f}")
    if "cos" in args.parts:
        print(f"[2] per-layer cosine(update, backprop gradient) after {args.cos_steps} steps vs width")
        results["cosine"] = cosine_vs_width(args.cos_widths, args.cos_steps, args.seed)
    if "add" in args.parts:
        print(f"[3] Add task, hidden {args.add_width}, {args.add_steps} steps")
        results["add"] = add_task(args.add_steps, args.add_width, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    fig = figure(results)
    fig.savefig(out / "accuracy_cosine_vs_width.png", dpi=100)
    print(f"wrote {out / 'results.json'} and {out / 'accuracy_cosine_vs_width.png'}")
    if args.mlflow:
        print("MLflow:", log_to_mlflow(results, fig, args))
    print(f"total wall {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
