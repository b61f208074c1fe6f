"""FARCuriosity's PPO learner (docs/papers/far_curiosity.md sections 2.6 and 6 B): GAE and the clipped
losses against direct formulas, the actor-critic's shapes, the rollout's episode bookkeeping, short
training runs through a Lightning Trainer (CartPole; rooms4 with FAR + recall and a checkpoint round
trip) and the CI version of benchmarks/far_curiosity_cartpole.py."""

from __future__ import annotations

import csv
import importlib.util
import math
import warnings
from pathlib import Path

import gymnasium
import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from neurobolts.datamodules.far_curiosity.environments import make_vector_env
from neurobolts.datamodules.far_curiosity.rl_env import RLEnvDataModule
from neurobolts.lightning_modules.far_curiosity.module import PPOCuriosity, finished_episodes
from neurobolts.lightning_modules.far_curiosity.ppo import (
    ActorCritic,
    encoder_kind,
    gae,
    ppo_policy_loss,
    value_loss,
)

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "far_curiosity_cartpole.py"
# CI version of the benchmark: seed 0, 30,720 env steps (60 iterations, ~10 s on one thread). Measured
# on seeds 0-5: final return_last20 110-167 (seed 0: 139.8); a random policy scores ~22.
CI_STEPS = 30_720
CI_MIN_RETURN = 90.0
pytestmark = pytest.mark.usefixtures("one_torch_thread")  # a 2-core shared machine: more threads only contend


