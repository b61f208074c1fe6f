"""Ehrlich closed-form test functions (Stanton et al. 2024, "Closed-form test functions for
biophysical sequence design"; docs/papers/ggs.md section 3): a download-free GGS task whose oracle is
exact, so the learned-oracle confound of the GFP / AAV tasks disappears.

Definition (implemented here from the paper's description):
- A discrete Markov process (DMP) over `num_states` states defines feasibility. Its transition matrix
  has a banned set of transitions (zero entries): each row allows a cyclic band of
  2 * floor(0.4 * num_states) + 1 next states (the rows' bands are shuffled by a random permutation)
  plus always the state itself; the allowed entries get softmax(N(0, 1) / 0.5) weights. The matrix is
  redrawn until it is ergodic (P^m > 0 with m = (S - 1)^2 + 1, Wielandt's bound). A sequence is
  feasible iff it contains no banned transition; an infeasible sequence has value -inf.
- c motifs a^(i) of length k, drawn as ONE DMP sample of length c * k cut into c pieces, so that the
  motifs, written one after another, form a feasible sequence. Each motif has a spacing s^(i)
  (offsets 0 = s_1 < ... < s_k): gaps 1 + floor(w_j * (L // c - k)), w uniform on the simplex, so
  every spaced motif spans at most L // c positions.
- f(x) = prod_i h_q( max_l (1/k) sum_j [x_{l + s^(i)_j} = a^(i)_j] ) for feasible x, with the
  quantisation h_q(z) = floor(z * q) / q (q = k by default: h is the identity on the fractions j/k).
  So f is in [0, 1] with q + 1 levels per motif. The optimum 1.0 is reached by writing motif i with its
  spacing into the i-th block of L // c positions, filling every gap with a repeat of the previous
  state (self-transitions are always allowed), which is feasible by construction (`optimal_solution`).

Difference from holo-bench's `Ehrlich` (pytorch-holo): its quantisation is floor(count / ceil(k/q)) /
(k / ceil(k/q)), equal to h_q above when q divides k; and its motifs/DMP come from its own random
stream, so values agree only in distribution (benchmarks/ggs_ehrlich_holo.py checks this).

`ehrlich_task` builds the GGS starting set: see its docstring.
"""

from __future__ import annotations

import torch

from neurobolts.datamodules.ggs.sequences import ALPHABET, decode
from neurobolts.datamodules.ggs.tasks import FitnessTable, GGSTask
from neurobolts.plugins.checks import check_int, check_number, check_positive_int

_MAX_MATRIX_DRAWS = 100
_MAX_START_ROUNDS = 100  # rounds of 4 * num_train DMP samples searched for a start set below max_train_fitness


