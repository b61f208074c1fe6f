"""Running a probe through any module: resolve a dotted submodule path, move nested inputs to a
device, call a module with a tensor, a tuple/list (positional) or a dict (keywords) of inputs, and
`capture` the activation of one submodule (forward hook, eval mode, no_grad, mode restored). Shared by
every probe-based analysis callback."""

from __future__ import annotations

from collections.abc import Callable
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



def module_device(module: torch.nn.Module) -> torch.device:
    """Where the module's parameters (else buffers) live; the CPU for a module with neither."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def capture(module: torch.nn.Module, inputs: Any, layer: str | None = None,
            fn: Callable[[torch.nn.Module, Any], Any] | None = None) -> Any:
    """Run the probe `inputs` through `module` in eval mode under no_grad and return the output of the
    submodule at the dotted path `layer` (its first element when it returns a tuple, as `nn.RNN` does),
    or `fn(module, inputs)` instead of a hook. Inputs are moved to the module's device; the hook is
    removed and the module's training mode restored whatever happens."""
    if (layer is None) == (fn is None):
        raise ValueError("give exactly one of layer (a dotted submodule path) or fn (module, inputs) -> tensor")
    was_training = module.training
    module.eval()
    captured: list[Any] = []
    handle = None
    try:
        with torch.no_grad():
            inputs = move_to_device(inputs, module_device(module))
            if fn is not None:
                return fn(module, inputs)
            handle = resolve_module(module, layer).register_forward_hook(
                lambda mod, args, output: captured.append(output[0] if isinstance(output, (tuple, list)) else output))
            call_with(module, inputs)
    finally:
        if handle is not None:
            handle.remove()
        module.train(was_training)
    if not captured:
        raise RuntimeError(f"layer {layer!r} was not called by the probe forward")
    return captured[-1]
