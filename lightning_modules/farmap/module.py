"""`experiment=farmap`: FARMap and the Frontier baseline explore the same episodes (docs/papers/farmap.md
sections 4 and 6).

Nothing is trained (the experiment sets `train: false`): each test (or validation) batch is one
episode of `FarMapEpisodesDataModule` (a coloured, scaled map and a start pose), and every agent of
`agents` explores it for `num_steps` moves (`agent.run_episode`, numpy). Per agent `<a>` (`farmap`,
`frontier`: the agent is the metric group) the epoch logs the means over episodes of

- `<a>/coverage_auc`: mean seen_ratio over steps 1..T;
- `<a>/steps_to_90`: first step with seen_ratio >= 0.9, counted as T when never reached
  (`<a>/reached_90` is the fraction of episodes that reached it);
- `<a>/final_coverage`, `<a>/memory_mean`, `<a>/memory_max` (cells of the
  active map's known bounding box), `<a>/memory_ratio` (over the map's H x W);
- `<a>/fragmentations`, `<a>/recalls` (counts per episode), `<a>/steps_per_s`;

and, when both agents run, the paired comparison `farmap/memory_vs_frontier` (FARMap's mean active
memory over Frontier's) and `farmap/auc_diff` (FARMap - Frontier coverage AUC). Every sum is a
torchmetrics state reduced over ranks, so the numbers do not depend on how episodes are shared out.
Rank zero logs `farmap/episodes.json` (one record per episode and agent), the coverage / memory
curves (`figures/farmap/curves.png`), the first episode's map with its trajectory, fracture points
and LTM graph (`figures/farmap/episode_<map>_<seed>_<agent>.png`) and a GIF of FARMap on it (view and
seen cells by active local map, `.gif`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchmetrics import CatMetric, MeanMetric

from neurobolts.datamodules.gridworld.world import GridWorld
from neurobolts.lightning_modules.common.episode_study import EpisodeStudy
from neurobolts.lightning_modules.common.fragmentation import MODES as FRAGMENTATION_MODES
from neurobolts.lightning_modules.common.fragmentation import SurprisalFragmenter
from neurobolts.lightning_modules.farmap.agent import AGENTS, run_episode
from neurobolts.lightning_modules.farmap.figures import curves_figure, episode_animation, episode_map_figure
from neurobolts.plugins.checks import check_choice, check_int, check_number, check_positive
from neurobolts.plugins.figures import log_figure, log_file, log_table

SUMMARY_KEYS = ("coverage_auc", "steps_to_90", "reached_90", "final_coverage", "memory_mean", "memory_max",
                "memory_ratio", "fragmentations", "recalls", "ltm_subgoals", "steps_per_s")
RECORD_KEYS = ("episode", "map_id", "seed", *SUMMARY_KEYS)
CURVE_KEYS = ("seen_ratio", "memory_ratio")


class FarMapStudy(EpisodeStudy):
    """Runs every agent of `agents` on each episode (no parameters, nothing to train).

    Args:
        agents: any of "farmap", "frontier" (both by default: the paper's comparison).
        gamma, rho, frag_mode, min_history, eps, ltm_threshold: the agent's settings (spec 2.2-2.5;
            the reference's defaults 0.9, 2.0, "z", 26, 5.0, 0.05).
        figure_episodes: how many episodes (the first ones of rank zero) get a trajectory figure.
        animation: also write a GIF of the first such episode (`figures/farmap/episode_<map>_<seed>_
            <agent>.gif`: egocentric view and the cells seen so far, coloured by the active local map).
    """

    def __init__(self, agents=AGENTS, gamma: float = 0.9, rho: float = 2.0, frag_mode: str = "z",
                 min_history: int = 26, eps: float = 5.0, ltm_threshold: float = 0.05,
                 figure_episodes: int = 1, animation: bool = True) -> None:
        super().__init__()
        agents = list(agents) if not isinstance(agents, str) else [agents]
        if not agents or len(set(agents)) != len(agents):
            raise ValueError(f"agents must be a non-empty list of distinct names from {AGENTS}, got {agents!r}")
        for agent in agents:
            check_choice("agents", agent, AGENTS)
        check_number("gamma", gamma, 0.0, 1.0, low_open=True, high_open=True)
        check_int("min_history", min_history, 1)
        check_positive("eps", eps)
        check_number("ltm_threshold", ltm_threshold, 0.0)
        check_int("figure_episodes", figure_episodes, 0)
        self.save_hyperparameters(logger=False)
        self.agents = agents
        self.agent_kwargs = {"gamma": gamma, "rho": rho, "frag_mode": frag_mode, "min_history": min_history,
                             "eps": eps, "ltm_threshold": ltm_threshold}
        # fail now on a bad fragmentation setting, not in the first test step, naming this module's fields
        check_choice("frag_mode", frag_mode, FRAGMENTATION_MODES)
        try:
            SurprisalFragmenter(frag_mode, rho, min_history)
        except ValueError as exc:
            raise ValueError(f"frag_mode={frag_mode!r}, rho={rho!r}, min_history={min_history!r}: "
                             f"{str(exc).replace('threshold', 'rho')}") from None
        self.means = nn.ModuleDict({agent: nn.ModuleDict({key: MeanMetric() for key in SUMMARY_KEYS})
                                    for agent in agents})
        self.records = nn.ModuleDict({agent: CatMetric() for agent in agents})
        self.curves = nn.ModuleDict({f"{agent}_{key}": CatMetric() for agent in agents for key in CURVE_KEYS})
        self._figures_done = 0

    @staticmethod
    def agent_seed(map_id: int, seed: int) -> int:
        """The agents' random seed on episode (map_id, seed); the same for every agent."""
        return int(np.random.SeedSequence([int(seed), int(map_id), 1]).generate_state(1)[0])

    def run_agents(self, batch: dict) -> dict:
        """{agent: EpisodeResult} of one episode."""
        classes = batch["classes"].cpu().numpy()
        view = {key: batch[key].item() for key in ("view_size", "fov_ratio") if key in batch}
        world = GridWorld(classes, **view)
        start = tuple(int(v) for v in batch["start"].tolist())
        map_id, seed, steps = int(batch["map_id"]), int(batch["seed"]), int(batch["num_steps"])
        return {agent: run_episode(world, start, steps, agent=agent, seed=self.agent_seed(map_id, seed),
                                   **self.agent_kwargs) for agent in self.agents}

    def run_episode_batch(self, batch: dict) -> None:
        results = self.run_agents(batch)
        for agent, result in results.items():
            summary = episode_summary(result)
            for key in SUMMARY_KEYS:
                self.means[agent][key].update(torch.tensor(summary[key], dtype=torch.float64))
            record = [float(batch["episode"]), float(batch["map_id"]), float(batch["seed"]),
                      *(float(summary[key]) for key in SUMMARY_KEYS)]
            self.records[agent].update(torch.tensor([record], dtype=torch.float64))
            self.curves[f"{agent}_seen_ratio"].update(torch.as_tensor(result.seen_ratio, dtype=torch.float32)[None])
            self.curves[f"{agent}_memory_ratio"].update(
                torch.as_tensor(result.memory_ratio, dtype=torch.float32)[None])
        if self.trainer is not None and self.trainer.is_global_zero \
                and self._figures_done < self.hparams.figure_episodes:
            self._figures_done += 1
            self._log_episode_figures(batch, results)

    def log_epoch(self) -> dict[str, float]:
        values: dict[str, float] = {}
        for agent in self.agents:  # every compute is a collective: every rank runs all of them
            for key in SUMMARY_KEYS:
                values[f"{agent}/{key}"] = float(self.means[agent][key].compute())
                self.means[agent][key].reset()
        if {"farmap", "frontier"} <= set(self.agents):
            values["farmap/memory_vs_frontier"] = values["farmap/memory_mean"] / values["frontier/memory_mean"]
            values["farmap/auc_diff"] = values["farmap/coverage_auc"] - values["frontier/coverage_auc"]
        records = {agent: self.records[agent].compute() for agent in self.agents}
        curves = {agent: {key: self.curves[f"{agent}_{key}"].compute() for key in CURVE_KEYS} for agent in self.agents}
        for metric in (*self.records.values(), *self.curves.values()):
            metric.reset()
        for name, value in values.items():
            self.log(name, value, sync_dist=True)  # the same value on every rank: the mean changes nothing
        if self.trainer.is_global_zero:
            table = [dict(agent=agent, **{k: _plain(k, v) for k, v in zip(RECORD_KEYS, row.tolist(), strict=True)})
                     for agent in self.agents for row in records[agent].reshape(-1, len(RECORD_KEYS))]
            table.sort(key=lambda r: (r["episode"], r["agent"]))
            log_table(self.trainer, table, "farmap/episodes.json")
            log_figure(self.trainer, curves_figure({a: {k: v.cpu().numpy().reshape(-1, v.shape[-1])
                                                        for k, v in c.items()} for a, c in curves.items()}),
                       "figures/farmap/curves.png")
        self._figures_done = 0
        return values

    def _log_episode_figures(self, batch: dict, results: dict) -> None:
        classes = batch["classes"].cpu().numpy()
        free = classes == 0
        map_id, seed = int(batch["map_id"]), int(batch["seed"])
        for agent, result in results.items():
            fractures = result.ltm.fractures if result.ltm is not None else []
            title = (f"{agent} on map {map_id}, seed {seed}\ncoverage {result.seen_ratio[-1]:.2f}, "
                     f"{len(result.fragmentations)} fragmentations, {len(result.recalls)} recalls")
            figure = episode_map_figure(free, result.poses, result.map_id, [f.cell for f in fractures],
                                        [(f.old_map, f.new_map) for f in fractures], title)
            log_figure(self.trainer, figure, f"figures/farmap/episode_{map_id:03d}_{seed}_{agent}.png")
        if self.hparams.animation and self._figures_done == 1:
            agent = "farmap" if "farmap" in results else next(iter(results))
            view = {key: batch[key].item() for key in ("view_size", "fov_ratio") if key in batch}
            with tempfile.TemporaryDirectory() as tmp:
                gif = Path(tmp) / f"episode_{map_id:03d}_{seed}_{agent}.gif"
                episode_animation(GridWorld(classes, **view), results[agent].poses, results[agent].map_id, gif)
                log_file(self.trainer, gif, "figures/farmap")


def episode_summary(result) -> dict[str, float]:
    """The per-episode numbers the study averages (module docstring)."""
    steps_to_90 = result.steps_to(0.9)
    return {"coverage_auc": result.coverage_auc(),
            "steps_to_90": float(result.num_steps if steps_to_90 is None else steps_to_90),
            "reached_90": float(steps_to_90 is not None), "final_coverage": float(result.seen_ratio[-1]),
            "memory_mean": float(result.memory[1:].mean()), "memory_max": float(result.memory.max()),
            "memory_ratio": float(result.memory_ratio[1:].mean()),
            "fragmentations": float(len(result.fragmentations)), "recalls": float(len(result.recalls)),
            "ltm_subgoals": float(len(result.ltm_subgoals)), "steps_per_s": float(result.steps_per_s)}


def _plain(key: str, value: float):
    return int(value) if key in ("episode", "map_id", "seed", "fragmentations", "recalls", "ltm_subgoals",
                                 "memory_max") else value
