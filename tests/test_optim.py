"""The one optimiser/scheduler factory every LightningModule uses."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest
import torch
from conftest import PROJECT_ROOT

from neurobolts.lightning_modules.common.optim import build_optimizers


def parameters():
    return [torch.nn.Parameter(torch.zeros(3))]


def test_optimizer_alone_and_with_a_step_scheduler():
    sgd = functools.partial(torch.optim.SGD, lr=0.1)
    assert isinstance(build_optimizers(parameters(), sgd), torch.optim.SGD)
    cosine = functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=10)
    out = build_optimizers(parameters(), sgd, cosine)
    assert isinstance(out["optimizer"], torch.optim.SGD)
    assert out["lr_scheduler"]["interval"] == "step"
    assert out["lr_scheduler"]["scheduler"].optimizer is out["optimizer"]
    adam = build_optimizers(parameters(), None, default=functools.partial(torch.optim.Adam, lr=1e-3))
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["lr"] == 1e-3


def test_bad_factories_are_named():
    with pytest.raises(ValueError, match=r"optimizer must be a callable .*_partial_: true.*got 'sgd'"):
        build_optimizers(parameters(), "sgd")
    with pytest.raises(ValueError, match=r"scheduler must be a callable .* or None, got 3"):
        build_optimizers(parameters(), functools.partial(torch.optim.SGD, lr=0.1), 3)
    with pytest.raises(ValueError, match=r"interval must be one of \('step', 'epoch'\), got 'batch'"):
        build_optimizers(parameters(), functools.partial(torch.optim.SGD, lr=0.1), interval="batch")


def test_every_module_that_trains_configures_its_optimizer_through_the_factory():
    """A `configure_optimizers` either returns None (nothing to train) or calls build_optimizers."""
    checked = 0
    for path in sorted(Path(PROJECT_ROOT, "lightning_modules").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name == "configure_optimizers":
                calls = {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
                returns_none = all(isinstance(r.value, ast.Constant) and r.value.value is None
                                   for r in ast.walk(node) if isinstance(r, ast.Return))
                assert "build_optimizers" in calls or returns_none, path
                checked += 1
    assert checked >= 5
