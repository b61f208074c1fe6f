"""Synthetic data of the Align-zero / Align-ada experiments (docs/papers/align.md, sections 2.2 and 3).

- `teacher_classification`: Gaussian inputs labelled by a random tanh teacher network (the CPU
  stand-in for KMNIST / CIFAR-10; no download).
- `add_task`: the paper's recurrent Add task, x_t ~ Bernoulli(0.5),
  y_t = 0.5 + 0.5 x_{t-2} - 0.25 x_{t-5}, where a lagged input that does not exist yet (t < lag)
  counts as 0. The reference code zeroes the first `lag` entries along the sequence (batch) axis
  instead of the first `lag` time steps (spec section 5, defect 1); here every sequence is lagged on
  its own time axis, so its targets never depend on the other sequences of the batch.
- `add_task_chance_loss`: the loss of the best input-blind predictor, sum_t Var(y_t).

Pure torch functions, no Lightning.
"""

from __future__ import annotations

import torch

from neurobolts.plugins.checks import check_int, check_positive_int

# y_t = ADD_BIAS + sum_k weight_k * x_{t - lag_k}
ADD_BIAS = 0.5
ADD_LAGS = ((2, 0.5), (5, -0.25))


def teacher_classification(
    n: int, input_dim: int = 16, num_classes: int = 4, teacher_width: int = 64,
    teacher_seed: int = 0, sample_seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` samples x ~ N(0, I_input_dim) labelled by argmax of a random one-hidden-layer tanh teacher.

    The teacher (fixed by `teacher_seed`) is f(x) = B tanh(A x / sqrt(d)) / sqrt(m) with A, B ~ N(0, 1);
    the inputs are drawn with `sample_seed`, so train / validation / test sets share the teacher but
    not the samples. Returns (x float32 (n, input_dim), labels int64 (n,)).
    """
    for name, value in (("n", n), ("input_dim", input_dim), ("teacher_width", teacher_width)):
        check_positive_int(name, value)
    check_int("num_classes", num_classes, 2)
    g_teacher = torch.Generator().manual_seed(int(teacher_seed))
    a = torch.randn(teacher_width, input_dim, generator=g_teacher, dtype=torch.float64)
    b = torch.randn(num_classes, teacher_width, generator=g_teacher, dtype=torch.float64)
    g_sample = torch.Generator().manual_seed(int(sample_seed))
    x = torch.randn(n, input_dim, generator=g_sample, dtype=torch.float64)
    logits = torch.tanh(x @ a.T / input_dim**0.5) @ b.T / teacher_width**0.5
    return x.float(), logits.argmax(dim=1)


def add_task_targets(x: torch.Tensor) -> torch.Tensor:
    """Targets y (..., T) of the Add task for binary inputs x (..., T), lagging each sequence along
    its own last (time) axis; inputs before the start of the sequence count as 0."""
    if x.dim() < 1:
        raise ValueError(f"x must have a time axis, got shape {tuple(x.shape)}")
    y = torch.full_like(x, ADD_BIAS, dtype=torch.float32)
    steps = x.shape[-1]
    for lag, weight in ADD_LAGS:
        if lag < steps:
            y[..., lag:] += weight * x[..., : steps - lag].float()
    return y


def add_task(n_sequences: int, steps: int = 100, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`n_sequences` Add-task sequences of length `steps`: (x (n, steps, 1) in {0, 1}, y (n, steps))."""
    check_positive_int("n_sequences", n_sequences)
    check_positive_int("steps", steps)
    g = torch.Generator().manual_seed(int(seed))
    x = torch.bernoulli(torch.full((n_sequences, steps), 0.5), generator=g)
    return x.unsqueeze(-1), add_task_targets(x)


def add_task_chance_loss(steps: int = 100, p: float = 0.5) -> float:
    """sum_t Var(y_t) for x_t ~ Bernoulli(p): the expected per-sequence squared error (summed over
    time) of the best predictor that ignores the inputs (it outputs E[y_t])."""
    check_positive_int("steps", steps)
    var_x = p * (1.0 - p)
    return float(sum(weight**2 * var_x * max(steps - lag, 0) for lag, weight in ADD_LAGS))
