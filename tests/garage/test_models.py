from garage.models import Vehicle
from tests.conftest import make_racer


def test_it_gives_every_new_racer_the_two_default_vehicles(db):
    racer = make_racer("newcomer", "Newcomer")
    original, continuous = Vehicle.objects.filter(owner=racer)
    assert original.name == "The Original DeepRacer"
    assert len(original.action_space) == 10
    assert original.sensors == ["FRONT_FACING_CAMERA"]
    assert original.neural_network == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    assert continuous.is_continuous
    assert continuous.action_space["speed"] == {"low": 0.5, "high": 1.0}


def test_it_snapshots_metadata_fields_and_looks(owner):
    vehicle = Vehicle.objects.filter(owner=owner).first()
    snapshot = vehicle.snapshot()
    assert snapshot["sensor"] == ["FRONT_FACING_CAMERA"]
    assert snapshot["action_space_type"] == "discrete"
    assert set(snapshot) == {"name", "sensor", "neural_network", "action_space_type", "action_space", "shell", "colour"}
    snapshot["action_space"].append({"steering_angle": 0, "speed": 9})
    assert len(vehicle.action_space) == 10  # a model's snapshot never aliases the Garage vehicle
