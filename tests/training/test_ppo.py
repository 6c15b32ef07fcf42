import gymnasium as gym
import numpy as np
import pytest
import torch

from training.artifacts import observation_space
from training.networks import build_agent
from training.ppo import Episode, Hyperparameters, PPOConfig, PPOLearner, episode_advantages

CAMERA = observation_space(["FRONT_FACING_CAMERA"])


def _reference_gae(rewards, values, bootstrap, gamma, lam):
    advantages, running = np.zeros(len(rewards)), 0.0
    for t in reversed(range(len(rewards))):
        next_value = values[t + 1] if t + 1 < len(rewards) else bootstrap
        running = rewards[t] + gamma * next_value - values[t] + gamma * lam * running
        advantages[t] = running
    return advantages


def test_it_computes_gae_as_the_textbook_loop_does():
    rng = np.random.default_rng(0)
    rewards, values = rng.normal(size=50), rng.normal(size=50)
    advantages, returns = episode_advantages(rewards, values, 0.7, 0.999, 0.95)
    assert np.allclose(advantages, _reference_gae(rewards, values, 0.7, 0.999, 0.95), atol=1e-5)
    assert np.allclose(returns, advantages + values, atol=1e-5)


def _sides(count, rng):
    """Camera frames lit on the left or the right half: the bandit's context."""
    side = rng.integers(0, 2, count)
    frames = np.zeros((count, 1, 120, 160), np.uint8)
    frames[side == 0, :, :, :80] = 255
    frames[side == 1, :, :, 80:] = 255
    return frames, side


def _one_step_episodes(frames, actions, rewards, log_probs, values):
    return [Episode(obs={"FRONT_FACING_CAMERA": frames[i:i + 1]}, final_obs={"FRONT_FACING_CAMERA": frames[i:i + 1]},
                    actions=actions[i:i + 1], rewards=rewards[i:i + 1].astype(np.float32),
                    log_probs=log_probs[i:i + 1], values=values[i:i + 1], terminated=True)
            for i in range(len(frames))]


def _learn_bandit(action_space, reward_of, updates):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    agent = build_agent({}, CAMERA, action_space)
    learner = PPOLearner(agent, PPOConfig(batch_size=32, num_epochs=4, lr=2e-3, beta_entropy=0.0))
    for _ in range(updates):
        frames, side = _sides(64, rng)
        action, log_prob, value = learner.act({"FRONT_FACING_CAMERA": torch.as_tensor(frames)})
        rewards = reward_of(agent.env_action(action), side)
        learner.learn(_one_step_episodes(frames, action.numpy(), rewards, log_prob.numpy(), value.numpy()))
    frames, side = _sides(64, rng)
    action, _, _ = learner.act({"FRONT_FACING_CAMERA": torch.as_tensor(frames)}, deterministic=True)
    return reward_of(agent.env_action(action), side)


def test_it_learns_to_read_the_camera_with_discrete_actions():
    # action 0 is right for a frame lit on the left, action 1 for one lit on the right
    rewards = _learn_bandit(gym.spaces.Discrete(3), lambda action, side: (action == side).astype(float),
                            updates=3)
    assert rewards.mean() > 0.9


def test_it_learns_to_read_the_camera_with_continuous_actions():
    box = gym.spaces.Box(np.array([-30.0, 0.5], np.float32), np.array([30.0, 1.0], np.float32))

    def reward_of(action, side):  # steer +20 degrees for the left side, -20 for the right
        return -np.abs(action[:, 0] - np.where(side == 0, 20.0, -20.0)) / 30.0

    assert reward_of(np.zeros((64, 2)), np.zeros(64)).mean() < -0.6
    assert _learn_bandit(box, reward_of, updates=10).mean() > -0.3


def test_it_bootstraps_only_episodes_cut_by_the_step_cap():
    agent = build_agent({}, CAMERA, gym.spaces.Discrete(2))
    learner = PPOLearner(agent, PPOConfig(discount_factor=0.5, gae_lambda=1.0))
    frames = np.zeros((2, 1, 120, 160), np.uint8)
    zeros = np.zeros(2, np.float32)
    cut, ended = (_one_step_episodes(frames, np.zeros(2, np.int64), zeros, zeros, zeros)[0] for _ in range(2))
    cut.terminated = False
    batch = learner.batch([cut, ended])
    final_value = learner.value({"FRONT_FACING_CAMERA": torch.as_tensor(frames[:1])}).item()
    assert batch.returns[0].item() == pytest.approx(0.5 * final_value, abs=1e-5)
    assert batch.returns[1].item() == 0.0


