"""FARCuriosity core (lightning_modules/far_curiosity/rnd.py, far.py): the oracles 7.1-7.8 of
docs/papers/far_curiosity.md, defect 5.2 (feature matching), bad inputs, checkpoints and the cnn kind."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from gymnasium.wrappers.utils import RunningMeanStd as GymRunningMeanStd

from neurobolts.lightning_modules.far_curiosity import (
    RND,
    FARCuriosity,
    IntrinsicRewardNormaliser,
    RunningMeanStd,
    rnd_kind,
)

torch.set_num_threads(1)
D = 16  # flat observation size of the small test modules


def make(mode: str = "far", num_envs: int = 1, **kwargs) -> FARCuriosity:
    return FARCuriosity((D,), num_envs, mode, predictor_width=kwargs.pop("predictor_width", 32),
                        feature_dim=kwargs.pop("feature_dim", 16), **kwargs)


def basis(i: int, scale: float = 1.0) -> torch.Tensor:
    v = torch.zeros(D)
    v[i] = scale
    return v


def warm_errors(n: int, spread: float = 1e-3) -> list[float]:
    """n distinct errors near 1.0 with mean exactly ~1.0 (symmetric offsets)."""
    return [1.0 + spread * (k - (n - 1) / 2) for k in range(n)]


def batch(errors_per_env: list[list[float]], states_per_env: list[list[torch.Tensor]] | None = None):
    """errors (T, N) and states (T, N, D) from per-env lists (states default: basis vector 1)."""
    errors = torch.tensor(errors_per_env, dtype=torch.float32).T.contiguous()
    T, N = errors.shape
    if states_per_env is None:
        states = basis(1).expand(T, N, D).clone()
    else:
        states = torch.stack([torch.stack(s) for s in states_per_env], dim=1)
    return errors, states


def burn_in(far: FARCuriosity, origin: torch.Tensor | None = None) -> None:
    """The first observe call skips every env (initial burn-in) and stores the origin record."""
    state = basis(0) if origin is None else origin
    assert far.observe(torch.ones(1, far.num_envs), state.expand(1, far.num_envs, D).clone()) == []


def observe(far: FARCuriosity, errors_per_env, states_per_env=None):
    return far.observe(*batch(errors_per_env, states_per_env))


def fragment_env0(far: FARCuriosity, scale: float = 1.0):
    """25 warm-up errors near `scale` then 10.5 x scale on env 0 (other envs: steady errors); returns
    the events."""
    n = far.num_envs
    errors = [[e * scale for e in warm_errors(25)] + [10.5 * scale]]
    errors += [[2.0 + 1e-3 * k + 0.1 * j for k in range(26)] for j in range(1, n)]
    return observe(far, errors)


# -- oracle 7.1: ratio rule -----------------------------------------------------------------------
def test_ratio_rule_fragments_at_10_5_not_at_9_5():
    far = make()
    burn_in(far)
    events = observe(far, [warm_errors(25) + [10.5]])
    assert [(e["kind"], e["t"], e["old"], e["new"]) for e in events] == [("fragment", 25, 0, 1)]
    assert far.n_modules == 2 and far.current.tolist() == [1] and far.fragmentations == 1

    far = make()
    burn_in(far)
    assert observe(far, [warm_errors(25) + [9.5]]) == []
    assert far.n_modules == 1 and far.fragmenters[0].count == 26


def test_no_fragmentation_before_25_samples():
    far = make()
    burn_in(far)
    # a huge error at every position before the 25th recorded sample never fragments
    errors = warm_errors(10) + [100.0] + warm_errors(13, spread=2e-3) + [50.0]
    assert len(errors) == 25
    assert observe(far, [errors]) == []
    assert far.fragmenters[0].count == 25
    # now 25 samples are recorded: the next surprising error fragments (25 * mean ~ 200 > 10 * mean)
    assert [e["t"] for e in observe(far, [[1000.0]])] == [0]


# -- oracle 7.2: z rule -----------------------------------------------------------------------------
@pytest.mark.parametrize("factor, expected", [(1 + 1e-6, True), (1 - 1e-6, False), (0.5, False), (3.0, True)])
def test_z_rule_uses_sample_std(factor, expected):
    history = np.random.default_rng(0).uniform(0.5, 1.5, 30)
    mu, sigma = history.mean(), history.std(ddof=1)
    far = make(criterion="z")
    assert far.threshold == 2.0
    burn_in(far)
    e = mu + 2.0 * sigma * factor
    events = observe(far, [list(history) + [e]])
    assert (len(events) == 1) is expected


# -- oracle 7.3: guards ---------------------------------------------------------------------------
def test_burn_in_skips_the_next_batch_of_a_fragmented_env_only():
    far = make(num_envs=2)
    burn_in(far)
    events = fragment_env0(far)
    assert [(e["env"], e["new"]) for e in events] == [(0, 1)]
    count0 = far.fragmenters[0].count
    # next batch: env 0 (now on module 1) is skipped entirely; env 1 (module 0) is scanned
    observe(far, [warm_errors(30, spread=1e-2), [3.0 + 1e-3 * k for k in range(30)]])
    assert far.fragmenters[1].count == 0
    assert far.fragmenters[0].count == count0 + 30
    # the batch after: env 0 is scanned again and feeds module 1
    observe(far, [warm_errors(30, spread=1e-2), [4.0 + 1e-3 * k for k in range(30)]])
    assert far.fragmenters[1].count == 30


def test_at_most_one_fragmentation_per_env_per_batch():
    far = make(num_envs=2)
    burn_in(far)
    # env 0 records 25 warm-up errors first (envs are scanned in order, statistics are merged), then
    # both envs see several errors that each would fragment module 0
    env0 = warm_errors(25) + [10.5, 11.0, 12.0, 13.0]
    env1 = [20.0, 21.0, 22.0, 23.0] + [1.0 + 1e-4 * k for k in range(25)]
    events = observe(far, [env0, env1])
    assert [(e["env"], e["t"]) for e in events] == [(0, 25), (1, 0)]
    assert far.n_modules == 3 and far.current.tolist() == [1, 2]
    # the samples after each env's fragmentation were recorded nowhere
    assert far.fragmenters[0].count == 25 and far.fragmenters[1].count == 0 and far.fragmenters[2].count == 0


def test_no_fragmentation_while_std_is_tiny():
    far = make()
    burn_in(far)
    flat = [0.01 + 1e-8 * (k - 12) for k in range(25)]  # distinct in float32; sample std ~ 7e-8 <= 1e-6
    assert observe(far, [flat]) == []
    assert far.fragmenters[0].count == 25 and far.fragmenters[0].std <= 1e-6
    assert observe(far, [[0.105]]) == []  # 0.105 >= 10 x mean, but the std is too small


def test_repeated_identical_error_is_ignored():
    far = make()
    burn_in(far)
    doubled = [e for e in warm_errors(24) for _ in range(2)]  # 48 samples, 24 distinct
    assert observe(far, [doubled + [10.5]]) == []  # only 24 recorded before 10.5: no decision
    assert far.fragmenters[0].count == 25
    # a repeat of the last recorded error (10.5) is skipped too
    observe(far, [[10.5, 10.5]])
    assert far.fragmenters[0].count == 25


# -- oracle 7.4: novelty gate and the cos_threshold schedule -----------------------------------------
def test_novelty_gate_blocks_fragmentation_near_a_stored_fracture_state():
    far = make("far_recall")
    burn_in(far, origin=basis(0))  # origin record: state e_0
    warm_states = [basis(1)] * 25
    # similar to e_0 (cosine 0.8 >= 0.75): gated, and the gated sample is not recorded
    near = basis(0) * 0.8 + basis(2) * 0.6
    assert observe(far, [warm_errors(25) + [10.5]], [warm_states + [near]]) == []
    assert far.fragmenters[0].count == 25
    # an all-zero observation is gated too
    assert observe(far, [[10.6]], [[torch.zeros(D)]]) == []
    assert far.fragmenters[0].count == 25
    # cosine 0.6 < 0.75: fragments
    far_state = basis(0) * 0.6 + basis(2) * 0.8
    events = observe(far, [[10.7]], [[far_state]])
    assert [e["kind"] for e in events] == ["fragment"]
    assert torch.equal(far.records[-1].state, far_state)


def test_cos_threshold_schedule():
    far = make("far_recall")
    delta = (0.75 - 0.5) / 800
    assert math.isclose(far.cos_decay, 3.125e-4)
    history = [far.cos_threshold]
    for _ in range(3):  # one module: unchanged
        burn_in(far)
        history.append(far.cos_threshold)
    assert history == [0.75] * 4
    far.grow_to(3)
    burn_in(far)
    assert math.isclose(far.cos_threshold, 0.75 - 2 * delta)

    far = make("far_recall", mem_size=8)
    far.grow_to(8)
    values = [far.cos_threshold]
    for _ in range(4):
        burn_in(far)
        values.append(far.cos_threshold)
    assert math.isclose(values[1], 0.75 - 7 * 0.25 / 8)
    assert all(b <= a for a, b in zip(values, values[1:], strict=False))
    assert min(values) == 0.5 and values[-1] == 0.5


# -- oracle 7.5: recall -----------------------------------------------------------------------------
def test_recall_switches_to_the_next_id_of_the_matched_record():
    far = make("far_recall")
    burn_in(far, origin=basis(0))
    fracture = basis(2)
    events = observe(far, [warm_errors(25) + [10.5]], [[basis(1)] * 25 + [fracture]])
    assert [(e["kind"], e["new"]) for e in events] == [("fragment", 1)]
    observe(far, [[5.0]], [[basis(3)]])  # burn-in batch
    # back at the origin state (cosine 1 >= 0.99 to the origin record, next_id 0): recall module 0
    n_modules = far.n_modules
    events = observe(far, [[1.5, 1.6]], [[basis(3), basis(0, 2.0)]])
    assert [(e["kind"], e["t"], e["old"], e["new"]) for e in events] == [("recall", 1, 1, 0)]
    assert far.current.tolist() == [0] and far.n_modules == n_modules and far.recalls == 1
    # at the fracture state: recall records[k].next_id
    k = next(i for i, r in enumerate(far.records) if torch.equal(r.state, fracture))
    events = observe(far, [[1.7]], [[fracture * 3.0]])
    assert [(e["kind"], e["new"]) for e in events] == [("recall", far.records[k].next_id)]
    assert far.current.tolist() == [1] and far.n_modules == n_modules and far.recalls == 2


def test_recall_checks_fractures_created_earlier_in_the_same_batch():
    far = make("far_recall", num_envs=2)
    burn_in(far, origin=basis(0))
    fracture = basis(2)
    env0 = (warm_errors(25) + [10.5], [basis(1)] * 25 + [fracture])
    env1 = ([2.0 + 1e-3 * k for k in range(26)], [basis(3)] * 25 + [fracture * 0.5])
    events = observe(far, [env0[0], env1[0]], [env0[1], env1[1]])
    assert [(e["kind"], e["env"], e["new"]) for e in events] == [("fragment", 0, 1), ("recall", 1, 1)]
    assert far.current.tolist() == [1, 1] and far.n_modules == 2


# -- oracle 7.6: isolation, and new modules are optimised (defect 5.1) ------------------------------------
def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers (the extra state of FARCuriosity left out)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items() if isinstance(v, torch.Tensor)}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_after_a_switch_changes_only_the_new_predictor():
    far = make(num_envs=2, lr=1e-2)
    burn_in(far)
    fragment_env0(far)
    assert far.current.tolist() == [1, 0]
    obs = torch.randn(64, D)
    far.update_obs_stats(obs)
    before = [snapshot(r) for r in far.rnds]
    loss0 = far.errors(obs, torch.ones(64, dtype=torch.long)).mean()
    result = far.train_step(obs, torch.ones(64, dtype=torch.long))
    assert list(result["counts"]) == [1] and 1 <= result["counts"][1] <= 64
    after = [snapshot(r) for r in far.rnds]
    assert same(before[0], after[0])  # module A bit-identical
    assert same(snapshot(far.rnds[1].target), {k[len("target."):]: v for k, v in before[1].items()
                                                if k.startswith("target.")})
    assert not same(snapshot(far.rnds[1].predictor), {k[len("predictor."):]: v for k, v in before[1].items()
                                                       if k.startswith("predictor.")})
    for _ in range(20):
        far.train_step(obs, torch.ones(64, dtype=torch.long))
    assert far.errors(obs, torch.ones(64, dtype=torch.long)).mean() < loss0  # B learns
    # and a step on module 0 leaves module 1 alone
    before = snapshot(far.rnds[1])
    far.train_step(obs, torch.zeros(64, dtype=torch.long))
    assert same(before, snapshot(far.rnds[1]))


def test_train_step_groups_mixed_batches_by_module():
    far = make(num_envs=2, update_proportion=1.0)
    far.grow_to(3)
    ids = torch.tensor([0, 2, 2, 0, 2])
    result = far.train_step(torch.randn(5, D), ids)
    assert result["counts"] == {0: 2, 2: 3}
    assert far.optimizers[1].state == {}  # module 1 had no samples: never stepped
    targets = [snapshot(r.target) for r in far.rnds]
    far.train_step(torch.randn(5, D), ids)
    assert all(same(t, snapshot(r.target)) for t, r in zip(targets, far.rnds, strict=True))


# -- oracle 7.7: LRU replacement with mem_size = 2 -------------------------------------------------------
def test_lru_replacement_with_mem_size_2():
    far = make(mem_size=2)
    burn_in(far)
    assert [(r.prev_id, r.next_id) for r in far.records] == [(-1, 0)]  # the origin record
    assert fragment_env0(far)[0]["new"] == 1  # 1st: a new module
    observe(far, [[7.0]])  # burn-in batch
    events = fragment_env0(far, scale=1.5)  # 2nd: module 0 is the LRU -> re-initialised
    assert [(e["old"], e["new"], e["reinitialised"]) for e in events] == [(1, 0, True)]
    assert [(r.prev_id, r.next_id) for r in far.records] == [(-1, 1), (1, 0)]
    observe(far, [[7.5]])
    before = snapshot(far.rnds[1])
    far.train_step(torch.randn(8, D), torch.ones(8, dtype=torch.long))
    assert far.optimizers[1].state != {}
    events = fragment_env0(far, scale=2.0)  # 3rd: module 1 is the LRU -> re-initialised
    assert [(e["old"], e["new"], e["reinitialised"]) for e in events] == [(0, 1, True)]
    assert far.n_modules == 2 and far.fragmentations == 3
    # records pointing to 1 are gone; records from 1 have prev -1; the new record goes 0 -> 1
    assert [(r.prev_id, r.next_id) for r in far.records] == [(-1, 0), (0, 1)]
    after = snapshot(far.rnds[1])
    assert not torch.equal(before["target.0.weight"], after["target.0.weight"])  # new target
    assert not torch.equal(before["predictor.0.weight"], after["predictor.0.weight"])
    assert far.fragmenters[1].count == 0 and far.optimizers[1].state == {}


# -- oracle 7.8: intrinsic reward normalisation -------------------------------------------------------------
def reference_normalise(batches, gamma=0.99):
    """Independent numpy version of the convention in rnd.py, with gymnasium's RunningMeanStd."""
    rms = GymRunningMeanStd(shape=())
    returns = None
    out = []
    for raw, dones in batches:
        T, N = raw.shape
        returns = np.zeros(N) if returns is None else returns
        filtered = []
        for t in range(T):
            returns = np.where(dones[t], returns, gamma * returns + raw[t])
            filtered.append(returns.copy())
        filtered = np.array(filtered)
        rms.update(filtered[~dones])
        out.append(np.where(dones, 0.0, raw / np.sqrt(rms.var)))
    return out