def _benchmark():
    spec = importlib.util.spec_from_file_location("far_curiosity_cartpole_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _trainer(tmp_path: Path, callbacks=(), logger=False, max_epochs: int = 1, **kwargs) -> L.Trainer:
    return L.Trainer(accelerator="cpu", devices=1, max_epochs=max_epochs, logger=logger, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, callbacks=list(callbacks),
                     default_root_dir=tmp_path, log_every_n_steps=1, **kwargs)


class RecordMetrics(L.Callback):
    """The metrics logged in each iteration."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.rows.append({key: float(value) for key, value in trainer.logged_metrics.items()})


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(does not have many workers|IterableDataset).*")
        yield


# -- GAE and the losses ------------------------------------------------------------------------------
def _gae_loop(rewards, values, dones, next_value, next_done, gamma, lam):
    """GAE written as the textbook recursion, one environment and one step at a time."""
    T, N = rewards.shape
    advantages = np.zeros((T, N))
    for n in range(N):
        last = 0.0
        for t in reversed(range(T)):
            if t == T - 1:
                non_terminal, v_next = 1.0 - next_done[n], next_value[n]
            else:
                non_terminal, v_next = 1.0 - dones[t + 1, n], values[t + 1, n]
            delta = rewards[t, n] + gamma * v_next * non_terminal - values[t, n]
            last = delta + gamma * lam * non_terminal * last
            advantages[t, n] = last
    return advantages, advantages + values


def test_gae_matches_the_recursion_with_episode_ends():
    rng = np.random.default_rng(0)
    T, N = 9, 4
    rewards, values = rng.normal(size=(T, N)), rng.normal(size=(T, N))
    dones = rng.random((T, N)) < 0.3
    next_value, next_done = rng.normal(size=N), np.array([True, False, True, False])
    expected_adv, expected_ret = _gae_loop(rewards, values, dones.astype(float), next_value,
                                           next_done.astype(float), 0.97, 0.9)
    adv, ret = gae(torch.tensor(rewards), torch.tensor(values), torch.tensor(dones), torch.tensor(next_value),
                   torch.tensor(next_done), 0.97, 0.9)
    # float64, a 9-step recursion of O(1) values (elementwise, no reduction, no threads): rounding grows to
    # ~9 x 2^-53 ~ 1e-15 at most; 1e-12 leaves a 1e3 margin on any CPU
    np.testing.assert_allclose(adv.numpy(), expected_adv, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ret.numpy(), expected_ret, rtol=1e-12, atol=1e-12)


def test_gae_edge_cases():
    # lambda = 1, no dones: advantage = discounted return (bootstrapped) - value
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.zeros(3, 1)
    adv, ret = gae(rewards, values, torch.zeros(3, 1), torch.tensor([10.0]), torch.tensor([0.0]), 0.5, 1.0)
    assert torch.allclose(ret[:, 0], torch.tensor([1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 10, 2 + 0.5 * 3 + 0.25 * 10,
                                                   3 + 0.5 * 10]))
    # a done at t + 1 stops the bootstrap: the return at t is its own reward
    adv, ret = gae(rewards, values, torch.tensor([[0.0], [0.0], [1.0]]), torch.tensor([10.0]),
                   torch.tensor([0.0]), 0.5, 1.0)
    assert ret[1, 0] == 2.0 and ret[2, 0] == 3 + 0.5 * 10
    with pytest.raises(ValueError, match="next_value and next_done"):
        gae(rewards, values, torch.zeros(3, 1), torch.zeros(2), torch.zeros(1), 0.9, 0.9)


def test_clipped_policy_loss_equals_the_formula():
    torch.manual_seed(0)
    new, old, advantages = torch.randn(64) * 0.3, torch.randn(64) * 0.3, torch.randn(64)
    clip = 0.2
    ratio = (new - old).exp()
    for normalise in (False, True):
        a = (advantages - advantages.mean()) / (advantages.std() + 1e-8) if normalise else advantages
        expected = -torch.minimum(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a).mean()
        loss, approx_kl, clip_fraction = ppo_policy_loss(new, old, advantages, clip, normalise=normalise)
        assert torch.allclose(loss, expected, atol=1e-6)
    assert torch.allclose(approx_kl, ((ratio - 1) - (new - old)).mean())
    assert clip_fraction == ((ratio - 1).abs() > clip).float().mean()
    # gradients flow through the new log-probabilities only where the ratio is not clipped
    new.requires_grad_(True)
    ppo_policy_loss(new, old, advantages, clip, normalise=False)[0].backward()
    clipped = ((ratio > 1 + clip) & (advantages > 0)) | ((ratio < 1 - clip) & (advantages < 0))
    assert torch.all(new.grad[clipped] == 0) and torch.all(new.grad[~clipped] != 0)


def test_value_loss_plain_and_clipped():
    new, returns, old = torch.tensor([1.0, 0.0, 3.0]), torch.tensor([0.0, 0.0, 0.0]), torch.tensor([0.0, 0.5, 4.0])
    assert value_loss(new, returns) == pytest.approx(0.5 * (1 + 0 + 9) / 3)
    # clipped: V_old + clip(V - V_old, -0.1, 0.1) = [0.1, 0.4, 3.9]; max of squared errors per sample
    expected = 0.5 * (max(1.0, 0.01) + max(0.0, 0.16) + max(9.0, 3.9 ** 2)) / 3
    assert value_loss(new, returns, old, 0.1) == pytest.approx(expected)
    with pytest.raises(ValueError, match="old values"):
        value_loss(new, returns, clip=0.1)


# -- the network ---------------------------------------------------------------------------------------
def test_actor_critic_shapes_encoders_and_dual_values():
    flat = ActorCritic((4,), 2)
    assert flat.kind == "flat" and flat.separate_critic and flat.value_int is None
    action, logprob, entropy, v_ext, v_int, state = flat.get_action_and_value(torch.randn(5, 4))
    assert action.shape == logprob.shape == entropy.shape == v_ext.shape == (5,) and v_int is None
    assert state is None and flat.initial_state(3) is None
    assert isinstance(flat.encoder[1], torch.nn.Linear) and flat.encoder[1].out_features == 64
    assert isinstance(flat.encoder[2], torch.nn.Tanh)
    # CleanRL's initialisation: policy head std 0.01, value head 1
    assert flat.actor.weight.std() < 0.05 and torch.all(flat.actor.bias == 0)

    grid = ActorCritic((7, 7, 3), 4, dual_value=True)
    assert grid.kind == "small_image" and not grid.separate_critic
    obs = torch.randint(0, 256, (6, 7, 7, 3), dtype=torch.uint8)
    v_ext, v_int = grid.get_value(obs)
    assert v_ext.shape == v_int.shape == (6,)
    given = torch.tensor([0, 1, 2, 3, 0, 1])
    _, logprob, _, _, _, _ = grid.get_action_and_value(obs, action=given)
    logits = grid.actor(grid.encoder(obs.float() / 255))
    assert torch.allclose(logprob, torch.log_softmax(logits, -1)[torch.arange(6), given])


def test_actor_critic_conv_lstm_and_state_reset():
    torch.manual_seed(0)
    net = ActorCritic((4, 84, 84), 6, lstm=True, lstm_hidden=32, dual_value=True)
    assert net.kind == "conv" and net.encoder[0][0].out_channels == 16 and net.encoder[1].out_features == 512
    T, N = 3, 2
    obs = torch.randint(0, 256, (T * N, 4, 84, 84), dtype=torch.uint8)
    state = net.initial_state(N)
    assert state[0].shape == state[1].shape == (1, N, 32)
    done = torch.zeros(T * N)
    prev = torch.randint(0, 6, (T * N,))
    action, logprob, _, v_ext, v_int, new_state = net.get_action_and_value(obs, state, done, prev)
    assert action.shape == v_ext.shape == v_int.shape == (T * N,) and new_state[0].shape == (1, N, 32)
    assert not torch.allclose(new_state[0], state[0])
    # a done at the first step resets the state, and the previous action is ignored there
    done_first = torch.ones(N)
    from_noise = net.get_value(obs[:N], (torch.randn(1, N, 32), torch.randn(1, N, 32)), done_first, prev[:N])
    from_zero = net.get_value(obs[:N], net.initial_state(N), done_first, torch.zeros(N, dtype=torch.long))
    assert torch.allclose(from_noise[0], from_zero[0]) and torch.allclose(from_noise[1], from_zero[1])
    with pytest.raises(ValueError, match="needs its state"):
        net.get_value(obs)


@pytest.mark.parametrize("shape", [(5, 5), (3, 10, 10), (64, 64, 3), (1, 2, 3, 4), ()])
def test_unsupported_observation_shapes_fail_clearly(shape):
    with pytest.raises(ValueError, match="obs_shape must be"):
        encoder_kind(shape)
    with pytest.raises(ValueError, match="obs_shape must be"):
        ActorCritic(shape, 2)


def test_bad_arguments_fail_clearly():
    with pytest.raises(ValueError, match="curiosity must be one of"):
        PPOCuriosity(curiosity="icm")
    with pytest.raises(ValueError, match="clip_coef"):
        PPOCuriosity(clip_coef=0)
    with pytest.raises(ValueError, match="lstm must be a bool"):
        PPOCuriosity(lstm="yes")
    with pytest.raises(ValueError, match="separate_critic=True needs lstm=False"):
        PPOCuriosity(lstm=True, separate_critic=True)
    with pytest.raises(ValueError, match=r"unknown FARCuriosity arguments \['treshold'\]"):
        PPOCuriosity(curiosity="far", curiosity_kwargs={"treshold": 5.0})
    with pytest.raises(ValueError, match="unknown FARCuriosity arguments"):
        PPOCuriosity(curiosity="far", curiosity_kwargs={"num_envs": 3})
    with pytest.raises(ValueError, match="num_actions"):
        ActorCritic((4,), 1)
    module = PPOCuriosity(lstm=True, num_minibatches=4)
    with pytest.raises(ValueError, match="multiple of num_minibatches"):
        module.build((4,), 2, num_envs=6)


# -- rollouts ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_rollout_stores_real_transitions_under_either_autoreset_mode(mode):
    """After an episode ends the next stored observation is a reset state (CartPole resets to
    |x| <= 0.05 in every coordinate), and every done step is one finished episode."""
    if mode == "next_step":
        envs = make_vector_env("CartPole-v1", 3, seed=0)  # gymnasium's default: NEXT_STEP
    else:
        envs = gymnasium.vector.SyncVectorEnv(
            [lambda i=i: gymnasium.wrappers.RecordEpisodeStatistics(gymnasium.make("CartPole-v1")) for i in range(3)],
            autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP)
    torch.manual_seed(0)
    module = PPOCuriosity(num_steps=100)
    module.attach_envs(envs)
    module.reset_envs()
    rollout = module.collect_rollout()
    envs.close()
    starts = rollout.dones[1:].bool()
    assert starts.sum() >= 5
    assert rollout.obs[1:][starts].abs().max() <= 0.05
    ended = int(rollout.step_dones().sum())
    assert len(rollout.episode_returns) == ended
    assert all(length == ret for length, ret in zip(rollout.episode_lengths, rollout.episode_returns, strict=True))


def test_finished_episodes_reads_both_info_layouts():
    episode = {"r": np.array([0.0, 15.0]), "l": np.array([0, 15])}
    assert finished_episodes({"episode": episode, "_episode": np.array([False, True])}) == ([15.0], [15.0])
    assert finished_episodes({"final_info": {"episode": episode, "_episode": np.array([False, True])}}) == \
        ([15.0], [15.0])
    assert finished_episodes({}) == ([], [])


# -- training through a Trainer --------------------------------------------------------------------------
def test_short_cartpole_run_logs_per_iteration_and_trains(tmp_path):
    L.seed_everything(0, verbose=False)
    data = RLEnvDataModule("CartPole-v1", num_envs=2, iterations=3, seed=0)
    module = PPOCuriosity(num_steps=32, num_minibatches=2, update_epochs=2)
    record = RecordMetrics()
    trainer = _trainer(tmp_path, [record], logger=CSVLogger(tmp_path, name="csv"))
    before = None

    class Snapshot(L.Callback):
        def on_train_start(self, trainer, pl_module) -> None:
            nonlocal before
            before = [p.detach().clone() for p in pl_module.agent.parameters()]

    trainer.callbacks.append(Snapshot())
    trainer.fit(module, data)
    assert "rollout/episodic_return" in record.rows[0]  # CartPole episodes end within 64 random steps
    assert [row["rollout/env_steps"] for row in record.rows] == [64, 128, 192]
    for key in ("rollout/return_last20", "rollout/steps_per_s", "train/policy_loss", "train/value_loss",
                "train/entropy", "train/approx_kl", "train/lr"):
        assert key in record.rows[-1]
    assert "rollout/intrinsic_reward" not in record.rows[-1]  # curiosity off
    # lr annealed over the 3 iterations; each opt.step is a Lightning global step (module docstring)
    assert [row["train/lr"] for row in record.rows] == pytest.approx([1e-4, 1e-4 * 2 / 3, 1e-4 / 3])
    assert trainer.global_step == 3 * 2 * 2
    after = list(module.agent.parameters())
    assert all(not torch.equal(b, a) for b, a in zip(before, after, strict=True))
    # the logger's step is the iteration
    with open(Path(trainer.logger.log_dir) / "metrics.csv") as handle:
        steps = sorted({int(row["step"]) for row in csv.DictReader(handle)})
    assert steps == [0, 1, 2]
    # the curiosity is never part of the module's parameters
    assert module.curiosity_model is None and all("curiosity" not in n for n, _ in module.named_modules())


def test_max_steps_counts_minibatch_updates(tmp_path):
    """With manual optimisation every opt.step is a global step: max_steps=6 with 4 updates per
    iteration stops after the second iteration, and the lr anneals over those 2 iterations."""
    L.seed_everything(0, verbose=False)
    data = RLEnvDataModule("CartPole-v1", num_envs=2, iterations=10, seed=0)
    module = PPOCuriosity(num_steps=16, num_minibatches=2, update_epochs=2)
    record = RecordMetrics()
    trainer = _trainer(tmp_path, [record], max_steps=6)
    trainer.fit(module, data)
    assert module.iteration == 2 and trainer.global_step == 8 and module.total_iterations == 2
    assert [row["train/lr"] for row in record.rows] == pytest.approx([1e-4, 0.5e-4])


def test_lstm_policy_trains_on_environment_minibatches(tmp_path):
    L.seed_everything(0, verbose=False)
    data = RLEnvDataModule("CartPole-v1", num_envs=4, iterations=2, seed=0)
    module = PPOCuriosity(num_steps=16, num_minibatches=2, update_epochs=1, lstm=True, lstm_hidden=16, hidden=16)
    record = RecordMetrics()
    _trainer(tmp_path, [record]).fit(module, data)
    assert len(record.rows) == 2 and math.isfinite(record.rows[-1]["train/policy_loss"])
    assert module.agent.use_lstm and module._lstm_state[0].shape == (1, 4, 16)


def test_lstm_replay_of_an_environment_minibatch_reproduces_the_rollout():
    """Replaying a minibatch of environments from the rollout's initial state (with the stored dones and
    previous actions) gives back the log-probabilities and values of the rollout: ratio 1 before any update."""
    torch.manual_seed(0)
    module = PPOCuriosity(num_steps=40, num_minibatches=2, lstm=True, lstm_hidden=8, hidden=8)
    envs = make_vector_env("CartPole-v1", 4, seed=0)
    module.attach_envs(envs)
    module.reset_envs()
    module.collect_rollout()  # the second rollout starts mid-episode, from a carried, non-zero state
    rollout = module.collect_rollout()
    envs.close()
    assert rollout.dones.sum() >= 2 and rollout.initial_state[0].abs().sum() > 0
    T, N = rollout.actions.shape
    for idx in module._minibatches(T, N):
        env_ids = idx[:len(idx) // T] % N
        state = (rollout.initial_state[0][:, env_ids], rollout.initial_state[1][:, env_ids])
        with torch.no_grad():
            _, logprob, _, value, _, _ = module.agent.get_action_and_value(
                rollout.obs.flatten(0, 1)[idx], state, rollout.dones.reshape(-1)[idx],
                rollout.prev_actions.reshape(-1)[idx], rollout.actions.reshape(-1)[idx])
        assert torch.allclose(logprob, rollout.logprobs.reshape(-1)[idx], atol=1e-5)
        assert torch.allclose(value, rollout.values_ext.reshape(-1)[idx], atol=1e-5)


def test_rooms4_far_recall_logs_coverage_and_checkpoint_restores_the_curiosity(tmp_path):
    L.seed_everything(0, verbose=False)
    data = RLEnvDataModule("rooms4", num_envs=4, iterations=2, seed=0, env_kwargs={"goal_room": None})
    module = PPOCuriosity(curiosity="far_recall", num_steps=32, num_minibatches=2, update_epochs=2,
                          obs_norm_init_steps=64, curiosity_kwargs={"predictor_width": 32, "mem_size": 8})
    record = RecordMetrics()
    trainer = _trainer(tmp_path, [record])
    trainer.fit(module, data)
    last = record.rows[-1]
    for key in ("rollout/cells_visited", "rollout/intrinsic_reward", "rollout/intrinsic_reward_revisited",
                "curiosity/modules", "curiosity/fragmentations", "curiosity/recalls", "curiosity/predictor_loss"):
        assert key in last, key
    assert 4 <= last["rollout/cells_visited"] <= 4 * 7 * 7 + 4
    assert last["curiosity/modules"] == module.curiosity_model.n_modules
    # the curiosity is a plain attribute: not in the module's state dict, saved beside it
    assert all("curiosity" not in key for key in module.state_dict())
    curiosity = module.curiosity_model
    curiosity.grow_to(3)  # a curiosity that has fragmented (FARCuriosity's own test hook)
    path = tmp_path / "ppo.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True)
    assert "far_curiosity" in checkpoint and checkpoint["ppo_state"]["iteration"] == 2
    restored = PPOCuriosity.load_from_checkpoint(path)
    assert restored.iteration == 2 and restored.visited == module.visited
    assert restored.curiosity_model.n_modules == 3
    saved = curiosity.state_dict()
    for key, value in restored.curiosity_model.state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value.cpu(), saved[key].cpu()), key
    for name, param in restored.agent.state_dict().items():
        assert torch.equal(param, module.agent.state_dict()[name])
    # resuming a fit restores the curiosity and the iteration counter (environments start fresh)
    resumed = PPOCuriosity(**module.hparams)
    record = RecordMetrics()
    _trainer(tmp_path, [record], max_epochs=2).fit(resumed, data, ckpt_path=path)
    assert [row["rollout/env_steps"] for row in record.rows] == [3 * 128, 4 * 128]
    assert resumed.curiosity_model.n_modules == 3 and resumed.iteration == 4


def test_cartpole_benchmark_short_ci_version():
    """benchmarks/far_curiosity_cartpole.py at CI size: curiosity off, CleanRL ppo.py settings."""
    run = _benchmark().run_seed(0, CI_STEPS)
    assert run["env_steps"] == CI_STEPS
    assert run["final_return_last20"] >= CI_MIN_RETURN, run["final_return_last20"]
