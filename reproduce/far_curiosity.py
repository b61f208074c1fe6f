"""FARCuriosity: fragmentation and recall against catastrophic forgetting in curiosity (Hwang et al.,
2023; docs/papers/far_curiosity.md).

Claims, as tests/test_far_curiosity_reproduction.py asserts them with these functions:

- the forgetting study of spec 6A / oracle 7.9 (`experiment=far_curiosity_forgetting`, predictor width
  128, 3 seeds): one RND predictor forgets room A while it learns room B, F >= 5 (the spec's prototype:
  F = 54); FAR fragments exactly once, near the door, and keeps F <= 1.2; FAR + recall re-uses room A's
  module when the walk returns to A;
- the width sweep (a predictor width where the ratio rule never fires; the prototype: width 32) and the
  z-rule ablation, reported as they come out;
- PPO is right on an outside benchmark: CartPole-v1 with curiosity off reaches a mean return >= 450
  over the last 20 episodes within 500k environment steps in 3 of 3 seeds (issue 17; CleanRL 492 +- 13);
- RND vs FAR vs FAR + recall with PPO on the 4-room world (sparse reward in the farthest room, 3 seeds):
  extrinsic return, distinct cells visited and the intrinsic reward at revisited cells, reported as
  they come out (no claim is asserted; the spec has no verified number).

`--quick` runs a few hundred walk steps and PPO iterations (the numbers mean nothing)."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Sequence

from neurobolts.reproduce.results import PaperResult, Row, Settings
from neurobolts.reproduce.runner import log_run, save_figure, stopwatch, torch_threads

PAPER = "far_curiosity"
CONDITIONS = ("rnd", "far", "far_recall")
SEEDS = (0, 1, 2)
STEPS_PER_PHASE = 2000  # spec 6A
WIDTH = 128
WIDTHS = (8, 16, 32, 64, 128, 256)
REQUIRED_F_SINGLE = 5.0  # oracle 7.9: F(single RND, width 128) >= 5 (prototype ~54)
MAX_F_FAR = 1.2  # oracle 7.9: F(FAR) <= 1.2
NEAR_DOOR = 3  # "near the door": the first fracture within the view radius (3 moves) of a door cell
PROTOTYPE = {32: {"rnd": 13.6, "far": 12.4}, 128: {"rnd": 53.8, "far": 1.01}}  # spec 6A table, F
# PPO on CartPole-v1 with the curiosity off, CleanRL ppo.py's settings in PPOCuriosity's arguments: 4
# environments x 128 steps, Adam 2.5e-4 annealed to 0, 4 minibatches x 4 epochs, clip 0.2 (policy and
# value), entropy 0.01, value coefficient 0.5, gamma 0.99, GAE lambda 0.95, max grad norm 0.5, normalised
# advantages, separate actor and critic MLPs 64-64 tanh
CARTPOLE = "CartPole-v1"
CARTPOLE_ENVS = 4
CLEANRL_PPO = {"curiosity": None, "num_steps": 128, "lr": 2.5e-4, "anneal_lr": True, "num_minibatches": 4,
               "update_epochs": 4, "clip_coef": 0.2, "clip_vloss": True, "ent_coef": 0.01, "vf_coef": 0.5,
               "gamma": 0.99, "gae_lambda": 0.95, "max_grad_norm": 0.5, "norm_adv": True, "hidden": 64,
               "activation": "tanh", "separate_critic": True}
CARTPOLE_THRESHOLD, CARTPOLE_BUDGET = 450.0, 500_000  # issue 17: >= 450 within 500k steps, 3 of 3 seeds
CLEANRL_REFERENCE = "492 +- 13"
CURVE_KEYS = ("rollout/return_last20", "rollout/episodic_return", "rollout/intrinsic_reward",
              "rollout/intrinsic_reward_revisited", "rollout/cells_visited", "rollout/steps_per_s",
              "curiosity/modules", "curiosity/fragmentations", "curiosity/recalls")


def forgetting_run(curiosity: str, seed: int, predictor_width: int = WIDTH, phases: Sequence[str] = ("A", "B", "A"),
                   steps_per_phase: int = STEPS_PER_PHASE, **model_kwargs) -> dict:
    """One walk of `experiment=far_curiosity_forgetting` (its DataModule and LightningModule on a bare CPU
    Trainer: no logger, no checkpoint): {"summary": the logged forgetting/* numbers without the prefix,
    "history": e_A(t) records, "fractures": [{"step", "cell", "old", "new"}], "wall_s"}."""
    import lightning.pytorch as pl

    from neurobolts.datamodules.far_curiosity.forgetting import ForgettingWalkDataModule
    from neurobolts.lightning_modules.far_curiosity.forgetting import ForgettingStudy

    pl.seed_everything(seed, verbose=False)
    data = ForgettingWalkDataModule(phases=list(phases), steps_per_phase=steps_per_phase, seed=seed)
    study = ForgettingStudy(curiosity=curiosity, predictor_width=predictor_width, seed=seed, **model_kwargs)
    with tempfile.TemporaryDirectory() as tmp, stopwatch() as clock:  # the study's figures go there
        trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                             num_sanity_val_steps=0, default_root_dir=tmp)
        trainer.fit(study, data)
    return {"summary": {k.split("/", 1)[1]: v for k, v in study.summary().items()}, "history": study.history,
            "fractures": [{**f, "cell": list(f["cell"])} for f in study.fractures], "wall_s": clock.seconds}


def forgetting_study(seeds: Sequence[int] = SEEDS, conditions: Sequence[str] = CONDITIONS,
                     steps_per_phase: int = STEPS_PER_PHASE, predictor_width: int = WIDTH, **model_kwargs) -> dict:
    """Every condition on every seed, walk A -> B -> A: {condition: [forgetting_run per seed]}."""
    return {c: [forgetting_run(c, s, predictor_width, steps_per_phase=steps_per_phase, **model_kwargs)
                for s in seeds] for c in conditions}


def width_sweep(widths: Sequence[int] = WIDTHS, seeds: Sequence[int] = SEEDS,
                steps_per_phase: int = STEPS_PER_PHASE) -> dict[int, dict]:
    """Single RND and FAR (ratio rule) per predictor width, walk A -> B: {width: {condition: [F per seed],
    "fragmentations": FAR's counts per seed}}."""
    out = {}
    for width in widths:
        runs = {c: [forgetting_run(c, s, width, phases=("A", "B"), steps_per_phase=steps_per_phase)["summary"]
                    for s in seeds] for c in ("rnd", "far")}
        out[width] = {"rnd": [r["F"] for r in runs["rnd"]], "far": [r["F"] for r in runs["far"]],
                      "fragmentations": [int(r["fragmentations"]) for r in runs["far"]]}
    return out


def ppo_run(data, model, seed: int) -> dict:
    """Train `model` (a PPOCuriosity) on `data` (an RLEnvDataModule) on a bare CPU Trainer (no logger, no
    checkpoint; one PPO iteration per loader item) and read the logged metrics after every iteration:
    {"curve": [{"env_steps", <key without its prefix>: value ...} per iteration], "seconds",
    "steps_per_s"}."""
    import time
    import warnings

    import lightning.pytorch as pl

    curve: list[dict] = []

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            metrics = trainer.callback_metrics
            row = {"env_steps": int(metrics["rollout/env_steps"])}
            row.update({key.split("/")[1]: float(metrics[key]) for key in CURVE_KEYS if key in metrics})
            curve.append(row)

    pl.seed_everything(seed, verbose=False)
    start = time.perf_counter()
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
        warnings.filterwarnings("ignore", message=".*(does not have many workers|IterableDataset|treespec).*")
        trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, callbacks=[Record()],
                             log_every_n_steps=1, default_root_dir=tmp)
        trainer.fit(model, data)
    seconds = time.perf_counter() - start
    steps = curve[-1]["env_steps"] if curve else 0
    return {"curve": curve, "seconds": seconds, "steps_per_s": steps / seconds if seconds else float("nan")}


def cartpole_run(seed: int, steps: int = CARTPOLE_BUDGET, threshold: float = CARTPOLE_THRESHOLD) -> dict:
    """PPOCuriosity with the curiosity off on CartPole-v1, CleanRL ppo.py's settings, ceil(steps / 512)
    iterations (the lr anneals over them, as CleanRL's over its budget): `ppo_run`'s result plus the
    environment steps at which return_last20 first reached `threshold` (None: never) and the final and
    best return_last20."""
    import math

    from neurobolts.datamodules.far_curiosity.rl_env import RLEnvDataModule
    from neurobolts.lightning_modules.far_curiosity.module import PPOCuriosity

    iterations = math.ceil(steps / (CARTPOLE_ENVS * CLEANRL_PPO["num_steps"]))
    run = ppo_run(RLEnvDataModule(CARTPOLE, num_envs=CARTPOLE_ENVS, iterations=iterations, seed=seed),
                  PPOCuriosity(seed=seed, **CLEANRL_PPO), seed)
    last20 = [row.get("return_last20", float("nan")) for row in run["curve"]]
    reached = next((row["env_steps"] for row, v in zip(run["curve"], last20, strict=True) if v >= threshold), None)
    finite = [v for v in last20 if not math.isnan(v)]
    return {**run, "seed": seed, "env_steps": run["curve"][-1]["env_steps"] if run["curve"] else 0,
            "iterations": len(run["curve"]), "steps_to_threshold": reached,
            "final_return_last20": last20[-1] if last20 else float("nan"),
            "max_return_last20": max(finite, default=float("nan"))}


RL_CONDITIONS = {"rnd": [], "far": [], "far_recall": [],
                 # the z rule (spec 2.2's wrapper default) as the ablation inside RL
                 "far_recall_z": ["model.curiosity=far_recall", "model.curiosity_kwargs.criterion=z",
                                  "model.curiosity_kwargs.threshold=3.0"]}
RL_ITERATIONS = 100  # x 8 environments x 128 steps = 102,400 environment steps (experiment=far_curiosity)


def rooms_run(condition: str, seed: int, iterations: int = RL_ITERATIONS, overrides: Sequence[str] = ()) -> dict:
    """`experiment=far_curiosity` (PPO on the 9-room world) for one condition of `RL_CONDITIONS` and seed:
    its DataModule and LightningModule as the experiment's config builds them, run by `ppo_run`."""
    import tempfile

    from hydra.utils import instantiate

    from neurobolts.reproduce.runner import compose_train_config

    extra = RL_CONDITIONS[condition] or [f"model.curiosity={condition}"]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose_train_config(["experiment=far_curiosity", f"seed={seed}", f"data.iterations={iterations}",
                                    *extra, *overrides], tmp, f"{condition}_{seed}", "far_curiosity")
    run = ppo_run(instantiate(cfg.data), instantiate(cfg.model), seed)
    return {**run, "condition": condition, "seed": seed}


def rl_summary(runs: list[dict]) -> dict:
    """Per run: the last return_last20, the distinct cells visited, the mean intrinsic reward at revisited
    cells over the second half of training, the fragmentations and recalls; and their means."""
    def last(curve, key):
        values = [row[key] for row in curve if key in row]
        return values[-1] if values else float("nan")

    def late_mean(curve, key):
        values = [row[key] for row in curve[len(curve) // 2:] if key in row]
        return statistics.fmean(values) if values else float("nan")

    per_run = [{"seed": r["seed"], "return_last20": last(r["curve"], "return_last20"),
                "cells_visited": last(r["curve"], "cells_visited"),
                "revisited_reward_late": late_mean(r["curve"], "intrinsic_reward_revisited"),
                "modules": last(r["curve"], "modules"), "fragmentations": last(r["curve"], "fragmentations"),
                "recalls": last(r["curve"], "recalls"), "steps_per_s": r["steps_per_s"]} for r in runs]
    return {"per_run": per_run, **{f"mean_{k}": statistics.fmean(p[k] for p in per_run)
                                   for k in ("return_last20", "cells_visited", "revisited_reward_late",
                                             "fragmentations", "steps_per_s")}}


def summarise(runs: list[dict]) -> dict:
    """Means and per-seed lists of a condition's runs."""
    keys = ("F", "fragmentations", "fragmentations_A_to_B", "recalls", "first_fragmentation_step",
            "fragmentation_door_distance", "reuse_A")
    per_seed = {k: [r["summary"].get(k, float("nan")) for r in runs] for k in keys}
    return {"per_seed": per_seed, "mean_F": statistics.fmean(per_seed["F"]),
            "wall_s": sum(r["wall_s"] for r in runs)}


def _fmt(values: Sequence[float], digits: int = 2) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def reproduce(settings: Settings) -> PaperResult:
    """The forgetting study (3 conditions x 3 seeds), the width sweep, the z-rule ablation, PPO on CartPole
    (3 seeds x 500k steps) and RND / FAR / FAR + recall / FAR + recall with the z rule with PPO on the
    9-room world (3 seeds x 100 iterations). Quick: one seed, 300-step phases, two widths, 20k CartPole
    steps, 3 PPO iterations."""
    quick = settings.quick
    seeds = (0,) if quick else SEEDS
    steps = 300 if quick else STEPS_PER_PHASE
    widths = (16, 128) if quick else WIDTHS
    timings = {}
    with torch_threads(1), stopwatch() as clock:
        study = forgetting_study(seeds, CONDITIONS, steps)
    timings["study"] = clock.seconds
    with torch_threads(1), stopwatch() as clock:
        sweep = width_sweep(widths, seeds, steps)
    timings["sweep"] = clock.seconds
    with torch_threads(1), stopwatch() as clock:
        z_rule = [forgetting_run("far", s, phases=("A", "B"), steps_per_phase=steps, criterion="z", threshold=2.0)
                  ["summary"] for s in seeds]
    timings["z_rule"] = clock.seconds
    cartpole_steps = 20_480 if quick else CARTPOLE_BUDGET
    with torch_threads(1), stopwatch() as clock:
        cartpole = [cartpole_run(seed, cartpole_steps) for seed in seeds]
    timings["cartpole"] = clock.seconds
    rl_iterations = 3 if quick else RL_ITERATIONS
    with torch_threads(1), stopwatch() as clock:
        rl = {c: [rooms_run(c, seed, rl_iterations) for seed in seeds] for c in RL_CONDITIONS}
    timings["rl"] = clock.seconds

    from neurobolts.lightning_modules.far_curiosity.figures import error_curve_figure, rl_curves_figure

    first = {c: study[c][0] for c in CONDITIONS}
    png = save_figure(error_curve_figure({c: r["history"] for c, r in first.items()},
                                         {c: r["fractures"] for c, r in first.items()}),
                      settings.figure_path("far_curiosity_forgetting.png"))
    fig = [settings.relative_figure(png)]
    rl_keys = ("return_last20", "cells_visited", "intrinsic_reward_revisited")
    rl_png = save_figure(rl_curves_figure({c: {k: [[(row["env_steps"], row[k]) for row in r["curve"] if k in row]
                                                  for r in runs] for k in rl_keys} for c, runs in rl.items()},
                                          rl_keys), settings.figure_path("far_curiosity_rl.png"))
    cp_png = save_figure(rl_curves_figure({"PPO, curiosity off": {"return_last20": [
        [(row["env_steps"], row["return_last20"]) for row in r["curve"] if "return_last20" in row] for r in cartpole]}},
        ("return_last20",)), settings.figure_path("far_curiosity_cartpole.png"))
    s = {c: summarise(study[c]) for c in CONDITIONS}
    rl_sum = {c: rl_summary(runs) for c, runs in rl.items()}
    raw = {"study": {c: [{k: v for k, v in r.items() if k != "history"} for r in runs] for c, runs in study.items()},
           "sweep": {str(w): v for w, v in sweep.items()}, "z_rule": z_rule,
           "cartpole": [{k: v for k, v in r.items() if k != "curve"} for r in cartpole], "rl": rl_sum,
           "wall_s": timings}
    log_run(settings.root_dir, "reproduce_far_curiosity", "forgetting", settings.tag,
            params={"seeds": list(seeds), "steps_per_phase": steps, "widths": list(widths), "quick": quick},
            metrics={**{f"{c}/mean_F": s[c]["mean_F"] for c in CONDITIONS},
                     # means over the runs, named rl/<condition>/<measure> (rl_summary's mean_<measure>)
                     **{f"rl/{c}/{k.removeprefix('mean_')}": v for c, r in rl_sum.items() for k, v in r.items()
                        if k.startswith("mean_")},
                     "cartpole/min_final_return_last20": min(r["final_return_last20"] for r in cartpole)},
            figures=[png, rl_png, cp_png], raw=raw)

    seeds_text = f"seeds {', '.join(map(str, seeds))}, {steps} steps per phase, width {WIDTH}"
    rnd, far, rec = s["rnd"]["per_seed"], s["far"]["per_seed"], s["far_recall"]["per_seed"]
    far_once = all(n == 1 for n in far["fragmentations_A_to_B"])
    near = all(d <= NEAR_DOOR for d in far["fragmentation_door_distance"])
    rows = [
        Row(PAPER, "A single RND predictor forgets room A while it learns room B: F = e_A(end of B) / e_A(end of A) "
                   ">= 5",
            "abstract: catastrophic forgetting of prediction-based curiosity; spec 6A prototype F = 53.8 "
            "(width 128); oracle 7.9: F >= 5",
            f"F per seed {_fmt(rnd['F'], 1)} (mean {s['rnd']['mean_F']:.1f})",
            min(rnd["F"]) >= REQUIRED_F_SINGLE, seeds_text, s["rnd"]["wall_s"], fig),
        Row(PAPER, "FAR fragments exactly once on the way from A to B, near the door, and removes the forgetting: "
                   "F <= 1.2",
            "spec 6A prototype: 1 fragmentation per seed at the door, F = 1.01; oracle 7.9: F <= 1.2",
            f"F per seed {_fmt(far['F'])}; fragmentations A -> B {_fmt(far['fragmentations_A_to_B'], 0)} (the whole "
            f"walk A -> B -> A: {_fmt(far['fragmentations'], 0)}, without recall the return makes a new module), first at step "
            f"{_fmt(far['first_fragmentation_step'], 0)}, {_fmt(far['fragmentation_door_distance'], 0)} moves from "
            f"the door",
            far_once and near and max(far["F"]) <= MAX_F_FAR, seeds_text, s["far"]["wall_s"], fig),
        Row(PAPER, "FAR + recall re-uses room A's module when the walk returns to room A",
            "abstract: the agent recalls a stored module when the current state matches; issue 17",
            f"recalls per seed {_fmt(rec['recalls'], 0)}; fraction of the return phase's room-A steps run with "
            f"room A's module {_fmt(rec['reuse_A'])}; fragmentations {_fmt(rec['fragmentations'], 0)}; "
            f"F {_fmt(rec['F'])}",
            all(r >= 1 for r in rec["recalls"]) and all(u >= 0.5 for u in rec["reuse_A"]),
            seeds_text, s["far_recall"]["wall_s"], fig),
        Row(PAPER, "Width sweep: the ratio rule's firing depends on the predictor's capacity (reported, no bar)",
            "spec 6A prototype: width 32: F 13.6 (RND) vs 12.4 (FAR, never fired); width 128: 53.8 vs 1.01; "
            "issue 17: include a width where the ratio rule never fires",
            "; ".join(f"width {w}: RND F {_fmt(v['rnd'], 1)}, FAR F {_fmt(v['far'])} "
                      f"({_fmt(v['fragmentations'], 0)} fragmentations)" for w, v in sweep.items()),
            True, f"seeds {', '.join(map(str, seeds))}, walk A -> B", timings["sweep"]),
        Row(PAPER, "z-rule ablation (e - mean >= 2 std, 25 samples): fragmentations and F (reported, no bar)",
            "spec 2.2: the wrapper's default rule; spec 6A recommends it as an ablation",
            f"fragmentations per seed {_fmt([r['fragmentations'] for r in z_rule], 0)}; F {_fmt([r['F'] for r in z_rule])}",
            True, f"seeds {', '.join(map(str, seeds))}, walk A -> B", timings["z_rule"]),
        Row(PAPER, "PPO is right on an outside benchmark: CartPole-v1, curiosity off, return over the last 20 "
                   "episodes >= 450 within 500k environment steps in 3 of 3 seeds",
            f"issue 17; CleanRL ppo.py: {CLEANRL_REFERENCE} at 500k",
            "; ".join(f"seed {r['seed']}: " + ("never" if r["steps_to_threshold"] is None else
                                               f">= 450 at {r['steps_to_threshold']:,} steps")
                      + f", final {r['final_return_last20']:.0f}, {r['steps_per_s']:,.0f} steps/s" for r in cartpole),
            all(r["steps_to_threshold"] is not None for r in cartpole),
            f"seeds {', '.join(map(str, seeds))}, {cartpole_steps:,} steps", timings["cartpole"],
            [settings.relative_figure(cp_png)]),
        Row(PAPER, "RL on the 9-room world (sparse reward in the farthest room): RND vs FAR vs FAR + recall "
                   "(reported as it comes out, no bar)",
            "abstract: less forgetting and better performance on Atari (no number verified); spec 6B",
            "; ".join(f"{c}: return {r['mean_return_last20']:.2f}, cells {r['mean_cells_visited']:.0f}, "
                      f"intrinsic reward at revisited cells (2nd half) {r['mean_revisited_reward_late']:.4f}, "
                      f"fragmentations {_fmt([p['fragmentations'] for p in r['per_run']], 0)}"
                      for c, r in rl_sum.items()),
            True, f"seeds {', '.join(map(str, seeds))}, {rl_iterations} iterations x 8 envs x 128 steps",
            timings["rl"], [settings.relative_figure(rl_png)]),
        Row(PAPER, "Throughput of the CPU RL loop (environment steps per second, one process, one thread)",
            "spec 6B estimate: 1-2k environment steps/s on 2 cores",
            "; ".join(f"{c} {statistics.fmean(p['steps_per_s'] for p in r['per_run']):,.0f}"
                      for c, r in rl_sum.items())
            + f"; CartPole {statistics.fmean(r['steps_per_s'] for r in cartpole):,.0f}",
            True, "the runs above", timings["rl"] + timings["cartpole"]),
    ]
    return PaperResult(rows, raw)
