"""The new inputs of a prediction run (`predict.py ... predict.inputs=<file>`), read into one tensor.

`predict.inputs` is a file with one input per row or, for a few inputs, a list in the config:

- `.npy`: a 2-D numeric array (a 1-D array is one row);
- `.csv` / `.txt`: numbers separated by commas, semicolons or white space; `#` starts a comment and
  one header line of column names (e.g. `x,y`) is skipped;
- a list of rows (`predict.inputs=[[3,4],[7.5,2]]`) or one row (`predict.inputs=[3,4]`).

A relative path is read from the directory the command runs in. Every error names the field, the
value and what was expected. The paper's prediction DataModule checks the width and the values.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurobolts.plugins.instantiate import ConfigError

FILE_SUFFIXES = (".csv", ".txt", ".npy")
_SEPARATORS = re.compile(r"[,;\s]+")
EXPECTED = "a .csv, .txt or .npy file with one input per row, or a list of rows"


def _read_text(path: Path, field: str) -> np.ndarray:
    rows: list[list[float]] = []
    first_line = 0
    header_skipped = False
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        cells = [c for c in _SEPARATORS.split(content) if c]
        try:
            row = [float(c) for c in cells]
        except ValueError:
            if not rows and not header_skipped:  # a header line of column names
                header_skipped = True
                continue
            raise ConfigError(f"{field}={str(path)!r}, line {lineno}: {content!r} is not a row of numbers") from None
        if rows and len(row) != len(rows[0]):
            raise ConfigError(f"{field}={str(path)!r}, line {lineno} has {len(row)} values, line {first_line} has "
                              f"{len(rows[0])} (expected the same number on every row)")
        if not rows:
            first_line = lineno
        rows.append(row)
    return np.asarray(rows, dtype=np.float64) if rows else np.zeros((0, 0))


def _read_file(value: str, field: str) -> np.ndarray:
    path = Path(value).expanduser()
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise ConfigError(f"{field}={value!r} has an unknown file type (expected {EXPECTED})")
    if not path.is_file():
        raise ConfigError(f"{field}={value!r}: no such file (expected {EXPECTED}; a relative path is read from "
                          f"{Path.cwd()})")
    if path.suffix.lower() != ".npy":
        return _read_text(path, field)
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:  # object arrays, a file that is no .npy
        raise ConfigError(f"{field}={value!r} is not a numeric .npy array: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise ConfigError(f"{field}={value!r} holds {array.dtype} values (expected numbers)")
    return array.astype(np.float64)


def load_inputs(inputs: Any, field: str = "predict.inputs") -> torch.Tensor:
    """The inputs as an (n, width) float64 tensor, n >= 1: from a file path or a list of rows (see the
    module docstring). Raises ConfigError naming `field`, the value and what was expected."""
    if inputs is None or inputs == "???":
        raise ConfigError(f"{field} is not set (expected {EXPECTED}, e.g. {field}=inputs.csv)")
    if isinstance(inputs, (str, Path)):
        array = _read_file(str(inputs), field)
    else:
        from omegaconf import ListConfig, OmegaConf

        rows = OmegaConf.to_container(inputs) if isinstance(inputs, ListConfig) else inputs
        if not isinstance(rows, (list, tuple)):
            raise ConfigError(f"{field}={inputs!r} is neither a file path nor a list (expected {EXPECTED})")
        try:
            array = np.asarray(rows, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"{field}={rows!r} is not a list of rows of numbers of equal length") from None
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise ConfigError(f"{field} has shape {array.shape} (expected one input per row: a 2-D array)")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ConfigError(f"{field}={inputs!s} holds no inputs (expected {EXPECTED})")
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        row, column = (int(i) + 1 for i in bad[0])
        raise ConfigError(f"{field} row {row}, column {column} is {array[row - 1, column - 1]} (expected finite numbers)")
    return torch.from_numpy(array)
