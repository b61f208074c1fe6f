"""The local map (short-term memory, STM) of FARMap and its frontier (docs/papers/farmap.md sections
2.2, 2.5 and 4; oracles 7.3, 7.4, 7.7).

Frame. A map lives in the world's allocentric frame (the agent's odometry is exact in the grid
world, as in the reference), stored in arrays of the world's shape; `origin` is the world cell where
the map was started, and `to_local` / `to_world` convert to and from the map's own coordinates
(fracture poses are recorded in those). A new map starts empty; everything the spec measures on a map
(known cells, their bounding box = active memory, frontier, q) is about the cells this map itself has
observed, so the storage frame changes no metric.

Confidence with exact lazy decay. The spec's update multiplies every entry of the per-class
confidence tensor by gamma and adds (1 - gamma) at the observed class of each observed cell. Between
two observations of a cell, all classes of that cell only decay, by the same factor, so per cell we
store the confidences at its last observation and the map's update index `t_last` of that
observation; the value at update u is value * gamma^(u - t_last). An update then touches only the
observed cells, and the result equals the naive every-entry update (up to floating-point rounding;
tested against a naive implementation).

Storage per cell: the class with the largest confidence (`-1` = never observed) and its confidence
at `t_last`; any other class the cell has ever been observed with lives in a small per-cell dict
(cells observed with more than one class: none in a static world, rare in a dynamic one). So a class
change is EXACT: the old class keeps decaying from its stored value, the new one starts at 1 - gamma
(or grows from its own decayed value if it was seen before), and the argmax (the cell's class for
the known-free mask and the frontier) moves to the new class only once its confidence is larger;
on a tie the class observed now wins.

Scoring is update-first (section 2.2): `update` returns the mean over the observed cells of the
confidence of the observed class after the update, so a never-seen cell contributes 1 - gamma and a
cell seen k times in a row 1 - gamma^k.

Frontier: unknown cells (never observed by this map) 8-adjacent to a known-free cell, a mask kept up
to date from the newly observed cells only; `q = #frontier / #known-free` (the frontier is counted
when asked, a bit count). The bounding box of the known cells (active memory, section 4) grows with
each new cell.

numpy only; no torch, no Lightning.
"""

from __future__ import annotations

import numpy as np

from neurobolts.plugins.checks import check_int, check_number

UNOBSERVED = -1


