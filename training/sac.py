"""Soft actor-critic for continuous action spaces, with DeepRacer's hyperparameters (no Django).

After each iteration's episodes (``num_episodes_between_training``, 1 by default for SAC) the learner
takes ``ceil(new_steps * num_epochs / batch_size)`` gradient steps on minibatches of ``batch_size`` drawn
from a replay buffer, so that, as in PPO, every new sample is seen about ``num_epochs`` times.
``sac_alpha`` is the fixed entropy temperature; ``loss_type`` is the critics' regression loss.
"""

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training.networks import bfloat16_available, use_bfloat16
from training.ppo import Episode, Hyperparameters


@dataclass
class SACConfig(Hyperparameters):
    """SAC: the racer's hyperparameters plus fixed internals."""

    num_episodes_between_training: int = 1
    """whole episodes collected per iteration (DeepRacer's SAC default is 1)"""
    tau: float = 0.005
    """Polyak factor of the target critic"""
    buffer_size: int = 10_000
    """replay capacity in transitions (uint8 frames: ~0.4 GB for one camera at the default)"""
    adam_epsilon: float = 1e-5
    """Adam epsilon"""

    def internals(self) -> dict:
        return {"tau": self.tau, "buffer_size": self.buffer_size, "adam_epsilon": self.adam_epsilon}


class ReplayBuffer:
    """Fixed-size ring of transitions; observations keep their dtype (uint8 frames stay uint8)."""

    def __init__(self, capacity: int):
        self.capacity, self.size, self.cursor = capacity, 0, 0
        self.arrays: dict[str, np.ndarray] | None = None

    def _allocate(self, episode: Episode):
        def like(value, shape=()):
            return np.empty((self.capacity, *shape), dtype=value.dtype)

        self.arrays = {"actions": like(episode.actions, episode.actions.shape[1:]),
                       "rewards": np.empty(self.capacity, np.float32),
                       "dones": np.empty(self.capacity, np.float32)}
        for name, value in episode.obs.items():
            self.arrays["obs/" + name] = like(value, value.shape[1:])
            self.arrays["next/" + name] = like(value, value.shape[1:])

    def add(self, episode: Episode) -> None:
        if self.arrays is None:
            self._allocate(episode)
        length = len(episode)
        dones = np.zeros(length, np.float32)
        dones[-1] = float(episode.terminated)  # a step-cap cut still bootstraps
        fields = {"actions": episode.actions, "rewards": episode.rewards, "dones": dones}
        for name, value in episode.obs.items():
            fields["obs/" + name] = value
            fields["next/" + name] = np.concatenate([value[1:], episode.final_obs[name]])
        positions = (self.cursor + np.arange(length)) % self.capacity
        for key, value in fields.items():
            self.arrays[key][positions] = value
        self.cursor = int((self.cursor + length) % self.capacity)
        self.size = min(self.capacity, self.size + length)

    def sample(self, count: int, rng: np.random.Generator, device) -> dict[str, torch.Tensor]:
        index = rng.integers(0, self.size, size=count)
        return {key: torch.as_tensor(array[index], device=device) for key, array in self.arrays.items()}


def _split(sample: dict, prefix: str) -> dict:
    return {key[len(prefix):]: value for key, value in sample.items() if key.startswith(prefix)}