def test_it_ends_the_update_early_when_asked_to_stop():
    agent = build_agent({}, CAMERA, gym.spaces.Discrete(2))
    learner = PPOLearner(agent, PPOConfig(batch_size=32, num_epochs=10))
    frames, _ = _sides(64, np.random.default_rng(1))
    action, log_prob, value = learner.act({"FRONT_FACING_CAMERA": torch.as_tensor(frames)})
    episodes = _one_step_episodes(frames, action.numpy(), np.ones(64), log_prob.numpy(), value.numpy())
    asked = []
    learner.learn(episodes, keep_going=lambda: asked.append(1) or len(asked) < 3)
    assert len(asked) == 3  # 20 minibatches were planned


def _minibatches_run(config: PPOConfig) -> tuple[int, float]:
    """How many minibatch steps one update of 64 one-step episodes made, and the epochs it reported."""
    torch.manual_seed(0)
    learner = PPOLearner(build_agent({}, CAMERA, gym.spaces.Discrete(2)), config)
    frames, side = _sides(64, np.random.default_rng(2))
    action, log_prob, value = learner.act({"FRONT_FACING_CAMERA": torch.as_tensor(frames)})
    rewards = (action.numpy() == side).astype(np.float32)
    asked = []
    stats = learner.learn(_one_step_episodes(frames, action.numpy(), rewards, log_prob.numpy(), value.numpy()),
                          keep_going=lambda: asked.append(1) or True)
    return len(asked), stats["losses/epochs"]


def test_it_ends_the_update_after_the_epoch_that_drifts_past_target_kl():
    fast = {"batch_size": 32, "num_epochs": 10, "lr": 1e-2}
    assert _minibatches_run(PPOConfig(**fast, target_kl=None)) == (20, 10)  # 2 minibatches x 10 epochs
    assert _minibatches_run(PPOConfig(**fast, target_kl=0.0)) == (2, 1)  # any move passes 0: one epoch
    # A policy that barely moves stays under the default target: every epoch runs.
    assert PPOConfig().target_kl == 0.02
    assert _minibatches_run(PPOConfig(batch_size=32, num_epochs=10, lr=1e-8)) == (20, 10)


def test_it_reads_deepracer_hyperparameters_and_ignores_legacy_keys():
    config = PPOConfig.from_dict({"batch_size": 128, "lr": 0.001, "loss_type": "mean squared error",
                                  "exploration_type": "categorical", "e_greedy_value": 0.05})
    assert (config.batch_size, config.lr, config.loss_type) == (128, 0.001, "mean squared error")
    assert config.num_epochs == 10 and config.clip_coef == 0.2 and config.gae_lambda == 0.95
    assert config.adam_epsilon == 1e-5
    written = config.to_dict()
    assert written["exploration_type"] == "categorical" and "clip_coef" not in written


@pytest.mark.parametrize("values, message", [
    ({"batch_size": 0}, "batch_size"),
    ({"lr": "fast"}, "lr must be a number"),
    ({"num_epochs": 2.5}, "whole number"),
    ({"discount_factor": 1.5}, "discount_factor"),
    ({"loss_type": "l1"}, "loss_type"),
    ({"learning_rate": 0.1}, "unknown hyperparameters: learning_rate"),
])
def test_it_refuses_bad_hyperparameters_by_name(values, message):
    with pytest.raises(ValueError, match=message):
        Hyperparameters.from_dict(values)


def test_it_learns_on_rewards_scaled_to_unit_returns_whatever_the_reward_scale():
    frames = np.zeros((50, 1, 120, 160), np.uint8)
    zeros = np.zeros(50, np.float32)

    def targets(reward):
        learner = PPOLearner(build_agent({}, CAMERA, gym.spaces.Discrete(2)), PPOConfig())
        episode = Episode(obs={"FRONT_FACING_CAMERA": frames}, final_obs={"FRONT_FACING_CAMERA": frames[:1]},
                          actions=np.zeros(50, np.int64), rewards=np.full(50, reward, np.float32),
                          log_probs=zeros, values=zeros, terminated=True)
        return learner.batch([episode]).returns.numpy()

    small, large = targets(1.0), targets(1000.0)
    assert np.allclose(small, large, rtol=1e-3)
    assert 0.5 < np.abs(small).max() < 10.0
    assert not PPOConfig(normalize_rewards=False).normalize_rewards
