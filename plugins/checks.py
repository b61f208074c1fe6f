"""Argument checks shared by every DataModule, LightningModule, Callback and pure core.

Each check returns the value (converted: `int` / `float`) or raises `ValueError` with one message
shape everywhere: `<name> must be <what was expected>, got <value!r>`. A bool is never a number here
(`data.batch_size=true` is refused, not read as 1), and a float with an integral value is not an
integer (`n_train=1.5` and `n_train=2.0` are both refused: a config that means 2 says 2). The pipeline
prefixes the config group (`data`, `model`, ...) and the class when it instantiates, so a user sees
which field of which config failed. Pure Python: importing this module loads neither torch nor
Lightning.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any


def _with_none(expected: str, allow_none: bool) -> str:
    return expected + (" or None" if allow_none else "")


def is_integer(value: Any) -> bool:
    """True for Python and numpy integers, never for bools or floats."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for ints and floats (Python or numpy), never for bools or strings."""
    return isinstance(value, Real) and not isinstance(value, bool)


def check_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None, *,
              allow_none: bool = False, expected: str | None = None) -> int | None:
    """An integer in [minimum, maximum] (either bound optional). `expected` replaces the default
    description of the allowed values in the message (e.g. "an integer >= 1, 'svht'")."""
    if value is None and allow_none:
        return None
    ok = is_integer(value) and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        if expected is None:
            expected = "an integer"
            if minimum is not None and maximum is not None:
                expected += f" in [{minimum}, {maximum}]"
            elif minimum is not None:
                expected += f" >= {minimum}"
            elif maximum is not None:
                expected += f" <= {maximum}"
        raise ValueError(f"{name} must be {_with_none(expected, allow_none)}, got {value!r}")
    return int(value)


def check_positive_int(name: str, value: Any, *, allow_none: bool = False) -> int | None:
    """An integer >= 1."""
    return check_int(name, value, 1, allow_none=allow_none)


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False, finite: bool = True,
                 allow_none: bool = False, expected: str | None = None) -> float | None:
    """A real number in the interval given by `low` / `high` (closed unless `low_open` / `high_open`);
    `finite` also refuses inf and nan (nan is always refused)."""
    if value is None and allow_none:
        return None
    ok = is_number(value) and not math.isnan(value) and (not finite or math.isfinite(value))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        if expected is None:
            interval = _interval(low, high, low_open, high_open)
            expected = ("a finite number" if finite else "a number") + (f" {interval}" if interval else "")
        raise ValueError(f"{name} must be {_with_none(expected, allow_none)}, got {value!r}")
    return float(value)


def check_positive(name: str, value: Any, *, allow_none: bool = False) -> float | None:
    """A finite number > 0."""
    return check_number(name, value, 0, low_open=True, allow_none=allow_none)


def check_fraction(name: str, value: Any, *, low_open: bool = False, high_open: bool = False,
                   allow_none: bool = False) -> float | None:
    """A number in [0, 1] (either end open on request), e.g. a probability or a subsampling fraction."""
    return check_number(name, value, 0, 1, low_open=low_open, high_open=high_open, allow_none=allow_none)


def check_choice(name: str, value: Any, choices: Iterable[Any], *, allow_none: bool = False) -> Any:
    """One of `choices` (compared with ==; bools never match numbers)."""
    choices = tuple(choices)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) and not any(isinstance(c, bool) for c in choices) or value not in choices:
        raise ValueError(f"{name} must be {_with_none(f'one of {choices}', allow_none)}, got {value!r}")
    return value
