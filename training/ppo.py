"""Clipped PPO for discrete and continuous action spaces, with DeepRacer's hyperparameters (no Django).

The collected data of one iteration (``num_episodes_between_training`` whole episodes) is passed over
``num_epochs`` times in shuffled minibatches of ``batch_size``, as DeepRacer's clipped PPO does, unless the
policy has already moved ``target_kl`` away from the one that collected (then fewer passes).
"""

from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import lfilter

from simulator.spec import HYPERPARAMETER_DEFAULTS, LEGACY_HYPERPARAMETERS, LOSS_TYPES
from training.networks import bfloat16_available, use_bfloat16

# The racer-facing defaults, the loss types and DeepRacer's legacy keys are SPEC facts (simulator/spec.py).
# The learner itself accepts any sane value so that tests can run on tiny budgets; the console's ranges are
# checked once, by models_app.hyperparameters.check_hyperparameters, before a model is saved.
DEFAULTS = HYPERPARAMETER_DEFAULTS
LEGACY_KEYS = LEGACY_HYPERPARAMETERS


@dataclass
class Hyperparameters:
    """The racer-facing hyperparameters, named as in DeepRacer's ip/hyperparameters.json."""

    batch_size: int = DEFAULTS["batch_size"]
    """gradient-descent minibatch size (samples per gradient step)"""
    beta_entropy: float = DEFAULTS["beta_entropy"]
    """weight of the entropy bonus in the PPO loss (more = more exploration)"""
    discount_factor: float = DEFAULTS["discount_factor"]
    """how much future rewards count (gamma)"""
    loss_type: str = DEFAULTS["loss_type"]
    """value (PPO) or Q (SAC) regression loss: "huber" or "mean squared error\""""
    lr: float = DEFAULTS["lr"]
    """Adam learning rate"""
    num_episodes_between_training: int = DEFAULTS["num_episodes_between_training"]
    """whole episodes collected per iteration before each update"""
    num_epochs: int = DEFAULTS["num_epochs"]
    """passes over the iteration's data per update"""
    sac_alpha: float = DEFAULTS["sac_alpha"]
    """SAC entropy temperature (fixed)"""

    def __post_init__(self):
        self.batch_size = _number(self, "batch_size", int, minimum=1)
        self.num_epochs = _number(self, "num_epochs", int, minimum=1)
        self.num_episodes_between_training = _number(self, "num_episodes_between_training", int, minimum=1)
        self.lr = _number(self, "lr", float, minimum=0.0, exclusive=True)
        self.beta_entropy = _number(self, "beta_entropy", float, minimum=0.0)
        self.sac_alpha = _number(self, "sac_alpha", float, minimum=0.0)
        self.discount_factor = _number(self, "discount_factor", float, minimum=0.0)
        if self.discount_factor > 1.0:
            raise ValueError(f"discount_factor must be between 0 and 1, got {self.discount_factor}")
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {self.loss_type!r}")

    @classmethod
    def from_dict(cls, values: dict):
        """From a hyperparameters.json dict: DeepRacer's legacy keys are ignored, unknown keys refused."""
        names = {f.name for f in fields(cls)}
        unknown = set(values) - names - set(LEGACY_KEYS)
        if unknown:
            raise ValueError(f"unknown hyperparameters: {', '.join(sorted(unknown))}")
        return cls(**{k: v for k, v in values.items() if k in names})

    def to_dict(self) -> dict:
        """The hyperparameters.json content (DeepRacer writes its legacy keys too; tools expect them)."""
        racer_facing = {f.name: getattr(self, f.name) for f in fields(Hyperparameters)}
        return {**LEGACY_KEYS, **racer_facing}


def _number(config, name, kind, minimum, exclusive=False):
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if kind is int and value != int(value):
        raise ValueError(f"{name} must be a whole number, got {value}")
    value = kind(value)
    if not np.isfinite(value) or value < minimum or (exclusive and value == minimum):
        raise ValueError(f"{name} must be {'>' if exclusive else '>='} {minimum}, got {value}")
    return value


@dataclass
class PPOConfig(Hyperparameters):
    """Clipped PPO: the racer's hyperparameters plus the fixed internals of SPEC 3."""

    clip_coef: float = 0.2
    """PPO surrogate clipping range"""
    gae_lambda: float = 0.95
    """GAE lambda"""
    adam_epsilon: float = 1e-5
    """Adam epsilon"""
    value_coef: float = 0.5
    """weight of the value loss against the policy loss (one shared torso)"""
    max_grad_norm: float = 0.5
    """global gradient-norm clip"""
    normalize_rewards: bool = True
    """learn on rewards divided by the running std of discounted returns (the racer's reward is unchanged)"""
    target_kl: float | None = 0.02
    """end the update after the epoch whose mean approximate KL to the collecting policy passes this, so
    num_epochs is the most passes (None: always num_epochs). On a long track an iteration of 20 near-whole
    laps drifted to a KL of 0.05-0.08 by the 10th pass; ending at 0.02 leaves those iterations 3-6 passes
    and doubled the env steps a 15-minute fast-lap run trains (bench/fast_lap.py, grand prix: 118 -> 263/s)."""

    def internals(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in {f.name for f in fields(Hyperparameters)}}


