import json

import pytest
from django.urls import reverse

from garage.models import Vehicle
from models_app.models import RLModel
from models_app.reward import default_code
from tests.models_app.conftest import make_model

BROKEN_CODE = "def reward_function(params):\n    x = 1\n    return float(x\n"


def test_it_opens_the_wizard_with_the_console_defaults(owner_client):
    page = owner_client.get(reverse("models:create"))
    assert page.status_code == 200
    form = page.context["form"]
    assert form["track"].value() == "quick_loop"
    assert "def reward_function(params)" in form["reward_code"].value()
    assert form["lr"].value() == 0.0003 and form["max_minutes"].value() == 60
    assert b"quick_loop" in page.content and b"<svg" in page.content
    assert b"django_ace/ace/ace.js" in page.content


def test_the_wizard_and_the_race_form_share_one_race_type_settings_partial(owner_client):
    for url in (reverse("models:create"), reverse("races:create")):
        page = owner_client.get(url)
        assert "models_app/_race_type_settings.html" in [template.name for template in page.templates], url
        content = page.content.decode()
        assert content.count('data-show-race="HEAD_TO_BOT"') == 1 and "models_app/race_type_settings.js" in content
    # Fixed object locations: the wizard edits its hidden JSON field in a table, the race form types them.
    assert 'id="object-positions"' in owner_client.get(reverse("models:create")).content.decode()
    assert 'id="object-positions"' not in owner_client.get(reverse("races:create")).content.decode()


def test_it_creates_a_model_with_snapshots_and_its_folder(owner_client, owner, wizard):
    response = owner_client.post(reverse("models:create"), wizard)
    model = RLModel.objects.get(owner=owner, name="first-model")
    assert response.status_code == 302 and response["Location"] == reverse("models:detail", args=[model.pk])
    assert model.vehicle_snapshot["name"] == "The Original DeepRacer"
    assert len(model.vehicle_snapshot["action_space"]) == 10
    assert model.race_type == {"race_type": "TIME_TRIAL"}
    assert model.hyperparameters["batch_size"] == 64
    assert model.track_reversed is False
    metadata = json.loads((model.folder / "model" / "model_metadata.json").read_text())
    assert metadata["training_algorithm"] == "clipped_ppo" and metadata["version"] == "5"
    assert (model.folder / "reward_function.py").read_text() == default_code()


def test_it_keeps_the_snapshot_when_the_vehicle_is_modded(owner_client, owner, wizard):
    owner_client.post(reverse("models:create"), wizard)
    Vehicle.objects.filter(owner=owner, name="The Original DeepRacer").update(action_space=[])
    assert len(RLModel.objects.get(name="first-model").vehicle_snapshot["action_space"]) == 10


def test_it_drives_clockwise_as_the_reversed_track(owner_client, owner, wizard):
    owner_client.post(reverse("models:create"), {**wizard, "direction": "clockwise"})
    assert RLModel.objects.get(owner=owner).track_reversed is True


def test_it_stores_object_avoidance_and_head_to_bot_settings(owner_client, owner, wizard):
    positions = [[0.2, "inner"], [0.5, "outer"]]
    owner_client.post(reverse("models:create"), {**wizard, "race_type": "OBJECT_AVOIDANCE", "object_count": "2",
                                                 "object_placement": "fixed", "object_positions": json.dumps(positions)})
    assert RLModel.objects.get(name="first-model").race_type == {
        "race_type": "OBJECT_AVOIDANCE", "object_count": 2, "randomize_objects": False, "object_positions": positions}
    owner_client.post(reverse("models:create"), {**wizard, "name": "bots", "race_type": "HEAD_TO_BOT",
                                                 "bot_count": "2", "bot_speed": "1.5", "bot_lane_changes": "on"})
    assert RLModel.objects.get(name="bots").race_type == {"race_type": "HEAD_TO_BOT", "bot_count": 2, "bot_speed": 1.5,
                                                          "bot_lane_changes": True}


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": "my model"}, "name"),
    ({"name": "x" * 65}, "name"),
    ({"description": "d" * 256}, "description"),
    ({"track": "moon"}, "track"),
    ({"race_type": "OBJECT_AVOIDANCE", "object_count": "7"}, "object_count"),
    ({"race_type": "OBJECT_AVOIDANCE", "object_count": "2", "object_placement": "fixed",
      "object_positions": json.dumps([[0.2, "inner"], [0.25, "outer"]])}, "object_positions"),
    ({"race_type": "HEAD_TO_BOT", "bot_speed": "9"}, "bot_speed"),
    ({"training_algorithm": "sac"}, "training_algorithm"),  # SAC with a discrete vehicle
    ({"lr": "0.5"}, "lr"),
    ({"batch_size": "100"}, "batch_size"),
    ({"num_epochs": "2"}, "num_epochs"),
    ({"max_minutes": "5"}, "max_minutes"),
    ({"max_minutes": "1441"}, "max_minutes"),
    ({"reward_code": "   "}, "reward_code"),
    ({"vehicle": ""}, "vehicle"),
])
def test_it_shows_each_error_at_its_field_and_creates_nothing(owner_client, owner, wizard, changes, field):
    page = owner_client.post(reverse("models:create"), {**wizard, **changes})
    assert page.status_code == 200
    assert field in page.context["form"].errors
    assert not RLModel.objects.filter(owner=owner).exists()


