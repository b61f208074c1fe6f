"""Inductive-bias complexity (Boopathy et al., ICML 2023; docs/papers/inductive_bias_complexity.md).

Claims (the paper's numbers, which tests/test_inductive_bias.py asserts with the constants below):
the bits of inductive bias needed on MNIST, SVHN, CIFAR-10 and ImageNet, on the MuJoCo control tasks
and Cartpole, for Omniglot meta-learning, and their ordering; and, on data (`experiment=ibc_tasks`,
tests/test_ibc_callback.py), that the task statistics the bound needs are measured from the training
set: the MLE intrinsic dimension agrees with the declared m and the sample resolution does not fall
below the declared delta (the callback's cross-check passes)."""

from __future__ import annotations

import math
from pathlib import Path

from neurobolts.callbacks.inductive_bias.difficulty import (
    cartpole_difficulty,
    control_difficulty,
    meta_learning_difficulty,
    task_difficulty_bits,
)
from neurobolts.reproduce.results import PaperResult, Row, Settings
from neurobolts.reproduce.runner import log_run, save_figure, stopwatch, train_experiment

PAPER = "inductive_bias"
# The constants of the paper's script (spec section 4): n, m, R, delta, target error, classes
IMAGE_TASKS = {
    "MNIST": (60000, 14, 17.179045827183984, 2.3987084824335305, 1e-3, 10),
    "SVHN": (73257, 19, 53.86932485133339, 1.5766998174969105, 1e-2, 10),
    "CIFAR-10": (50000, 27, 54.9156786783691, 2.7506414616587023, 1e-2, 10),
    "ImageNet": (1280901, 48, 943.5923, 65.0, 0.1, 1000),
}
PAPER_IMAGE_BITS = {"MNIST": 1.485e16, "SVHN": 1.213e31, "CIFAR-10": 3.438e32, "ImageNet": 3.583e41}
# MuJoCo tasks: (observation dim, action dim) at n = 1e6, delta = 1e-3, error 1e-3
CONTROL_TASKS = {"Reacher": (6, 2), "Hopper": (15, 4), "Half-Cheetah": (17, 6)}
PAPER_CONTROL_BITS = {"Reacher": 2.914e25, "Hopper": 7.613e58, "Half-Cheetah": 1.718e66}
PAPER_CARTPOLE_BITS = 4.41e9  # T = 1 observation; 3 significant figures in the spec
OMNIGLOT = dict(n=1e40, within_dim=22, across_dim=29, radius=49.4064773081425, resolution=5.477225575051661,
                target_error=0.01)
PAPER_OMNIGLOT_BITS = 1.79e145
REL_TOL = 1e-3  # the tables' 4 significant figures
CARTPOLE_REL_TOL = 1.2e-3  # the spec gives 4.41e9; the exact value is 4.4147e9
OMNIGLOT_LOG10_TOL = 0.01
CROSS_CHECK_TOLERANCE = 0.25  # the callback's default: |MLE - m| / m


def image_task_bits(name: str, **changes) -> float:
    """The bound for one of the paper's image benchmarks (IMAGE_TASKS), optionally with changed
    statistics (keywords of `task_difficulty_bits`)."""
    n, m, r, delta, eps, c = IMAGE_TASKS[name]
    args = dict(n=n, intrinsic_dim=m, radius=r, resolution=delta, target_error=eps, num_classes=c)
    args.update(changes)
    return task_difficulty_bits(**args)


def control_task_bits(name: str) -> float:
    observation_dim, action_dim = CONTROL_TASKS[name]
    return control_difficulty(n=1e6, observation_dim=observation_dim, action_dim=action_dim,
                              resolution=1e-3, target_error=1e-3).bits


def paper_tables() -> dict[str, dict[str, float]]:
    """Our values of every closed-form number the paper reports: {"image": {task: bits}, "control":
    {task: bits}, "cartpole": {T: bits for T = 1..5}, "omniglot_log10": log10 bits}."""
    return {
        "image": {name: image_task_bits(name) for name in IMAGE_TASKS},
        "control": {name: control_task_bits(name) for name in CONTROL_TASKS},
        "cartpole": {t: cartpole_difficulty(num_observations=t).bits for t in range(1, 6)},
        "omniglot_log10": meta_learning_difficulty(**OMNIGLOT).log10_bits,
    }


