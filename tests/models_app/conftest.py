import pytest

from garage.models import Vehicle
from models_app.hyperparameters import DEFAULTS
from models_app.models import RLModel
from models_app.reward import default_code


@pytest.fixture(autouse=True)
def model_store(settings, tmp_path):
    settings.MODEL_STORE = tmp_path / "models"
    return settings.MODEL_STORE


def make_model(owner, name="my-model", vehicle_name="The Original DeepRacer", **fields):
    vehicle = Vehicle.objects.get(owner=owner, name=vehicle_name)
    values = {"vehicle": vehicle, "vehicle_snapshot": vehicle.snapshot(), "track": "quick_loop",
              "race_type": {"race_type": "TIME_TRIAL"}, "reward_code": default_code(),
              "hyperparameters": dict(DEFAULTS), **fields}
    return RLModel.objects.create(owner=owner, name=name, **values)


@pytest.fixture
def model(owner):
    return make_model(owner)


@pytest.fixture
def wizard(owner):
    vehicle = Vehicle.objects.get(owner=owner, name="The Original DeepRacer")
    return {
        "name": "first-model", "description": "My first model", "track": "quick_loop", "direction": "counterclockwise",
        "race_type": "TIME_TRIAL", "object_count": "3", "object_placement": "random", "object_positions": "",
        "bot_count": "3", "bot_speed": "0.5", "vehicle": str(vehicle.pk), "reward_code": default_code(),
        "training_algorithm": "clipped_ppo", "batch_size": "64", "num_epochs": "10", "lr": "0.0003",
        "beta_entropy": "0.01", "discount_factor": "0.999", "loss_type": "huber",
        "num_episodes_between_training": "20", "sac_alpha": "0.2", "max_minutes": "60",
    }


@pytest.fixture
def no_reward_sandbox(monkeypatch, tmp_path):
    """A host where no sandbox backend works: REWARD_SANDBOX forces bubblewrap, and bwrap is not on PATH."""
    from simulator.reward import sandbox

    monkeypatch.setattr(sandbox, "_self_tests", {})  # forget backends that passed earlier in this process
    monkeypatch.setenv(sandbox.ENV_SWITCH, "bubblewrap")
    monkeypatch.setenv("PATH", str(tmp_path))
