"""The neural networks of SPEC 2, built from a model's metadata (no Django).

One CNN torso per model is shared by the policy and value heads (PPO) so a step costs one convolution
pass; SAC shares the torso between its critics and feeds the actor detached features (DrQ style).
Frames stay uint8 until they reach the network, which scales them to [0, 1].
"""

from copy import deepcopy

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Normal

# The sensor and network names are SPEC facts; callers may import them from here too.
from simulator.spec import (  # noqa: F401
    CAMERA_SENSORS,
    DEEP_CNN,
    DEEPEST_CNN,
    DEFAULT_SENSORS,
    LIDAR_SENSORS,
    PPO,
    SAC,
    SHALLOW_CNN,
    NetworkError,
    camera_sensor,
    lidar_sensor,
)

# (out_channels, kernel, stride) per convolution, as SPEC 2 names the networks.
CONV_LAYERS = {
    SHALLOW_CNN: ((32, 8, 4), (64, 4, 2), (64, 3, 1)),
    DEEP_CNN: ((32, 5, 2), (32, 3, 1), (64, 3, 2), (64, 3, 1)),
    DEEPEST_CNN: ((32, 8, 4), (32, 4, 2), (64, 4, 2), (64, 3, 1)),
}
# The SimApp's deep network embeds a stereo pair with the 5-layer stereo embedder instead.
STEREO_CONV_LAYERS = {DEEPEST_CNN: ((32, 3, 1), (64, 3, 2), (64, 3, 1), (128, 3, 2), (128, 3, 1))}
# Batch norm after each convolution (the deep network only, as the SimApp defines it).
BATCH_NORM = {DEEPEST_CNN}
# The dense layers after the convolutions: the 5-layer CNN's own dense 64, and the same 64 units for the
# 3-layer CNN. (512 units there measured half the update speed: 11264x512 weights dominate the backward
# pass and the Adam step, for no gain on a lane-following camera.) The deep network keeps the SimApp's
# dense 512, 512 with dropout 0.5 (off while acting: the agent is in eval mode outside updates).
DENSE_UNITS = {SHALLOW_CNN: (64,), DEEP_CNN: (64,), DEEPEST_CNN: (512, 512)}
DROPOUT = {DEEPEST_CNN: 0.5}
LIDAR_UNITS = {DEEPEST_CNN: (256, 256)}
DEFAULT_LIDAR_UNITS = (64,)
# PPO's continuous policy starts with std ≈ 0.3 of the normalized action range (±9° of steering, ±0.3 m/s on a
# 2-4 m/s range). At 0.6 (-0.5) a fast car's exploration left the road so often that, on re:Invent 2018 at 2-4
# m/s, 2 of 52 iterations' evaluations completed 3/3 laps in 6 minutes; at 0.3, 20 of 41 (bench/fast_lap.py).
LOG_STD_INIT = -1.2
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0  # SAC's learned std stays in a numerically safe band


