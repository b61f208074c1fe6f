"""Figures of Map Induction: a world with the agents' trajectories, and the belief over hypotheses
through an episode with the MAP hypothesis drawn. Matplotlib on the Agg backend
(`plugins.figures.pyplot`); each function returns a figure for `log_figure` / `savefig`."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from neurobolts.datamodules.map_induction.grid_format import REWARD, UNOBSERVED, WALL
from neurobolts.plugins.figures import pyplot

AGENT_COLOURS = {"uniform": "tab:blue", "map": "tab:orange", "dpomcp": "tab:green", "random": "tab:grey"}


def _grid_image(grid: np.ndarray) -> np.ndarray:
    """RGB image of a map: walls dark, free cells white, rewards gold, unobserved cells light grey."""
    image = np.ones((*grid.shape, 3))
    image[grid == WALL] = (0.2, 0.2, 0.2)
    image[grid == REWARD] = (1.0, 0.8, 0.1)
    image[grid == UNOBSERVED] = (0.8, 0.8, 0.85)
    return image


def trajectories_figure(grid: np.ndarray, results: Mapping[str, object], title: str = ""):
    """The world with one trajectory per agent ({agent: EpisodeResult}), start marked, the steps to all
    rewards in the legend."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(max(4.0, grid.shape[1] * 0.28), max(3.5, grid.shape[0] * 0.28)))
    axis.imshow(_grid_image(np.asarray(grid)))
    for k, (agent, result) in enumerate(results.items()):
        path = np.asarray(result.trajectory, dtype=float) + (k - (len(results) - 1) / 2) * 0.12  # side by side
        axis.plot(path[:, 1], path[:, 0], color=AGENT_COLOURS.get(agent), lw=1.2, alpha=0.85,
                  label=f"{agent}: {result.steps_to_all_rewards} steps"
                        + ("" if result.all_collected else " (not all)"))
    start = np.asarray(results[next(iter(results))].trajectory[0]) if results else None
    if start is not None:
        axis.plot(start[1], start[0], "k*", ms=10)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2)
    axis.set_title(title, fontsize=9)
    return figure


def belief_figure(result, title: str = ""):
    """An episode's belief over hypotheses: the MAP weight and the number of hypotheses at every
    recomputation (left), and the last recomputation's MAP hypothesis map (right)."""
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), gridspec_kw={"width_ratios": [1.3, 1]})
    beliefs = list(result.beliefs)
    if beliefs:
        steps = [b.step for b in beliefs]
        left.step(steps, [float(np.max(b.weights)) for b in beliefs], where="post", label="MAP belief")
        left.set_ylim(0, 1.05)
        left.set_ylabel("belief of the MAP hypothesis")
        twin = left.twinx()
        twin.step(steps, [len(b.weights) for b in beliefs], where="post", color="tab:red", label="hypotheses")
        twin.set_ylabel("hypotheses", color="tab:red")
        right.imshow(_grid_image(np.asarray(beliefs[-1].map)))
        fallback = beliefs[-1].fallback_index == beliefs[-1].map_index
        right.set_title(f"MAP hypothesis at step {beliefs[-1].step}" + (" (observed map only)" if fallback else ""),
                        fontsize=9)
    left.set_xlabel("step")
    right.set_xticks([])
    right.set_yticks([])
    figure.suptitle(title, fontsize=10)
    return figure
