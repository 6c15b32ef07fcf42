import os

import pytest
import torch

from tests.training.corridor_env import ORIGINAL_DEEPRACER, PrintingReward
from training.engine import TrainingRun, train

# Tests share 2 cores with everything else: one torch thread, and tiny budgets throughout.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")

CORRIDOR = "tests.training.corridor_env:CorridorEnv"
TINY = {"num_episodes_between_training": 3, "num_epochs": 1, "batch_size": 64}


def metadata(algorithm="clipped_ppo", continuous=False, sensors=("FRONT_FACING_CAMERA",),
             network="DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"):
    if continuous:
        actions = {"action_space_type": "continuous",
                   "action_space": {"steering_angle": {"low": -30.0, "high": 30.0}, "speed": {"low": 0.5, "high": 1.0}}}
    else:
        actions = ORIGINAL_DEEPRACER
    return {**actions, "sensor": list(sensors), "neural_network": network, "training_algorithm": algorithm,
            "version": "5"}


def tiny_run(model_dir, **overrides) -> TrainingRun:
    settings = dict(model_dir=model_dir, metadata=metadata(), hyperparameters=TINY, env_factory=CORRIDOR,
                    max_iterations=2, eval_episodes=2, num_workers=2, update_threads=1,
                    reward_code="def reward_function(params):\n    return 1.0\n")
    settings.update(overrides)
    return TrainingRun(**settings)


class Recorder:
    """A report callback that keeps everything and can ask to stop."""

    def __init__(self, stop_when=None):
        self.progress = []
        self.stop_when = stop_when

    def __call__(self, progress):
        self.progress.append(progress)
        return not (self.stop_when and self.stop_when(progress))

    def of(self, kind):
        return [p.data for p in self.progress if p.kind == kind]


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory):
    """One tiny PPO run shared by the engine and artifact tests: (model folder, recorder, result)."""
    model_dir = tmp_path_factory.mktemp("models") / "ppo-model"
    recorder = Recorder()
    result = train(tiny_run(model_dir, reward_factory=PrintingReward), recorder)
    return model_dir, recorder, result
