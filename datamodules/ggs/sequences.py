"""Protein sequences as integer tokens (docs/papers/ggs.md section 2.1), and the two distances GGS
uses: Hamming between equal-length token rows (the smoothing graph, the clustering) and the exact
Levenshtein edit distance (the task splits, diversity, novelty), computed by rapidfuzz.

The alphabet is the 20 amino acids in the order `ARNDCQEGHILKMFPSTWYV`; token i is `ALPHABET[i]`.
Sequences of one task have one fixed length (no gaps, no padding).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

ALPHABET = "ARNDCQEGHILKMFPSTWYV"


def encode(sequences: Sequence[str], length: int | None = None, *, alphabet: str = ALPHABET,
           field: str = "sequence") -> torch.Tensor:
    """Integer tokens (n, L) of `sequences`, all of one length (`length`, or the first sequence's).

    A letter outside `alphabet` or a sequence of another length raises ValueError naming `field`,
    the row, the sequence and what was expected."""
    sequences = list(sequences)
    if not sequences:
        raise ValueError(f"{field} must hold at least one sequence, got none")
    expected = len(sequences[0]) if length is None else int(length)
    lookup = np.full(128, -1, dtype=np.int64)
    for index, letter in enumerate(alphabet):
        lookup[ord(letter)] = index
    tokens = np.empty((len(sequences), expected), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        if not isinstance(sequence, str):
            raise ValueError(f"{field}[{row}] must be a string over {alphabet!r}, got {sequence!r}")
        if len(sequence) != expected:
            raise ValueError(f"{field}[{row}] must have length {expected} (the task's sequence length), "
                             f"got length {len(sequence)}: {_short(sequence)!r}")
        codes = np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)
        row_tokens = lookup[np.minimum(codes, 127)]
        if (row_tokens < 0).any() or (codes > 127).any():
            position = int(np.flatnonzero((row_tokens < 0) | (codes > 127))[0])
            raise ValueError(f"{field}[{row}] = {_short(sequence)!r} has the letter {sequence[position]!r} at "
                             f"position {position}, outside the alphabet {alphabet!r}")
        tokens[row] = row_tokens
    return torch.from_numpy(tokens)


def decode(tokens: torch.Tensor | np.ndarray, *, alphabet: str = ALPHABET) -> list[str]:
    """The strings of integer tokens (n, L)."""
    array = np.asarray(tokens.cpu() if isinstance(tokens, torch.Tensor) else tokens, dtype=np.int64)
    letters = np.array(list(alphabet))
    return ["".join(row) for row in letters[array]]


def one_hot(tokens: torch.Tensor, num_states: int = len(ALPHABET)) -> torch.Tensor:
    """Float one-hot (n, L, num_states) of integer tokens (n, L)."""
    return torch.nn.functional.one_hot(tokens.long(), num_states).float()


def hamming_distances(a: torch.Tensor, b: torch.Tensor, num_states: int = len(ALPHABET)) -> torch.Tensor:
    """Hamming distances (na, nb) between the token rows of `a` and `b` (equal lengths), as
    L - <one_hot(a_i), one_hot(b_j)>: one matrix product, exact in float32 up to L = 2^24."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"hamming_distances needs equal lengths, got {a.shape[1]} and {b.shape[1]}")
    matches = one_hot(a, num_states).flatten(1) @ one_hot(b, num_states).flatten(1).T
    return (a.shape[1] - matches.round()).long()


def levenshtein_matrix(a: Sequence[str], b: Sequence[str], *, workers: int = 1) -> np.ndarray:
    """Exact Levenshtein (unit-cost edit) distances (len(a), len(b)) by rapidfuzz."""
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cdist

    return cdist(list(a), list(b), scorer=Levenshtein.distance, dtype=np.int32, workers=workers)


def min_levenshtein(queries: Sequence[str], references: Sequence[str], *, workers: int = 1,
                    chunk: int = 4096) -> np.ndarray:
    """For each query its smallest Levenshtein distance to any reference (computed in row chunks so
    that memory stays at chunk x len(references))."""
    queries, references = list(queries), list(references)
    if not references:
        raise ValueError("min_levenshtein needs at least one reference sequence")
    out = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        block = levenshtein_matrix(queries[start:start + chunk], references, workers=workers)
        out[start:start + chunk] = block.min(axis=1)
    return out


def _short(sequence: str, limit: int = 40) -> str:
    return sequence if len(sequence) <= limit else sequence[:limit] + "..."
