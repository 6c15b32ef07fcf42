import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from training.artifacts import observation_space
from training.networks import (
    DEEP_CNN,
    DEEPEST_CNN,
    SHALLOW_CNN,
    NetworkError,
    PPOAgent,
    SACAgent,
    build_agent,
    use_bfloat16,
)

DISCRETE = gym.spaces.Discrete(10)
CONTINUOUS = gym.spaces.Box(np.array([-30.0, 0.5], np.float32), np.array([30.0, 2.0], np.float32))


def _convolutions(agent):
    return [(m.out_channels, m.kernel_size[0], m.stride[0]) for m in agent.torso.cnn if isinstance(m, nn.Conv2d)]


def _batch(space, size=3):
    return {name: torch.as_tensor(np.stack([sub.sample() for _ in range(size)])) for name, sub in space.items()}


def test_it_builds_the_3_layer_cnn_as_spec_2_names_it():
    agent = build_agent({"neural_network": SHALLOW_CNN}, observation_space(["FRONT_FACING_CAMERA"]), DISCRETE)
    assert _convolutions(agent) == [(32, 8, 4), (64, 4, 2), (64, 3, 1)]


def test_it_builds_the_5_layer_cnn_with_its_dense_64():
    agent = build_agent({"neural_network": DEEP_CNN}, observation_space(["FRONT_FACING_CAMERA"]), DISCRETE)
    assert _convolutions(agent) == [(32, 5, 2), (32, 3, 1), (64, 3, 2), (64, 3, 1)]
    assert agent.torso.out_features == 64


def test_it_builds_the_simapps_deep_network_with_batch_norm_dense_512_and_dropout():
    space = observation_space(["FRONT_FACING_CAMERA"])
    agent = build_agent({"neural_network": DEEPEST_CNN}, space, gym.spaces.Discrete(14))
    assert _convolutions(agent) == [(32, 8, 4), (32, 4, 2), (64, 4, 2), (64, 3, 1)]
    assert [m.num_features for m in agent.torso.cnn if isinstance(m, nn.BatchNorm2d)] == [32, 32, 64, 64]
    assert [m.out_features for m in agent.torso.dense if isinstance(m, nn.Linear)] == [512, 512]
    assert [m.p for m in agent.torso.dense if isinstance(m, nn.Dropout)] == [0.5, 0.5]
    assert agent.torso.out_features == 512 and agent.action_count == 14


def test_it_acts_deterministically_with_the_deep_network_until_a_learner_trains_it():
    space = observation_space(["FRONT_FACING_CAMERA"])
    torch.manual_seed(0)
    agent = build_agent({"neural_network": DEEPEST_CNN}, space, DISCRETE)
    batch = _batch(space)
    assert not agent.training  # dropout off, batch norm on its running statistics while acting
    with torch.no_grad():
        assert torch.equal(agent.deterministic(batch), agent.deterministic(batch))
        first = agent(batch)[1]
        assert torch.equal(first, agent(batch)[1])


@pytest.mark.parametrize(("network", "sensors"), [
    (SHALLOW_CNN, ["FRONT_FACING_CAMERA", "LIDAR"]),
    (DEEPEST_CNN, ["FRONT_FACING_CAMERA"]),  # batch norm: its statistics change in training too
])
def test_it_acts_in_bfloat16_on_weights_cast_once_with_exactly_autocasts_result(network, sensors):
    space = observation_space(sensors)
    torch.manual_seed(0)
    agent = build_agent({"neural_network": network, "sensor": sensors}, space, DISCRETE)
    use_bfloat16(agent, True)
    batch = _batch(space)
    keys = set(agent.state_dict())

    def autocast_features():  # with gradients on, the torso casts its own float32 weights as it goes
        with torch.enable_grad():
            return agent.torso(batch).detach()

    def acting_features():
        with torch.inference_mode():
            return agent.torso(batch)

    before = acting_features()
    assert torch.equal(before, autocast_features())
    agent.train()  # one optimizer step: the cast copy must follow the new weights
    optimizer = torch.optim.Adam(agent.parameters(), lr=1e-2)
    agent(batch)[1].sum().backward()
    optimizer.step()
    agent.eval()
    after = acting_features()
    assert not torch.equal(after, before)
    assert torch.equal(after, autocast_features())
    with torch.no_grad():  # a loaded checkpoint changes the weights in place too
        agent.load_state_dict({name: value * 0.5 if value.is_floating_point() else value
                               for name, value in agent.state_dict().items()})
    assert torch.equal(acting_features(), autocast_features())
    assert set(agent.state_dict()) == keys  # the copy is no weight: checkpoints do not see it