def _init_layer(layer: nn.Module, gain: float = np.sqrt(2)) -> nn.Module:
    # Orthogonal weights: the initialisation PPO implementations found to matter (CleanRL, SB3).
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def _dense_stack(inputs: int, units, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in units:
        layers += [_init_layer(nn.Linear(inputs, width)), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        inputs = width
    return nn.Sequential(*layers)


class Torso(nn.Module):
    """Camera CNN (plus a LIDAR embedder when the vehicle has one) -> one feature vector."""

    def __init__(self, network: str, obs_space: gym.spaces.Dict, sensors):
        super().__init__()
        if network not in CONV_LAYERS:
            raise NetworkError(f"unknown neural_network {network!r}; expected one of {sorted(CONV_LAYERS)}")
        self.camera = camera_sensor(sensors)
        self.lidar = lidar_sensor(sensors)
        for name in (self.camera, self.lidar):
            if name is not None and name not in obs_space.spaces:
                raise NetworkError(f"the observation space has no {name!r} entry (has {list(obs_space.spaces)})")
        channels = obs_space[self.camera].shape[0]
        convolutions = CONV_LAYERS[network]
        if self.camera == "STEREO_CAMERAS":
            convolutions = STEREO_CONV_LAYERS.get(network, convolutions)
        layers: list[nn.Module] = []
        for out_channels, kernel, stride in convolutions:
            layers.append(_init_layer(nn.Conv2d(channels, out_channels, kernel, stride)))
            if network in BATCH_NORM:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU())
            channels = out_channels
        # channels_last lets oneDNN pick its fastest convolutions on CPU (measured 2.6x on the update).
        self.cnn = nn.Sequential(*layers, nn.Flatten()).to(memory_format=torch.channels_last)
        with torch.no_grad():
            flat = self.cnn.eval()(torch.zeros(1, *obs_space[self.camera].shape)).shape[1]
        self.lidar_embed = None
        if self.lidar is not None:
            units = LIDAR_UNITS.get(network, DEFAULT_LIDAR_UNITS)
            self.lidar_embed = _dense_stack(obs_space[self.lidar].shape[0], units, 0.0)
            flat += units[-1]
        self.dense = _dense_stack(flat, DENSE_UNITS[network], DROPOUT.get(network, 0.0))
        self.out_features = DENSE_UNITS[network][-1]
        self.lidar_scale = float(obs_space[self.lidar].high.max()) if self.lidar else 1.0
        self.bfloat16 = False  # set by use_bfloat16(); not a weight: checkpoints and exports ignore it
        # [key, copy, tensors]: the layers with their weights already in bfloat16, for acting (see _layers).
        # A list, so that nn.Module does not register it: state dicts, .to() and exports ignore it.
        self._acting_copy: list = [None, None, None]

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        device = obs[self.camera].device.type
        cnn, lidar_embed, dense = self._layers()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=self.bfloat16):
            # Under autocast the first convolution takes bfloat16: scaling in bfloat16 gives the same
            # values as scaling in float32 and casting (0-255 are exact, the division rounds once) for
            # half the memory traffic.
            frames = obs[self.camera].to(torch.bfloat16 if self.bfloat16 else torch.float32).div_(255.0)
            features = cnn(frames.contiguous(memory_format=torch.channels_last))
            if lidar_embed is not None:
                ranges = obs[self.lidar].float() / self.lidar_scale
                features = torch.cat([features, lidar_embed(ranges)], dim=1)
            features = dense(features)
        # The heads, log-probabilities and losses stay float32 (PPO's ratios need the precision).
        return features.float()

    def _layers(self) -> tuple:
        """The layers to run: these, or while acting in bfloat16 a copy whose convolution and dense
        weights are bfloat16 already. Autocast would cast the same weights to the same bfloat16 values
        on every forward pass: on the batch of 1 or 2 observations an env step acts on, those casts
        (the 720,000 dense weights above all) measured ~15% of the step's inference CPU. The copy is
        refreshed whenever a weight changed (an optimizer step, a loaded checkpoint, a move)."""
        own = (self.cnn, self.lidar_embed, self.dense)
        if not self.bfloat16 or self.training or torch.is_grad_enabled():
            return own
        if self._acting_copy[2] is None:  # the same tensor objects for life (.to() and loads change them in place)
            self._acting_copy[2] = [*self.parameters(), *self.buffers()]
        key = tuple((t.data_ptr(), t._version) for t in self._acting_copy[2])
        if self._acting_copy[0] != key:
            with torch.inference_mode(False), torch.no_grad():  # ordinary tensors, whatever mode acts
                copy = _bfloat16_copy(nn.ModuleList([m for m in own if m is not None]))
            layers = iter(copy)
            self._acting_copy[:2] = key, tuple(next(layers) if m is not None else None for m in own)
        return self._acting_copy[1]