def test_intrinsic_reward_normalisation():
    rng = np.random.default_rng(1)
    batches = [(rng.uniform(0, 2, (16, 3)), rng.uniform(size=(16, 3)) < 0.2) for _ in range(3)]
    expected = reference_normalise(batches)
    normaliser = IntrinsicRewardNormaliser(num_envs=3)
    for (raw, dones), want in zip(batches, expected, strict=True):
        got = normaliser(torch.tensor(raw), torch.tensor(dones))
        # float64 on both sides (48 samples: forward filter, running variance, one sqrt and a division);
        # rounding of that chain is ~1e-15 relative whatever the CPU: 1e-10 leaves a 1e5 margin
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)
        assert (got[torch.tensor(dones)] == 0).all()
    # the same through FARCuriosity (float32 errors)
    far = make(num_envs=3)
    raw, dones = batches[0]
    got = far.normalise_rewards(torch.tensor(raw, dtype=torch.float32), torch.tensor(dones))
    np.testing.assert_allclose(got.numpy(), expected[0], rtol=1e-5)


def test_running_mean_std_matches_gymnasium():
    ours, theirs = RunningMeanStd((3,)), GymRunningMeanStd(shape=(3,))
    rng = np.random.default_rng(2)
    for n in (5, 1, 40):
        x = rng.normal(2.0, 3.0, (n, 3))
        ours.update(torch.tensor(x))
        theirs.update(x)
    # the same parallel-moments update in float64, three batches: only the operation order differs
    # (torch vs numpy), ~1e-16 relative per update; 1e-12 is a 1e3+ margin on any IEEE-754 CPU
    np.testing.assert_allclose(ours.mean.numpy(), theirs.mean, rtol=1e-12)
    np.testing.assert_allclose(ours.var.numpy(), theirs.var, rtol=1e-12)
    assert math.isclose(float(ours.count), theirs.count)
    assert set(ours.state_dict()) == {"mean", "var", "count"}


