"""A context for analyses that run on one rank only: they must not advance the global RNGs."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch


@contextlib.contextmanager
def isolated_rng() -> Iterator[None]:
    """Run an analysis without advancing the global RNGs (torch CPU and CUDA, numpy, python).

    Callbacks that compute on rank zero only use this: a draw there would leave rank zero's random
    stream ahead of the other ranks' (breaking DDP's identical per-rank draws), and attaching an
    analysis would change the training it observes.
    """
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=range(torch.cuda.device_count()) if torch.cuda.is_available() else []):
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
