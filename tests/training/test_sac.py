import gymnasium as gym
import numpy as np
import pytest
import torch

from training.artifacts import observation_space
from training.networks import build_agent
from training.ppo import Episode
from training.sac import ReplayBuffer, SACConfig, SACLearner

CAMERA = observation_space(["FRONT_FACING_CAMERA"])
BOX = gym.spaces.Box(np.array([-30.0, 0.5], np.float32), np.array([30.0, 1.0], np.float32))


def _episode(length, terminated=True, start=0):
    frames = (np.arange(start, start + length + 1, dtype=np.uint8)[:, None, None, None]
              * np.ones((1, 1, 120, 160), np.uint8))
    return Episode(obs={"FRONT_FACING_CAMERA": frames[:-1]}, final_obs={"FRONT_FACING_CAMERA": frames[-1:]},
                   actions=np.zeros((length, 2), np.float32), rewards=np.arange(length, dtype=np.float32),
                   log_probs=np.zeros(length, np.float32), values=np.zeros(length, np.float32),
                   terminated=terminated)


def test_it_replays_next_observations_and_ends_only_terminated_episodes():
    buffer = ReplayBuffer(capacity=10)
    buffer.add(_episode(3, terminated=True))
    buffer.add(_episode(2, terminated=False, start=50))
    obs, following = buffer.arrays["obs/FRONT_FACING_CAMERA"], buffer.arrays["next/FRONT_FACING_CAMERA"]
    assert [int(f[0, 0, 0]) for f in obs[:5]] == [0, 1, 2, 50, 51]
    assert [int(f[0, 0, 0]) for f in following[:5]] == [1, 2, 3, 51, 52]
    assert buffer.arrays["dones"][:5].tolist() == [0, 0, 1, 0, 0]  # a step-cap cut still bootstraps
    assert obs.dtype == np.uint8


def test_it_wraps_around_when_the_buffer_is_full():
    buffer = ReplayBuffer(capacity=4)
    buffer.add(_episode(3))
    buffer.add(_episode(3, start=10))
    assert buffer.size == 4 and buffer.cursor == 2
    assert [int(f[0, 0, 0]) for f in buffer.arrays["obs/FRONT_FACING_CAMERA"]] == [11, 12, 2, 10]


def test_it_learns_to_read_the_camera():
    # One-step episodes: steer +20 degrees when the left half of the frame is lit, -20 when the right is.
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    agent = build_agent({"training_algorithm": "sac"}, CAMERA, BOX)
    learner = SACLearner(agent, SACConfig(batch_size=32, num_epochs=4, lr=2e-3, sac_alpha=0.01), seed=0)

    def frames_and_targets(count):
        side = rng.integers(0, 2, count)
        frames = np.zeros((count, 1, 120, 160), np.uint8)
        frames[side == 0, :, :, :80] = 255
        frames[side == 1, :, :, 80:] = 255
        return frames, np.where(side == 0, 20.0, -20.0)

    for _ in range(6):
        frames, targets = frames_and_targets(48)
        action, _, _ = learner.act({"FRONT_FACING_CAMERA": torch.as_tensor(frames)})
        rewards = -np.abs(agent.env_action(action)[:, 0] - targets) / 30.0
        learner.learn([Episode(obs={"FRONT_FACING_CAMERA": frames[i:i + 1]},
                               final_obs={"FRONT_FACING_CAMERA": frames[i:i + 1]},
                               actions=action[i:i + 1].numpy(), rewards=rewards[i:i + 1].astype(np.float32),
                               log_probs=np.zeros(1, np.float32), values=np.zeros(1, np.float32), terminated=True)
                       for i in range(48)])
    frames, targets = frames_and_targets(64)
    action, _, _ = learner.act({"FRONT_FACING_CAMERA": torch.as_tensor(frames)}, deterministic=True)
    error = np.abs(agent.env_action(action)[:, 0] - targets).mean()
    assert error < 10.0  # degrees; a policy that ignores the camera is 20 off


def test_it_takes_gradient_steps_in_proportion_to_new_samples_and_epochs():
    learner = SACLearner(build_agent({"training_algorithm": "sac"}, CAMERA, BOX), SACConfig(batch_size=32, num_epochs=2))
    calls = []
    learner.learn([_episode(40)], keep_going=lambda: calls.append(1) or True)
    assert len(calls) == 3  # ceil(40 * 2 / 32)


def test_it_restores_its_state_and_clones_weights_only():
    config = SACConfig(batch_size=32, num_epochs=1)
    learner = SACLearner(build_agent({"training_algorithm": "sac"}, CAMERA, BOX), config)
    learner.learn([_episode(32)])
    clone = SACLearner(build_agent({"training_algorithm": "sac"}, CAMERA, BOX), config)
    clone.load_state_dict(learner.state_dict(), weights_only=True)
    for ours, theirs in zip(clone.agent.parameters(), learner.agent.parameters(), strict=True):
        assert torch.equal(ours, theirs)
    assert torch.equal(clone.target["critic"].q1[0].weight, learner.agent.critic.q1[0].weight)


def test_it_defaults_to_one_episode_between_updates():
    assert SACConfig().num_episodes_between_training == 1
    assert SACConfig.from_dict({"sac_alpha": 0.5}).sac_alpha == 0.5
    with pytest.raises(ValueError, match="sac_alpha"):
        SACConfig(sac_alpha=-1)