def test_observations_are_whitened_and_clipped():
    far = make()
    obs = torch.randn(500, D) * 3.0 + 7.0
    far.update_obs_stats(obs)
    x = far.normaliser(obs)
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1.0) < 0.05
    assert float(far.normaliser(obs * 100).abs().max()) == 5.0


# -- defect 5.2: feature matching compares different feature spaces ------------------------------------------
def test_feature_matching_mixes_embeddings_of_different_targets():
    far = make("far_recall", match_on="feature")
    far.grow_to(2)
    obs = torch.randn(4, D)
    a = far.matching_states(obs, torch.zeros(4, dtype=torch.long))
    b = far.matching_states(obs, torch.ones(4, dtype=torch.long))
    cosine = torch.nn.functional.cosine_similarity(a, b, dim=-1)
    assert (cosine < 0.99).all()  # the same observation would not be recognised after a switch
    default = make("far_recall")
    default.grow_to(2)
    assert torch.equal(default.matching_states(obs, torch.zeros(4, dtype=torch.long)),
                       default.matching_states(obs, torch.ones(4, dtype=torch.long)))


def test_image_matching_state_averages_frames_and_rescales():
    far = FARCuriosity((4, 84, 84), 1, "far_recall", obs_scale=2.0)
    obs = torch.rand(3, 4, 84, 84)
    assert far.matching_states(obs).shape == (3, 42 * 42)
    far = FARCuriosity((4, 84, 84), 1, "far_recall")
    torch.testing.assert_close(far.matching_states(obs), obs.mean(1).reshape(3, -1))


