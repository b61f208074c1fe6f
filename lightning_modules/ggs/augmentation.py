"""The node set of the smoothing graph (docs/papers/ggs.md section 2.4 step 1; defect 4): the unique
training sequences plus random point mutants, up to `num_nodes` sequences, all distinct.

Two modes:
- "code" (reference v2, "ham1"): a pointer cycles over the ORIGINAL unique training sequences; each
  iteration substitutes one uniformly drawn position with one uniformly drawn letter of the
  `num_states` (so a no-op is possible; it is a duplicate and is dropped); a new sequence is added and
  only then does the pointer advance. Every added node is at Hamming distance 1 from a training
  sequence.
- "paper" (Alg. 4): the parent is drawn uniformly from the growing node set (a random walk, so nodes
  may lie several mutations away from the training set). Spec defect 4: the reference mutates only
  the training sequences.

Both stop when `num_nodes` sequences are held or after `max_iterations` draws (default 2 x num_nodes,
as the reference); stopping short warns and returns the nodes found. `num_nodes` below the number of
unique training sequences is an error (the graph must hold every training sequence, and dropping
some would silently change the smoothing problem). Uniqueness is kept in a Python set of the rows'
bytes; the random draws come in blocks from the caller's `torch.Generator`, so a seed fixes the
result. Pure torch/numpy; no Lightning.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from neurobolts.plugins.checks import check_choice, check_int, check_positive_int

MODES = ("code", "paper")
_BLOCK = 65536  # random draws per block; fixed, so the result depends on the seed only


def unique_rows(tokens: torch.Tensor) -> torch.Tensor:
    """The distinct rows of `tokens` (n, L), in order of first occurrence."""
    array = np.ascontiguousarray(tokens.cpu().numpy())
    _, first = np.unique(array, axis=0, return_index=True)
    return tokens[torch.from_numpy(np.sort(first))]


def augment_nodes(train_tokens: torch.Tensor, num_nodes: int, *, num_states: int = 20, mode: str = "code",
                  generator: torch.Generator, max_iterations: int | None = None) -> torch.Tensor:
    """Node tokens (N, L), N = num_nodes unless the iteration budget ran out: first the unique
    training sequences (order of first occurrence), then new point mutants in the order they were
    found. `generator` is a CPU torch.Generator seeded by the caller."""
    check_choice("mode", mode, MODES)
    num_nodes = check_positive_int("num_nodes", num_nodes)
    num_states = check_int("num_states", num_states, 2, 256)
    if max_iterations is None:
        max_iterations = 2 * num_nodes
    max_iterations = check_int("max_iterations", max_iterations, 0, allow_none=True)
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator seeded by the caller, got {generator!r}")
    if not isinstance(train_tokens, torch.Tensor) or train_tokens.dim() != 2 or train_tokens.is_floating_point():
        raise ValueError("train_tokens must be an integer tensor (n, L), got "
                         f"{getattr(train_tokens, 'dtype', type(train_tokens))} of shape "
                         f"{tuple(getattr(train_tokens, 'shape', ()))}")
    n, length = train_tokens.shape
    if n == 0 or length == 0:
        raise ValueError(f"train_tokens must hold at least one sequence of length >= 1, got shape {(n, length)}")
    low, high = int(train_tokens.min()), int(train_tokens.max())
    if low < 0 or high >= num_states:
        raise ValueError(f"train_tokens must lie in [0, {num_states - 1}] (num_states={num_states}), "
                         f"got values in [{low}, {high}]")
    originals = unique_rows(train_tokens).cpu().numpy().astype(np.uint8)
    num_unique = len(originals)
    if num_nodes < num_unique:
        raise ValueError(f"num_nodes must be >= the number of unique training sequences ({num_unique}), "
                         f"got {num_nodes}")

    nodes = np.empty((num_nodes, length), dtype=np.uint8)
    nodes[:num_unique] = originals
    seen = {row.tobytes() for row in originals}
    size, pointer, iterations = num_unique, 0, 0
    while size < num_nodes and iterations < max_iterations:
        block = min(_BLOCK, max_iterations - iterations)
        positions = torch.randint(0, length, (block,), generator=generator).numpy()
        letters = torch.randint(0, num_states, (block,), generator=generator).numpy().astype(np.uint8)
        uniforms = torch.rand(block, generator=generator, dtype=torch.float64).numpy() if mode == "paper" else None
        for draw in range(block):
            iterations += 1
            if mode == "code":
                child = originals[pointer].copy()
            else:  # Alg. 4: parent uniform over the nodes held so far
                child = nodes[int(uniforms[draw] * size)].copy()
            child[positions[draw]] = letters[draw]
            key = child.tobytes()
            if key in seen:
                continue
            seen.add(key)
            nodes[size] = child
            size += 1
            pointer = (pointer + 1) % num_unique
            if size == num_nodes:
                break
    if size < num_nodes:
        warnings.warn(f"augment_nodes: {size} of num_nodes={num_nodes} nodes after max_iterations="
                      f"{max_iterations} draws (mode={mode!r}); returning {size} nodes", RuntimeWarning,
                      stacklevel=2)
    return torch.from_numpy(nodes[:size].astype(np.int64))
