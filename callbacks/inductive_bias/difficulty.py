"""Closed-form inductive-bias complexity (Boopathy et al., ICML 2023; spec:
docs/papers/inductive_bias_complexity.md, section 2.2). Pure functions, no Lightning.

The inductive-bias complexity I is the information (in bits) a model's inductive bias must supply,
beyond the training data, to pick a hypothesis with test error <= target_error out of a broad
hypothesis space: band-limited functions on the data manifold, modelled as d copies of an m-sphere
of radius R, resolved down to the task's resolution delta. The bound is

    I = (dim Theta - n D) * b,   dim Theta = 2 D d E,   E = C(m+K, m) + C(m+K-1, m),
    b = log2 B + 1/2 log2 D + 1/2 log2 d - log2 eps + log2 L_f + log2 W,

with K the frequency cutoff for M = 2 pi R / delta, L_f = K sqrt(D) / R and W the Wasserstein
distance between the empirical training and test distributions. Everything is computed in log space
(values like 1e145 bits neither overflow nor lose precision); a bound that would be negative
(n D >= dim Theta, or b <= 0) is clamped to 0 bits with a warning (a defect of the reference script,
spec section 5.1).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from scipy.special import gammaln

from neurobolts.plugins.checks import check_fraction, check_int, check_number, check_positive

LN2 = math.log(2.0)


@dataclass(frozen=True)
class Difficulty:
    """One evaluation of the bound. `ln_bits` is -inf when the bound was clamped to 0."""

    ln_bits: float
    clamped: bool
    ln_hypothesis_dim: float  # ln dim Theta (or ln of the RL forms' hypothesis volume term)
    bits_per_dim: float  # b, bits per constrained hypothesis dimension
    frequency_cutoff: float  # K (nan for the RL forms, which count eigenfunctions differently)

    @property
    def bits(self) -> float:
        """Bits as a float64 (inf beyond ~1.8e308; use `log10_bits` then)."""
        if self.ln_bits == -math.inf:
            return 0.0
        return math.exp(self.ln_bits) if self.ln_bits < 709.0 else math.inf

    @property
    def log10_bits(self) -> float:
        """log10 of the bits; -inf when clamped to 0."""
        return self.ln_bits / math.log(10.0)


# ---------------------------------------------------------------------------------- the pieces
def frequency_cutoff(intrinsic_dim: float, max_frequency: float) -> float:
    """K: the largest (real, unrounded) degree k with k (k + m - 1) <= M^2 on the unit m-sphere."""
    m = intrinsic_dim
    return (math.sqrt((m - 1.0) ** 2 + 4.0 * max_frequency**2) - (m - 1.0)) / 2.0


def _ln_binomial(a: float, b: float) -> float:
    return float(gammaln(a + 1.0) - gammaln(b + 1.0) - gammaln(a - b + 1.0))


def ln_num_eigenfunctions(intrinsic_dim: float, cutoff: float) -> float:
    """ln E, E = C(m + K, m) + C(m + K - 1, m): Laplace-Beltrami eigenfunctions on S^m up to degree K
    (binomials of real arguments through Gamma functions)."""
    m, k = intrinsic_dim, cutoff
    a = _ln_binomial(m + k, m)
    b = _ln_binomial(m + k - 1.0, m)
    hi, lo = max(a, b), min(a, b)
    return hi + math.log1p(math.exp(lo - hi))


def ln_wasserstein(n: float, intrinsic_dim: float, radius: float, num_discrete: float) -> float:
    """ln W, W = c R n^(-1/m), c = sqrt(m/6) (2 pi^((m+1)/2) d / Gamma((m+1)/2))^(1/m)."""
    m = intrinsic_dim
    inner = math.log(2.0) + (m + 1.0) / 2.0 * math.log(math.pi) + math.log(num_discrete) - float(gammaln((m + 1.0) / 2.0))
    return 0.5 * math.log(m / 6.0) + inner / m + math.log(radius) - math.log(n) / m


def _ln_difference(ln_a: float, ln_b: float) -> float:
    """ln(a - b) for a > b > 0 given ln a, ln b."""
    return ln_a + math.log1p(-math.exp(ln_b - ln_a))


def _finish(ln_dim: float, ln_removed: float, bits_per_dim: float, cutoff: float, what: str) -> Difficulty:
    if ln_removed >= ln_dim:
        warnings.warn(
            f"{what}: the training data remove more hypothesis dimensions (ln {ln_removed:.4g}) than the "
            f"space has (ln {ln_dim:.4g}); the bound is negative and is clamped to 0 bits",
            RuntimeWarning,
            stacklevel=3,
        )
        return Difficulty(-math.inf, True, ln_dim, bits_per_dim, cutoff)
    if bits_per_dim <= 0:
        warnings.warn(
            f"{what}: bits per hypothesis dimension b = {bits_per_dim:.4g} <= 0 (the target error is "
            "already reached by the whole hypothesis ball); clamped to 0 bits",
            RuntimeWarning,
            stacklevel=3,
        )
        return Difficulty(-math.inf, True, ln_dim, bits_per_dim, cutoff)
    ln_bits = _ln_difference(ln_dim, ln_removed) + math.log(bits_per_dim)
    return Difficulty(ln_bits, False, ln_dim, bits_per_dim, cutoff)


# ------------------------------------------------------------------------------- the estimators
def inductive_bias_complexity(
    *,
    n: float,
    intrinsic_dim: float,
    radius: float,
    resolution: float,
    target_error: float,
    num_discrete: float,
    output_dim: float,
    output_bound: float = 1.0,
) -> Difficulty:
    """The general closed form (spec 2.2): n training points on d = `num_discrete` copies of an
    m-sphere of radius R, resolution delta, hypotheses with `output_dim` D outputs bounded by B."""
    return _bound(
        n=check_number("n", n, 2),
        m=check_positive("intrinsic_dim", intrinsic_dim),
        radius=check_positive("radius", radius),
        resolution=check_positive("resolution", resolution),
        eps=check_fraction("target_error", target_error, low_open=True, high_open=True),
        d=check_number("num_discrete", num_discrete, 1),
        ln_out=math.log(check_number("output_dim", output_dim, 1)),
        bound=check_positive("output_bound", output_bound),
    )


def _bound(
    *, n: float, m: float, radius: float, resolution: float, eps: float, d: float, ln_out: float, bound: float
) -> Difficulty:
    """The general form on validated inputs; the output dimension enters as its log (it can be huge)."""
    cutoff = frequency_cutoff(m, 2.0 * math.pi * radius / resolution)
    ln_e = ln_num_eigenfunctions(m, cutoff)
    ln_dim = math.log(2.0) + ln_out + math.log(d) + ln_e
    ln_removed = math.log(n) + ln_out
    half_log2_out = 0.5 * ln_out / LN2
    log2_lipschitz = math.log2(cutoff) + half_log2_out - math.log2(radius)
    bits_per_dim = (
        math.log2(bound) + half_log2_out + 0.5 * math.log2(d) - math.log2(eps)
        + log2_lipschitz + ln_wasserstein(n, m, radius, d) / LN2
    )
    return _finish(ln_dim, ln_removed, bits_per_dim, cutoff, "inductive_bias_complexity")


def classification_difficulty(
    *, n: float, intrinsic_dim: float, radius: float, resolution: float, target_error: float, num_classes: int
) -> Difficulty:
    """Classification form: d = C discrete copies, D = C - 1 outputs, B = 1."""
    c = check_int("num_classes", num_classes, 2)
    return inductive_bias_complexity(
        n=n, intrinsic_dim=intrinsic_dim, radius=radius, resolution=resolution, target_error=target_error,
        num_discrete=c, output_dim=c - 1, output_bound=1.0,
    )


def task_difficulty_bits(
    *, n: float, intrinsic_dim: float, radius: float, resolution: float, target_error: float, num_classes: int
) -> float:
    """Bits of inductive bias needed for a classification task (float64; 0 when clamped)."""
    return classification_difficulty(
        n=n, intrinsic_dim=intrinsic_dim, radius=radius, resolution=resolution,
        target_error=target_error, num_classes=num_classes,
    ).bits


def control_difficulty(
    *, n: float, observation_dim: float, action_dim: float, resolution: float = 1e-3, target_error: float = 1e-3
) -> Difficulty:
    """RL form used for MuJoCo (spec 2.2): a policy from an m-dimensional observation space to D
    actions, I = D (V - n) b with V = 2 (2 pi / delta)^m pi^(m/2) / Gamma(m/2 + 1) and
    b = log2(4 pi^2 / sqrt 6) + log2 D + 1/2 log2 m - log2 delta - log2(n) / m - log2 eps."""
    n = check_number("n", n, 2)
    m = check_positive("observation_dim", observation_dim)
    out = check_number("action_dim", action_dim, 1)
    delta = check_positive("resolution", resolution)
    eps = check_fraction("target_error", target_error, low_open=True, high_open=True)
    ln_volume = (
        math.log(2.0) + m * math.log(2.0 * math.pi / delta) + m / 2.0 * math.log(math.pi) - float(gammaln(m / 2.0 + 1.0))
    )
    bits_per_dim = (
        math.log2(4.0 * math.pi**2 / math.sqrt(6.0)) + math.log2(out) + 0.5 * math.log2(m)
        - math.log2(delta) - math.log2(n) / m - math.log2(eps)
    )
    ln_dim = math.log(out) + ln_volume
    ln_removed = math.log(out) + math.log(n)
    return _finish(ln_dim, ln_removed, bits_per_dim, math.nan, "control_difficulty")


def cartpole_difficulty(
    *, num_observations: int, n: float = 1e4, resolution: float = 1e-3, target_error: float = 1e-3
) -> Difficulty:
    """Cartpole seeing only the pole angle at T time steps (spec 2.2): the control form with m = 2T
    and one action, I(T) = (2 (2 pi / delta)^(2T) pi^T / T! - n) (log2(4 pi^2 / sqrt 3) + 1/2 log2 T
    - log2 delta - log2(n) / (2T) - log2 eps)."""
    t = check_int("num_observations", num_observations, 1)
    return control_difficulty(
        n=n, observation_dim=2 * t, action_dim=1, resolution=resolution, target_error=target_error
    )


def meta_learning_difficulty(
    *,
    n: float,
    within_dim: float,
    across_dim: float,
    radius: float,
    resolution: float,
    target_error: float,
    ways: int = 20,
) -> Difficulty:
    """Few-shot meta-learning (Omniglot `ways`-way, spec 2.2): the hypothesis maps a support set of
    `ways` images to a `ways`-way classifier on images of one alphabet (intrinsic dim m0 =
    `within_dim`), so D = 2 ways (ways-1) E(m0, 2 pi R / delta), the input manifold has dimension
    m1 + (ways-1) m0 (m1 = `across_dim`), radius R sqrt(ways), one discrete copy and
    B = sqrt(ways (ways-1))."""
    w = check_int("ways", ways, 2)
    m0 = check_positive("within_dim", within_dim)
    m1 = check_positive("across_dim", across_dim)
    radius = check_positive("radius", radius)
    resolution = check_positive("resolution", resolution)
    ln_e0 = ln_num_eigenfunctions(m0, frequency_cutoff(m0, 2.0 * math.pi * radius / resolution))
    return _bound(
        n=check_number("n", n, 2), m=m1 + (w - 1) * m0, radius=radius * math.sqrt(w), resolution=resolution,
        eps=check_fraction("target_error", target_error, low_open=True, high_open=True), d=1.0, ln_out=math.log(2.0 * w * (w - 1)) + ln_e0,
        bound=math.sqrt(w * (w - 1)),
    )


@dataclass(frozen=True)
class TaskStatistics:
    """The data statistics of one classification task."""

    n: float
    intrinsic_dim: float
    radius: float
    num_classes: int


def task_union(first: TaskStatistics, second: TaskStatistics) -> tuple[float, float, float, int]:
    """Statistics of the union (product) of two tasks, spec 2.2: n = n1 n2, m = m1 + m2,
    R = sqrt(R1^2 + R2^2), d = C1 C2. Returns (n, intrinsic_dim, radius, num_discrete)."""
    return (
        first.n * second.n,
        first.intrinsic_dim + second.intrinsic_dim,
        math.hypot(first.radius, second.radius),
        int(first.num_classes) * int(second.num_classes),
    )


def task_union_difficulty(
    first: TaskStatistics, second: TaskStatistics, *, resolution: float, target_error: float
) -> Difficulty:
    """Difficulty of solving two classification tasks at once: the union's statistics with the
    first task's classes as the output dimension (as in the reference script's task-union table)."""
    n, m, radius, d = task_union(first, second)
    return inductive_bias_complexity(
        n=n, intrinsic_dim=m, radius=radius, resolution=resolution, target_error=target_error,
        num_discrete=d, output_dim=first.num_classes, output_bound=1.0,
    )