# -- bonus lag (defect 5.4) -----------------------------------------------------------------------------------
@pytest.mark.parametrize("bonus_lag", [True, False])
def test_batch_module_ids(bonus_lag):
    far = make(num_envs=2, bonus_lag=bonus_lag)
    burn_in(far)
    fragment_env0(far)
    ids = far.batch_module_ids
    assert ids.shape == (26, 2) and (ids[:, 1] == 0).all()
    if bonus_lag:
        assert (ids[:, 0] == 1).all()
    else:
        assert (ids[:25, 0] == 0).all() and ids[25, 0] == 1


# -- bad inputs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "foo"}, "curiosity mode must be one of ('rnd', 'far', 'far_recall'), got 'foo'"),
    ({"mem_size": 0}, "mem_size must be an integer >= 1, got 0"),
    ({"threshold": 0.5}, "threshold must be a finite number > 1 for criterion 'ratio', got 0.5"),
    ({"criterion": "z", "threshold": 0.0}, "threshold must be a finite number > 0 for criterion 'z'"),
    ({"criterion": "zz"}, "criterion must be one of ('ratio', 'z')"),
    ({"recall_threshold": 0.0}, "recall_threshold must be"),
    ({"recall_threshold": 1.5}, "recall_threshold must be"),
    ({"cos_threshold": 0.6, "cos_threshold_min": 0.7}, "cos_threshold_min must be a number in [0, cos_threshold"),
    ({"cos_threshold": 1.2}, "cos_threshold must be"),
    ({"update_proportion": 0.0}, "update_proportion must be"),
    ({"match_on": "pixels"}, "match_on must be one of ('observation', 'feature')"),
    ({"obs_scale": 2.0}, "obs_scale must be 1.0 for flat observations"),
    ({"num_envs": 0}, "num_envs must be an integer >= 1"),
    ({"min_history": 0}, "min_history must be an integer >= 1"),
    ({"lr": -1.0}, "lr must be a finite number > 0"),
    ({"bonus_lag": 1}, "bonus_lag must be a bool"),
])
def test_bad_arguments(kwargs, message):
    args = {"obs_shape": (D,), "num_envs": 1, **kwargs}
    with pytest.raises(ValueError) as info:
        FARCuriosity(**args)
    assert message in str(info.value)


