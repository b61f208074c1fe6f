"""Wall colouring and up-scaling (docs/papers/farmap.md sections 2.1 and 5.1).

The reference gives every wall cell its own PASCAL-VOC colour (free space black) and the agent tells
walls apart by colour. Here a colour is a class id: 0 = free, each wall cell a distinct id >= 1, so
views and maps are int32 grids; `pascal_voc_palette` turns ids into RGB for figures. The palette is
computed in integers and never overflows uint8 (the reference's crash on maps with >= 256 wall cells
under numpy >= 2, section 5.1).
"""

from __future__ import annotations

import numpy as np

from neurobolts.plugins.checks import check_int

FREE_CLASS = 0
UNKNOWN_RGB = (88, 88, 88)  # the reference's unknown marker 'X' (88) in every channel
MAX_PALETTE = 1 << 24  # the VOC bit pattern spreads 24 bits of the index over R, G, B


def colour_classes(wall: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """int32 grid of the same shape: 0 on free cells, a distinct class id in 1..n_walls on each wall
    cell (row-major order, or a random permutation of 1..n_walls when `rng` is given: the reference's
    per-trial random colourisation)."""
    wall = np.asarray(wall, dtype=bool)
    ids = np.arange(1, int(wall.sum()) + 1, dtype=np.int32)
    if rng is not None:
        ids = rng.permutation(ids)
    classes = np.zeros(wall.shape, dtype=np.int32)
    classes[wall] = ids
    return classes


def pascal_voc_palette(n: int) -> np.ndarray:
    """uint8 (n, 3) RGB colours of the PASCAL-VOC palette for indices 0..n-1 (index 0 black): bit
    3k + j of the index becomes bit 7 - k of channel j. The arithmetic is done in int64, so any n up to
    2**24 works and all n colours are distinct."""
    n = check_int("n", n, 1, MAX_PALETTE)
    index = np.arange(n, dtype=np.int64)
    rgb = np.zeros((n, 3), dtype=np.int64)
    for k in range(8):
        for j in range(3):
            rgb[:, j] |= ((index >> (3 * k + j)) & 1) << (7 - k)
    return rgb.astype(np.uint8)


def classes_to_rgb(classes: np.ndarray, unknown: int = -1) -> np.ndarray:
    """uint8 (..., 3) image of a class grid (ids >= 0 via the palette, `unknown` cells grey)."""
    classes = np.asarray(classes)
    known = classes != unknown
    palette = pascal_voc_palette(int(classes[known].max(initial=0)) + 1)
    image = np.empty((*classes.shape, 3), dtype=np.uint8)
    image[known] = palette[classes[known]]
    image[~known] = UNKNOWN_RGB
    return image


def upscale(grid: np.ndarray, factor: int = 3) -> np.ndarray:
    """Nearest-neighbour up-scaling: each cell becomes a `factor` x `factor` block."""
    factor = check_int("factor", factor, 1)
    return np.repeat(np.repeat(np.asarray(grid), factor, axis=0), factor, axis=1)
