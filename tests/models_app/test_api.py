import io
import tarfile

import pytest
from rest_framework.test import APIClient

from garage.models import Vehicle
from models_app import reward
from models_app.models import RLModel, Status
from tests.models_app.conftest import make_model
from tests.models_app.test_archive import archive, good_files


@pytest.fixture
def new_model(owner):
    return {"name": "api-model", "vehicle": Vehicle.objects.filter(owner=owner).first().pk}


def test_it_needs_authentication(db):
    client = APIClient()
    assert client.get("/api/models/").status_code in (401, 403)
    assert client.post("/api/reward/validate/", {"code": "x"}, format="json").status_code in (401, 403)


def test_it_creates_a_model_with_the_console_defaults(owner_api, owner, new_model):
    response = owner_api.post("/api/models/", new_model, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["track"] == "quick_loop" and body["max_minutes"] == 60
    assert body["hyperparameters"]["num_epochs"] == 10
    assert body["metadata"]["action_space_type"] == "discrete"
    assert body["reward_code"] == reward.default_code()
    assert RLModel.objects.get(owner=owner).name == "api-model"


def test_it_creates_an_object_avoidance_model(owner_api, owner, new_model):
    race = {"race_type": "OBJECT_AVOIDANCE", "object_count": 2, "randomize_objects": False,
            "object_positions": [[0.2, "inner"], [0.6, "outer"]]}
    response = owner_api.post("/api/models/", {**new_model, "race_type": race, "track": "oval", "track_reversed": True,
                                         "hyperparameters": {"lr": 0.0001}}, format="json")
    assert response.status_code == 201, response.json()
    model = RLModel.objects.get(owner=owner)
    assert model.race_type == race and model.track_reversed and model.hyperparameters["lr"] == 0.0001


@pytest.mark.parametrize(("changes", "path"), [
    ({"name": "bad name"}, ("name",)),
    ({"hyperparameters": {"lr": 1}}, ("hyperparameters", "lr")),
    ({"race_type": {"race_type": "HEAD_TO_BOT", "bot_count": 9, "bot_speed": 1}}, ("race_type", "bot_count")),
    ({"training_algorithm": "sac"}, ("training_algorithm",)),
    ({"max_minutes": 2000}, ("max_minutes",)),
    ({"reward_code": "def reward_function(params):\n    return (\n"}, ("reward_code",)),
    ({"vehicle": 999999}, ("vehicle",)),
    ({"hyperparameters": {"momentum": 0.9}}, ("hyperparameters", "momentum")),
    ({"hyperparameters": [1, 2]}, ("hyperparameters",)),
    ({"race_type": "TIME_TRIAL"}, ("race_type",)),
])
def test_it_answers_400_with_the_field(owner_api, owner, new_model, changes, path):
    response = owner_api.post("/api/models/", {**new_model, **changes}, format="json")
    assert response.status_code == 400
    body = response.json()
    for key in path:
        assert key in body, body
        body = body[key]
    assert not RLModel.objects.filter(owner=owner).exists()


def test_it_lists_retrieves_and_deletes_my_models(owner_api, owner, new_model):
    created = owner_api.post("/api/models/", new_model, format="json").json()
    assert [m["name"] for m in owner_api.get("/api/models/").json()] == ["api-model"]
    assert owner_api.get(f"/api/models/{created['id']}/").json()["vehicle_snapshot"]["name"] == "The Original DeepRacer"
    assert owner_api.delete(f"/api/models/{created['id']}/").status_code == 204
    assert not RLModel.objects.filter(owner=owner).exists()


def test_it_refuses_to_delete_a_model_in_training(owner_api, owner, new_model):
    created = owner_api.post("/api/models/", new_model, format="json").json()
    RLModel.objects.filter(pk=created["id"]).update(status=Status.TRAINING)
    assert owner_api.delete(f"/api/models/{created['id']}/").status_code == 409


def test_it_clones_with_new_values_but_the_same_action_count(owner_api, owner, new_model):
    parent = owner_api.post("/api/models/", new_model, format="json").json()
    actions = [{**action, "speed": 1.5} for action in parent["vehicle_snapshot"]["action_space"]]
    response = owner_api.post(f"/api/models/{parent['id']}/clone/", {"name": "clone-1", "action_space": actions},
                        format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["parent"] == parent["id"]
    assert {a["speed"] for a in response.json()["vehicle_snapshot"]["action_space"]} == {1.5}
    response = owner_api.post(f"/api/models/{parent['id']}/clone/", {"name": "clone-2", "action_space": actions[:3]},
                        format="json")
    assert response.status_code == 400 and "action_space" in response.json()
    assert owner_api.post(f"/api/models/{parent['id']}/clone/", {}, format="json").json()["name"] == "api-model-clone"


def test_it_downloads_and_imports(owner_api, owner, new_model):
    created = owner_api.post("/api/models/", new_model, format="json").json()
    response = owner_api.get(f"/api/models/{created['id']}/download/")
    data = b"".join(response.streaming_content)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        assert "api-model/model/model_metadata.json" in tar.getnames()
    assert owner_api.get(f"/api/models/{created['id']}/car-bundle/").status_code == 404
    response = owner_api.post("/api/models/import/", {"name": "imported", "archive": archive(good_files())},
                        format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "READY"
    bad = owner_api.post("/api/models/import/", {"name": "bad", "archive": archive({"x.txt": b"x"})}, format="multipart")
    assert bad.status_code == 400 and "archive" in bad.json()


def test_it_hides_my_models_from_a_stranger(owner_api, stranger_api, new_model):
    created = owner_api.post("/api/models/", new_model, format="json").json()
    base = f"/api/models/{created['id']}/"
    assert stranger_api.get("/api/models/").json() == []
    for url in (base, base + "download/", base + "car-bundle/"):
        assert stranger_api.get(url).status_code == 404
    assert stranger_api.post(base + "clone/", {}, format="json").status_code == 404
    assert stranger_api.delete(base).status_code == 404
    assert RLModel.objects.filter(pk=created["id"]).exists()


def test_it_refuses_wrong_methods(owner_api, new_model):
    created = owner_api.post("/api/models/", new_model, format="json").json()
    assert owner_api.put(f"/api/models/{created['id']}/", new_model, format="json").status_code == 405
    assert owner_api.get(f"/api/models/{created['id']}/clone/").status_code == 405
    assert owner_api.get("/api/reward/validate/").status_code == 405


def test_it_validates_a_reward_function(owner_api):
    response = owner_api.post("/api/reward/validate/", {"code": "def reward_function(params):\n    return (\n",
                                                  "track": "quick_loop"}, format="json")
    assert response.status_code == 200
    assert response.json()[0]["type"] == "SYNTAX_ERROR" and response.json()[0]["line"] in (2, 3)
    ok = owner_api.post("/api/reward/validate/", {"code": reward.default_code(), "track": "quick_loop"}, format="json")
    assert ok.json() == []


def test_it_answers_400_for_a_bad_validation_request(owner_api):
    assert "track" in owner_api.post("/api/reward/validate/", {"code": "x", "track": "moon"}, format="json").json()
    response = owner_api.post("/api/reward/validate/", {"code": "x", "race_type": {"race_type": "NASCAR"}}, format="json")
    assert response.status_code == 400 and "race_type" in response.json()


def test_it_returns_warnings_apart_when_asked(owner_api):
    code = "import math\n\ndef reward_function(params):\n    return 1\n"
    response = owner_api.post("/api/reward/validate/?warnings=1", {"code": code, "track": "oval"}, format="json")
    body = response.json()
    assert body["errors"] and body["errors"][0]["type"] == "TEST_FAILURE"  # an int reward is not a float
    assert [warning["line"] for warning in body["warnings"]] == [1]  # math imported but unused


def test_it_clones_onto_another_track_and_race_type(owner_api, owner, new_model):
    parent = owner_api.post("/api/models/", {**new_model, "hyperparameters": {"batch_size": 128}}, format="json").json()
    race = {"race_type": "HEAD_TO_BOT", "bot_count": 2, "bot_speed": 1.0}
    response = owner_api.post(f"/api/models/{parent['id']}/clone/", {"track": "flow_cup", "track_reversed": True,
                                                               "race_type": race, "hyperparameters": {"lr": 0.0001}},
                        format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["track"] == "flow_cup" and body["track_reversed"] is True
    assert body["race_type"] == {**race, "bot_lane_changes": False}
    assert body["hyperparameters"]["lr"] == 0.0001 and body["hyperparameters"]["batch_size"] == 128
    bad = owner_api.post(f"/api/models/{parent['id']}/clone/", {"track": "moon"}, format="json")
    assert bad.status_code == 400 and "track" in bad.json()


def test_it_answers_503_with_the_reason_when_no_sandbox_can_run_reward_code(owner_api, new_model, no_reward_sandbox):
    response = owner_api.post("/api/reward/validate/", {"code": reward.default_code(), "track": "quick_loop"},
                        format="json")
    assert response.status_code == 503
    assert "bubblewrap" in response.json()["detail"] and "REWARD_SANDBOX=unsafe-local" in response.json()["detail"]
    created = owner_api.post("/api/models/", new_model, format="json")
    assert created.status_code == 503 and "cannot run reward functions safely" in created.json()["detail"]
    assert not RLModel.objects.exists()


def test_it_lists_models_without_a_query_per_row(owner_api, owner, queries_of, django_assert_max_num_queries):
    parent = make_model(owner, name="parent")
    few = queries_of(lambda: owner_api.get("/api/models/"))
    for number in range(4):
        make_model(owner, name=f"clone-{number}", parent=parent)
    with django_assert_max_num_queries(few):
        listed = owner_api.get("/api/models/").json()
    assert len(listed) == 5


def test_it_needs_authentication_for_every_model_endpoint(owner, db):
    model = make_model(owner)
    client, base = APIClient(), f"/api/models/{model.pk}/"
    for url in (base, base + "download/", base + "car-bundle/"):
        assert client.get(url).status_code in (401, 403), url
    assert client.post(base + "clone/", {}, format="json").status_code in (401, 403)
    assert client.delete(base).status_code in (401, 403)
    assert client.post("/api/models/import/", {}, format="multipart").status_code in (401, 403)
    assert list(RLModel.objects.all()) == [model]
