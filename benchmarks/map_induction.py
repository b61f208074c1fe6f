"""Map Induction's planner against an outside POMCP, and its decision rate on the CPU worlds
(docs/papers/map_induction.md sections 2.6, 6 and 8; issue 18). One process, one thread.

(a) Tiger, ours (lightning_modules/map_induction/pomcp.py) against `pomdp-py`'s POMCP (PyPI
    `pomdp-py`, Cython), on pomdp-py's own Tiger problem definition and ours, which are the same POMDP
    (listen -1 with accuracy 0.85, +10 / -100 for the treasure / tiger door, the tiger placed again
    after a door is opened). Both planners get the same number of simulations, the same discount,
    maximum depth and UCB constant, a uniformly random rollout policy, and a particle belief of
    `--particles` states:
    - first decision: `--trials` searches from the uniform belief, each with its own seed; the
      fraction that listen (the optimal first action from a uniform belief) and the decisions per
      second (wall time of the search calls only);
    - return: `--episodes` episodes of `--horizon` steps from a tiger placed uniformly at random, the
      environment simulated identically for both (the same seeded generator per episode, so both meet
      the same tiger and the same listening errors as long as they act alike); after each step each
      planner updates its belief its own way (tree reuse: the particles of the child reached; pomdp-py
      then reinvigorates them to the particle count by copying, ours by rejection sampling from the
      previous belief through the model); mean undiscounted return with its standard error.
    If pomdp-py cannot be imported, the reason is printed and only our column is filled.
(b) Decisions per second of each agent (agents.py) on the CPU worlds (worlds.cpu_worlds) at the CPU
    settings of spec 6 (200 tree queries, depth 15, gamma 0.9, UCB c 1, room observations): one episode
    per (world, agent, seed); a decision's time covers induction, posterior, model building and search.
(c) The effect (spec 7.8, small): steps to all rewards of Uniform-, MAP- and D-POMCP on one repeated
    world over `--effect-seeds` seeds, paired by seed, in each of `--effect-modes` (room: the spec's
    default, where entering a room shows all its rewards; fixed_radius: a 3 x 3 view, where predicting
    unseen rewards can pay).

    python benchmarks/map_induction.py [--sims 100 500 1000] [--depth 3] [--gamma 0.95] [--ucb-c 110]
        [--trials 100] [--episodes 100] [--horizon 10] [--particles 100] [--seeds 0] [--effect-seeds 3]
        [--effect-world repeated_2x2]
        [--effect-modes room fixed_radius] [--skip-tiger] [--skip-worlds] [--json out.json]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: one thread

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from neurobolts.datamodules.map_induction.observation import OBSERVATION_MODES  # noqa: E402
from neurobolts.datamodules.map_induction.worlds import cpu_worlds  # noqa: E402
from neurobolts.lightning_modules.map_induction.agents import (  # noqa: E402
    AGENTS,
    PLANNING_AGENTS,
    run_episode,
)
from neurobolts.lightning_modules.map_induction.pomcp import (  # noqa: E402
    LISTEN,
    POMCP,
    TIGER_ACTION_NAMES,
    TIGER_LEFT,
    TigerProblem,
)

PIP_COMMAND = ".venv/bin/python -m pip install pomdp-py"


def load_pomdp_py():
    """(pomdp_py, its tiger module, None) or (None, None, why it is unavailable)."""
    try:
        import pomdp_py
        from pomdp_py.problems.tiger import tiger_problem
    except Exception as error:  # ImportError, or a broken compiled extension
        return None, None, (f"pomdp-py could not be imported ({type(error).__name__}: {error}); install it "
                            f"with `{PIP_COMMAND}` (a manylinux wheel exists for CPython 3.11 on x86-64; "
                            "elsewhere pip compiles its Cython extensions and needs a C compiler)")
    return pomdp_py, tiger_problem, None


def mean_and_error(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0)


# --- (a) Tiger ------------------------------------------------------------------------------------

class OursOnTiger:
    name = "ours"

    def __init__(self, sims: int, depth: int, gamma: float, ucb_c: float, particles: int) -> None:
        self.problem = TigerProblem()
        self.settings = dict(tree_queries=sims, max_depth=depth, gamma=gamma, ucb_c=ucb_c)
        self.n_particles = particles

    def start(self, seed: int) -> None:
        self.planner = POMCP(self.problem, **self.settings)
        self.rng = np.random.default_rng(seed)
        self.particles = [TIGER_LEFT, 1 - TIGER_LEFT] * (self.n_particles // 2)

    def decide(self) -> int:
        return self.planner.plan(self.particles, self.rng)

    def update(self, action: int, observation: int) -> None:
        new = self.planner.update(action, observation, self.particles, n_particles=self.n_particles,
                                  rng=self.rng)
        self.particles = new or [TIGER_LEFT, 1 - TIGER_LEFT] * (self.n_particles // 2)


class PomdpPyOnTiger:
    name = "pomdp-py"

    def __init__(self, pomdp_py, tiger, sims: int, depth: int, gamma: float, ucb_c: float,
                 particles: int) -> None:
        self.pomdp_py, self.tiger = pomdp_py, tiger
        self.settings = dict(num_sims=sims, max_depth=depth, discount_factor=gamma, exploration_const=ucb_c)
        self.n_particles = particles
        self.actions = {name: i for i, name in enumerate(TIGER_ACTION_NAMES)}

    def start(self, seed: int) -> None:
        random.seed(seed)  # pomdp-py's Tiger and POMCP draw from the random module
        self.problem = self.tiger.make_tiger(init_state="tiger-left")
        states = [self.tiger.TigerState("tiger-left"), self.tiger.TigerState("tiger-right")]
        self.problem.agent.set_belief(self.pomdp_py.Particles(states * (self.n_particles // 2)), prior=True)
        self.planner = self.pomdp_py.POMCP(rollout_policy=self.problem.agent.policy_model, **self.settings)
        self.last_action = None

    def decide(self) -> int:
        self.last_action = self.planner.plan(self.problem.agent)
        return self.actions[self.last_action.name]

    def update(self, action: int, observation: int) -> None:
        real = self.tiger.TigerObservation("tiger-left" if observation == TIGER_LEFT else "tiger-right")
        self.problem.agent.update_history(self.last_action, real)
        with contextlib.redirect_stdout(io.StringIO()):  # it prints every particle reinvigoration
            self.planner.update(self.problem.agent, self.last_action, real)


def tiger_first_decisions(planner, trials: int) -> tuple[float, float]:
    """(fraction of first decisions that listen, decisions per second)."""
    listens, elapsed = 0, 0.0
    for seed in range(trials):
        planner.start(seed)
        start = time.perf_counter()
        action = planner.decide()
        elapsed += time.perf_counter() - start
        listens += action == LISTEN
    return listens / trials, trials / elapsed


def tiger_returns(planner, episodes: int, horizon: int) -> tuple[float, float, int]:
    """(mean return, its standard error, failed episodes) over `episodes` of `horizon` steps; an episode
    whose planner raises (e.g. particle deprivation) counts as failed and is left out of the mean."""
    problem = TigerProblem()
    returns, failed = [], 0
    for episode in range(episodes):
        env = random.Random(10_000 + episode)
        state = int(env.random() < 0.5)
        planner.start(episode)
        total = 0.0
        try:
            for _ in range(horizon):
                action = planner.decide()
                state, observation, reward, _ = problem.step(state, action, env)
                total += reward
                planner.update(action, observation)
        except Exception:
            failed += 1
            continue
        returns.append(total)
    mean, error = mean_and_error(returns) if returns else (float("nan"), float("nan"))
    return mean, error, failed


def run_tiger(args) -> dict:
    pomdp_py, tiger, why = load_pomdp_py()
    print(f"(a) Tiger: depth {args.depth}, gamma {args.gamma}, UCB c {args.ucb_c}, {args.particles} "
          f"particles, {args.trials} first decisions, {args.episodes} episodes x {args.horizon} steps")
    if why:
        print(f"    {why}")
    else:
        from importlib.metadata import version
        print(f"    pomdp-py {version('pomdp-py')}")
    header = (f"{'sims':>6} {'planner':>9} {'listen first':>13} {'decisions/s':>12} {'mean return':>12} "
              f"{'+-':>6} {'failed':>6}")
    print(header)
    rows = []
    for sims in args.sims:
        planners = [OursOnTiger(sims, args.depth, args.gamma, args.ucb_c, args.particles)]
        if pomdp_py is not None:
            planners.append(PomdpPyOnTiger(pomdp_py, tiger, sims, args.depth, args.gamma, args.ucb_c,
                                           args.particles))
        for planner in planners:
            listen, rate = tiger_first_decisions(planner, args.trials)
            mean, error, failed = tiger_returns(planner, args.episodes, args.horizon)
            rows.append(dict(sims=sims, planner=planner.name, listen_first=listen, decisions_per_s=rate,
                             mean_return=mean, return_error=error, failed=failed))
            print(f"{sims:>6} {planner.name:>9} {listen:>13.2f} {rate:>12.1f} {mean:>12.2f} {error:>6.2f} "
                  f"{failed:>6}", flush=True)
    return {"pomdp_py_unavailable": why, "rows": rows}


# --- (b) and (c): the CPU worlds -----------------------------------------------------------------

def run_worlds(args) -> dict:
    print(f"\n(b) agents on the CPU worlds: {args.tree_queries} tree queries, depth {args.max_depth}, "
          f"gamma 0.9, UCB c 1, room observations, seeds {args.seeds}, at most {args.max_steps} steps")
    print(f"{'world':>24} {'agent':>8} {'steps to all':>13} {'observed':>9} {'hypotheses':>11} "
          f"{'decisions/s':>12}")
    rows = []
    for world in cpu_worlds():
        for agent in AGENTS:
            results = [run_episode(world, agent, seed, tree_queries=args.tree_queries,
                                   max_depth=args.max_depth, max_steps=args.max_steps) for seed in args.seeds]
            steps = statistics.fmean(r.steps_to_all_rewards for r in results)
            observed = statistics.fmean(r.observed_fraction for r in results)
            hypotheses = statistics.fmean(float(r.n_hypotheses.mean()) for r in results)
            rate = sum(r.decisions for r in results) / sum(r.decision_s for r in results)
            rows.append(dict(world=world.name, agent=agent, steps_to_all_rewards=steps,
                             observed_fraction=observed, mean_hypotheses=hypotheses, decisions_per_s=rate,
                             all_collected=all(r.all_collected for r in results)))
            print(f"{world.name:>24} {agent:>8} {steps:>13.1f} {observed:>9.2f} {hypotheses:>11.1f} "
                  f"{rate:>12.1f}", flush=True)

    world = {w.name: w for w in cpu_worlds()}[args.effect_world]
    effect = {}
    for mode in args.effect_modes:
        print(f"\n(c) steps to all rewards on {world.name}, {mode} observations, "
              f"seeds 0..{args.effect_seeds - 1} (CPU settings)")
        steps = {agent: [run_episode(world, agent, seed, mode=mode, tree_queries=args.tree_queries,
                                     max_depth=args.max_depth, max_steps=args.max_steps).steps_to_all_rewards
                         for seed in range(args.effect_seeds)] for agent in PLANNING_AGENTS}
        for agent, values in steps.items():
            print(f"{agent:>8}: {values}  mean {statistics.fmean(values):.1f}", flush=True)
        for agent in ("map", "dpomcp"):
            differences = [u - a for u, a in zip(steps["uniform"], steps[agent], strict=True)]
            print(f"uniform - {agent} per seed: {differences} (positive: {agent} faster)")
        effect[mode] = steps
    return {"agents": rows, "effect": {"world": world.name, **effect}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--depth", type=int, default=3,
                        help="Tiger search depth (pomdp-py's Tiger example: 3)")
    parser.add_argument("--gamma", type=float, default=0.95)
    parser.add_argument("--ucb-c", type=float, default=110.0, help="Tiger UCB constant (Silver & Veness: "
                        "the reward range, 10 - (-100))")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--particles", type=int, default=100)
    parser.add_argument("--tree-queries", type=int, default=200)
    parser.add_argument("--max-depth", type=int, default=15)
    parser.add_argument("--max-steps", type=int, default=500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--effect-seeds", type=int, default=3)
    parser.add_argument("--effect-world", default="repeated_2x2",
                        choices=[w.name for w in cpu_worlds()])
    parser.add_argument("--effect-modes", nargs="+", default=["room", "fixed_radius"],
                        choices=list(OBSERVATION_MODES))
    parser.add_argument("--skip-tiger", action="store_true")
    parser.add_argument("--skip-worlds", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"numpy {np.__version__}")
    report = {"settings": vars(args)}
    if not args.skip_tiger:
        report["tiger"] = run_tiger(args)
    if not args.skip_worlds:
        report["worlds"] = run_worlds(args)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
