import pytest

from garage.models import Vehicle
from models_app.hyperparameters import DEFAULTS
from models_app.models import RLModel
from models_app.reward import FALLBACK_DEFAULT_CODE


@pytest.fixture(autouse=True)
def model_store(settings, tmp_path):
    settings.MODEL_STORE = tmp_path / "models"
    return settings.MODEL_STORE


def make_model(owner, name="my-model", vehicle_name="The Original DeepRacer", **fields):
    vehicle = Vehicle.objects.get(owner=owner, name=vehicle_name)
    values = {"vehicle": vehicle, "vehicle_snapshot": vehicle.snapshot(), "track": "quick_loop",
              "race_type": {"race_type": "TIME_TRIAL"}, "reward_code": FALLBACK_DEFAULT_CODE,
              "hyperparameters": dict(DEFAULTS), **fields}
    return RLModel.objects.create(owner=owner, name=name, **values)


@pytest.fixture
def model(owner):
    return make_model(owner)
