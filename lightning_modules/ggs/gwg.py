"""Gibbs-With-Gradients (GWG) point-mutation sampler of GGS (docs/papers/ggs.md section 2.5; Grathwohl
et al. 2021), pure torch.

The target is p(x) proportional to exp(f(x)) for a differentiable fitness model f over one-hot
sequences (n, L, S). The proposal for a sequence x is one (position, letter) entry drawn from
Cat(softmax(d(x) / temperature)) over all L x S entries, with the local differences
d(x)_{i,j} = [grad_x f(x)]_{i,j} - <x_i, [grad_x f(x)]_i>, the first-order estimate of
f(x with letter j at position i) - f(x). The entry at the current token is a no-op (d = 0 there).

Two acceptance rules (spec section 5, defects 1 and 2; the mode used is recorded by the caller):
- "textbook" (default): Metropolis-Hastings, alpha = min(1, exp(f(x') - f(x)) q(x | x') / q(x' | x)),
  with q(x | x') the mutant's proposal distribution (computed from d(x')) at (position, OLD letter);
  accept iff U < alpha. The chain then leaves exp(f) invariant.
- "code": the reference implementation's filter: the reverse probability is read at (position, NEW
  letter), where d(x') = 0, and the test is inverted (a mutant is kept iff alpha_code < U). This is a
  stochastic filter that prefers first-order gains, not detailed-balance MH.

Proposal "uniform" replaces the gradient proposal by uniform random point mutations over the L x S
entries (the random-mutation baseline; q is symmetric, so the ratio of proposal probabilities is 1).

Every random draw comes from the caller's `torch.Generator` (spec defect 6: the reference's sampler is
not seeded).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from neurobolts.datamodules.ggs.sequences import one_hot
from neurobolts.plugins.checks import check_choice, check_int, check_positive, check_positive_int

ACCEPTANCE_MODES = ("textbook", "code")
PROPOSAL_MODES = ("gradient", "uniform")


def _model_scores(model: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The model's predictions (n,) for one-hot inputs (n, L, S); (n, 1) outputs are flattened."""
    out = model(inputs)
    if out.numel() != inputs.shape[0]:
        raise ValueError(f"the fitness model must return one prediction per sequence, shape ({inputs.shape[0]},), "
                         f"got shape {tuple(out.shape)}")
    return out.reshape(-1)