class LocalMap:
    """One STM over a world grid of `shape` (module docstring).

    Args:
        shape: (H, W) of the world grid.
        gamma: decay factor in (0, 1) (spec 0.9).
        map_id: the map's id (its node in the LTM graph).
        origin: the world cell where the map starts (the map's own coordinates are world - origin).
        free_class: the class id of free space in the observations (0 in the grid world).
    """

    def __init__(self, shape: tuple[int, int], *, gamma: float = 0.9, map_id: int = 0,
                 origin: tuple[int, int] = (0, 0), free_class: int = 0):
        if len(shape) != 2:
            raise ValueError(f"shape must be (H, W), got {shape!r}")
        self.shape = (check_int("shape[0]", shape[0], 1), check_int("shape[1]", shape[1], 1))
        self.gamma = check_number("gamma", gamma, 0.0, 1.0, low_open=True, high_open=True)
        self.map_id = check_int("map_id", map_id, 0)
        self.origin = (int(origin[0]), int(origin[1]))
        self.free_class = check_int("free_class", free_class)
        H, W = self.shape
        self._W2 = W + 2  # internal arrays carry a 1-cell rim so that 8-neighbours need no bounds checks
        padded = (H + 2, W + 2)
        self._cls = np.full(padded, UNOBSERVED, dtype=np.int32)
        self._val = np.zeros(padded)
        self._t = np.zeros(padded, dtype=np.int64)
        self._others: dict[int, dict[int, float]] = {}  # flat index -> {class: confidence at t_last}
        self._known = np.zeros(padded, dtype=bool)
        self._known[0, :] = self._known[-1, :] = self._known[:, 0] = self._known[:, -1] = True  # rim
        self._known_free = np.zeros(padded, dtype=bool)
        self._frontier = np.zeros(padded, dtype=bool)
        self._offsets8 = np.array([dr * self._W2 + dc for dr in (-1, 0, 1) for dc in (-1, 0, 1)
                                   if (dr, dc) != (0, 0)])
        self.updates = 0
        self.n_known = 0
        self.n_known_free = 0
        self._bbox = [H, -1, W, -1]  # rmin, rmax, cmin, cmax of known cells (world coordinates)
        self._pow = self.gamma ** np.arange(1024, dtype=np.float64)

    # -- frames -----------------------------------------------------------------------------------
    def to_local(self, r: int, c: int) -> tuple[int, int]:
        """World cell -> this map's own coordinates."""
        return (int(r) - self.origin[0], int(c) - self.origin[1])

    def to_world(self, r: int, c: int) -> tuple[int, int]:
        """This map's own coordinates -> world cell."""
        return (int(r) + self.origin[0], int(c) + self.origin[1])

    # -- update -----------------------------------------------------------------------------------
    def _decay(self, steps: np.ndarray) -> np.ndarray:
        """gamma ** steps for integer steps in [0, updates] (a cached table)."""
        if self.updates >= self._pow.size:
            self._pow = self.gamma ** np.arange(2 * self.updates + 1, dtype=np.float64)
        return self._pow[steps]

    def flat_index(self, rows: np.ndarray, cols: np.ndarray, *, check: bool = True) -> np.ndarray:
        """Internal flat indices of world cells (for `update_flat`; a caller may cache them per pose)."""
        rows, cols = np.asarray(rows), np.asarray(cols)
        if check:
            H, W = self.shape
            if rows.size and (rows.min() < 0 or rows.max() >= H or cols.min() < 0 or cols.max() >= W):
                raise ValueError(f"rows and cols must be cells of the {H}x{W} grid")
        return (rows + 1) * self._W2 + (cols + 1)

    def update(self, rows: np.ndarray, cols: np.ndarray, classes: np.ndarray) -> float:
        """Apply one observation (world cells `rows`, `cols` seen with class ids `classes` >= 0; each
        cell at most once) and return its update-first confidence (nan if nothing was observed).
        Cells of the map that are not observed decay implicitly."""
        classes = np.asarray(classes)
        if classes.size and classes.min() < 0:
            raise ValueError(f"classes must be class ids >= 0 (unknown cells are not observations), got {classes.min()!r}")
        return self.update_flat(self.flat_index(rows, cols), classes)

    def update_flat(self, flat: np.ndarray, classes: np.ndarray) -> float:
        """`update` on indices from `flat_index`, without the argument checks (the agent's hot path).
        A never-observed cell has stored confidence 0, so one formula, value * gamma^(u - t_last) +
        (1 - gamma), serves seen and new cells; only a class change takes the per-cell path."""
        self.updates = u = self.updates + 1
        n = flat.size
        if n == 0:
            return float("nan")
        cls_flat, val_flat, t_flat = self._cls.ravel(), self._val.ravel(), self._t.ravel()
        prev = cls_flat[flat]
        same = prev == classes
        n_same = int(np.count_nonzero(same))
        if self._others and n_same:  # cells with several classes keep the others at t_last: rebase them
            for f in flat[same].tolist():
                if f in self._others:
                    decay = self.gamma ** (u - int(t_flat[f]))
                    self._others[f] = {k: v * decay for k, v in self._others[f].items()}
        new_value = val_flat[flat] * self._decay(u - t_flat[flat])
        new_value += 1.0 - self.gamma
        np.minimum(new_value, 1.0, out=new_value)
        if n_same == n:  # the hot path: every observed cell was seen before with this class
            val_flat[flat] = new_value
        else:
            fresh = prev < 0
            stored = []
            if int(np.count_nonzero(fresh)) != n - n_same:  # some cells seen before with another class
                for i in np.flatnonzero(~(same | fresh)).tolist():
                    f = int(flat[i])
                    new_value[i], keep = self._observe_other_class(f, int(classes[i]), u)
                    stored.append((f, keep))
            val_flat[flat] = new_value
            for f, keep in stored:
                val_flat[f] = keep
            fresh_flat, fresh_classes = flat[fresh], classes[fresh]
            cls_flat[fresh_flat] = fresh_classes
            self._add_known(fresh_flat, fresh_classes)
        t_flat[flat] = u
        return float(new_value.sum()) / n

    def _observe_other_class(self, f: int, k: int, u: int) -> tuple[float, float]:
        """Cell f (flat) whose argmax class a != k is observed as k: rebase all its classes to update
        u, add 1 - gamma to class k, move the argmax to k if k now leads (ties go to k). Returns k's
        value and the value to store for the cell's (possibly new) argmax class."""
        cls_flat, val_flat, t_flat = self._cls.ravel(), self._val.ravel(), self._t.ravel()
        decay = self.gamma ** (u - int(t_flat[f]))
        a = int(cls_flat[f])
        others = {c: v * decay for c, v in self._others.get(f, {}).items()}
        others[a] = float(val_flat[f]) * decay
        value = min(others.pop(k, 0.0) + (1.0 - self.gamma), 1.0)
        if value >= max(others.values()):  # k becomes the cell's class
            cls_flat[f] = k
            self._others[f] = others
            if (a == self.free_class) != (k == self.free_class):
                self._set_free(f, k == self.free_class)
            return value, value
        keep = others.pop(a)  # a stays the argmax; k joins the others
        others[k] = value
        self._others[f] = others
        return value, keep

    def _add_known(self, flat: np.ndarray, classes: np.ndarray) -> None:
        """Cells `flat` observed for the first time with `classes`: they leave the frontier, the bounding
        box grows, and the unknown 8-neighbours of the free ones join the frontier."""
        if flat.size == 0:
            return
        self._frontier.ravel()[flat] = False
        known = self._known.ravel()
        known[flat] = True
        self.n_known += int(flat.size)
        W2, box = self._W2, self._bbox
        box[0] = min(box[0], int(flat.min()) // W2 - 1)  # row-major: the extreme indices hold the extreme rows
        box[1] = max(box[1], int(flat.max()) // W2 - 1)
        c = flat % W2
        box[2], box[3] = min(box[2], int(c.min()) - 1), max(box[3], int(c.max()) - 1)
        free = flat[classes == self.free_class]
        if free.size:
            self._known_free.ravel()[free] = True
            self.n_known_free += int(free.size)
            nb = (free[:, None] + self._offsets8).ravel()
            self._frontier.ravel()[nb[~known[nb]]] = True

    def _set_free(self, f: int, free: bool) -> None:
        """The argmax class of known cell f switched to (free=True) or away from free space: the
        frontier around it is recomputed (the rim is known, so no bounds checks)."""
        known_free, known, frontier = self._known_free.ravel(), self._known.ravel(), self._frontier.ravel()
        known_free[f] = free
        self.n_known_free += 1 if free else -1
        for g in (f + self._offsets8).tolist():
            if not known[g]:
                frontier[g] = bool(known_free[g + self._offsets8].any())

    # -- queries ----------------------------------------------------------------------------------
    def _interior(self, a: np.ndarray) -> np.ndarray:
        return a[1:-1, 1:-1]

    @property
    def known(self) -> np.ndarray:
        """(H, W) bool: cells this map has observed (a view; do not modify)."""
        return self._interior(self._known)

    @property
    def known_free(self) -> np.ndarray:
        """(H, W) bool: known cells whose most confident class is free space (a view)."""
        return self._interior(self._known_free)

    @property
    def frontier(self) -> np.ndarray:
        """(H, W) bool: unknown cells 8-adjacent to a known-free cell (a view)."""
        return self._interior(self._frontier)

    @property
    def classes(self) -> np.ndarray:
        """(H, W) int32: most confident class per cell, -1 where never observed (a view)."""
        return self._interior(self._cls)

    @property
    def n_frontier(self) -> int:
        """Number of frontier cells (counted on demand: O(H W) bit count, cheap)."""
        return int(np.count_nonzero(self._frontier))

    @property
    def q(self) -> float:
        """#frontier / #known-free (0 for a map without known-free cells)."""
        return self.n_frontier / self.n_known_free if self.n_known_free else 0.0

    @property
    def bbox(self) -> tuple[int, int, int, int] | None:
        """(rmin, rmax, cmin, cmax) of the known cells in world coordinates (inclusive), None if empty."""
        if self.n_known == 0:
            return None
        return tuple(self._bbox)

    @property
    def memory(self) -> int:
        """Active memory: H x W of the bounding box of the known cells (spec 4); 0 if empty."""
        if self.n_known == 0:
            return 0
        rmin, rmax, cmin, cmax = self._bbox
        return (rmax - rmin + 1) * (cmax - cmin + 1)

    def window(self) -> tuple[slice, slice]:
        """World slices covering the bounding box grown by one cell (holds every frontier cell)."""
        H, W = self.shape
        if self.n_known == 0:
            return slice(0, 0), slice(0, 0)
        rmin, rmax, cmin, cmax = self._bbox
        return slice(max(rmin - 1, 0), min(rmax + 2, H)), slice(max(cmin - 1, 0), min(cmax + 2, W))

    def value(self, r: int, c: int, cls: int) -> float:
        """Current confidence of class `cls` at world cell (r, c)."""
        f = (r + 1) * self._W2 + (c + 1)
        stored_cls = int(self._cls.ravel()[f])
        if stored_cls == UNOBSERVED:
            return 0.0
        decay = self.gamma ** (self.updates - int(self._t.ravel()[f]))
        if cls == stored_cls:
            return float(self._val.ravel()[f]) * decay
        return self._others.get(f, {}).get(cls, 0.0) * decay

    def predict(self, rows: np.ndarray, cols: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Current confidence of `classes` at the cells (before any update; the reference's predicted
        view, for analysis)."""
        return np.array([self.value(int(r), int(c), int(k)) for r, c, k in zip(rows, cols, classes, strict=True)])

    def confidence_map(self) -> np.ndarray:
        """(H, W) current confidence of each cell's most confident class (0 where unknown)."""
        val = self._interior(self._val) * self._decay(self.updates - self._interior(self._t))
        return np.where(self.known, val, 0.0)

    def __repr__(self) -> str:
        return (f"LocalMap(id={self.map_id}, known={self.n_known}, known_free={self.n_known_free}, "
                f"frontier={self.n_frontier}, memory={self.memory}, updates={self.updates})")
