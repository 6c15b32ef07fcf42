"""The create-model service: one check (model_validate) and one creation (model_create), with keyword
arguments, that the wizard's form and the API's serializers adapt to."""

import pytest

from garage.models import Vehicle
from models_app.models import RLModel, Status
from models_app.reward import default_code
from models_app.services import ModelInvalid, clone_arguments, model_create, model_validate
from training import artifacts
from training.models import TrainingJob


@pytest.fixture
def arguments(owner):
    return {"owner": owner, "name": "service-model", "reward_code": default_code(),
            "vehicle": Vehicle.objects.get(owner=owner, name="The Original DeepRacer")}


def test_it_creates_a_model_writes_its_folder_and_queues_its_training(arguments, owner):
    model = model_create(**arguments)
    assert model.owner == owner and model.status == Status.QUEUED
    assert model.track == "quick_loop" and model.race_type == {"race_type": "TIME_TRIAL"} and model.max_minutes == 60
    assert artifacts.read_model_metadata(model.folder)["action_space_type"] == "discrete"
    # The folder's owner writes DeepRacer's legacy hyperparameter keys beside the racer's values.
    assert artifacts.read_hyperparameters(model.folder)["e_greedy_value"] == 0.05
    assert TrainingJob.objects.filter(model=model).exists()


@pytest.mark.parametrize(("changes", "field", "inner"), [
    ({"name": "bad name"}, "name", None),
    ({"description": "d" * 256}, "description", None),
    ({"track": "moon"}, "track", None),
    ({"race_type": {"race_type": "HEAD_TO_BOT", "bot_count": 9, "bot_speed": 1}}, "race_type", "bot_count"),
    ({"vehicle": None}, "vehicle", None),
    ({"training_algorithm": "sac"}, "training_algorithm", None),
    ({"hyperparameters": {"lr": 1}}, "hyperparameters", "lr"),
    ({"max_minutes": 5}, "max_minutes", None),
    ({"reward_code": "  "}, "reward_code", None),
])
def test_it_returns_each_error_at_its_field(arguments, owner, changes, field, inner):
    _, errors = model_validate(**{**arguments, **changes})
    assert field in errors, errors
    if inner:
        assert inner in errors[field], errors
    with pytest.raises(ModelInvalid):
        model_create(**{**arguments, **changes})
    assert not RLModel.objects.filter(owner=owner).exists()


def test_it_refuses_a_strangers_vehicle(arguments, stranger):
    theirs = Vehicle.objects.filter(owner=stranger).first()
    assert "vehicle" in model_validate(**{**arguments, "vehicle": theirs.pk})[1]


def test_it_clones_with_the_parents_vehicle_and_records_the_parent(arguments, owner):
    parent = model_create(**arguments)
    RLModel.objects.filter(pk=parent.pk).update(status=Status.READY)
    clone = model_create(owner=owner, source=parent, **clone_arguments(parent))
    assert clone.name == "service-model-clone" and clone.parent == parent
    assert clone.vehicle_snapshot == parent.vehicle_snapshot
