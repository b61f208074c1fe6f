"""Bipartite expander Hopfield network (Chaudhuri & Fiete, NeurIPS 2019), as reconstructed in
docs/papers/expander_hopfield.md section 2 (a Tanner-code instantiation; not a verified copy of the paper).

N binary input neurons x_i in {0, 1} (spins s_i = 2 x_i - 1) and N_C constraint nodes on a random
biregular bipartite graph: each input belongs to `degree` (gamma) constraints, each constraint reads
z = 2^r - 1 inputs (its window). Each constraint is a glomerulus holding one hidden unit per codeword
c_k of the Hamming(z, z - r) code, with weights w_kj = 2 c_kj - 1 in {-1, +1} onto its window and
winner-take-all inhibition inside the glomerulus. One parallel step:

1. every glomerulus picks the hidden unit with the largest input u_k = sum_j w_kj s_j, i.e. the
   nearest local codeword of its window;
2. every input sums the winners' weights onto it (one vote per glomerulus) plus `self_coupling` * s_i;
3. s_i <- sign of that sum; a tie keeps the current state.

With gamma = 3 and self_coupling 0 this flips a bit when 2 of its 3 glomeruli vote against it. Besides
the global codewords it has many spurious fixed points (a bit flagged by one glomerulus only is
kept). `dynamics="adaptive"` (not in the spec; an improvement) lowers the flip threshold to a single
vote for one step whenever the vote would change nothing while some glomerulus is unsatisfied (a
global "stuck" signal, like a neuromodulatory threshold drop). Its fixed points are then exactly the
global codewords, and it corrects far larger fractions of errors.

The stable states include every global codeword (each window a local codeword): 2^(N - rank H) of
them, H the GF(2) parity checks of all windows. For a perfect code the WTA winner is the syndrome
decoding of the window, so the default `decoder="syndrome"` never materialises the 2^(z-r) hidden
units; `decoder="wta"` runs them explicitly (small codes; tests check both give the same trajectory).

The wiring is applied as a sparse operator (gather of the windows = product with the N_C z x N
incidence matrix, one nonzero per row; votes = product with its transpose, gamma nonzeros per row),
O(N gamma) per cue; `wiring="dense"` applies the same incidence matrix as a dense matrix (O(gamma N^2)
per cue) and exists as the baseline of benchmarks/expander_hopfield.py.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from neurobolts.datamodules.expander_hopfield.bit_flips import CueSampling
from neurobolts.lightning_modules.expander_hopfield.gf2 import gf2_null_space_parametrisation
from neurobolts.plugins.checks import check_choice, check_int, check_number, check_positive_int

DECODERS = ("syndrome", "wta")
WIRINGS = ("sparse", "dense")
DYNAMICS = ("majority", "adaptive")
# the explicit WTA path is chunked over cues so that (cues, N_C, 2^(z-r)) stays below this many floats
_WTA_CHUNK_FLOATS = 1 << 24


def hamming_parity_check(r: int) -> torch.Tensor:
    """(r, 2^r - 1) parity-check matrix of the Hamming code: column j is j + 1 in binary (bit i in
    row i), so the syndrome of a word with one error at position j is the integer j + 1."""
    check_int("hamming_r", r, 2)
    z = 2**r - 1
    cols = torch.arange(1, z + 1)
    return ((cols.unsqueeze(0) >> torch.arange(r).unsqueeze(1)) & 1).to(torch.uint8)


def hamming_codewords(r: int) -> torch.Tensor:
    """All 2^(z - r) codewords of the Hamming(z = 2^r - 1, z - r) code, (2^(z-r), z) uint8."""
    check = hamming_parity_check(r).numpy()
    free, pivots, pivot_from_free = gf2_null_space_parametrisation(check)
    k = free.size
    messages = (np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1
    words = np.zeros((2**k, check.shape[1]), dtype=np.uint8)
    words[:, free] = messages
    words[:, pivots] = (messages @ pivot_from_free.T) % 2
    return torch.from_numpy(words)


def random_biregular_windows(
    n_neurons: int, degree: int, window: int, generator: torch.Generator, max_swaps: int | None = None
) -> torch.Tensor:
    """A uniformly permuted configuration model: (N_C, z) input indices, every input in exactly
    `degree` windows, no input twice in a window.

    The N*gamma input sockets are shuffled into N_C groups of z. Rejecting the whole graph when a
    window repeats an input would almost never succeed at the spec's sizes (about 14 expected
    repeats for Hamming(15,11), gamma = 3), so each repeat is repaired by swapping it with a random
    socket of another window, which keeps every degree (it gives up with an error on near-degenerate sizes such as N = z).
    """
    n_windows = n_neurons * degree // window
    max_swaps = 10_000 + 100 * n_neurons * degree if max_swaps is None else max_swaps
    sockets = torch.arange(n_neurons).repeat_interleave(degree)
    perm = torch.randperm(n_neurons * degree, generator=generator)
    windows = sockets[perm].view(n_windows, window).numpy().copy()
    rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
    members = [set() for _ in range(n_windows)]
    repeats = []
    for g in range(n_windows):
        for j in range(window):
            if windows[g, j] in members[g]:
                repeats.append((g, j))
            else:
                members[g].add(int(windows[g, j]))
    swaps = 0
    while repeats:
        g, j = repeats[-1]
        a = int(windows[g, j])
        g2, j2 = int(rng.integers(n_windows)), int(rng.integers(window))
        b = int(windows[g2, j2])
        swaps += 1
        if swaps > max_swaps:
            raise RuntimeError(
                f"could not wire n_neurons={n_neurons} with degree={degree} into windows of {window} "
                f"distinct inputs after {max_swaps} swaps"
            )
        if g2 == g or b in members[g] or a in members[g2] or (g2, j2) in repeats:
            continue
        windows[g, j], windows[g2, j2] = b, a
        members[g].add(b)
        members[g2].discard(b)
        members[g2].add(a)
        repeats.pop()
    if not (np.diff(np.sort(windows, axis=1), axis=1) > 0).all():
        raise RuntimeError("internal error: the repaired wiring still repeats an input in a window")
    return torch.from_numpy(windows).long()


def check_expander_arguments(
    n_neurons: int, hamming_r: int, degree: int, self_coupling: float, decoder: str = "syndrome",
    wiring: str = "sparse", dynamics: str = "majority",
) -> None:
    """Raise ValueError naming the bad argument (called before any construction work)."""
    for name, value, choices in (("decoder", decoder, DECODERS), ("wiring", wiring, WIRINGS),
                                 ("dynamics", dynamics, DYNAMICS)):
        check_choice(name, value, choices)
    hamming_parity_check(hamming_r)
    z = 2**hamming_r - 1
    check_positive_int("degree", degree)
    check_int("n_neurons", n_neurons, z, expected=f"an integer >= the window size z={z} (hamming_r={hamming_r})")
    if (n_neurons * degree) % z != 0:
        raise ValueError(
            f"n_neurons * degree must be divisible by the window size z={z} (hamming_r={hamming_r}), "
            f"got n_neurons={n_neurons}, degree={degree}: use n_neurons a multiple of {z // math.gcd(z, degree)}"
        )
    check_number("self_coupling", self_coupling, 0)


def update_from_field(x: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """x <- 1 where the field is positive, 0 where negative; a zero field keeps x."""
    return torch.where(field > 0, torch.ones_like(x), torch.where(field < 0, torch.zeros_like(x), x))


class ExpanderHopfieldNetwork(CueSampling, nn.Module):
    """The network of one random graph. States are float tensors (cues, N) of 0/1.

    Args:
        n_neurons: N, the number of input neurons (N * degree divisible by z).
        hamming_r: r of the local Hamming(2^r - 1, 2^r - 1 - r) code (3: Hamming(7,4), 4: Hamming(15,11)).
        degree: gamma, the number of glomeruli each input belongs to.
        self_coupling: lambda_self, weight of an input's own state in its update (0 = pure vote).
        decoder: "syndrome" (default) or "wta" (explicit hidden units and argmax).
        wiring: "sparse" (default) or "dense" (the same incidence matrix applied densely).
        dynamics: "majority" (the spec's update, default) or "adaptive" (see the module docstring).
        generator: the random source of the graph.
    """

    def __init__(
        self,
        n_neurons: int,
        hamming_r: int = 4,
        degree: int = 3,
        self_coupling: float = 0.0,
        decoder: str = "syndrome",
        wiring: str = "sparse",
        dynamics: str = "majority",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        check_expander_arguments(n_neurons, hamming_r, degree, self_coupling, decoder, wiring, dynamics)
        self.dynamics = dynamics
        self.n_neurons = n_neurons
        self.hamming_r = hamming_r
        self.window = 2**hamming_r - 1
        self.degree = degree
        self.self_coupling = float(self_coupling)
        self.decoder = decoder
        self.wiring = wiring
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        windows = random_biregular_windows(n_neurons, degree, self.window, generator)
        check = hamming_parity_check(hamming_r)
        self.register_buffer("windows", windows)
        self.register_buffer("parity_check", check.float())
        self.register_buffer("local_codewords", hamming_codewords(hamming_r).float())
        self.register_buffer("syndrome_weights", 2.0 ** torch.arange(hamming_r, dtype=torch.float32))
        self.register_buffer("positions", torch.arange(1, self.window + 1, dtype=torch.float32))
        free, pivots, pivot_from_free = gf2_null_space_parametrisation(self.global_parity_check().numpy())
        self.register_buffer("free_columns", torch.from_numpy(free))
        self.register_buffer("pivot_columns", torch.from_numpy(pivots))
        self.register_buffer("pivot_from_free", torch.from_numpy(pivot_from_free).float())
        self._dense_cache: tuple[tuple, torch.Tensor] | None = None

    # ------------------------------------------------------------------ structure and capacity
    @property
    def n_windows(self) -> int:
        return int(self.windows.shape[0])

    @property
    def log2_stored_states(self) -> int:
        """log2 of the number of global codewords: N - rank_GF(2)(H_global), exact."""
        return int(self.free_columns.numel())

    @property
    def rate(self) -> float:
        return self.log2_stored_states / self.n_neurons

    @property
    def rate_bound(self) -> float:
        """The Tanner bound 1 - gamma r / z on the rate."""
        return 1.0 - self.degree * self.hamming_r / self.window

    def global_parity_check(self) -> torch.Tensor:
        """(N_C r, N) uint8: the r parity checks of every window, on the global indices."""
        check = self.parity_check.to(torch.uint8).cpu()
        rows = torch.zeros(self.n_windows, self.hamming_r, self.n_neurons, dtype=torch.uint8)
        index = self.windows.cpu().unsqueeze(1).expand(-1, self.hamming_r, -1)
        rows.scatter_(2, index, check.unsqueeze(0).expand(self.n_windows, -1, -1).contiguous())
        return rows.reshape(-1, self.n_neurons)

    def synaptic_weights(self) -> torch.Tensor:
        """(2^(z-r), z) weights of the hidden units of every glomerulus onto its window: 2 c_k - 1."""
        return 2 * self.local_codewords - 1

    def check_structure(self) -> None:
        """Raise RuntimeError if the graph or the weights break the construction's invariants."""
        n, z, gamma = self.n_neurons, self.window, self.degree
        if tuple(self.windows.shape) != (n * gamma // z, z):
            raise RuntimeError(f"windows have shape {tuple(self.windows.shape)}, expected {(n * gamma // z, z)}")
        counts = torch.bincount(self.windows.reshape(-1).cpu(), minlength=n)
        if not bool((counts == gamma).all()):
            raise RuntimeError(f"every input must belong to exactly {gamma} glomeruli; counts range "
                               f"{int(counts.min())}..{int(counts.max())}")
        distinct = torch.sort(self.windows.cpu(), dim=1).values.diff(dim=1)
        if not bool((distinct > 0).all()):
            raise RuntimeError("a glomerulus reads the same input twice")
        if not bool(self.synaptic_weights().abs().eq(1).all()):
            raise RuntimeError("synaptic weights must all be -1 or +1")

    # ------------------------------------------------------------------------ stored states
    def stored_states(self, messages: torch.Tensor) -> torch.Tensor:
        """The global codewords selected by 0/1 messages (cues, >= k): the first k = log2_stored_states
        bits are the codeword's free bits, so uniform messages give uniform codewords."""
        k = self.log2_stored_states
        if messages.ndim != 2 or messages.shape[1] < k:
            raise ValueError(f"messages must have shape (cues, >= {k}), got {tuple(messages.shape)}")
        bits = messages[:, :k].float()
        states = torch.zeros(messages.shape[0], self.n_neurons, device=messages.device)
        states[:, self.free_columns] = bits
        states[:, self.pivot_columns] = torch.remainder(bits @ self.pivot_from_free.T, 2.0)
        return states

    def window_syndromes(self, x: torch.Tensor) -> torch.Tensor:
        """(cues, N_C) integer syndrome of every window: 0 for a local codeword, else the position
        (1-based) of the single flip that makes it one."""
        return self._syndromes(self._gather(x))

    def is_stored(self, x: torch.Tensor) -> torch.Tensor:
        """(cues,) True where the state is a global codeword."""
        return (self.window_syndromes(x) == 0).all(dim=1)

    # ----------------------------------------------------------------------------- dynamics
    def _dense_incidence(self) -> torch.Tensor:
        key = (self.windows.data_ptr(), self.windows._version, self.windows.device)
        if self._dense_cache is None or self._dense_cache[0] != key:
            flat = self.windows.reshape(-1)
            incidence = torch.zeros(flat.numel(), self.n_neurons, device=flat.device)
            incidence[torch.arange(flat.numel(), device=flat.device), flat] = 1.0
            self._dense_cache = (key, incidence)
        return self._dense_cache[1]

    def _gather(self, x: torch.Tensor) -> torch.Tensor:
        """(cues, N) -> (cues, N_C, z): the window of every glomerulus (incidence @ x)."""
        if self.wiring == "dense":
            local = x @ self._dense_incidence().T
        else:
            local = x.index_select(1, self.windows.reshape(-1))
        return local.view(x.shape[0], self.n_windows, self.window)

    def _scatter(self, per_synapse: torch.Tensor) -> torch.Tensor:
        """(cues, N_C, z) -> (cues, N): the sum over each input's gamma synapses (incidence^T @ .)."""
        flat = per_synapse.reshape(per_synapse.shape[0], -1)
        if self.wiring == "dense":
            return flat @ self._dense_incidence()
        out = torch.zeros(flat.shape[0], self.n_neurons, dtype=flat.dtype, device=flat.device)
        return out.index_add_(1, self.windows.reshape(-1), flat)

    def _syndromes(self, local: torch.Tensor) -> torch.Tensor:
        bits = torch.remainder(local.reshape(-1, self.window) @ self.parity_check.T, 2.0)
        return (bits @ self.syndrome_weights).view(local.shape[:-1])

    def _winners_by_wta(self, local: torch.Tensor) -> torch.Tensor:
        weights = self.synaptic_weights()
        per_cue = self.n_windows * weights.shape[0]
        chunk = max(1, _WTA_CHUNK_FLOATS // per_cue)
        winners = []
        for part in local.split(chunk):
            drive = (2 * part - 1) @ weights.T  # (cues, N_C, hidden units): u_k = sum_j w_kj s_j
            winners.append(self.local_codewords[drive.argmax(dim=-1)])
        return torch.cat(winners)

    def local_winners(self, x: torch.Tensor) -> torch.Tensor:
        """(cues, N_C, z): the winning hidden unit's local codeword in every glomerulus."""
        local = self._gather(x)
        if self.decoder == "wta":
            return self._winners_by_wta(local)
        flip = self._syndromes(local).unsqueeze(-1) == self.positions
        return torch.abs(local - flip.to(local.dtype))

    def flag_counts(self, x: torch.Tensor) -> torch.Tensor:
        """(cues, N): how many glomeruli's winners disagree with each input (vote to flip it).

        A winner agrees with its window except at most at one position (perfect code), so the field
        of step 2 is s_i (gamma + lambda_self - 2 flags_i). The syndrome decoder scatters only the
        flagged position of each glomerulus (N_C per cue instead of N_C z synapses)."""
        local = self._gather(x)
        if self.decoder == "wta":
            return self._scatter((self._winners_by_wta(local) != local).to(x.dtype))
        syndromes = self._syndromes(local).long()  # 0: no flag, j: flag window position j - 1
        if self.wiring == "dense":
            onehot = torch.nn.functional.one_hot(syndromes, self.window + 1)[..., 1:].to(x.dtype)
            return self._scatter(onehot)
        # column 0 points at a dummy input N that absorbs the "no flag" entries
        targets = torch.cat([self.windows.new_full((self.n_windows, 1), self.n_neurons), self.windows], dim=1)
        flagged = targets.reshape(-1)[syndromes + torch.arange(self.n_windows, device=x.device) * (self.window + 1)]
        flags = torch.zeros(x.shape[0], self.n_neurons + 1, dtype=x.dtype, device=x.device)
        return flags.scatter_add_(1, flagged, torch.ones_like(flagged, dtype=x.dtype))[:, : self.n_neurons]

    def field(self, x: torch.Tensor, flags: torch.Tensor | None = None) -> torch.Tensor:
        """(cues, N): the winners' votes onto each input plus the self-coupling."""
        flags = self.flag_counts(x) if flags is None else flags
        return (2 * x - 1) * (self.degree + self.self_coupling - 2 * flags)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        """One parallel update of all inputs. With dynamics="adaptive", a cue on which the vote changes
        nothing although some glomerulus is unsatisfied flips every flagged input instead."""
        flags = self.flag_counts(x)
        # the field s_i (gamma + lambda - 2 flags_i) opposes s_i iff 2 flags_i > gamma + lambda (0: keep)
        flip = 2 * flags > self.degree + self.self_coupling
        if self.dynamics == "adaptive":
            stuck = ~flip.any(dim=1) & (flags > 0).any(dim=1)
            if bool(stuck.any()):
                flip[stuck] = flags[stuck] > 0
        return torch.where(flip, 1 - x, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.step(x)