def test_it_refuses_a_reward_function_that_does_not_parse_at_its_line(owner_client, owner, wizard):
    page = owner_client.post(reverse("models:create"), {**wizard, "reward_code": BROKEN_CODE})
    errors = page.context["form"].errors["reward_code"]
    assert any(error.startswith("Line 3") or error.startswith("Line 4") for error in errors), errors
    assert not RLModel.objects.filter(owner=owner).exists()


def test_it_refuses_a_name_i_already_use(owner_client, owner, wizard):
    make_model(owner, name="first-model")
    page = owner_client.post(reverse("models:create"), wizard)
    assert "name" in page.context["form"].errors


def test_it_refuses_a_strangers_vehicle(owner_client, stranger, wizard):
    theirs = Vehicle.objects.filter(owner=stranger).first()
    page = owner_client.post(reverse("models:create"), {**wizard, "vehicle": str(theirs.pk)})
    assert "vehicle" in page.context["form"].errors


def test_it_trains_sac_with_a_continuous_vehicle(owner_client, owner, wizard):
    continuous = Vehicle.objects.get(owner=owner, name="Continuous DeepRacer")
    owner_client.post(reverse("models:create"), {**wizard, "vehicle": str(continuous.pk), "training_algorithm": "sac"})
    model = RLModel.objects.get(owner=owner)
    assert model.training_algorithm == "sac"
    assert model.hyperparameters["num_episodes_between_training"] == 1


def test_it_opens_a_clone_prefilled(owner_client, model):
    page = owner_client.get(reverse("models:clone", args=[model.pk]))
    form = page.context["form"]
    assert form["name"].value() == "my-model-clone"
    assert form["reward_code"].value() == model.reward_code
    assert json.loads(form["action_space"].value()) == model.vehicle_snapshot["action_space"]


def test_it_clones_with_new_action_values_and_records_the_parent(owner_client, owner, model, wizard):
    actions = [{**action, "speed": 2.0} for action in model.vehicle_snapshot["action_space"]]
    clone_form = {**wizard, "name": "faster", "vehicle": "", "action_space": json.dumps(actions)}
    response = owner_client.post(reverse("models:clone", args=[model.pk]), clone_form)
    assert response.status_code == 302
    clone = RLModel.objects.get(owner=owner, name="faster")
    assert clone.parent == model
    assert {a["speed"] for a in clone.vehicle_snapshot["action_space"]} == {2.0}
    assert clone.vehicle_snapshot["name"] == model.vehicle_snapshot["name"]


def test_it_keeps_a_clones_action_count(owner_client, owner, model, wizard):
    actions = model.vehicle_snapshot["action_space"][:4]
    page = owner_client.post(reverse("models:clone", args=[model.pk]),
                             {**wizard, "name": "fewer", "vehicle": "", "action_space": json.dumps(actions)})
    assert "action_space" in page.context["form"].errors
    assert not RLModel.objects.filter(name="fewer").exists()


def test_it_hides_cloning_from_a_stranger(stranger_client, model, wizard):
    assert stranger_client.get(reverse("models:clone", args=[model.pk])).status_code == 404
    assert stranger_client.post(reverse("models:clone", args=[model.pk]), wizard).status_code == 404


def test_it_refuses_wrong_methods(owner_client):
    assert owner_client.put(reverse("models:create")).status_code == 405
    assert owner_client.delete(reverse("models:create")).status_code == 405


def test_it_requires_sign_in(client, db):
    assert client.get(reverse("models:create")).status_code == 302


def test_it_explains_an_unavailable_sandbox_and_keeps_what_was_typed(owner_client, wizard, no_reward_sandbox):
    code = default_code() + "\n# my own tweak\n"
    page = owner_client.post(reverse("models:create"), {**wizard, "reward_code": code})
    assert page.status_code == 200 and not RLModel.objects.exists()
    assert "cannot run reward functions safely" in " ".join(page.context["form"].errors["reward_code"])
    assert b"cannot run reward functions safely" in page.content
    assert page.context["form"]["reward_code"].value() == code
    assert page.context["form"]["name"].value() == "first-model"
