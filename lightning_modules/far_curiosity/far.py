"""The FAR layer of FARCuriosity (docs/papers/far_curiosity.md sections 2.1-2.5, defects in section 5):
local RND curiosity modules, surprisal-driven fragmentation, similarity-driven recall and a long-term
memory with least-recently-used replacement. Pure torch: no Lightning.

Modes: "rnd" (one module, never fragments: the baseline), "far" (fragmentation only), "far_recall"
(fragmentation with the novelty gate, plus recall).

One rollout batch, as the PPO learner drives it:
1. `errors(obs, module_ids)` with the assignment used during the batch (`current`): raw RND errors e.
2. `normalise_rewards(e, dones)`: the intrinsic rewards (rnd.py: forward-filtered return std).
3. `observe(e, obs, dones)`: the scan of sections 2.2 / 2.3, which may switch envs to other modules.
4. `train_step(obs, module_ids)` per minibatch with `batch_module_ids` (below).

The scan (`observe`), per environment n = 0 .. N-1 in order, over its time steps t:
- an env that fragmented in the previous call is skipped once (one-batch burn-in, defect 5.3; every
  env also starts in burn-in, as in the reference: module 0 is as new as any other);
- done steps are skipped (their reward is 0, and with auto-reset their observation may belong to the
  next episode; the reference scans them);
- an error equal to the last one recorded by the env's module is ignored (repeated-error skip, 2.1);
- far_recall only: if the state's maximum cosine similarity to the stored fracture states (including
  those created earlier in this call) is >= `recall_threshold` and that record's `next_id` is not the
  current module, the env switches to `next_id` (recall; the scan of that env ends);
- statistics and rules: one `SurprisalFragmenter` per module (inclusive rules: e >= threshold * mean
  or e - mean >= threshold * std, sample std; no decision before `min_history` recorded errors or
  while std <= `std_eps`); statistics merge all envs using the module. A sample that does not
  fragment is recorded;
- when the rule fires: in far_recall the novelty gate first (no fragmentation if the maximum cosine to
  a stored fracture state is >= `cos_threshold` or the state is all zeros; such a sample is not
  recorded either); then a fresh module (new random target AND predictor, its own Adam, empty
  statistics) is created, or the least recently used one is re-initialised in place when `mem_size`
  modules exist (records pointing to it are deleted, records from it get prev_id = -1); the record
  (state, old id, new id) is appended; the env switches and enters burn-in (so at most one
  fragmentation per env per call). The fragmenting sample stays out of both modules' statistics.
After the scan, cos_threshold <- max(cos_threshold_min, cos_threshold - (n_modules - 1) * delta),
delta = (cos_threshold_start - cos_threshold_min) / mem_size (3.125e-4 with the defaults).
On the first call an origin record (state of env 0 at t = 0, prev -1, next 0) is stored, as in the
reference: without it the first module could never be recalled.

Matching states (`match_on`): "observation" (default): the raw observation, for images resized by
1 / `obs_scale` (bilinear) and averaged over the stacked frames. "feature": the target embedding of
the module assigned to the env; this reproduces the reference's defect 5.2 (a stored fracture
embedding and a later query come from different random targets, so the 0.99 cosine test compares
vectors of different feature spaces) and exists only to reproduce it.

Deviations from the reference, on purpose:
- defect 5.1 is fixed: every module gets its own Adam when it is created (or re-initialised), so new
  modules are trained (`train_step`).
- observation whitening and the reward normalisation are shared by all modules (the reference keeps
  one of each per module).
- a sample seen while std <= std_eps is recorded (the reference skips it, which can freeze the std).

Bonus lag (defect 5.4), `bonus_lag`:
- True (default, the reference): the bonuses of a batch are the errors of step 1, computed with the
  assignment at the start of the batch; after `observe`, `batch_module_ids` is the new assignment
  (`current`) for every step of the batch, which is how the reference groups its predictor update.
- False: `batch_module_ids` switches at the step where the fragmentation / recall happened (the
  old module before, the new one from that step on); the learner recomputes the bonuses with
  `errors(obs, batch_module_ids)` and trains with the same ids.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neurobolts.lightning_modules.common.fragmentation import SurprisalFragmenter
from neurobolts.lightning_modules.far_curiosity.rnd import (
    RND,
    IntrinsicRewardNormaliser,
    ObservationNormaliser,
    rnd_kind,
)
from neurobolts.plugins.checks import check_choice, check_int, check_number, check_positive

CURIOSITY_MODES = ("rnd", "far", "far_recall")
CRITERIA = ("ratio", "z")
MATCH_ON = ("observation", "feature")
DEFAULT_THRESHOLD = {"ratio": 10.0, "z": 2.0}
EXTRA_STATE_VERSION = 1


@dataclass
class FractureRecord:
    """A fracture in long-term memory: the matching state where it happened, the module left
    (`prev_id`, -1 once that module was re-initialised or for the origin record) and the module
    created there (`next_id`, the module a recall switches to)."""

    state: torch.Tensor
    prev_id: int
    next_id: int


class FARCuriosity(nn.Module):
    """Fragmentation and recall over RND curiosity modules (module docstring).

    Args:
        obs_shape: (D,) flat observations ("mlp" RND) or (C, 84, 84) stacked frames ("cnn" RND).
        num_envs: parallel environments N.
        mode: "rnd", "far" or "far_recall".
        criterion: "ratio" (e >= threshold * mean) or "z" (e - mean >= threshold * std).
        threshold: default 10 (ratio; must be > 1) or 2 (z; must be > 0).
        min_history: recorded errors a module needs before any fragmentation decision (25).
        std_eps: no decision while the module's sample std is <= std_eps (1e-6).
        recall_threshold: cosine needed for a recall, in (0, 1] (0.99).
        cos_threshold / cos_threshold_min: start and floor of the novelty-gate cosine,
            0 <= min <= start <= 1 (0.75 / 0.5).
        mem_size: most modules kept (an integer >= 1; 800).
        lr: Adam learning rate of every predictor (1e-4).
        predictor_width / feature_dim: RND sizes (None: 128 / 64 for mlp, 512 / 512 for cnn).
        update_proportion: fraction of a module's samples used per train_step, in (0, 1] (0.25).
        match_on: "observation" (default) or "feature" (reproduces defect 5.2).
        obs_scale: image matching states are resized to (H / obs_scale, W / obs_scale); must be 1.0
            for flat observations.
        gamma_int: discount of the reward forward filter (0.99).
        bonus_lag: module docstring (True: the reference's behaviour).
        seed: seed of the generator for module initialisation and the update subsets (None: random).
    """

    def __init__(self, obs_shape: Sequence[int], num_envs: int = 1, mode: str = "far_recall", *,
                 criterion: str = "ratio", threshold: float | None = None, min_history: int = 25,
                 std_eps: float = 1e-6, recall_threshold: float = 0.99, cos_threshold: float = 0.75,
                 cos_threshold_min: float = 0.5, mem_size: int = 800, lr: float = 1e-4,
                 predictor_width: int | None = None, feature_dim: int | None = None,
                 update_proportion: float = 0.25, match_on: str = "observation", obs_scale: float = 1.0,
                 gamma_int: float = 0.99, bonus_lag: bool = True, seed: int | None = 0):
        super().__init__()
        self.kind = rnd_kind(obs_shape)
        self.obs_shape = tuple(int(s) for s in obs_shape)
        self.num_envs = check_int("num_envs", num_envs, 1)
        self.mode = check_choice("curiosity mode", mode, CURIOSITY_MODES)
        self.criterion = check_choice("criterion", criterion, CRITERIA)
        if threshold is None:
            threshold = DEFAULT_THRESHOLD[criterion]
        if criterion == "ratio":
            self.threshold = check_number("threshold", threshold, 1, low_open=True,
                                          expected="a finite number > 1 for criterion 'ratio'")
        else:
            self.threshold = check_number("threshold", threshold, 0, low_open=True,
                                          expected="a finite number > 0 for criterion 'z'")
        self.min_history = check_int("min_history", min_history, 2 if criterion == "z" else 1)
        self.std_eps = check_positive("std_eps", std_eps)
        self.recall_threshold = check_number("recall_threshold", recall_threshold, 0, 1, low_open=True)
        self.cos_threshold_start = check_number("cos_threshold", cos_threshold, 0, 1)
        self.cos_threshold_min = check_number(
            "cos_threshold_min", cos_threshold_min, 0, self.cos_threshold_start,
            expected=f"a number in [0, cos_threshold = {self.cos_threshold_start:g}]")
        self.mem_size = check_int("mem_size", mem_size, 1)
        self.lr = check_positive("lr", lr)
        self.predictor_width = check_int("predictor_width", predictor_width, 1, allow_none=True)
        self.feature_dim = check_int("feature_dim", feature_dim, 1, allow_none=True)
        self.update_proportion = check_number("update_proportion", update_proportion, 0, 1, low_open=True)
        self.match_on = check_choice("match_on", match_on, MATCH_ON)
        if self.kind == "mlp":
            self.obs_scale = check_number("obs_scale", obs_scale, 1, 1,
                                          expected="1.0 for flat observations (only images are resized)")
        else:
            self.obs_scale = check_number("obs_scale", obs_scale, 0, self.obs_shape[-1], low_open=True)
        if not isinstance(bonus_lag, bool):
            raise ValueError(f"bonus_lag must be a bool, got {bonus_lag!r}")
        self.bonus_lag = bonus_lag
        self.seed = check_int("seed", seed, 0, allow_none=True)
        self.cos_decay = (self.cos_threshold_start - self.cos_threshold_min) / self.mem_size

        self.generator = torch.Generator()
        if self.seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(self.seed)
        self.normaliser = ObservationNormaliser(self.obs_shape)
        self.reward_normaliser = IntrinsicRewardNormaliser(self.num_envs, gamma_int)
        self.rnds = nn.ModuleList()
        self.optimizers: list[torch.optim.Adam] = []
        self.fragmenters: list[SurprisalFragmenter] = []
        self.last_errors: list[float | None] = []  # last error recorded per module (repeated-error skip)
        self.recent_usage: list[int] = []  # clock value of each module's last use
        self.register_buffer("current", torch.zeros(self.num_envs, dtype=torch.long))
        self.records: list[FractureRecord] = []
        self.burn_in = [True] * self.num_envs
        self.fragmentations = 0
        self.recalls = 0
        self.cos_threshold = self.cos_threshold_start
        self.clock = 0  # time steps observed so far
        self.origin_recorded = False
        self.batch_module_ids: torch.Tensor | None = None
        self._bank: tuple[int, torch.Tensor] | None = None
        self._records_version = 0
        self._add_module()

    # -- modules ----------------------------------------------------------------------------------
    @property
    def n_modules(self) -> int:
        return len(self.rnds)

    @property
    def max_modules(self) -> int:
        return 1 if self.mode == "rnd" else self.mem_size

    @property
    def _device(self) -> torch.device:
        return self.current.device if hasattr(self, "current") else torch.device("cpu")

    def _new_fragmenter(self) -> SurprisalFragmenter:
        return SurprisalFragmenter(self.criterion, self.threshold, self.min_history, inclusive=True,
                                   std_eps=self.std_eps)

    def _new_optimizer(self, rnd: RND) -> torch.optim.Adam:
        return torch.optim.Adam(rnd.predictor.parameters(), lr=self.lr)

    def _add_module(self) -> int:
        rnd = RND(self.obs_shape, self.feature_dim, self.predictor_width, generator=self.generator).to(self._device)
        self.rnds.append(rnd)
        self.optimizers.append(self._new_optimizer(rnd))
        self.fragmenters.append(self._new_fragmenter())
        self.last_errors.append(None)
        self.recent_usage.append(self.clock)
        return len(self.rnds) - 1

    def _reinitialise(self, module_id: int) -> None:
        """New target and predictor weights in place, a new optimiser, empty statistics."""
        rnd = self.rnds[module_id]
        rnd.reset_parameters(self.generator)
        self.optimizers[module_id] = self._new_optimizer(rnd)
        self.fragmenters[module_id] = self._new_fragmenter()
        self.last_errors[module_id] = None

    def grow_to(self, n_modules: int) -> None:
        """Hold exactly `n_modules` modules: append fresh ones or drop the last ones (checkpoint loading;
        tests). Envs and records are not touched."""
        check_int("n_modules", n_modules, 1, self.max_modules)
        while self.n_modules < n_modules:
            self._add_module()
        while self.n_modules > n_modules:
            del self.rnds[-1]
            for state in (self.optimizers, self.fragmenters, self.last_errors, self.recent_usage):
                state.pop()

    def _module_for_fragment(self, now: int) -> tuple[int, bool]:
        """A fresh module id: a new module while fewer than `mem_size` exist, else the least recently
        used one re-initialised (LTM replacement, oracle 7.7). Returns (id, re-initialised)."""
        if self.n_modules < self.mem_size:
            module_id, reinitialised = self._add_module(), False
        else:
            module_id = min(range(self.n_modules), key=lambda k: (self.recent_usage[k], k))
            self._reinitialise(module_id)
            kept = []
            for record in self.records:
                if record.next_id == module_id:
                    continue
                if record.prev_id == module_id:
                    record.prev_id = -1
                kept.append(record)
            self.records = kept
            self._records_version += 1
            reinitialised = True
        self.recent_usage[module_id] = now
        return module_id, reinitialised

    # -- inputs -----------------------------------------------------------------------------------
    def _lead_shape(self, name: str, obs: torch.Tensor) -> tuple[int, ...]:
        k = len(self.obs_shape)
        if not isinstance(obs, torch.Tensor) or obs.dim() < k + 1 or tuple(obs.shape[obs.dim() - k:]) != self.obs_shape:
            shape = tuple(obs.shape) if isinstance(obs, torch.Tensor) else type(obs).__name__
            raise ValueError(f"{name} must be a tensor of shape (..., *{self.obs_shape}), got {shape}")
        return tuple(obs.shape[:obs.dim() - k])

    def _module_ids_for(self, lead: tuple[int, ...], module_ids: torch.Tensor | None) -> torch.Tensor:
        if module_ids is None:
            if not lead or lead[-1] != self.num_envs:
                raise ValueError(f"without module_ids, obs must have shape (..., num_envs={self.num_envs}, "
                                 f"*{self.obs_shape}), got leading dims {lead}")
            return self.current.expand(lead)
        module_ids = torch.as_tensor(module_ids, device=self._device)
        if tuple(module_ids.shape) != lead or module_ids.dtype.is_floating_point or module_ids.dtype == torch.bool:
            raise ValueError(f"module_ids must be an integer tensor of shape {lead} (the leading dims of obs), "
                             f"got {module_ids.dtype} {tuple(module_ids.shape)}")
        if module_ids.numel() and (int(module_ids.min()) < 0 or int(module_ids.max()) >= self.n_modules):
            raise ValueError(f"module_ids must be in [0, {self.n_modules - 1}] (the modules that exist), got "
                             f"values in [{int(module_ids.min())}, {int(module_ids.max())}]")
        return module_ids.long()

    # -- observation statistics, errors, rewards --------------------------------------------------
    def update_obs_stats(self, obs: torch.Tensor) -> None:
        """Add observations (..., *obs_shape) to the whitening statistics shared by all modules."""
        self._lead_shape("obs", obs)
        self.normaliser.update(obs.reshape(-1, *self.obs_shape))

    @torch.no_grad()
    def errors(self, obs: torch.Tensor, module_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Raw RND errors (...,) of observations (..., *obs_shape), each from the module given in
        `module_ids` (same leading dims; None: `current`, the last leading dim being the envs)."""
        lead = self._lead_shape("obs", obs)
        ids = self._module_ids_for(lead, module_ids).reshape(-1)
        x = self.normaliser(obs.reshape(-1, *self.obs_shape))
        out = torch.empty(x.shape[0], device=x.device)
        for module_id in ids.unique().tolist():
            mask = (ids == module_id).to(x.device)
            out[mask] = self.rnds[module_id].errors(x[mask])
        return out.reshape(lead)

    def normalise_rewards(self, raw: torch.Tensor, dones: torch.Tensor | None = None) -> torch.Tensor:
        """Intrinsic rewards (T, N) = raw / sqrt(var of the forward-filtered return), 0 on done steps
        (rnd.normalise_intrinsic); updates the shared filter and return statistics."""
        if raw.dim() != 2 or raw.shape[1] != self.num_envs:
            raise ValueError(f"raw must have shape (T, num_envs={self.num_envs}), got {tuple(raw.shape)}")
        return self.reward_normaliser(raw, dones)

    @torch.no_grad()
    def matching_states(self, obs: torch.Tensor, module_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Vectors (..., S) compared by cosine for recall and the novelty gate (`match_on`). In feature
        mode `module_ids` (default `current`) picks the target network of each sample."""
        lead = self._lead_shape("obs", obs)
        flat = obs.reshape(-1, *self.obs_shape)
        if self.match_on == "feature":
            ids = self._module_ids_for(lead, module_ids).reshape(-1)
            x = self.normaliser(flat)
            out = torch.empty(x.shape[0], self.rnds[0].feature_dim, device=x.device)
            for module_id in ids.unique().tolist():
                mask = (ids == module_id).to(x.device)
                out[mask] = self.rnds[module_id].embed(x[mask])
            return out.reshape(*lead, -1)
        x = flat.float()
        if self.kind == "cnn":
            if self.obs_scale != 1.0:
                size = (max(1, int(x.shape[-2] / self.obs_scale)), max(1, int(x.shape[-1] / self.obs_scale)))
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            x = x.mean(1)
        return x.reshape(*lead, -1)

    # -- fragmentation and recall -----------------------------------------------------------------
    def _record_bank(self) -> torch.Tensor:
        """Unit-norm fracture states (K, S), cached until the records change."""
        if self._bank is None or self._bank[0] != self._records_version:
            bank = torch.stack([r.state for r in self.records]) if self.records else torch.zeros(0, 1)
            self._bank = (self._records_version, F.normalize(bank.float(), dim=-1, eps=1e-8))
        return self._bank[1]

    def _best_matches(self, vectors: torch.Tensor) -> tuple[list[float], list[int]]:
        """Max cosine to the stored fracture states and its record index, per row of vectors (T, S)."""
        if not self.records:
            return [-math.inf] * vectors.shape[0], [-1] * vectors.shape[0]
        bank = self._record_bank().to(vectors.device)
        sims = F.normalize(vectors.float(), dim=-1, eps=1e-8) @ bank.T
        best, index = sims.max(dim=1)
        return best.tolist(), index.tolist()

    @torch.no_grad()
    def observe(self, errors: torch.Tensor, states: torch.Tensor | None = None,
                dones: torch.Tensor | None = None) -> list[dict[str, Any]]:
        """Scan one rollout batch (module docstring): raw errors (T, N) computed with the assignment
        at the start of the batch, the observations `states` (T, N, *obs_shape) (optional in mode
        "rnd"), `dones` (T, N) (optional). Updates the statistics, `current`, `records`, the counts,
        `cos_threshold` and `batch_module_ids`; returns the events, in order, as dicts
        {kind: "fragment" | "recall", t, env, old, new} (+ reinitialised: bool for fragments)."""
        if not isinstance(errors, torch.Tensor) or errors.dim() != 2 or errors.shape[1] != self.num_envs:
            shape = tuple(errors.shape) if isinstance(errors, torch.Tensor) else type(errors).__name__
            raise ValueError(f"errors must be a tensor of shape (T, num_envs={self.num_envs}), got {shape}")
        T = errors.shape[0]
        if not bool(torch.isfinite(errors).all()):
            raise ValueError("errors must be finite, got nan or inf values")
        if dones is None:
            done = [[False] * self.num_envs for _ in range(T)]
        else:
            if tuple(dones.shape) != (T, self.num_envs):
                raise ValueError(f"dones must have shape {(T, self.num_envs)}, got {tuple(dones.shape)}")
            done = dones.bool().tolist()
        fragmenting = self.mode != "rnd"
        recall = self.mode == "far_recall"
        vectors = None
        if states is not None or fragmenting:
            if states is None:
                raise ValueError(f"states (the observations (T, N, *obs_shape)) are needed in mode {self.mode!r}")
            if self._lead_shape("states", states) != (T, self.num_envs):
                raise ValueError(f"states must have shape ({T}, {self.num_envs}, *{self.obs_shape}), "
                                 f"got {tuple(states.shape)}")
        if fragmenting:
            vectors = self.matching_states(states)
            if not self.origin_recorded:
                self.records.append(FractureRecord(vectors[0, 0].clone(), -1, 0))
                self._records_version += 1
                self.origin_recorded = True
            zero = (vectors == 0).all(-1).tolist() if recall else None

        err = errors.detach().double().cpu().tolist()
        start = self.current.tolist()
        current = list(start)
        switched_at: list[int | None] = [None] * self.num_envs
        events: list[dict[str, Any]] = []
        for n in range(self.num_envs):
            module = current[n]
            self.recent_usage[module] = max(self.recent_usage[module], self.clock)
            if self.burn_in[n]:
                self.burn_in[n] = False
                continue
            best, best_k = self._best_matches(vectors[:, n]) if recall else (None, None)
            for t in range(T):
                if done[t][n]:
                    continue
                e = err[t][n]
                if e == self.last_errors[module]:
                    continue
                if recall and best[t] >= self.recall_threshold:
                    target = self.records[best_k[t]].next_id
                    if target != module:
                        self.recent_usage[target] = self.clock + t
                        events.append({"kind": "recall", "t": t, "env": n, "old": module, "new": target})
                        current[n], switched_at[n] = target, t
                        self.recalls += 1
                        break
                self.recent_usage[module] = self.clock + t
                fragmenter = self.fragmenters[module]
                if fragmenting and fragmenter.should_fragment(e):
                    if recall and (best[t] >= self.cos_threshold or zero[t][n]):
                        continue  # novelty gate: neither a fragmentation nor a recorded sample
                    new, reinitialised = self._module_for_fragment(self.clock + t)
                    self.records.append(FractureRecord(vectors[t, n].clone(), module if new != module else -1, new))
                    self._records_version += 1
                    events.append({"kind": "fragment", "t": t, "env": n, "old": module, "new": new,
                                   "reinitialised": reinitialised})
                    current[n], switched_at[n] = new, t
                    self.burn_in[n] = True
                    self.fragmentations += 1
                    break
                fragmenter.record(e)
                self.last_errors[module] = e

        self.current.copy_(torch.tensor(current, dtype=torch.long))
        if self.bonus_lag:
            ids = self.current.expand(T, self.num_envs).clone()
        else:
            ids = torch.tensor(start, dtype=torch.long, device=self._device).expand(T, self.num_envs).clone()
            for n, t in enumerate(switched_at):
                if t is not None:
                    ids[t:, n] = current[n]
        self.batch_module_ids = ids
        self.clock += T
        if fragmenting:
            self.cos_threshold = max(self.cos_threshold_min,
                                     self.cos_threshold - (self.n_modules - 1) * self.cos_decay)
        return events

    # -- training ---------------------------------------------------------------------------------
    def train_step(self, obs: torch.Tensor, module_ids: torch.Tensor) -> dict[str, Any]:
        """One predictor update per module present in `module_ids` (same leading dims as obs), each on
        a random `update_proportion` of its own samples (at least one) with its own optimiser; other
        modules and all targets stay untouched. Returns {"loss": mean error of the used samples,
        "counts": {module id: samples used}, "losses": {module id: loss}}."""
        lead = self._lead_shape("obs", obs)
        if module_ids is None:
            raise ValueError("module_ids must be given to train_step (e.g. batch_module_ids)")
        ids = self._module_ids_for(lead, module_ids).reshape(-1)
        x = self.normaliser(obs.reshape(-1, *self.obs_shape))
        counts: dict[int, int] = {}
        losses: dict[int, float] = {}
        for module_id in ids.unique().tolist():
            index = (ids == module_id).nonzero().squeeze(1)
            keep = torch.rand(index.numel(), generator=self.generator) < self.update_proportion
            if not bool(keep.any()):
                keep[torch.randint(index.numel(), (1,), generator=self.generator)] = True
            chosen = index[keep.to(index.device)].to(x.device)
            loss = self.rnds[module_id].errors(x[chosen]).mean()
            optimizer = self.optimizers[module_id]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            counts[module_id] = int(chosen.numel())
            losses[module_id] = float(loss.detach())
        total = sum(counts.values())
        mean_loss = sum(losses[k] * counts[k] for k in counts) / total if total else 0.0
        return {"loss": mean_loss, "counts": counts, "losses": losses}

    # -- checkpointing ----------------------------------------------------------------------------
    def get_extra_state(self) -> dict[str, Any]:
        """Plain state beside the parameters and buffers (tensors, lists, dicts, numbers, strings,
        None: loadable with torch.load(weights_only=True))."""
        return {
            "version": EXTRA_STATE_VERSION,
            "num_envs": self.num_envs,
            "n_modules": self.n_modules,
            "optimizers": [optimizer.state_dict() for optimizer in self.optimizers],
            "stats": [[f.count, f.mean, f._m2] for f in self.fragmenters],
            "last_errors": list(self.last_errors),
            "recent_usage": list(self.recent_usage),
            "records": [{"state": r.state, "prev_id": r.prev_id, "next_id": r.next_id} for r in self.records],
            "burn_in": list(self.burn_in),
            "fragmentations": self.fragmentations,
            "recalls": self.recalls,
            "cos_threshold": self.cos_threshold,
            "clock": self.clock,
            "origin_recorded": self.origin_recorded,
            "generator": self.generator.get_state(),
        }

    def set_extra_state(self, state: dict[str, Any]) -> None:
        """Restore `get_extra_state`; grows (or shrinks) the module list first, so the parameters of
        every module are then loaded by the usual state-dict recursion."""
        if not isinstance(state, dict) or state.get("version") != EXTRA_STATE_VERSION:
            raise ValueError(f"FARCuriosity extra state must be a dict of version {EXTRA_STATE_VERSION}, "
                             f"got {type(state).__name__}")
        if state["num_envs"] != self.num_envs:
            raise ValueError(f"checkpoint has num_envs={state['num_envs']}, this FARCuriosity {self.num_envs}")
        self.grow_to(int(state["n_modules"]))
        for k in range(self.n_modules):
            self.optimizers[k] = self._new_optimizer(self.rnds[k])
            self.optimizers[k].load_state_dict(state["optimizers"][k])
            fragmenter = self._new_fragmenter()
            fragmenter.count, fragmenter.mean, fragmenter._m2 = (int(state["stats"][k][0]),
                                                                 float(state["stats"][k][1]),
                                                                 float(state["stats"][k][2]))
            self.fragmenters[k] = fragmenter
        self.last_errors = list(state["last_errors"])
        self.recent_usage = [int(u) for u in state["recent_usage"]]
        self.records = [FractureRecord(r["state"].to(self._device), int(r["prev_id"]), int(r["next_id"]))
                        for r in state["records"]]
        self._records_version += 1
        self.burn_in = [bool(b) for b in state["burn_in"]]
        self.fragmentations = int(state["fragmentations"])
        self.recalls = int(state["recalls"])
        self.cos_threshold = float(state["cos_threshold"])
        self.clock = int(state["clock"])
        self.origin_recorded = bool(state["origin_recorded"])
        self.generator.set_state(state["generator"])
        self.batch_module_ids = None

    def extra_repr(self) -> str:
        return (f"obs_shape={self.obs_shape}, num_envs={self.num_envs}, mode={self.mode!r}, "
                f"criterion={self.criterion!r}, threshold={self.threshold:g}, n_modules={self.n_modules}")
