"""Figures of `experiment=farmap` (docs/papers/farmap.md section 4): coverage and active memory against
steps for every agent (mean and the 10-90 % band over episodes), and one episode's map with the
trajectory coloured by the active local map, the fracture points and the LTM graph."""

from __future__ import annotations

import numpy as np

from neurobolts.plugins.figures import pyplot

AGENT_COLOURS = {"farmap": "tab:red", "frontier": "tab:blue"}


def curves_figure(curves: dict[str, dict[str, np.ndarray]]):
    """`curves[agent]["seen_ratio" | "memory_ratio"]`: (episodes, T + 1) arrays."""
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, key, label in ((axes[0], "seen_ratio", "coverage (seen / visible area)"),
                             (axes[1], "memory_ratio", "active memory (bbox of the active map / map area)")):
        for agent, values in curves.items():
            data = np.asarray(values[key], dtype=float)
            steps = np.arange(data.shape[1])
            colour = AGENT_COLOURS.get(agent)
            axis.plot(steps, data.mean(axis=0), color=colour, label=f"{agent} (mean of {len(data)})")
            low, high = np.percentile(data, [10, 90], axis=0)
            axis.fill_between(steps, low, high, color=colour, alpha=0.2, linewidth=0)
        axis.set_xlabel("agent steps")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right" if key == "seen_ratio" else "upper left")
    axes[0].set_ylim(0, 1.02)
    return figure


def episode_map_figure(free: np.ndarray, poses: np.ndarray, map_ids: np.ndarray, fracture_cells: list,
                       edges: list[tuple[int, int]], title: str):
    """The world (walls grey), the trajectory coloured by the active local map, the fracture points
    (black x) and the LTM graph: one node per local map at the mean position of the steps it was
    active, an edge per fragmentation."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6, 6 * free.shape[0] / max(free.shape[1], 1) + 0.5))
    axis.imshow(~free, cmap="Greys", vmin=0, vmax=2.5, interpolation="nearest")
    cmap = plt.get_cmap("tab10")
    for k in np.unique(map_ids):
        sel = map_ids == k
        axis.scatter(poses[sel, 1], poses[sel, 0], s=4, color=cmap(int(k) % 10), label=f"map {int(k)}")
    for r, c in fracture_cells:
        axis.plot(c, r, "kx", markersize=9, markeredgewidth=2)
    centres = {int(k): poses[map_ids == k, :2].mean(axis=0) for k in np.unique(map_ids)}
    for a, b in edges:
        if a in centres and b in centres:
            (ra, ca), (rb, cb) = centres[a], centres[b]
            axis.plot([ca, cb], [ra, rb], "k--", linewidth=1)
    for k, (r, c) in centres.items():
        axis.plot(c, r, "o", color=cmap(k % 10), markeredgecolor="k", markersize=10)
    axis.set_title(title, fontsize=9)
    axis.set_xticks([])
    axis.set_yticks([])
    if len(centres) <= 10:
        axis.legend(loc="upper right", fontsize=7, markerscale=3)
    return figure


def episode_animation(world, poses: np.ndarray, map_ids: np.ndarray, path, frames: int = 80, fps: int = 8):
    """A GIF of one episode at `path`: the agent's egocentric view (left: free white, walls grey, unseen
    black) and the world (right) with the cells seen so far coloured by the local map that was active
    when they were last seen, the recent trajectory and the agent. `frames` evenly spaced steps."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    plt = pyplot()
    cmap = plt.get_cmap("tab10")
    steps = np.unique(np.linspace(0, len(poses) - 1, frames).round().astype(int))
    seen_by = np.full(world.shape, -1, dtype=np.int64)
    snapshots, t = [], 0
    for frame_step in steps:  # replay the visibility of every step, snapshot at the frame steps
        while t <= frame_step:
            rows, cols = world.visible_cells(*(int(v) for v in poses[t]))
            seen_by[rows, cols] = map_ids[t]
            t += 1
        snapshots.append(seen_by.copy())

    def world_image(seen: np.ndarray) -> np.ndarray:
        image = np.zeros((*world.shape, 3))
        known = seen >= 0
        image[known] = np.array([cmap(int(k) % 10)[:3] for k in seen[known]]) * 0.6 + 0.4
        image[known & ~world.free] = 0.35
        return image

    def view_image(pose) -> np.ndarray:
        view = world.egocentric_view(*(int(v) for v in pose))
        return np.where(view < 0, 0.0, np.where(view == 0, 1.0, 0.5))

    figure, (left, right) = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw={"width_ratios": [1, 2]})
    view_artist = left.imshow(view_image(poses[0]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    left.set_title("egocentric view", fontsize=9)
    world_artist = right.imshow(world_image(snapshots[0]), interpolation="nearest")
    (trail,) = right.plot([], [], "-", color="k", linewidth=0.8)
    (agent,) = right.plot([], [], "o", color="yellow", markeredgecolor="k")
    for axis in (left, right):
        axis.set_xticks([])
        axis.set_yticks([])

    def draw(i: int):
        s = steps[i]
        view_artist.set_data(view_image(poses[s]))
        world_artist.set_data(world_image(snapshots[i]))
        recent = poses[max(0, s - 60): s + 1]
        trail.set_data(recent[:, 1], recent[:, 0])
        agent.set_data([poses[s, 1]], [poses[s, 0]])
        right.set_title(f"step {s}: local map {int(map_ids[s])} active", fontsize=9)
        return view_artist, world_artist, trail, agent

    FuncAnimation(figure, draw, frames=len(steps), blit=False).save(str(path), writer=PillowWriter(fps=fps))
    plt.close(figure)
    return path