@pytest.mark.parametrize("shape", [(3, 10, 10), (4, 84, 80), (2, 84), (4, 1, 84, 84), ()])
def test_unusable_observation_shapes(shape):
    with pytest.raises(ValueError, match="obs_shape"):
        FARCuriosity(shape, 1)
    with pytest.raises(ValueError, match="obs_shape"):
        RND(shape)


def test_bad_call_inputs():
    far = make(num_envs=2)
    with pytest.raises(ValueError, match="obs must be a tensor of shape"):
        far.errors(torch.randn(2, D + 1))
    with pytest.raises(ValueError, match=r"module_ids must be in \[0, 0\]"):
        far.errors(torch.randn(2, D), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="errors must be a tensor of shape"):
        far.observe(torch.ones(4, 3), torch.zeros(4, 3, D))
    with pytest.raises(ValueError, match="states"):
        far.observe(torch.ones(4, 2))
    with pytest.raises(ValueError, match="finite"):
        far.observe(torch.full((4, 2), math.nan), torch.zeros(4, 2, D))
    assert rnd_kind((np.int64(5),)) == "mlp" and rnd_kind([4, 84, 84]) == "cnn"


# -- checkpoints ---------------------------------------------------------------------------------------
def test_checkpoint_round_trip_with_three_modules():
    far = make("far_recall", num_envs=2)
    burn_in(far)
    steady = [3.0 + 1e-3 * k for k in range(26)]
    events = observe(far, [warm_errors(25) + [10.5], steady], [[basis(1)] * 25 + [basis(2)], [basis(3)] * 26])
    events += observe(far, [[7.0], [7.1]], [[basis(3)], [basis(3)]])
    events += observe(far, [warm_errors(25) + [10.5], [s + 1 for s in steady]],
                      [[basis(5)] * 25 + [basis(4)], [basis(6)] * 26])
    assert [(e["kind"], e["new"]) for e in events] == [("fragment", 1), ("fragment", 2)]
    assert far.n_modules == 3 and far.current.tolist() == [2, 0]
    obs = torch.randn(12, D)
    far.update_obs_stats(obs)
    ids = torch.tensor([0, 1, 2] * 4)
    far.train_step(obs, ids)

    buffer = io.BytesIO()
    torch.save(far.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    fresh = make("far_recall", num_envs=2)
    fresh.load_state_dict(state)

    assert fresh.n_modules == 3
    torch.testing.assert_close(fresh.errors(obs, ids), far.errors(obs, ids), rtol=0, atol=0)
    assert fresh.current.tolist() == far.current.tolist()
    assert [(r.prev_id, r.next_id) for r in fresh.records] == [(r.prev_id, r.next_id) for r in far.records]
    assert all(torch.equal(a.state, b.state) for a, b in zip(fresh.records, far.records, strict=True))
    assert (fresh.fragmentations, fresh.recalls, fresh.cos_threshold, fresh.burn_in, fresh.clock) == \
        (far.fragmentations, far.recalls, far.cos_threshold, far.burn_in, far.clock)
    assert [(f.count, f.mean, f.std) for f in fresh.fragmenters] == [(f.count, f.mean, f.std) for f in far.fragmenters]
    # optimiser states and the generator came back too: the next step is identical
    far.train_step(obs, ids)
    fresh.train_step(obs, ids)
    assert same(snapshot(far), snapshot(fresh))


# -- the cnn kind ---------------------------------------------------------------------------------------
def test_cnn_kind_forward_backward():
    rnd = RND((4, 84, 84))
    assert rnd.kind == "cnn" and rnd.feature_dim == 512 and rnd.input_shape == (1, 84, 84)
    assert not any(p.requires_grad for p in rnd.target.parameters())
    x = torch.randn(2, 1, 84, 84)
    errors = rnd.errors(x)
    assert errors.shape == (2,)
    errors.mean().backward()
    assert all(p.grad is not None for p in rnd.predictor.parameters())
    assert all(p.grad is None for p in rnd.target.parameters())
    # orthogonal init with gain sqrt(2): W^T W = 2 I for the (512 x 512) hidden layer
    w = rnd.predictor[-3].weight
    torch.testing.assert_close(w.T @ w, 2 * torch.eye(512), atol=1e-4, rtol=0)

    far = FARCuriosity((4, 84, 84), num_envs=2, mode="far")
    obs = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    far.update_obs_stats(obs)
    assert far.errors(obs).shape == (2,)
    before = snapshot(far.rnds[0].predictor)
    result = far.train_step(obs, torch.zeros(2, dtype=torch.long))
    assert result["counts"][0] >= 1 and math.isfinite(result["loss"])
    assert not same(before, snapshot(far.rnds[0].predictor))


def test_mlp_kind_sizes():
    rnd = RND((147,))
    assert [m.weight.shape for m in rnd.target if hasattr(m, "weight")] == [(64, 147)]
    assert [tuple(m.weight.shape) for m in rnd.predictor if hasattr(m, "weight")] == [(128, 147), (128, 128), (64, 128)]