class ReturnScale:
    """Running variance of discounted returns (SB3's and CleanRL's reward normalization).

    With discount 0.999 a lap of the default reward is worth hundreds; dividing rewards by this scale
    keeps value targets of order one, where the Huber loss still has a gradient that grows with the error.
    """

    def __init__(self):
        self.count, self.mean, self.var = 1e-4, 0.0, 1.0

    def update(self, episodes: list["Episode"], discount: float) -> None:
        returns = np.concatenate([lfilter([1.0], [1.0, -discount], e.rewards.astype(np.float64)) for e in episodes])
        count, mean, var = len(returns), float(returns.mean()), float(returns.var())
        total = self.count + count
        delta = mean - self.mean
        self.mean += delta * count / total
        self.var = (self.var * self.count + var * count + delta**2 * self.count * count / total) / total
        self.count = total

    @property
    def factor(self) -> float:
        return float(1.0 / np.sqrt(self.var + 1e-8))

    def state_dict(self) -> dict:
        return {"count": self.count, "mean": self.mean, "var": self.var}

    def load_state_dict(self, state: dict) -> None:
        self.count, self.mean, self.var = state["count"], state["mean"], state["var"]


def _summary(stats: dict) -> dict[str, float]:
    return {name: float(np.mean(values)) if values else 0.0 for name, values in stats.items()}


