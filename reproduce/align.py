"""Align-zero and Align-ada (Boopathy & Fiete, ICML 2022; docs/papers/align.md sections 6-7).

Claims, as tests/test_align_reproduction.py asserts them with these functions: the cosine between an
Align update and the backprop gradient rises with width (oracle 3; the specification expects >= 0.9
at width 2048, this project measures about 0.86 and tests >= 0.8, a documented deviation reported
here as its own row); at width 512 both Align rules are within 2 points of backprop's test accuracy,
at width 32 they fall >= 5 points behind (oracle 4); on the Add task every rule's test loss is below
half the input-blind predictor's (oracle 7)."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from neurobolts.datamodules.align.synthetic import teacher_classification
from neurobolts.lightning_modules.align.networks import NTKMLP
from neurobolts.lightning_modules.align.rules import (
    align_update,
    backprop_gradient,
    layer_cosines,
    onehot_mse,
)
from neurobolts.reproduce.results import PaperResult, Row, Settings
from neurobolts.reproduce.runner import log_run, save_figure, stopwatch, torch_threads, train_experiment

PAPER = "align"
RULES = ("backprop", "align_zero", "align_ada")
ALIGN_RULES = ("align_zero", "align_ada")
COSINE_WIDTHS = (32, 128, 512, 2048)
COSINE_STEPS = 200
COSINE_BAR = 0.8  # at width 2048: the slow test's bound (measured ~0.86)
SPEC_COSINE_AT_2048 = 0.9  # the specification's expectation
ACCURACY_WIDTHS = (32, 512)
WIDE_GAP = 0.02  # |acc_Align - acc_BP| at width 512
NARROW_GAP = 0.05  # acc_BP - acc_Align at width 32
CHANCE_ACCURACY = 0.25  # 4 classes: a diverged run scores chance
ADD_RATIO_BAR = 0.5  # test loss / sum_t Var(y_t)


def cosines_after_backprop(width: int, steps: int, lr: float = 2.0, seed: int = 0) -> dict[str, list[float]]:
    """Train with full-batch backprop for `steps`, then the per-layer cosine of each Align rule's
    update with the backprop gradient at that point (the spec's oracle protocol)."""
    x, labels = teacher_classification(512, sample_seed=seed)
    torch.manual_seed(seed)
    net = NTKMLP(16, 4, width, depth=2)
    frozen = copy.deepcopy(net).requires_grad_(False)
    for _ in range(steps):
        _, _, grad = backprop_gradient(net, x, labels, onehot_mse)
        with torch.no_grad():
            for name, p in net.named_parameters():
                p.sub_(lr * grad[name])
    _, _, grad = backprop_gradient(net, x, labels, onehot_mse)
    return {rule: layer_cosines(align_update(rule, net, frozen, x, labels, onehot_mse)[2], grad, net.layer_groups)
            for rule in ALIGN_RULES}


def cosine_width_sweep(widths=COSINE_WIDTHS, steps: int = COSINE_STEPS, seed: int = 0) -> dict[int, dict[str, list[float]]]:
    """{width: {rule: per-layer cosines}} after `steps` backprop steps (oracle 3), one torch thread."""
    with torch_threads(1):
        return {w: cosines_after_backprop(w, steps, seed=seed) for w in widths}


def align_wide_accuracy(rule: str, width: int, root_dir: Path, tag: str = "tests", extra: list[str] = ()) -> dict:
    """test/acc of `experiment=align_wide` for one rule and width (one torch thread); a run that
    diverges scores chance (1 / 4 classes). {"acc", "diverged", "wall_s", "run_id"}."""
    with torch_threads(1), stopwatch() as clock:
        try:
            run = train_experiment(["experiment=align_wide", f"model.rule={rule}", f"model.width={width}", *extra],
                                   root_dir, f"align_wide-{rule}-w{width}", tag)
        except FloatingPointError as exc:
            return {"acc": CHANCE_ACCURACY, "diverged": str(exc), "wall_s": clock.seconds, "run_id": None}
    return {"acc": run.metrics["test/acc"], "diverged": None, "wall_s": clock.seconds, "run_id": run.run_id}


def accuracy_grid(root_dir: Path, tag: str = "tests", widths=ACCURACY_WIDTHS, extra: list[str] = ()) -> dict:
    """{(rule, width) as "rule@width": align_wide_accuracy(...)} for every rule at every width (oracle 4)."""
    return {f"{rule}@{w}": align_wide_accuracy(rule, w, root_dir, tag, extra) for w in widths for rule in RULES}


def add_task(rule: str, root_dir: Path, tag: str = "tests", extra: list[str] = ()) -> dict:
    """`experiment=align_add` for one rule (one torch thread): {"loss_over_chance", "test_loss",
    "chance_loss", "wall_s", "run_id"} (oracle 7)."""
    with torch_threads(1):
        run = train_experiment(["experiment=align_add", f"model.rule={rule}", *extra], root_dir, f"align_add-{rule}", tag)
    m = run.metrics
    return {"loss_over_chance": m["test/loss_over_chance"], "test_loss": m["test/loss"],
            "chance_loss": m["test/chance_loss"], "wall_s": run.wall_s, "run_id": run.run_id}


def _figure(cosines: dict, accuracy: dict):
    from neurobolts.plugins.figures import pyplot

    plt = pyplot()
    fig, (ax_acc, ax_cos) = plt.subplots(1, 2, figsize=(10, 3.8))
    colors = {"backprop": "k", "align_zero": "tab:blue", "align_ada": "tab:orange"}
    widths = sorted({int(k.split("@")[1]) for k in accuracy})
    for rule in RULES:
        ax_acc.plot(widths, [100 * accuracy[f"{rule}@{w}"]["acc"] for w in widths], "o-", color=colors[rule], label=rule)
    ax_acc.set(xscale="log", xlabel="width", ylabel="test accuracy (%)", title="teacher task (diverged = chance)")
    ax_acc.set_xscale("log", base=2)
    ax_acc.legend(fontsize=8)
    cw = sorted(cosines)
    for rule, style in (("align_zero", "-"), ("align_ada", "--")):
        for i in range(len(cosines[cw[0]][rule])):
            ax_cos.plot(cw, [cosines[w][rule][i] for w in cw], style, marker="o", ms=3, color=f"C{i}",
                        label=f"{rule} layer {i + 1}")
    ax_cos.axhline(SPEC_COSINE_AT_2048, color="gray", ls=":", lw=1, label="spec: 0.9 at 2048")
    ax_cos.set_xscale("log", base=2)
    ax_cos.set(xlabel="width", ylabel="cos(Align update, backprop gradient)", title="after backprop training")
    ax_cos.legend(fontsize=6)
    return fig


def _fmt(values) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def reproduce(settings: Settings) -> PaperResult:
    """Cosine vs width (4 widths), test accuracy of the three rules at widths 32 and 512, the Add task
    for the three rules (quick: two small widths, a few steps)."""
    quick = settings.quick
    root, tag = settings.root_dir, settings.tag
    cos_steps = 3 if quick else COSINE_STEPS
    with stopwatch() as clock:
        cosines = cosine_width_sweep((16, 64), cos_steps) if quick else cosine_width_sweep()
    cos_wall = clock.seconds
    widths = sorted(cosines)
    monotone = {f"{rule} layer {i + 1}": [cosines[w][rule][i] for w in widths]
                for rule in ALIGN_RULES for i in range(2)}
    rises = all(s == sorted(s) for s in monotone.values())
    widest = min(min(cosines[widths[-1]][rule]) for rule in ALIGN_RULES)
    extra_acc = ["trainer.max_steps=3", "trainer.val_check_interval=3"] if quick else []
    accuracy = accuracy_grid(root, tag, extra=extra_acc)
    acc_wall = sum(v["wall_s"] for v in accuracy.values())
    extra_add = ["trainer.max_steps=3", "trainer.val_check_interval=3", "data.steps=10"] if quick else []
    add = {rule: add_task(rule, root, tag, extra_add) for rule in RULES}
    add_wall = sum(v["wall_s"] for v in add.values())
    png = save_figure(_figure(cosines, accuracy), settings.figure_path("align_accuracy_cosine_vs_width.png"))
    fig = [settings.relative_figure(png)]
    log_run(root, "reproduce_align", "cosine_vs_width", tag, params={"widths": widths, "quick": quick},
            metrics={f"cos/{rule}/w{w}/layer{i + 1}": c for w in widths for rule in ALIGN_RULES
                     for i, c in enumerate(cosines[w][rule])}, figures=[png], raw={"cosines": cosines})

    def acc(rule, w):
        return accuracy[f"{rule}@{w}"]["acc"]

    def shown(rule, w):
        a = accuracy[f"{rule}@{w}"]
        return f"{100 * a['acc']:.1f} %" + (" (diverged: chance)" if a["diverged"] else "")

    wide, narrow = max(ACCURACY_WIDTHS), min(ACCURACY_WIDTHS)
    wide_gaps = {r: abs(acc(r, wide) - acc("backprop", wide)) for r in ALIGN_RULES}
    narrow_gaps = {r: acc("backprop", narrow) - acc(r, narrow) for r in ALIGN_RULES}
    seeds = "seed 0"
    rows = [
        Row(PAPER, f"The Align updates align with the backprop gradient more as the network widens "
                   f"(per-layer cosine after {cos_steps} backprop steps, widths {'/'.join(map(str, widths))})",
            "rises with width (spec, layer 1: 0.18 / 0.68 / 0.88 / 0.945)",
            "; ".join(f"{k} {_fmt(v)}" for k, v in monotone.items()), rises, seeds, cos_wall, fig),
        Row(PAPER, f"At width {widths[-1]} the cosine reaches the specification's 0.9 (slow test: >= {COSINE_BAR}, "
                   f"a documented deviation)",
            f">= {SPEC_COSINE_AT_2048} at width 2048", f"lowest layer cosine {widest:.3f}",
            widest >= SPEC_COSINE_AT_2048, seeds, cos_wall, fig),
        Row(PAPER, f"Wide (width {wide}): Align-zero and Align-ada match backprop's test accuracy within "
                   f"{100 * WIDE_GAP:.0f} points (teacher task, experiment=align_wide)",
            "BP 72.4 %, Align-zero 73.5 %, Align-ada 72.4 % (spec run)",
            ", ".join(f"{r} {shown(r, wide)}" for r in RULES), max(wide_gaps.values()) <= WIDE_GAP, seeds,
            sum(accuracy[f"{r}@{wide}"]["wall_s"] for r in RULES), fig),
        Row(PAPER, f"Narrow (width {narrow}): both Align rules fall >= {100 * NARROW_GAP:.0f} points behind backprop",
            "BP 77.1 %, Align-zero 48.5 % (fails), Align-ada 66.8 % (spec run)",
            ", ".join(f"{r} {shown(r, narrow)}" for r in RULES), min(narrow_gaps.values()) >= NARROW_GAP, seeds,
            sum(accuracy[f"{r}@{narrow}"]["wall_s"] for r in RULES), fig),
        Row(PAPER, f"Add task (experiment=align_add): every rule's test loss is below {ADD_RATIO_BAR} x the "
                   f"input-blind predictor's (sum_t Var(y_t))",
            "Align test loss well below chance, approaching backprop",
            ", ".join(f"{r} {add[r]['loss_over_chance']:.3f}" for r in RULES),
            max(a["loss_over_chance"] for a in add.values()) < ADD_RATIO_BAR, seeds, add_wall, []),
    ]
    return PaperResult(rows, {"cosines": cosines, "accuracy": accuracy, "add_task": add,
                              "wall_s": {"cosine": cos_wall, "accuracy": acc_wall, "add_task": add_wall}})
