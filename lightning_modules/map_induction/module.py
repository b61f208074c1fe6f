"""`experiment=map_induction`: Uniform-, MAP- and D-POMCP (and a random baseline) collect the rewards
of the same episodes (docs/papers/map_induction.md sections 2.6, 2.7, 4 and 6).

Nothing is trained (`train: false`): each test (or validation) batch is one episode of
`MapInductionEpisodesDataModule` (a world and a seed) and every agent of `agents` runs it
(`agents.run_episode`, numpy) with the same seed. Per agent `<a>` (the metric group: `uniform`,
`map`, `dpomcp`, `random`) the epoch logs the means over episodes of

- `<a>/steps_to_all_rewards` (max_steps when not all were collected),
- `<a>/observed_fraction` (the fraction of the world's cells seen when the last reward was collected,
  or at the end), `<a>/all_collected`, `<a>/recomputations` (hypothesis sets computed per episode),
  `<a>/decisions_per_s`;

and per world `<w>` (the metric group), for each inductive agent `<i>` (dpomcp, map) run beside
Uniform-POMCP: `<w>/<i>_vs_uniform`, the mean paired difference of the steps to all rewards (<i> minus
Uniform-POMCP: negative when <i> needs fewer), and `<w>/<i>_p_value`, the one-sided Wilcoxon
signed-rank p-value of "<i> needs fewer steps than Uniform-POMCP" on the paired episodes (spec oracle 7.8: p < 0.05 on repeated-room worlds;
on a non-repeating control no difference is expected).
Every number is a torchmetrics state reduced over ranks (sums and concatenations), so the results do
not depend on how the episodes are shared out. Rank zero logs `map_induction/episodes.json` (one record
per episode and agent), `map_induction/worlds.json` (the per-world table) and, for the first episode of
each world, `figures/map_induction/<world>_seed<s>_trajectories.png` (the agents' paths) and
`..._belief.png` (D-POMCP's belief over hypotheses and its MAP hypothesis).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torchmetrics import CatMetric, MeanMetric

from neurobolts.datamodules.map_induction.observation import OBSERVATION_MODES
from neurobolts.lightning_modules.common.episode_study import EpisodeStudy
from neurobolts.lightning_modules.map_induction.agents import AGENTS, run_episode
from neurobolts.lightning_modules.map_induction.figures import belief_figure, trajectories_figure
from neurobolts.plugins.checks import check_choice, check_fraction, check_int, check_number
from neurobolts.plugins.figures import log_figure, log_table

SUMMARY_KEYS = ("steps_to_all_rewards", "observed_fraction", "all_collected", "recomputations", "decisions_per_s")


def paired_test(dpomcp_steps: np.ndarray, uniform_steps: np.ndarray) -> tuple[float, float]:
    """(mean of dpomcp - uniform, one-sided Wilcoxon signed-rank p-value of "dpomcp needs fewer steps")
    over paired episodes; p = 1 when every pair is tied (no evidence), nan with no pair."""
    from scipy.stats import wilcoxon

    diff = np.asarray(dpomcp_steps, dtype=float) - np.asarray(uniform_steps, dtype=float)
    if diff.size == 0:
        return math.nan, math.nan
    if np.all(diff == 0):
        return 0.0, 1.0
    return float(diff.mean()), float(wilcoxon(diff, alternative="less").pvalue)


class MapInductionStudy(EpisodeStudy):
    """Runs every agent of `agents` on each episode (no parameters, nothing to train).

    Args:
        agents: any of "uniform", "map", "dpomcp", "random" (default: the paper's three POMCP agents).
        mode: the observation mode (spec 2.2; `room` as in the reference's evaluation).
        max_steps, tree_queries, max_depth, gamma, ucb_c, optimism: the planner (spec 6 at CPU scale:
            200 queries, depth 15, gamma 0.9, UCB c 1).
        figure_worlds: how many worlds (their first episode on rank zero) get the two figures.
    """

    def __init__(self, agents=("uniform", "map", "dpomcp"), mode: str = "room", max_steps: int = 300,
                 tree_queries: int = 200, max_depth: int = 15, gamma: float = 0.9, ucb_c: float = 1.0,
                 optimism: float | None = None, max_proposals: int = 3, max_hypotheses: int = 81,
                 figure_worlds: int = 4) -> None:
        super().__init__()
        agents = [agents] if isinstance(agents, str) else list(agents)
        if not agents or len(set(agents)) != len(agents):
            raise ValueError(f"agents must be a non-empty list of distinct names from {AGENTS}, got {agents!r}")
        for agent in agents:
            check_choice("agents", agent, AGENTS)
        check_choice("mode", mode, OBSERVATION_MODES)
        check_int("max_steps", max_steps, 1)
        check_int("tree_queries", tree_queries, 1)
        check_int("max_depth", max_depth, 1)
        check_fraction("gamma", gamma)
        check_number("ucb_c", ucb_c, 0)
        check_number("optimism", optimism, 0, allow_none=True)
        check_int("max_proposals", max_proposals, 1)
        check_int("max_hypotheses", max_hypotheses, 1)
        check_int("figure_worlds", figure_worlds, 0)
        self.save_hyperparameters(logger=False)
        self.agents = agents
        self.episode_kwargs = {"mode": mode, "max_steps": max_steps, "tree_queries": tree_queries,
                               "max_depth": max_depth, "gamma": gamma, "ucb_c": ucb_c,
                               "max_proposals": max_proposals, "max_hypotheses": max_hypotheses}
        if optimism is not None:
            self.episode_kwargs["optimism"] = optimism
        self.means = nn.ModuleDict({a: nn.ModuleDict({k: MeanMetric() for k in SUMMARY_KEYS}) for a in agents})
        # (world_index, seed, agent index, steps, observed fraction, all collected) per episode and agent
        self.records = CatMetric()
        self.world_names: list[str] = []
        self._figured: set[int] = set()

    def run_agents(self, batch: dict) -> dict:
        """{agent: EpisodeResult} of one episode, every agent with the episode's seed."""
        world, seed = batch["world"].world, int(batch["seed"])
        return {agent: run_episode(world, agent, seed, **self.episode_kwargs) for agent in self.agents}

    def run_episode_batch(self, batch: dict) -> None:
        results = self.run_agents(batch)
        index = int(batch["world_index"])
        for k, (agent, result) in enumerate(results.items()):
            values = {"steps_to_all_rewards": result.steps_to_all_rewards, "observed_fraction": result.observed_fraction,
                      "all_collected": float(result.all_collected), "recomputations": result.recomputations,
                      "decisions_per_s": result.decisions_per_s}
            for key in SUMMARY_KEYS:
                value = float(values[key])
                if math.isfinite(value):  # the random agent makes no timed decisions
                    self.means[agent][key].update(torch.tensor(value, dtype=torch.float64))
            self.records.update(torch.tensor([[index, int(batch["seed"]), k, result.steps_to_all_rewards,
                                               result.observed_fraction, float(result.all_collected)]],
                                             dtype=torch.float64))
        if self.trainer is not None and self.trainer.is_global_zero and index not in self._figured \
                and len(self._figured) < self.hparams.figure_worlds:
            self._figured.add(index)
            self._log_figures(batch, results)

    def on_test_start(self) -> None:
        self.world_names = list(getattr(self.trainer.datamodule, "world_names", []))

    on_validation_start = on_test_start

    def log_epoch(self) -> dict[str, float]:
        values: dict[str, float] = {}
        for agent in self.agents:  # every compute is a collective: every rank runs all of them
            for key in SUMMARY_KEYS:
                metric = self.means[agent][key]
                values[f"{agent}/{key}"] = float(metric.compute()) if metric.update_count else math.nan
                metric.reset()
        records = self.records.compute().reshape(-1, 6).cpu().numpy()
        self.records.reset()
        table = self.world_table(records)
        for agent in ("dpomcp", "map"):
            if {agent, "uniform"} <= set(self.agents):
                for row in table:
                    values[f"{row['world']}/{agent}_vs_uniform"] = row[f"{agent}_minus_uniform"]
                    values[f"{row['world']}/{agent}_p_value"] = row[f"p_{agent}_lt_uniform"]
        for name, value in values.items():
            if math.isfinite(value):
                self.log(name, value, sync_dist=True)  # the same value on every rank: the mean changes nothing
        if self.trainer.is_global_zero:
            episodes = [{"world": self._name(int(r[0])), "seed": int(r[1]), "agent": self.agents[int(r[2])],
                         "steps_to_all_rewards": int(r[3]), "observed_fraction": float(r[4]),
                         "all_collected": bool(r[5])} for r in records]
            episodes.sort(key=lambda e: (e["world"], e["seed"], e["agent"]))
            log_table(self.trainer, episodes, "map_induction/episodes.json")
            log_table(self.trainer, table, "map_induction/worlds.json")
        self._figured = set()
        return values

    def _name(self, index: int) -> str:
        return self.world_names[index] if index < len(self.world_names) else f"world{index}"

    def world_table(self, records: np.ndarray) -> list[dict]:
        """Per world: episodes, mean steps to all rewards per agent and, with D-POMCP and Uniform-POMCP,
        the paired difference and its one-sided p-value (`paired_test`)."""
        table = []
        for index in sorted({int(r[0]) for r in records}):
            rows = records[records[:, 0] == index]
            row = {"world": self._name(index), "episodes": int(len({int(r[1]) for r in rows}))}
            steps = {}
            for k, agent in enumerate(self.agents):
                mine = rows[rows[:, 2] == k]
                mine = mine[np.argsort(mine[:, 1])]
                steps[agent] = mine[:, 3]
                row[f"{agent}_steps"] = float(mine[:, 3].mean()) if len(mine) else math.nan
                row[f"{agent}_observed_fraction"] = float(mine[:, 4].mean()) if len(mine) else math.nan
            for agent in ("dpomcp", "map"):
                if {agent, "uniform"} <= set(self.agents):
                    row[f"{agent}_minus_uniform"], row[f"p_{agent}_lt_uniform"] = paired_test(steps[agent],
                                                                                              steps["uniform"])
            table.append(row)
        return table

    def _log_figures(self, batch: dict, results: dict) -> None:
        world, seed = batch["world"].world, int(batch["seed"])
        name = world.name
        title = f"{name}, seed {seed}"
        log_figure(self.trainer, trajectories_figure(world.grid, results, title),
                   f"figures/map_induction/{name}_seed{seed}_trajectories.png")
        inductive = next((a for a in ("dpomcp", "map") if a in results), None)
        if inductive is not None:
            log_figure(self.trainer, belief_figure(results[inductive], f"{inductive}: {title}"),
                       f"figures/map_induction/{name}_seed{seed}_belief.png")
