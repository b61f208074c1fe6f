"""A static grid world of class ids with egocentric views (docs/papers/farmap.md sections 2.1, 4, 7.2).

`classes` is an int32 (H, W) grid on the scaled map: 0 = free, ids >= 1 = walls (colouring.py).
Poses are (row, col, heading) with headings and the move rule of headings.py. The view from a pose
is a V x V egocentric window (agent at (V - 1, V // 2) facing up, row 0 farthest ahead) of class ids,
`UNKNOWN` where not visible: outside the cone, hidden behind walls (view_geometry.py states the
line-of-sight rule), or outside the map. The map is static, so the visible cells of each pose are
computed once and cached: `visible_cells` and `egocentric_view` cost O(cells seen) after the first
call for a pose.
"""

from __future__ import annotations

import numpy as np

from neurobolts.plugins.checks import check_choice, check_fraction, check_int, is_integer

from .colouring import colour_classes, upscale
from .headings import HEADINGS, move
from .maps import reference_map, visible_area
from .view_geometry import view_geometry

UNKNOWN = -1


class GridWorld:
    """Grid world over `classes` (int32 (H, W), 0 = free, >= 1 = wall ids) with a `view_size` square
    egocentric view (odd) and cone `fov_ratio`."""

    def __init__(self, classes: np.ndarray, view_size: int = 15, fov_ratio: float = 0.25):
        classes = np.asarray(classes)
        if classes.ndim != 2 or not np.issubdtype(classes.dtype, np.integer) or classes.size == 0 \
                or classes.min() < 0 or not (classes == 0).any():
            raise ValueError("classes must be a 2-D integer grid of class ids >= 0 (0 = free) with a free cell, "
                             f"got {classes.dtype} {classes.shape}")
        view_size = check_int("view_size", view_size, 3, expected="an odd integer >= 3")
        if view_size % 2 == 0:
            raise ValueError(f"view_size must be an odd integer >= 3, got {view_size!r}")
        self.view_size, self.fov_ratio = view_size, check_fraction("fov_ratio", fov_ratio)
        self.classes = classes.astype(np.int32)
        self.classes.flags.writeable = False
        self.free = self.classes == 0
        self.free.flags.writeable = False
        self.shape = self.classes.shape
        self._geometry = view_geometry(view_size, self.fov_ratio)
        # opacity padded by the view size, so every window reads inside the array; outside is opaque
        self._opaque = np.pad(~self.free, view_size, constant_values=True)
        self._flat_classes = self.classes.ravel()
        self._cache: dict[tuple[int, int, int], tuple[np.ndarray, ...]] = {}

    @classmethod
    def from_wall_grid(cls, wall: np.ndarray, scale: int = 3, rng: np.random.Generator | None = None,
                       **kwargs) -> GridWorld:
        """World of a bool wall grid (True = wall, unscaled): one class id per wall cell (randomly
        permuted when `rng` is given), then `scale` x nearest-neighbour up-scaling."""
        return cls(upscale(colour_classes(wall, rng), scale), **kwargs)

    @classmethod
    def from_reference(cls, map_id: int, scale: int = 3, rng: np.random.Generator | None = None,
                       **kwargs) -> GridWorld:
        """World of reference map `map_id` (maps.py), coloured and scaled like the reference."""
        return cls.from_wall_grid(reference_map(map_id), scale, rng, **kwargs)

    def recoloured(self, rng: np.random.Generator) -> GridWorld:
        """The same map with the wall ids randomly permuted (the reference's per-trial random
        colourisation); shares the visibility cache, which depends on the walls only."""
        ids = np.concatenate([[0], rng.permutation(np.arange(1, int(self.classes.max()) + 1))])
        world = GridWorld(ids.astype(np.int32)[self.classes], self.view_size, self.fov_ratio)
        world._cache = self._cache
        return world

    def check_pose(self, r, c, h, name: str = "start") -> tuple[int, int, int]:
        """(r, c, h) as ints if it is a free cell of the map with a heading in 0..3, else ValueError
        naming `name`."""
        pose = (r, c, h)
        H, W = self.shape
        expected = f"a free cell (row, col) of the {H}x{W} map and a heading in 0..3"
        if not all(is_integer(v) for v in pose) or h not in HEADINGS:
            raise ValueError(f"{name} must be {expected}, got {pose!r}")
        if not (0 <= r < H and 0 <= c < W):
            raise ValueError(f"{name} must be {expected}, got {pose!r} (outside the map)")
        if not self.free[r, c]:
            raise ValueError(f"{name} must be {expected}, got {pose!r} (a wall cell)")
        return int(r), int(c), int(h)

    def random_start(self, rng: np.random.Generator) -> tuple[int, int, int]:
        """A uniformly random free cell and heading (the reference's start of a trial)."""
        rows, cols = np.nonzero(self.free)
        k = int(rng.integers(len(rows)))
        return int(rows[k]), int(cols[k]), int(rng.integers(4))

    def step(self, pose: tuple[int, int, int], action: int) -> tuple[int, int, int]:
        """The pose after `action` (headings.move: a refused move into a wall leaves the pose)."""
        return move(self.free, pose, action)

    def visible_area(self) -> int:
        """Free cells + wall cells 4-adjacent to a free cell: the coverage denominator (section 4)."""
        return visible_area(~self.free)

    def view_to_allocentric(self, r: int, c: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols), each int (V, V): the allocentric cell under each egocentric view index (may
        lie outside the map)."""
        offsets = self._geometry.offsets[check_choice("heading", h, HEADINGS)]
        return r + offsets[0], c + offsets[1]

    def _entry(self, r, c, h) -> tuple[np.ndarray, ...]:
        """(flat view indices, rows, cols, flat allocentric indices) of the cells seen from a pose."""
        key = (r, c, h)
        entry = self._cache.get(key)
        if entry is None:
            r, c, h = self.check_pose(r, c, h, name="pose")
            geometry, pad = self._geometry, self.view_size
            rows, cols = self.view_to_allocentric(r, c, h)
            opaque = self._opaque[rows.ravel() + pad, cols.ravel() + pad]
            seen = geometry.fov.ravel() & ~geometry.hidden(opaque) & self._inside(rows, cols)
            view_index = np.flatnonzero(seen)
            rows, cols = rows.ravel()[view_index], cols.ravel()[view_index]
            entry = (view_index, rows, cols, rows * self.shape[1] + cols)
            for array in entry:
                array.flags.writeable = False
            self._cache[key] = entry
        return entry

    def _inside(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return ((rows >= 0) & (rows < self.shape[0]) & (cols >= 0) & (cols < self.shape[1])).ravel()

    def visible_cells(self, r: int, c: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) of the allocentric cells seen from the pose: exactly the cells behind the
        non-UNKNOWN entries of `egocentric_view` (read-only arrays, cached per pose)."""
        _, rows, cols, _ = self._entry(r, c, h)
        return rows, cols

    def egocentric_view(self, r: int, c: int, h: int) -> np.ndarray:
        """int32 (V, V) class ids seen from the pose, UNKNOWN where not visible (module docstring)."""
        view_index, _, _, flat = self._entry(r, c, h)
        view = np.full(self.view_size * self.view_size, UNKNOWN, dtype=np.int32)
        view[view_index] = self._flat_classes[flat]
        return view.reshape(self.view_size, self.view_size)

    def cached_poses(self) -> int:
        """How many poses have their visible cells cached."""
        return len(self._cache)