def orderings_hold(tables: dict) -> dict[str, bool]:
    """The paper's orderings: MNIST < SVHN < CIFAR-10 < ImageNet < Omniglot; Reacher < Hopper <
    Half-Cheetah; MNIST < Reacher < SVHN; fully observed Cartpole (T = 1) < T = 2."""
    image = [tables["image"][n] for n in IMAGE_TASKS]
    log_image = [math.log10(v) for v in image] + [tables["omniglot_log10"]]
    control = [tables["control"][n] for n in CONTROL_TASKS]
    return {
        "images_then_omniglot": log_image == sorted(log_image) and len(set(log_image)) == len(log_image),
        "control": control == sorted(control),
        "mnist_reacher_svhn": tables["image"]["MNIST"] < tables["control"]["Reacher"] < tables["image"]["SVHN"],
        "cartpole_partial_observation": tables["cartpole"][1] < tables["cartpole"][2],
    }


def run_ibc_task(root_dir: Path, tag: str = "tests", quick: bool = False, seed: int = 0) -> dict:
    """`experiment=ibc_tasks` (sphere task m = 4, delta = 0.6; InductiveBiasComplexity attached, cross-check
    on) through the pipeline into MLflow; returns the callback's statistics, its cross-check
    {stat: (declared, estimated, gap, mismatch)}, the model's bits history, the final metrics, the
    wall seconds and the MLflow run id."""
    from neurobolts.callbacks import InductiveBiasComplexity

    small = ["trainer.max_steps=4", "trainer.val_check_interval=2", "data.num_train=600", "data.num_val=100",
             "data.num_test=100", "callbacks.inductive_bias_complexity.num_queries=300"] if quick else []
    run = train_experiment(["experiment=ibc_tasks", f"seed={seed}", *small], root_dir, f"ibc_tasks-seed{seed}", tag)
    ibc = next(c for c in run.objects["callbacks"] if isinstance(c, InductiveBiasComplexity))
    return {"statistics": dict(ibc.statistics), "cross_check": ibc.cross_check_mismatches(),
            "history": {k: list(v) for k, v in ibc.history.items()}, "target_error": ibc.target_error,
            "metrics": run.metrics, "wall_s": run.wall_s, "run_id": run.run_id}