def episode_advantages(rewards, values, bootstrap: float, discount: float, lam: float):
    """GAE advantages and value targets of one episode (``bootstrap`` = V(last obs) when truncated, else 0)."""
    rewards = np.asarray(rewards, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    next_values = np.append(values[1:], bootstrap)
    deltas = rewards + discount * next_values - values
    # A reversed first-order IIR filter is the discounted cumulative sum, without a Python loop.
    advantages = lfilter([1.0], [1.0, -discount * lam], deltas[::-1])[::-1]
    return advantages.astype(np.float32), (advantages + values).astype(np.float32)


@dataclass
class Episode:
    """One finished episode as the learners take it (numpy, actions in the network's space)."""

    obs: dict
    """observations before each step, stacked: {sensor: (T, ...)}"""
    final_obs: dict
    """the observation after the last step: {sensor: (1, ...)}"""
    actions: np.ndarray
    """(T,) action indices or (T, A) normalized continuous actions"""
    rewards: np.ndarray
    """(T,) rewards"""
    log_probs: np.ndarray
    """(T,) log-probabilities of the actions under the acting policy (PPO)"""
    values: np.ndarray
    """(T,) state values when acting (PPO)"""
    terminated: bool
    """ended by the env's rules (no bootstrap); False when cut by the step cap"""

    def __len__(self):
        return len(self.rewards)


@dataclass
class Batch:
    """One iteration's samples, flat over all its episodes, as tensors on the learner's device."""

    obs: dict
    actions: torch.Tensor
    log_probs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor

    def __len__(self):
        return len(self.actions)


class PPOLearner:
    """Acts for the rollout workers (batched) and updates the agent on an iteration's episodes."""

    def __init__(self, agent, config: PPOConfig, device="cpu", bfloat16: bool | None = None):
        """``bfloat16``: run the CNN in bfloat16 autocast for acting and updating; None = where the CPU
        has bfloat16 hardware (networks.bfloat16_available)."""
        self.agent = agent.to(device)
        self.config = config
        self.device = torch.device(device)
        use_bfloat16(agent, bfloat16_available(self.device) if bfloat16 is None else bfloat16)
        self.optimizer = torch.optim.Adam(agent.parameters(), lr=config.lr, eps=config.adam_epsilon)
        self.return_scale = ReturnScale()

    @torch.inference_mode()
    def act(self, obs: dict[str, torch.Tensor], deterministic: bool = False):
        """Actions (network space), their log-probabilities and state values for a batch of observations."""
        dist, value = self.agent(obs)
        if deterministic:
            action = dist.probs.argmax(-1) if self.agent.discrete else dist.mean
        else:
            action = dist.sample()
        log_prob = dist.log_prob(action)
        if not self.agent.discrete:
            log_prob = log_prob.sum(-1)
        return action, log_prob, value

    @torch.inference_mode()
    def value(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.agent(obs)[1]

    def learn(self, episodes: list[Episode], keep_going=None) -> dict[str, float]:
        """Advantages per episode, then the clipped-PPO update on all of them."""
        return self.update(self.batch(episodes), keep_going)

    def batch(self, episodes: list[Episode]) -> Batch:
        config, device = self.config, self.device
        truncated = [episode for episode in episodes if not episode.terminated]
        bootstrap = {}
        if truncated:
            final = {name: np.concatenate([e.final_obs[name] for e in truncated]) for name in truncated[0].final_obs}
            values = self.value({name: torch.as_tensor(v, device=device) for name, v in final.items()})
            bootstrap = {id(e): float(v) for e, v in zip(truncated, values.cpu(), strict=True)}
        factor = 1.0
        if config.normalize_rewards:
            self.return_scale.update(episodes, config.discount_factor)
            factor = self.return_scale.factor
        advantages, returns = zip(*(
            episode_advantages(e.rewards * factor, e.values, bootstrap.get(id(e), 0.0), config.discount_factor,
                               config.gae_lambda)
            for e in episodes), strict=True)
        names = episodes[0].obs.keys()
        return Batch(
            obs={name: torch.as_tensor(np.concatenate([e.obs[name] for e in episodes]), device=device)
                 for name in names},
            actions=torch.as_tensor(np.concatenate([e.actions for e in episodes]), device=device),
            log_probs=torch.as_tensor(np.concatenate([e.log_probs for e in episodes]), device=device),
            advantages=torch.as_tensor(np.concatenate(advantages), device=device),
            returns=torch.as_tensor(np.concatenate(returns), device=device),
        )

    def update(self, batch: Batch, keep_going=None) -> dict[str, float]:
        """Up to num_epochs passes of shuffled minibatches of batch_size, ending after the pass that drifts
        past target_kl; returns CleanRL-named statistics and the passes made ("losses/epochs").

        keep_going() is asked between minibatches: a stop request ends the update early (the weights
        then are a valid policy a little less far along)."""
        config, agent = self.config, self.agent
        agent.train()
        stats = {"losses/policy_loss": [], "losses/value_loss": [], "losses/entropy": [],
                 "losses/approx_kl": [], "losses/clipfrac": []}
        size = len(batch)
        for epoch in range(1, config.num_epochs + 1):
            order = torch.randperm(size, device=self.device)
            first = len(stats["losses/approx_kl"])
            for start in range(0, size, config.batch_size):
                index = order[start:start + config.batch_size]
                if len(index) < 2:
                    continue  # a single sample cannot normalise its advantage
                if keep_going is not None and not keep_going():
                    agent.eval()
                    return {**_summary(stats), "losses/epochs": epoch}
                self._step(batch, index, stats)
            if self._drifted(stats["losses/approx_kl"][first:]):
                break
        agent.eval()
        return {**_summary(stats), "losses/epochs": epoch}

    def _drifted(self, epoch_kls: list[float]) -> bool:
        """Whether an epoch's mean approximate KL passed target_kl. Each minibatch's KL is measured before
        its step, so the mean is how far that epoch had moved from the policy that collected."""
        target = self.config.target_kl
        return target is not None and bool(epoch_kls) and float(np.mean(epoch_kls)) > target

    def _step(self, batch: Batch, index: torch.Tensor, stats: dict):
        config = self.config
        obs = {name: value[index] for name, value in batch.obs.items()}
        dist, value = self.agent(obs)
        log_prob = dist.log_prob(batch.actions[index])
        entropy = dist.entropy()
        if not self.agent.discrete:
            log_prob, entropy = log_prob.sum(-1), entropy.sum(-1)
        log_ratio = log_prob - batch.log_probs[index]
        ratio = log_ratio.exp()
        advantages = batch.advantages[index]
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy_loss = torch.max(
            -advantages * ratio,
            -advantages * ratio.clamp(1.0 - config.clip_coef, 1.0 + config.clip_coef),
        ).mean()
        returns = batch.returns[index]
        if config.loss_type == "huber":
            value_loss = F.smooth_l1_loss(value, returns)
        else:
            value_loss = F.mse_loss(value, returns)
        entropy = entropy.mean()
        loss = policy_loss - config.beta_entropy * entropy + config.value_coef * value_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.agent.parameters(), config.max_grad_norm)
        self.optimizer.step()
        with torch.no_grad():
            stats["losses/policy_loss"].append(policy_loss.item())
            stats["losses/value_loss"].append(value_loss.item())
            stats["losses/entropy"].append(entropy.item())
            stats["losses/approx_kl"].append(((ratio - 1) - log_ratio).mean().item())
            stats["losses/clipfrac"].append(((ratio - 1.0).abs() > config.clip_coef).float().mean().item())

    def load_torso(self, torso_state: dict) -> None:
        """A clone from another algorithm: the CNN's weights only; the heads start fresh."""
        self.agent.torso.load_state_dict(torso_state)

    def state_dict(self) -> dict:
        return {"agent": self.agent.state_dict(), "optimizer": self.optimizer.state_dict(),
                "return_scale": self.return_scale.state_dict()}

    def load_state_dict(self, state: dict, weights_only: bool = False):
        """weights_only (a clone): the weights and the return scale its value head learned in."""
        self.agent.load_state_dict(state["agent"])
        if "return_scale" in state:
            self.return_scale.load_state_dict(state["return_scale"])
        if not weights_only and "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