def _bfloat16_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with the weights of its convolutions and dense layers in bfloat16 (those
    autocast runs in bfloat16); batch norm keeps its float32 parameters and statistics, as under autocast."""
    copy = deepcopy(module)
    for part in copy.modules():
        if isinstance(part, (nn.Conv2d, nn.Linear)):
            part.to(torch.bfloat16)
    return copy


def bfloat16_available(device: torch.device | str) -> bool:
    """Whether the CPU multiplies bfloat16 in hardware (AMX / AVX-512 BF16), where it pays off."""
    return torch.device(device).type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def use_bfloat16(module: nn.Module, enabled: bool) -> None:
    """Run the CNN torsos of ``module`` in bfloat16 autocast (weights and optimizer stay float32).

    On a CPU with AMX the 3-layer CNN's update measured 1,460-1,660 samples per CPU second against
    820-840 in float32 (bench/learner_throughput.py); the policy's features then differ from float32's
    by bfloat16 rounding, far below PPO's clipping range."""
    for part in module.modules():
        if isinstance(part, Torso):
            part.bfloat16 = enabled


class ActionScaler:
    """Maps a continuous Box of [steering deg, speed m/s] to and from the network's [-1, 1] range."""

    def __init__(self, space: gym.spaces.Box):
        self.low = torch.as_tensor(space.low, dtype=torch.float32)
        self.high = torch.as_tensor(space.high, dtype=torch.float32)

    def to_env(self, normalized: torch.Tensor) -> torch.Tensor:
        low, high = self.low.to(normalized.device), self.high.to(normalized.device)
        return low + (normalized.clamp(-1.0, 1.0) + 1.0) * 0.5 * (high - low)


class PPOAgent(nn.Module):
    """Shared torso, a policy head (categorical or diagonal Gaussian) and a value head."""

    def __init__(self, network: str, sensors, obs_space: gym.spaces.Dict, action_space: gym.Space):
        super().__init__()
        self.torso = Torso(network, obs_space, sensors)
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        width = self.torso.out_features
        if self.discrete:
            self.policy = _init_layer(nn.Linear(width, int(action_space.n)), gain=0.01)
        else:
            self.policy = _init_layer(nn.Linear(width, action_space.shape[0]), gain=0.01)
            self.log_std = nn.Parameter(torch.full((action_space.shape[0],), LOG_STD_INIT))
            self.scaler = ActionScaler(action_space)
        self.value = _init_layer(nn.Linear(width, 1), gain=1.0)

    @property
    def action_count(self) -> int:
        return self.policy.out_features

    def distribution(self, features: torch.Tensor):
        # No argument validation: its checks measured ~7% of an env step's inference, and a policy that
        # diverged to NaN still fails at the sampling (multinomial refuses NaN probabilities).
        out = self.policy(features)
        if self.discrete:
            return Categorical(logits=out, validate_args=False)
        return Normal(out, self.log_std.exp().expand_as(out), validate_args=False)

    def forward(self, obs):
        """Distribution and value for a batch of observations."""
        features = self.torso(obs)
        return self.distribution(features), self.value(features).squeeze(-1)

    def env_action(self, action: torch.Tensor) -> np.ndarray:
        """The network's action as the env takes it (index, or [steering, speed] clipped into the Box)."""
        if self.discrete:
            return action.cpu().numpy()
        return self.scaler.to_env(action).cpu().numpy()

    def deterministic(self, obs) -> torch.Tensor:
        out = self.policy(self.torso(obs))
        return out.argmax(-1) if self.discrete else out


class SACActor(nn.Module):
    """Tanh-squashed Gaussian policy over the normalized action range, on (detached) torso features."""

    def __init__(self, width: int, action_size: int):
        super().__init__()
        self.net = nn.Sequential(_init_layer(nn.Linear(width, 256)), nn.ReLU())
        self.mean = _init_layer(nn.Linear(256, action_size), gain=0.01)
        self.log_std = _init_layer(nn.Linear(256, action_size), gain=0.01)

    def forward(self, features: torch.Tensor):
        hidden = self.net(features)
        log_std = self.log_std(hidden).clamp(LOG_STD_MIN, LOG_STD_MAX)
        return self.mean(hidden), log_std

    def sample(self, features: torch.Tensor):
        """A reparameterised action in [-1, 1] and its log-probability (tanh change of variables)."""
        mean, log_std = self(features)
        raw = Normal(mean, log_std.exp()).rsample()
        action = torch.tanh(raw)
        log_prob = Normal(mean, log_std.exp()).log_prob(raw) - torch.log1p(-action.pow(2) + 1e-6)
        return action, log_prob.sum(-1)


