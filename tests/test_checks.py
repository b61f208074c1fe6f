"""The shared argument checks: one message shape, bools never numbers, integral floats never integers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurobolts.plugins.checks import (
    check_choice,
    check_fraction,
    check_int,
    check_number,
    check_positive,
    check_positive_int,
)


def test_integers():
    assert check_int("n", 3, 1) == 3 and type(check_int("n", np.int64(3), 1)) is int
    assert check_positive_int("n", None, allow_none=True) is None
    for bad in (True, 1.0, 2.5, "3", 0, None):
        with pytest.raises(ValueError, match=rf"^n must be an integer >= 1, got {bad!r}$".replace("(", r"\(")):
            check_positive_int("n", bad)
    with pytest.raises(ValueError, match=r"^k must be an integer in \[2, 5\], got 6$"):
        check_int("k", 6, 2, 5)
    with pytest.raises(ValueError, match=r"^k must be an integer >= 2 or None, got 1$"):
        check_int("k", 1, 2, allow_none=True)
    with pytest.raises(ValueError, match=r"^rank must be an integer >= 1, 'svht' or None, got 0$"):
        check_int("rank", 0, 1, allow_none=True, expected="an integer >= 1, 'svht'")


def test_numbers():
    assert check_positive("sigma", 1) == 1.0 and check_number("x", -math.inf, finite=False) == -math.inf
    for bad in (0, -1.0, math.inf, math.nan, True, "1"):
        with pytest.raises(ValueError, match=r"^sigma must be a finite number > 0, got "):
            check_positive("sigma", bad)
    assert check_fraction("p", 1) == 1.0 and check_fraction("p", 0) == 0.0
    with pytest.raises(ValueError, match=r"^fraction must be a finite number in \(0, 1\], got 0$"):
        check_fraction("fraction", 0, low_open=True)
    with pytest.raises(ValueError, match=r"^p must be a finite number in \[0, 1\), got 1.0$"):
        check_fraction("p", 1.0, high_open=True)
    with pytest.raises(ValueError, match=r"^lamb must be a finite number >= 0 or None, got -0.5$"):
        check_number("lamb", -0.5, 0, allow_none=True)


def test_choices():
    assert check_choice("mode", "z", ("z", "ratio")) == "z"
    with pytest.raises(ValueError, match=r"^mode must be one of \('z', 'ratio'\), got 'zz'$"):
        check_choice("mode", "zz", ("z", "ratio"))
    with pytest.raises(ValueError, match=r"must be one of \(0, 1\), got True"):
        check_choice("bit", True, (0, 1))
