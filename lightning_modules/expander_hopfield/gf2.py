"""Linear algebra over GF(2) on bit-packed numpy rows: row reduction, rank and a systematic
parametrisation of the null space (the codewords of a parity-check matrix).

Rows are packed into uint64 words, so eliminating a 1920 x 2400 matrix takes well under a second.
"""

from __future__ import annotations

import numpy as np


def _pack(matrix: np.ndarray) -> tuple[np.ndarray, int]:
    rows, cols = matrix.shape
    words = -(-cols // 64)
    padded = np.zeros((rows, words * 64), dtype=np.uint8)
    padded[:, :cols] = matrix
    # bit b of word w holds column 64 w + b
    bits = padded.reshape(rows, words, 64).astype(np.uint64)
    packed = np.bitwise_or.reduce(bits << np.arange(64, dtype=np.uint64), axis=2)
    return packed, cols


def _unpack(packed: np.ndarray, cols: int) -> np.ndarray:
    rows, words = packed.shape
    bits = (packed[:, :, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    return bits.reshape(rows, words * 64)[:, :cols].astype(np.uint8)


def gf2_row_reduce(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reduced row echelon form of a 0/1 matrix over GF(2).

    Returns (R, pivots): R (rank, n) uint8 with the zero rows dropped, pivots (rank,) the pivot column
    of each row (increasing); R[:, pivots] is the identity.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {matrix.shape}")
    if matrix.size and not np.isin(matrix, (0, 1)).all():
        raise ValueError("matrix must hold only 0 and 1 entries")
    packed, cols = _pack(matrix.astype(np.uint8))
    rows = packed.shape[0]
    pivots = []
    r = 0
    one = np.uint64(1)
    for col in range(cols):
        if r == rows:
            break
        word, bit = divmod(col, 64)
        column = (packed[:, word] >> np.uint64(bit)) & one
        candidates = np.flatnonzero(column[r:])
        if candidates.size == 0:
            continue
        p = r + int(candidates[0])
        if p != r:
            packed[[r, p]] = packed[[p, r]]
            column[[r, p]] = column[[p, r]]
        others = column.astype(bool)
        others[r] = False
        if others.any():
            packed[others] ^= packed[r]
        pivots.append(col)
        r += 1
    return _unpack(packed[:r], cols), np.asarray(pivots, dtype=np.int64)


def gf2_rank(matrix: np.ndarray) -> int:
    """Rank of a 0/1 matrix over GF(2)."""
    return int(gf2_row_reduce(matrix)[1].size)


def gf2_null_space_parametrisation(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The null space {x : matrix @ x = 0 mod 2} in systematic form.

    Returns (free, pivots, pivot_from_free): any bits on the `free` columns (k = n - rank of them)
    extend to exactly one null vector, whose `pivots` bits are `pivot_from_free @ x_free mod 2`
    (pivot_from_free is (rank, k) uint8). Uniform free bits give a uniform null vector.
    """
    reduced, pivots = gf2_row_reduce(matrix)
    n = np.asarray(matrix).shape[1]
    free = np.setdiff1d(np.arange(n), pivots)
    # R[:, pivots] = I, so R x = 0  <=>  x_pivots = R[:, free] x_free (mod 2, signs do not matter)
    return free.astype(np.int64), pivots, reduced[:, free]