def test_in_bfloat16_it_scales_frames_to_exactly_what_float32_scaling_then_autocast_gives():
    space = observation_space(["FRONT_FACING_CAMERA"])
    torch.manual_seed(0)
    agent = build_agent({"neural_network": SHALLOW_CNN}, space, DISCRETE)
    use_bfloat16(agent, True)
    frames = torch.arange(256, dtype=torch.uint8).repeat(75).reshape(1, 1, 120, 160)  # every value
    with torch.no_grad():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            scaled = (frames.float() / 255.0).contiguous(memory_format=torch.channels_last)
            expected = agent.torso.dense(agent.torso.cnn(scaled)).float()
        with torch.enable_grad():
            assert torch.equal(agent.torso({"FRONT_FACING_CAMERA": frames}).detach(), expected)


def test_it_embeds_stereo_with_the_5_layer_embedder_in_the_deep_network():
    space = observation_space(["STEREO_CAMERAS"])
    agent = build_agent({"neural_network": DEEPEST_CNN, "sensor": ["STEREO_CAMERAS"]}, space, DISCRETE)
    assert _convolutions(agent) == [(32, 3, 1), (64, 3, 2), (64, 3, 1), (128, 3, 2), (128, 3, 1)]
    assert agent.torso.cnn[0].in_channels == 2


def test_it_shares_one_torso_between_policy_and_value():
    space = observation_space(["FRONT_FACING_CAMERA"])
    agent = build_agent({}, space, DISCRETE)
    dist, value = agent(_batch(space))
    assert dist.logits.shape == (3, 10) and value.shape == (3,)
    assert isinstance(agent, PPOAgent) and agent.action_count == 10


def test_it_takes_uint8_frames_and_scales_them_itself():
    space = observation_space(["FRONT_FACING_CAMERA"])
    agent = build_agent({}, space, DISCRETE)
    white = {"FRONT_FACING_CAMERA": torch.full((1, 1, 120, 160), 255, dtype=torch.uint8)}
    as_float = agent.torso.cnn(torch.ones(1, 1, 120, 160))
    assert torch.allclose(agent.torso.cnn(white["FRONT_FACING_CAMERA"].float() / 255), as_float)
    assert white["FRONT_FACING_CAMERA"].dtype == torch.uint8  # the network did not scale it in place


def test_it_takes_two_channels_from_stereo_cameras():
    space = observation_space(["STEREO_CAMERAS"])
    agent = build_agent({"sensor": ["STEREO_CAMERAS"]}, space, DISCRETE)
    assert agent.torso.cnn[0].in_channels == 2
    assert agent(_batch(space))[1].shape == (3,)


@pytest.mark.parametrize("lidar", ["LIDAR", "SECTOR_LIDAR"])
def test_it_fuses_lidar_when_the_vehicle_has_it(lidar):
    sensors = ["FRONT_FACING_CAMERA", lidar]
    space = observation_space(sensors)
    agent = build_agent({"sensor": sensors}, space, DISCRETE)
    batch = _batch(space, 1)
    changed = dict(batch, **{lidar: torch.as_tensor(space[lidar].high[None])})
    assert not torch.allclose(agent.torso(batch), agent.torso(changed))


def test_it_gives_ppo_a_gaussian_over_the_normalized_continuous_range():
    space = observation_space(["FRONT_FACING_CAMERA"])
    agent = build_agent({}, space, CONTINUOUS)
    dist, _ = agent(_batch(space))
    assert dist.mean.shape == (3, 2)
    env = agent.env_action(torch.tensor([[-5.0, 5.0], [0.0, 0.0]]))
    assert np.allclose(env, [[-30.0, 2.0], [0.0, 1.25]])


def test_it_builds_sac_with_a_squashed_actor_and_twin_critics():
    space = observation_space(["FRONT_FACING_CAMERA"])
    agent = build_agent({"training_algorithm": "sac"}, space, CONTINUOUS)
    assert isinstance(agent, SACAgent)
    action = agent.act(_batch(space))
    assert action.shape == (3, 2) and action.abs().max() <= 1.0


@pytest.mark.parametrize("metadata, sensors, action_space, message", [
    ({"neural_network": "RESNET"}, ["FRONT_FACING_CAMERA"], DISCRETE, "unknown neural_network"),
    ({"sensor": ["LIDAR"]}, ["LIDAR"], DISCRETE, "exactly one camera"),
    ({"sensor": ["FRONT_FACING_CAMERA", "STEREO_CAMERAS"]}, ["FRONT_FACING_CAMERA", "STEREO_CAMERAS"], DISCRETE,
     "exactly one camera"),
    ({"training_algorithm": "sac"}, ["FRONT_FACING_CAMERA"], DISCRETE, "continuous"),
    ({"training_algorithm": "dqn"}, ["FRONT_FACING_CAMERA"], DISCRETE, "training_algorithm"),
])
def test_it_refuses_what_it_cannot_build_with_a_clear_message(metadata, sensors, action_space, message):
    with pytest.raises(NetworkError, match=message):
        build_agent(metadata, observation_space(sensors), action_space)