class EhrlichFunction:
    """An Ehrlich function over sequences of `length` tokens in [0, num_states) (module docstring).

    Attributes: transition_matrix (S, S) float64 with zeros at banned transitions; motifs (c, k) long;
    spacings (c, k) long offsets starting at 0; quantization q."""

    def __init__(self, num_states: int = 20, length: int = 32, num_motifs: int = 4, motif_length: int = 4,
                 quantization: int | None = None, seed: int = 0) -> None:
        self.num_states = check_int("num_states", num_states, 2)
        self.length = check_positive_int("length", length)
        self.num_motifs = check_positive_int("num_motifs", num_motifs)
        self.motif_length = check_positive_int("motif_length", motif_length)
        if num_motifs * motif_length > length:
            raise ValueError(f"num_motifs * motif_length must be <= length so that all motifs fit, got "
                             f"{num_motifs} * {motif_length} > {length}")
        self.quantization = check_int("quantization", quantization, 1, motif_length, allow_none=True,
                                      expected=f"an integer in [1, motif_length={motif_length}]")
        if self.quantization is None:
            self.quantization = motif_length
        self.seed = check_int("seed", seed)
        generator = torch.Generator().manual_seed(seed)
        self.transition_matrix = _ergodic_transition_matrix(num_states, generator)
        motif_chain = self._sample(1, num_motifs * motif_length, generator)[0]
        self.motifs = motif_chain.view(num_motifs, motif_length)
        block = length // num_motifs
        slack = block - motif_length
        spacings = torch.zeros(num_motifs, motif_length, dtype=torch.long)
        if motif_length > 1:
            weights = -torch.log1p(-torch.rand(num_motifs, motif_length - 1, generator=generator, dtype=torch.float64))
            weights = weights / weights.sum(dim=1, keepdim=True)
            gaps = 1 + torch.floor(weights * slack).long()
            spacings[:, 1:] = gaps.cumsum(dim=1)
        self.spacings = spacings

    @property
    def allowed(self) -> torch.Tensor:
        """Bool (S, S): the transitions that are not banned."""
        return self.transition_matrix > 0

    def _sample(self, n: int, length: int, generator: torch.Generator) -> torch.Tensor:
        """n DMP chains of `length` states, the first state uniform."""
        tokens = torch.empty(n, length, dtype=torch.long)
        if n == 0:
            return tokens
        tokens[:, 0] = torch.randint(self.num_states, (n,), generator=generator)
        for t in range(1, length):
            tokens[:, t] = torch.multinomial(self.transition_matrix[tokens[:, t - 1]], 1, generator=generator)[:, 0]
        return tokens

    def sample_feasible(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n feasible sequences (LongTensor (n, length)) sampled from the DMP (uniform first state)."""
        check_int("n", n, 0)
        return self._sample(n, self.length, generator)

    def is_feasible(self, tokens: torch.Tensor) -> torch.Tensor:
        """Bool (n,): no banned transition in the row."""
        tokens = self._check_tokens(tokens)
        return self.allowed[tokens[:, :-1], tokens[:, 1:]].all(dim=1)

    def motif_presence(self, tokens: torch.Tensor) -> torch.Tensor:
        """Float64 (n, c): the quantised fraction h_q(max_l present_i(l) / k) of each motif."""
        tokens = self._check_tokens(tokens)
        k, q = self.motif_length, self.quantization
        values = []
        for motif, offsets in zip(self.motifs, self.spacings, strict=True):
            starts = torch.arange(self.length - int(offsets[-1]))
            windows = tokens[:, starts[:, None] + offsets[None, :]]  # (n, positions, k)
            count = (windows == motif).sum(dim=2).amax(dim=1)
            values.append(torch.div(count * q, k, rounding_mode="floor").double() / q)
        return torch.stack(values, dim=1)

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        """f(tokens) as float64 (n,): the product of the motif presences, -inf where infeasible."""
        value = self.motif_presence(tokens).prod(dim=1)
        return torch.where(self.is_feasible(tokens), value, torch.full_like(value, -torch.inf))

    def optimal_solution(self) -> torch.Tensor:
        """A feasible sequence (1, length) of value 1.0: motif i with its spacing in block i of L // c
        positions, every gap filled by repeating the previous state."""
        block = self.length // self.num_motifs
        solution = torch.empty(self.length, dtype=torch.long)
        position = 0
        for i, (motif, offsets) in enumerate(zip(self.motifs, self.spacings, strict=True)):
            start = i * block
            solution[position:start] = solution[position - 1] if position > 0 else motif[0]
            for j in range(self.motif_length):
                end = start + (int(offsets[j + 1]) if j + 1 < self.motif_length else int(offsets[j]) + 1)
                solution[start + int(offsets[j]):end] = motif[j]
            position = start + int(offsets[-1]) + 1
        solution[position:] = solution[position - 1]
        return solution[None]

    def _check_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.shape[1] != self.length:
            shape = tuple(tokens.shape) if isinstance(tokens, torch.Tensor) else type(tokens).__name__
            raise ValueError(f"tokens must be an integer tensor (n, {self.length}), got {shape}")
        if tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
            raise ValueError(f"tokens must be an integer tensor, got dtype {tokens.dtype}")
        tokens = tokens.long().cpu()
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.num_states):
            raise ValueError(f"tokens must lie in [0, {self.num_states}), got values in "
                             f"[{int(tokens.min())}, {int(tokens.max())}]")
        return tokens

    def __repr__(self) -> str:
        return (f"EhrlichFunction(num_states={self.num_states}, length={self.length}, num_motifs={self.num_motifs}, "
                f"motif_length={self.motif_length}, quantization={self.quantization}, seed={self.seed})")


def _ergodic_transition_matrix(num_states: int, generator: torch.Generator) -> torch.Tensor:
    """A random transition matrix with banned transitions (module docstring), redrawn until ergodic."""
    half_band = int(0.4 * num_states)
    offsets = torch.arange(-half_band, half_band + 1)
    band = torch.zeros(num_states, num_states, dtype=torch.bool)
    for state in range(num_states):
        band[state, (state + offsets) % num_states] = True
    power = (num_states - 1) ** 2 + 1
    for _ in range(_MAX_MATRIX_DRAWS):
        logits = torch.randn(num_states, num_states, generator=generator, dtype=torch.float64) / 0.5
        allowed = band[torch.randperm(num_states, generator=generator)] | torch.eye(num_states, dtype=torch.bool)
        weights = torch.where(allowed, logits.softmax(dim=1), torch.zeros((), dtype=torch.float64))
        matrix = weights / weights.sum(dim=1, keepdim=True)
        reach = torch.linalg.matrix_power(allowed.double(), power)
        if bool((reach > 0).all()):
            return matrix
    raise RuntimeError(f"no ergodic transition matrix over {num_states} states in {_MAX_MATRIX_DRAWS} draws")


def ehrlich_task(length: int = 32, num_motifs: int = 4, motif_length: int = 4, num_train: int = 2000,
                 max_train_fitness: float | None = None, seed: int = 0, holdout_size: int = 2000,
                 quantization: int | None = None, num_states: int = 20) -> GGSTask:
    """The Ehrlich GGS task (section 3): the function seeded by `seed`, and a low-fitness start set.

    Start set: DMP samples (all feasible). With `max_train_fitness` None, the `num_train` lowest-valued
    samples of a pool of 4 * num_train DMP samples (the lower quartile of the DMP's fitness
    distribution; ties in file order); otherwise the first `num_train` DMP samples whose value is <=
    max_train_fitness (drawn in rounds of 4 * num_train, at most _MAX_START_ROUNDS = 100 rounds). Holdout: `holdout_size`
    further DMP samples (from the same generator after the start set), scored exactly. The oracle is
    the function itself (exact_oracle); fitness_range (0, 1); negative_mean 0."""
    check_positive_int("num_train", num_train)
    if num_states > len(ALPHABET):
        raise ValueError(f"num_states must be <= {len(ALPHABET)} so that Ehrlich sequences can be written in the "
                         f"amino-acid alphabet, got {num_states}")
    check_int("holdout_size", holdout_size, 0)
    check_number("max_train_fitness", max_train_fitness, 0.0, 1.0, high_open=True, allow_none=True)
    function = EhrlichFunction(num_states=num_states, length=length, num_motifs=num_motifs,
                               motif_length=motif_length, quantization=quantization, seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    pool_size = 4 * num_train
    if max_train_fitness is None:
        pool = function.sample_feasible(pool_size, generator)
        values = function(pool)
        order = torch.sort(values, stable=True).indices[:num_train]
        train_tokens = pool[order.sort().values]
    else:
        kept, found = [], 0
        for _ in range(_MAX_START_ROUNDS):
            pool = function.sample_feasible(pool_size, generator)
            low = pool[function(pool) <= max_train_fitness]
            kept.append(low)
            found += len(low)
            if found >= num_train:
                break
        if found < num_train:
            raise ValueError(f"max_train_fitness={max_train_fitness} is too low: only {found} of "
                             f"{_MAX_START_ROUNDS * pool_size} DMP samples score at most that, need num_train={num_train}")
        train_tokens = torch.cat(kept)[:num_train]
    train_scores = function(train_tokens)
    holdout = None
    if holdout_size > 0:
        holdout_tokens = function.sample_feasible(holdout_size, generator)
        holdout = FitnessTable(decode(holdout_tokens),
                               function(holdout_tokens).numpy())
    train = FitnessTable(decode(train_tokens), train_scores.numpy())
    return GGSTask(name="ehrlich", train=train, train_tokens=train_tokens, length=length, num_states=num_states,
                   fitness_range=(0.0, 1.0), oracle_data=None, holdout=holdout, exact_oracle=function,
                   negative_mean=0.0)