class SACLearner:
    """Acts (stochastic or deterministic) and learns from an iteration's episodes via the replay buffer."""

    def __init__(self, agent, config: SACConfig, device="cpu", seed: int = 0, bfloat16: bool | None = None):
        """``bfloat16``: the CNN in bfloat16 autocast, as in PPOLearner (None = where the CPU has it)."""
        self.agent = agent.to(device)
        self.config = config
        self.device = torch.device(device)
        use_bfloat16(agent, bfloat16_available(self.device) if bfloat16 is None else bfloat16)
        self.target = copy.deepcopy(nn.ModuleDict({"torso": agent.torso, "critic": agent.critic})).eval()
        self.target.requires_grad_(False)
        critic_params = [*agent.torso.parameters(), *agent.critic.parameters()]
        self.critic_optimizer = torch.optim.Adam(critic_params, lr=config.lr, eps=config.adam_epsilon)
        self.actor_optimizer = torch.optim.Adam(agent.actor.parameters(), lr=config.lr, eps=config.adam_epsilon)
        self.buffer = ReplayBuffer(config.buffer_size)
        self.rng = np.random.default_rng(seed)

    @torch.inference_mode()
    def act(self, obs: dict[str, torch.Tensor], deterministic: bool = False):
        """Actions in [-1, 1] (no log-probabilities or values: SAC does not need them at collection)."""
        return self.agent.act(obs, deterministic), None, None

    def learn(self, episodes: list[Episode], keep_going=None) -> dict[str, float]:
        for episode in episodes:
            self.buffer.add(episode)
        new_steps = sum(len(e) for e in episodes)
        steps = math.ceil(new_steps * self.config.num_epochs / self.config.batch_size)
        stats = {"losses/qf_loss": [], "losses/actor_loss": [], "losses/entropy": []}
        self.agent.train()
        for _ in range(steps):
            if keep_going is not None and not keep_going():
                break
            self._step(stats)
        self.agent.eval()
        return {name: float(np.mean(values)) if values else 0.0 for name, values in stats.items()}

    def _step(self, stats: dict) -> None:
        config, agent = self.config, self.agent
        sample = self.buffer.sample(config.batch_size, self.rng, self.device)
        obs, next_obs = _split(sample, "obs/"), _split(sample, "next/")
        with torch.no_grad():
            next_action, next_log_prob = agent.actor.sample(agent.torso(next_obs))
            q1_next, q2_next = self.target["critic"](self.target["torso"](next_obs), next_action)
            soft_value = torch.min(q1_next, q2_next) - config.sac_alpha * next_log_prob
            target = sample["rewards"] + config.discount_factor * (1.0 - sample["dones"]) * soft_value
        features = agent.torso(obs)
        q1, q2 = agent.critic(features, sample["actions"])
        regression = F.smooth_l1_loss if config.loss_type == "huber" else F.mse_loss
        critic_loss = regression(q1, target) + regression(q2, target)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()

        # The actor learns on detached features: the torso is shaped by the critics only (DrQ).
        features = features.detach()
        action, log_prob = agent.actor.sample(features)
        q1_pi, q2_pi = agent.critic(features, action)
        actor_loss = (config.sac_alpha * log_prob - torch.min(q1_pi, q2_pi)).mean()
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optimizer.step()

        with torch.no_grad():
            online = [*agent.torso.parameters(), *agent.critic.parameters()]
            torch._foreach_lerp_(list(self.target.parameters()), online, config.tau)
        stats["losses/qf_loss"].append(critic_loss.item())
        stats["losses/actor_loss"].append(actor_loss.item())
        stats["losses/entropy"].append(-log_prob.mean().item())

    def load_torso(self, torso_state: dict) -> None:
        """A clone from another algorithm: the CNN's weights only (online and target); heads start fresh."""
        self.agent.torso.load_state_dict(torso_state)
        self.target["torso"].load_state_dict(torso_state)

    def state_dict(self) -> dict:
        return {"agent": self.agent.state_dict(), "target": self.target.state_dict(),
                "critic_optimizer": self.critic_optimizer.state_dict(),
                "actor_optimizer": self.actor_optimizer.state_dict()}

    def load_state_dict(self, state: dict, weights_only: bool = False) -> None:
        self.agent.load_state_dict(state["agent"])
        if weights_only:
            # A clone starts its target critic from the parent's weights; the replay buffer starts empty.
            self.target.load_state_dict({
                **{"torso." + k: v for k, v in self.agent.torso.state_dict().items()},
                **{"critic." + k: v for k, v in self.agent.critic.state_dict().items()}})
            return
        self.target.load_state_dict(state["target"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