class TwinQ(nn.Module):
    def __init__(self, width: int, action_size: int):
        super().__init__()
        self.q1 = nn.Sequential(_init_layer(nn.Linear(width + action_size, 256)), nn.ReLU(), nn.Linear(256, 1))
        self.q2 = nn.Sequential(_init_layer(nn.Linear(width + action_size, 256)), nn.ReLU(), nn.Linear(256, 1))

    def forward(self, features: torch.Tensor, action: torch.Tensor):
        joined = torch.cat([features, action], dim=-1)
        return self.q1(joined).squeeze(-1), self.q2(joined).squeeze(-1)


class SACAgent(nn.Module):
    """Torso trained by the critics, an actor on detached features, and twin Q heads."""

    def __init__(self, network: str, sensors, obs_space: gym.spaces.Dict, action_space: gym.Space):
        super().__init__()
        if not isinstance(action_space, gym.spaces.Box):
            raise NetworkError("SAC needs a continuous action space")
        self.torso = Torso(network, obs_space, sensors)
        size = action_space.shape[0]
        self.actor = SACActor(self.torso.out_features, size)
        self.critic = TwinQ(self.torso.out_features, size)
        self.scaler = ActionScaler(action_space)
        self.discrete = False

    @property
    def action_count(self) -> int:
        return self.actor.mean.out_features

    def act(self, obs, deterministic: bool = False) -> torch.Tensor:
        features = self.torso(obs)
        if deterministic:
            return torch.tanh(self.actor(features)[0])
        return self.actor.sample(features)[0]

    def env_action(self, action: torch.Tensor) -> np.ndarray:
        return self.scaler.to_env(action).cpu().numpy()

    def deterministic(self, obs) -> torch.Tensor:
        return self.act(obs, deterministic=True)


def build_agent(metadata: dict, obs_space: gym.spaces.Dict, action_space: gym.Space) -> nn.Module:
    """The agent a model's metadata describes: PPO (clipped_ppo) or SAC, on the SPEC 2 network."""
    network = metadata.get("neural_network", SHALLOW_CNN)
    sensors = metadata.get("sensor", list(DEFAULT_SENSORS))
    algorithm = metadata.get("training_algorithm", PPO)
    # In eval mode: it acts with batch norm's running statistics and no dropout; the learners switch it
    # to train mode for their updates only.
    if algorithm == PPO:
        return PPOAgent(network, sensors, obs_space, action_space).eval()
    if algorithm == SAC:
        return SACAgent(network, sensors, obs_space, action_space).eval()
    raise NetworkError(f"unknown training_algorithm {algorithm!r}; expected 'clipped_ppo' or 'sac'")


def obs_to_tensors(obs: dict[str, np.ndarray], device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """A batch of observations (arrays with a leading batch axis) as tensors, keeping their dtype."""
    return {name: torch.as_tensor(value, device=device) for name, value in obs.items()}


class PolicyExport(nn.Module):
    """What a car runs: sensors in (camera uint8), action out (probabilities, or [steering, speed])."""

    def __init__(self, agent: nn.Module, sensor_names: list[str]):
        super().__init__()
        self.agent = agent
        self.sensor_names = sensor_names

    def forward(self, *inputs):
        obs = dict(zip(self.sensor_names, inputs, strict=True))
        if getattr(self.agent, "discrete", False):
            return torch.softmax(self.agent.policy(self.agent.torso(obs)), dim=-1)
        return self.agent.scaler.to_env(self.agent.deterministic(obs))