def local_differences(model: torch.nn.Module, tokens: torch.Tensor,
                      num_states: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Local differences d (n, L, S) and predictions f (n,) of `model` at the sequences `tokens` (n, L).

    d(x)_{i,j} = [grad_x f(x)]_{i,j} - [grad_x f(x)]_{i, x_i}: the gradient at the current token is
    gathered (not summed against the one-hot), so d is exactly 0 at every current token. Only the
    gradient with respect to the input is taken; the model's parameter gradients are not touched."""
    tokens = tokens.long()
    with torch.enable_grad():
        inputs = one_hot(tokens, num_states).requires_grad_(True)
        scores = _model_scores(model, inputs)
        (gradient,) = torch.autograd.grad(scores.sum(), inputs)
    current = gradient.gather(-1, tokens.unsqueeze(-1))
    return gradient - current, scores.detach()


def propose(d: torch.Tensor, tokens: torch.Tensor, temperature: float, num_proposals: int,
            generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw `num_proposals` point mutations per sequence (with replacement) from
    Cat(softmax(d.flatten(1) / temperature)) over all L x S entries.

    Returns positions (n, P), letters (n, P) and log q(x' | x) (n, P). A draw at the current token
    (letters == tokens at that position) is a no-op; the caller removes it."""
    check_positive("temperature", temperature)
    check_positive_int("num_proposals", num_proposals)
    n, length, num_states = d.shape
    if tokens.shape != (n, length):
        raise ValueError(f"tokens must have shape {(n, length)} to match d {tuple(d.shape)}, got {tuple(tokens.shape)}")
    log_q = torch.log_softmax(d.reshape(n, -1).double() / temperature, dim=1)
    draws = torch.multinomial(log_q.exp().to(generator.device), num_proposals, replacement=True,
                              generator=generator).to(d.device)
    return draws // num_states, draws % num_states, log_q.gather(1, draws)


def _exp_min0(log_alpha):
    """min(1, exp(log_alpha)) for a tensor or a float."""
    if isinstance(log_alpha, torch.Tensor):
        return log_alpha.clamp(max=0.0).exp()
    return math.exp(min(0.0, log_alpha))


def acceptance(parent_scores, mutant_scores, log_q_forward, log_q_reverse, uniforms,
               mode: str = "textbook"):
    """Accept flags of proposals x -> x' (elementwise; tensors or floats).

    alpha = min(1, exp(f(x') - f(x)) * q(x | x') / q(x' | x)) from the log proposal probabilities.
    "textbook": accept iff U < alpha (log_q_reverse read at the OLD letter by the caller).
    "code": keep iff alpha < U (the reference's inverted test, spec defect 1; its caller reads
    log_q_reverse at the NEW letter, defect 2)."""
    check_choice("acceptance", mode, ACCEPTANCE_MODES)
    alpha = _exp_min0((mutant_scores - parent_scores) + (log_q_reverse - log_q_forward))
    return uniforms < alpha if mode == "textbook" else alpha < uniforms


@dataclass
class StepResult:
    """One GWG step over n parents, one row per proposal that was not a no-op (m rows).

    parent_index (m,) row of the parent in the step's input; positions, letters (m,) the mutation;
    mutants (m, L) the mutant tokens; parent_scores, mutant_scores (m,) predictions of the model;
    accepted (m,) bool; num_drawn = n * num_proposals (no-ops included)."""

    parent_index: torch.Tensor
    positions: torch.Tensor
    letters: torch.Tensor
    mutants: torch.Tensor
    parent_scores: torch.Tensor
    mutant_scores: torch.Tensor
    accepted: torch.Tensor
    num_drawn: int


class GWGSampler:
    """Gibbs-With-Gradients point-mutation sampler over a fitness model (spec 2.5).

    `model` maps float one-hot (n, L, num_states) to predictions (n,) and is differentiable in its
    input when proposal="gradient"; it is used as given (put it in eval mode before sampling).
    `batch_size` bounds the number of sequences per forward / backward pass."""

    def __init__(self, model: torch.nn.Module, num_states: int = 20, temperature: float = 0.1,
                 num_proposals: int = 100, acceptance: str = "textbook", proposal: str = "gradient",
                 batch_size: int = 4096, device: str | torch.device = "cpu") -> None:
        if not isinstance(model, torch.nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.num_states = check_int("num_states", num_states, 2)
        self.temperature = check_positive("temperature", temperature)
        self.num_proposals = check_positive_int("num_proposals", num_proposals)
        self.acceptance = check_choice("acceptance", acceptance, ACCEPTANCE_MODES)
        self.proposal = check_choice("proposal", proposal, PROPOSAL_MODES)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.device = torch.device(device)

    # ----------------------------------------------------------------------------------- helpers
    def check_tokens(self, tokens: torch.Tensor, name: str = "tokens") -> torch.Tensor:
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.shape[0] < 1 or tokens.shape[1] < 1:
            shape = tuple(tokens.shape) if isinstance(tokens, torch.Tensor) else type(tokens).__name__
            raise ValueError(f"{name} must be a LongTensor (n, L) with n, L >= 1, got {shape}")
        if tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
            raise ValueError(f"{name} must hold integer tokens, got dtype {tokens.dtype}")
        if tokens.min() < 0 or tokens.max() >= self.num_states:
            raise ValueError(f"{name} must hold tokens in [0, {self.num_states - 1}], got values in "
                             f"[{int(tokens.min())}, {int(tokens.max())}]")
        return tokens.long().to(self.device)

    def _scores(self, tokens: torch.Tensor) -> torch.Tensor:
        """Predictions (n,) without gradients, in batches."""
        with torch.no_grad():
            return torch.cat([torch.zeros(0, device=self.device)] + [_model_scores(self.model, one_hot(tokens[s:s + self.batch_size], self.num_states))
                              for s in range(0, tokens.shape[0], self.batch_size)])

    def _differences(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """local_differences in batches: d (n, L, S), f (n,)."""
        parts = [local_differences(self.model, tokens[s:s + self.batch_size], self.num_states)
                 for s in range(0, tokens.shape[0], self.batch_size)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def _reverse(self, mutants: torch.Tensor, flat_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictions f(x') (m,) and log q(x | x') read at `flat_index` (m,) = position * S + letter
        of each mutant's own proposal distribution, in batches (the full d(x') is never kept)."""
        scores = [torch.zeros(0, device=self.device)]
        log_q = [torch.zeros(0, dtype=torch.float64, device=self.device)]
        for s in range(0, mutants.shape[0], self.batch_size):
            d, f = local_differences(self.model, mutants[s:s + self.batch_size], self.num_states)
            log_softmax = torch.log_softmax(d.reshape(d.shape[0], -1).double() / self.temperature, dim=1)
            log_q.append(log_softmax.gather(1, flat_index[s:s + self.batch_size, None]).squeeze(1))
            scores.append(f)
        return torch.cat(scores), torch.cat(log_q)

    def _uniform_draws(self, count: int, generator: torch.Generator) -> torch.Tensor:
        return torch.rand(count, generator=generator, device=generator.device,
                          dtype=torch.float64).to(self.device)

    # -------------------------------------------------------------------------------------- step
    def step(self, tokens: torch.Tensor, generator: torch.Generator) -> StepResult:
        """One GWG step for each parent row of `tokens` (n, L): one gradient per parent, num_proposals
        draws, no-ops dropped, every mutant scored (identical (parent, mutation) draws are scored
        once), the reverse proposal from each mutant's gradient, one uniform per draw."""
        tokens = self.check_tokens(tokens)
        n, length = tokens.shape
        size, num_proposals = length * self.num_states, self.num_proposals
        if self.proposal == "gradient":
            d, parent_f = self._differences(tokens)
            positions, letters, log_q_forward = propose(d, tokens, self.temperature, num_proposals, generator)
        else:
            parent_f = self._scores(tokens)
            draws = torch.randint(size, (n, num_proposals), generator=generator,
                                  device=generator.device).to(self.device)
            positions, letters = draws // self.num_states, draws % self.num_states
            log_q_forward = torch.full((n, num_proposals), -math.log(size), dtype=torch.float64, device=self.device)
        parent_index = torch.arange(n, device=self.device).repeat_interleave(num_proposals)
        positions, letters, log_q_forward = positions.reshape(-1), letters.reshape(-1), log_q_forward.reshape(-1)
        old_letters = tokens[parent_index, positions]
        real = letters != old_letters
        parent_index, positions, letters = parent_index[real], positions[real], letters[real]
        old_letters, log_q_forward = old_letters[real], log_q_forward[real]

        key = (parent_index * length + positions) * self.num_states + letters
        unique_key, inverse = torch.unique(key, return_inverse=True)
        u_parent = unique_key // size
        u_position = (unique_key // self.num_states) % length
        u_letter = unique_key % self.num_states
        u_mutants = tokens[u_parent].clone()
        u_mutants[torch.arange(len(unique_key), device=self.device), u_position] = u_letter
        if self.proposal == "gradient":
            read_letter = tokens[u_parent, u_position] if self.acceptance == "textbook" else u_letter
            u_scores, u_log_q_reverse = self._reverse(u_mutants, u_position * self.num_states + read_letter)
            log_q_reverse = u_log_q_reverse[inverse]
        else:
            u_scores = self._scores(u_mutants)
            log_q_reverse = log_q_forward
        mutant_scores = u_scores[inverse]
        parent_scores = parent_f[parent_index]
        uniforms = self._uniform_draws(len(key), generator)
        accepted = acceptance(parent_scores.double(), mutant_scores.double(), log_q_forward, log_q_reverse,
                              uniforms, self.acceptance)
        return StepResult(parent_index=parent_index, positions=positions, letters=letters,
                          mutants=u_mutants[inverse], parent_scores=parent_scores, mutant_scores=mutant_scores,
                          accepted=accepted, num_drawn=n * num_proposals)

    # ------------------------------------------------------------------------------------- chain
    def run_chain(self, start: torch.Tensor, num_steps: int, generator: torch.Generator,
                  cache_size: int = 4096) -> torch.Tensor:
        """A single MH chain from `start` (1, L), one proposal per step; returns the state after each
        step (num_steps, L). A no-op draw leaves the state unchanged (a valid MH self-transition).

        The model is deterministic, so each visited state's prediction and proposal distribution are
        memoised (least-recently-used, at most `cache_size` states); the two uniforms of every step
        (proposal by inverse CDF, acceptance) are drawn up front from `generator`."""
        num_steps = check_positive_int("num_steps", num_steps)
        cache_size = check_positive_int("cache_size", cache_size)
        start = self.check_tokens(start, "start")
        if start.shape[0] != 1:
            raise ValueError(f"start must hold one sequence, shape (1, L), got {tuple(start.shape)}")
        length, num_states = start.shape[1], self.num_states
        size = length * num_states
        uniforms = torch.rand(num_steps, 2, generator=generator, device=generator.device,
                              dtype=torch.float64).cpu().numpy()
        cache: OrderedDict[bytes, tuple[float, np.ndarray | None, np.ndarray | None]] = OrderedDict()
        uniform_log_q = -math.log(size)

        def state_info(state: np.ndarray) -> tuple[float, np.ndarray | None, np.ndarray | None]:
            key = state.tobytes()
            info = cache.get(key)
            if info is None:
                tokens = torch.from_numpy(state).to(self.device)[None]
                if self.proposal == "gradient":
                    d, f = local_differences(self.model, tokens, num_states)
                    log_q = torch.log_softmax(d.reshape(-1).double() / self.temperature, dim=0).cpu().numpy()
                    cdf = np.cumsum(np.exp(log_q))
                    info = (float(f), log_q, cdf)
                else:
                    info = (float(self._scores(tokens)), None, None)
                cache[key] = info
                if len(cache) > cache_size:
                    cache.popitem(last=False)
            else:
                cache.move_to_end(key)
            return info

        state = start[0].cpu().numpy().astype(np.int64)
        out = np.empty((num_steps, length), dtype=np.int64)
        for t in range(num_steps):
            f, log_q, cdf = state_info(state)
            u_propose, u_accept = uniforms[t]
            if cdf is None:
                index = min(int(u_propose * size), size - 1)
            else:
                index = min(int(np.searchsorted(cdf, u_propose * cdf[-1], side="right")), size - 1)
            position, letter = divmod(index, num_states)
            old = int(state[position])
            if letter != old:
                mutant = state.copy()
                mutant[position] = letter
                f_new, log_q_new, _ = state_info(mutant)
                if log_q is None:
                    forward = reverse = uniform_log_q
                else:
                    forward = float(log_q[index])
                    read = old if self.acceptance == "textbook" else letter
                    reverse = float(log_q_new[position * num_states + read])
                if acceptance(f, f_new, forward, reverse, float(u_accept), self.acceptance):
                    state = mutant
            out[t] = state
        return torch.from_numpy(out)
