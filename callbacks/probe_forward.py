"""Running a probe through any module: resolve a dotted submodule path, move nested inputs to a
device, and call a module with a tensor, a tuple/list (positional) or a dict (keywords) of inputs.
Shared by the probe-based analysis callbacks."""

from __future__ import annotations

from typing import Any

import torch


def resolve_module(root: torch.nn.Module, path: str) -> torch.nn.Module:
    """`root.get_submodule(path)` with an error that lists the available module paths."""
    try:
        return root.get_submodule(path)
    except AttributeError:
        names = [name for name, _ in root.named_modules() if name]
        shown = ", ".join(names[:60]) + (f", ... ({len(names)} in all)" if len(names) > 60 else "")
        raise ValueError(f"layer={path!r} is not a submodule of {type(root).__name__}; available: {shown}") from None


def move_to_device(inputs: Any, device: torch.device) -> Any:
    if isinstance(inputs, torch.Tensor):
        return inputs.to(device)
    if isinstance(inputs, (list, tuple)):
        return [move_to_device(x, device) for x in inputs]
    if isinstance(inputs, dict):
        return {k: move_to_device(v, device) for k, v in inputs.items()}
    return inputs


def describe(inputs: Any) -> str:
    """A short description of (nested) probe inputs: tensor shapes and dtypes, e.g. `tensor(4, 7) int64`."""
    if isinstance(inputs, torch.Tensor):
        return f"tensor{tuple(inputs.shape)} {str(inputs.dtype).removeprefix('torch.')}"
    if isinstance(inputs, (list, tuple)):
        return "(" + ", ".join(describe(x) for x in inputs) + ")"
    if isinstance(inputs, dict):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in inputs.items()) + "}"
    return type(inputs).__name__


def call_with(module: torch.nn.Module, inputs: Any) -> Any:
    """`module(inputs)` (tuple/list: positional, dict: keywords). A probe the forward rejects (wrong
    shape, dtype or arity) raises a ValueError naming the probe's shapes/dtypes and the module."""
    try:
        if isinstance(inputs, (list, tuple)):
            return module(*inputs)
        if isinstance(inputs, dict):
            return module(**inputs)
        return module(inputs)
    except torch.OutOfMemoryError:
        raise
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(
            f"the probe {describe(inputs)} does not fit {type(module).__name__}.forward (expected the inputs "
            f"the model takes in training, with their shape and dtype): {type(exc).__name__}: {exc}"
        ) from exc