def _tables_figure(tables: dict):
    from neurobolts.plugins.figures import pyplot

    plt = pyplot()
    names = [*IMAGE_TASKS, *CONTROL_TASKS, "Cartpole T=1", "Omniglot"]
    paper = [*(PAPER_IMAGE_BITS[n] for n in IMAGE_TASKS), *(PAPER_CONTROL_BITS[n] for n in CONTROL_TASKS),
             PAPER_CARTPOLE_BITS, PAPER_OMNIGLOT_BITS]
    ours = [*(tables["image"][n] for n in IMAGE_TASKS), *(tables["control"][n] for n in CONTROL_TASKS),
            tables["cartpole"][1], 10 ** tables["omniglot_log10"]]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], [math.log10(v) for v in paper], width=0.4, label="paper")
    ax.bar([i + 0.2 for i in x], [math.log10(v) for v in ours], width=0.4, label="ours")
    ax.set_xticks(list(x), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("log10 bits")
    ax.set_title("Inductive-bias complexity of the paper's tasks: paper vs ours", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def _rel(ours: float, paper: float) -> float:
    return abs(ours - paper) / paper


def reproduce(settings: Settings) -> PaperResult:
    """The paper's closed-form numbers (image benchmarks, control, Cartpole, Omniglot, orderings) and
    one `experiment=ibc_tasks` run on data (quick: a few steps on a small task)."""
    from neurobolts.callbacks.inductive_bias.figures import scaling_figure

    with stopwatch() as clock:
        tables = paper_tables()
        order = orderings_hold(tables)
    closed_wall = clock.seconds
    tables_png = save_figure(_tables_figure(tables), settings.figure_path("inductive_bias_tables.png"))
    table_fig = [settings.relative_figure(tables_png)]
    image_gaps = {n: _rel(tables["image"][n], PAPER_IMAGE_BITS[n]) for n in IMAGE_TASKS}
    control_gaps = {n: _rel(tables["control"][n], PAPER_CONTROL_BITS[n]) for n in CONTROL_TASKS}
    cartpole_gap = _rel(tables["cartpole"][1], PAPER_CARTPOLE_BITS)
    omniglot_gap = abs(tables["omniglot_log10"] - math.log10(PAPER_OMNIGLOT_BITS))
    rows = [
        Row(PAPER, "Bits of inductive bias to generalise on image benchmarks (closed form)",
            ", ".join(f"{n} {PAPER_IMAGE_BITS[n]:.4g}" for n in IMAGE_TASKS),
            ", ".join(f"{n} {tables['image'][n]:.4g}" for n in IMAGE_TASKS)
            + f" (max rel. gap {max(image_gaps.values()):.1e}; bar {REL_TOL:g})",
            max(image_gaps.values()) <= REL_TOL, "- (deterministic)", closed_wall, table_fig),
        Row(PAPER, "Bits for reinforcement learning: MuJoCo control and Cartpole (T = 1 observation)",
            ", ".join(f"{n} {PAPER_CONTROL_BITS[n]:.4g}" for n in CONTROL_TASKS) + f", Cartpole {PAPER_CARTPOLE_BITS:.3g}",
            ", ".join(f"{n} {tables['control'][n]:.4g}" for n in CONTROL_TASKS)
            + f", Cartpole {tables['cartpole'][1]:.5g} (max rel. gap {max(control_gaps.values()):.1e}, "
              f"Cartpole {cartpole_gap:.1e})",
            max(control_gaps.values()) <= REL_TOL and cartpole_gap <= CARTPOLE_REL_TOL, "- (deterministic)",
            closed_wall, table_fig),
        Row(PAPER, "Bits for Omniglot few-shot meta-learning (beyond float64, kept in log space)",
            f"{PAPER_OMNIGLOT_BITS:.3g}", f"10^{tables['omniglot_log10']:.4f} (log10 gap {omniglot_gap:.1e}; "
                                          f"bar {OMNIGLOT_LOG10_TOL:g})",
            omniglot_gap <= OMNIGLOT_LOG10_TOL, "- (deterministic)", closed_wall, table_fig),
        Row(PAPER, "Ordering of task difficulty",
            "MNIST < SVHN < CIFAR-10 < ImageNet < Omniglot; Reacher < Hopper < Half-Cheetah; MNIST < Reacher "
            "< SVHN; Cartpole T = 1 < T = 2",
            f"{sum(order.values())} / {len(order)} orderings as in the paper"
            + ("" if all(order.values()) else f" (not: {', '.join(k for k, v in order.items() if not v)})"),
            all(order.values()), "- (deterministic)", closed_wall, table_fig),
    ]
    task = run_ibc_task(settings.root_dir, settings.tag, settings.quick)
    s, checks = task["statistics"], task["cross_check"]
    scaling_png = save_figure(scaling_figure(s, task["target_error"], task["history"]),
                              settings.figure_path("inductive_bias_ibc_tasks_scaling.png"))
    m_check, delta_check = checks.get("intrinsic_dim"), checks.get("resolution")
    measured = m_check is not None and delta_check is not None
    rows.append(Row(
        PAPER, "On data (experiment=ibc_tasks, sphere task m = 4, delta = 0.6): the bound's statistics are "
               "measured from the training set",
        "m and delta estimated from data (MLE intrinsic dimension; nearest different-class distance)",
        (f"MLE m = {m_check[1]:.2f} vs declared {m_check[0]:g} (gap {m_check[2]:.1%}; bar {CROSS_CHECK_TOLERANCE:.0%}); "
         f"sample delta {delta_check[1]:.3f} >= declared {delta_check[0]:g}; task log10 bits "
         f"{task['metrics'].get('ibc/task_log10_bits', math.nan):.1f}, trained model "
         f"{task['metrics'].get('ibc/model_log10_bits', math.nan):.1f} at val error "
         f"{task['metrics'].get('val/error', math.nan):.3f}") if measured else "the cross-check did not run",
        measured and not m_check[3] and delta_check[1] >= delta_check[0], "seed 0", task["wall_s"],
        [settings.relative_figure(scaling_png)]))
    log_run(settings.root_dir, "reproduce_inductive_bias", "closed_form", settings.tag,
            params={"quick": settings.quick},
            metrics={**{f"log10_bits/{n}": math.log10(v) for n, v in tables["image"].items()},
                     **{f"log10_bits/{n}": math.log10(v) for n, v in tables["control"].items()},
                     "log10_bits/Cartpole_T1": math.log10(tables["cartpole"][1]),
                     "log10_bits/Omniglot": tables["omniglot_log10"]},
            figures=[tables_png], raw={"tables": tables, "orderings": order})
    return PaperResult(rows, {"tables": tables, "orderings": order, "ibc_tasks": task})
