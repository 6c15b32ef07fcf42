"""The races API with the pages' rules: strangers get 404 on a private race and everything under it, the
organiser's actions are theirs alone, a racer sees only their own submissions; bad input is a 400 naming
the field."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from races.models import Participant, Race, Submission
from tests.conftest import make_racer
from tests.races.conftest import make_entry, make_race


@pytest.fixture
def racer(db):
    return make_racer("racer", "Invited_Racer")


@pytest.fixture
def racer_api(racer):
    client = APIClient()
    client.force_authenticate(racer)
    return client


def _body(**changes):
    now = timezone.now()
    body = {"name": "API Cup", "opens_at": (now + timedelta(minutes=1)).isoformat(),
            "closes_at": (now + timedelta(days=1)).isoformat(), "track": "quick_loop",
            "race_type": {"race_type": "HEAD_TO_BOT", "bot_count": 2, "bot_speed": 1.0}, "ranking_method": "TOTAL_TIME",
            "min_laps": 2, "max_laps": 3}
    body.update(changes)
    return body


def test_it_creates_a_race_and_shows_the_invite_link_to_its_organiser(owner_api, owner, stranger_api):
    response = owner_api.post("/api/races/", _body(), format="json")
    assert response.status_code == 201, response.data
    race = Race.objects.get()
    assert (race.owner, race.race_type["bot_count"], race.ranking_method) == (owner, 2, "TOTAL_TIME")
    assert response.data["invite_url"].endswith(f"/races/join/{race.invite_token}/")
    assert Participant.objects.filter(race=race, user=owner).exists()
    assert stranger_api.get(f"/api/races/{race.pk}/").status_code == 404
    assert stranger_api.get("/api/races/").data == []


@pytest.mark.parametrize("changes, field", [
    ({"closes_at": "2020-01-01T00:00:00Z", "opens_at": "2019-01-01T00:00:00Z"}, "closes_at"),
    ({"min_laps": 5, "max_laps": 4}, "min_laps"),
    ({"max_laps": 2}, "max_laps"),
    ({"track": "user-999"}, "track"),
    ({"race_type": {"race_type": "DRAG_RACE"}}, "race_type"),
    ({"ranking_method": "FASTEST"}, "ranking_method"),
    ({"is_open": True}, "is_open"),
    ({"time_zone": "Nowhere/Else"}, "time_zone"),
])
def test_it_refuses_bad_races_with_the_field(owner_api, changes, field):
    response = owner_api.post("/api/races/", _body(**changes), format="json")
    assert response.status_code == 400 and field in response.data, response.data
    assert not Race.objects.exists()


def test_it_lets_facilitators_create_open_races(facilitator, stranger_api):
    client = APIClient()
    client.force_authenticate(facilitator)
    assert client.post("/api/races/", _body(is_open=True), format="json").status_code == 201
    assert [race["name"] for race in stranger_api.get("/api/races/?open=true").data] == ["API Cup"]


def test_it_hides_a_private_race_and_its_parts_from_strangers(race, stranger_api):
    for method, path in (("get", ""), ("get", "leaderboard/"), ("get", "submissions/"), ("post", "submissions/"),
                         ("post", "close/"), ("post", "reset-invite/"), ("post", "remove-racer/"),
                         ("patch", ""), ("delete", "")):
        response = getattr(stranger_api, method)(f"/api/races/{race.pk}/{path}", {}, format="json")
        assert response.status_code == 404, (method, path)
    race.refresh_from_db()
    assert not race.closed_early


def test_it_keeps_the_organisers_actions_from_participants(race, racer, racer_api):
    Participant.objects.create(race=race, user=racer)
    assert racer_api.get(f"/api/races/{race.pk}/").data["invite_url"] is None
    for method, path in (("post", "close/"), ("post", "reset-invite/"), ("patch", ""), ("delete", "")):
        assert getattr(racer_api, method)(f"/api/races/{race.pk}/{path}", {}, format="json").status_code == 404


def test_it_joins_with_the_invite_token_and_refuses_an_old_one(race, owner_api, racer_api):
    old = race.invite_token
    assert racer_api.post("/api/races/join/", {"token": old}).status_code == 200
    assert racer_api.get(f"/api/races/{race.pk}/leaderboard/").status_code == 200
    owner_api.post(f"/api/races/{race.pk}/reset-invite/")
    late = make_racer("late", "Late_Racer")
    client = APIClient()
    client.force_authenticate(late)
    assert client.post("/api/races/join/", {"token": old}).status_code == 404


def test_it_serves_the_leaderboard_in_pages(race, owner, owner_api, racer):
    make_entry(race, racer, 11_000)
    make_entry(race, owner, 12_500)
    response = owner_api.get(f"/api/races/{race.pk}/leaderboard/?page_size=1&page=2")
    assert response.data["count"] == 2 and response.data["page"] == 2
    (row,) = response.data["results"]
    assert (row["rank"], row["racer_name"], row["ranking_time"], row["gap"]) == (2, "Owner_Racer", "00:12.500", "+1.500")
    assert owner_api.get(f"/api/races/{race.pk}/leaderboard/?page_size=x").status_code == 400


def test_it_removes_a_racer_closes_and_deletes(race, owner_api, racer):
    make_entry(race, racer, 11_000)
    assert owner_api.post(f"/api/races/{race.pk}/remove-racer/", {"racer_name": "invited_racer"}).status_code == 204
    assert owner_api.get(f"/api/races/{race.pk}/leaderboard/").data["count"] == 0
    assert owner_api.post(f"/api/races/{race.pk}/close/").data["state"] == "closed"
    assert owner_api.post(f"/api/races/{race.pk}/close/").status_code == 400
    assert owner_api.delete(f"/api/races/{race.pk}/").status_code == 204
    assert not Race.objects.exists()


def test_it_limits_edits_once_the_race_opened(race, owner_api):
    response = owner_api.patch(f"/api/races/{race.pk}/", {"max_laps": 5, "name": "Renamed"}, format="json")
    assert response.status_code == 400 and "max_laps" in response.data
    assert owner_api.patch(f"/api/races/{race.pk}/", {"name": "Renamed"}, format="json").data["name"] == "Renamed"


def test_it_submits_and_lists_only_my_submissions(race, owner, owner_api, racer, trained_rl_model):
    Participant.objects.create(race=race, user=racer)
    make_entry(race, racer, 11_000)
    response = owner_api.post(f"/api/races/{race.pk}/submissions/", {"model": str(trained_rl_model.pk)})
    assert response.status_code == 201, response.data
    assert response.data["status"] == "RUNNING" and response.data["queue_position"] == 1
    listed = owner_api.get(f"/api/races/{race.pk}/submissions/").data
    assert [row["id"] for row in listed] == [response.data["id"]]
    assert Submission.objects.count() == 2


def test_it_refuses_a_submission_with_the_reason(race, owner_api, rl_model, stranger, trained_rl_model):
    response = owner_api.post(f"/api/races/{race.pk}/submissions/", {"model": str(rl_model.pk)})
    assert response.status_code == 400 and "no trained checkpoint" in response.data["detail"]
    client = APIClient()
    client.force_authenticate(stranger)
    open_race = make_race(make_racer("fac", "Fac"), name="Open", is_open=True)
    assert client.post(f"/api/races/{open_race.pk}/submissions/", {"model": str(trained_rl_model.pk)}).status_code == 404


def test_it_refuses_an_imported_logs_model_with_the_reason(race, owner_api, rl_model):
    from models_app.archive import NO_WEIGHTS
    from training import artifacts

    # deepracer-for-cloud folders hold a checkpoint index too, naming TensorFlow checkpoints we cannot run.
    entry = artifacts.checkpoint_entry("5_Step-100.ckpt", 1.0)
    artifacts.write_checkpoints_index(rl_model.folder, entry, entry)
    rl_model.logs_only_reason = NO_WEIGHTS
    rl_model.save()
    response = owner_api.post(f"/api/races/{race.pk}/submissions/", {"model": str(rl_model.pk)})
    assert response.status_code == 400 and "cannot be evaluated or raced" in response.data["detail"]
    assert not Submission.objects.filter(model=rl_model).exists()


def test_it_describes_the_races_api_in_the_schema(owner_client):
    schema = owner_client.get("/api/schema/").content.decode()
    for route in ("/api/races/", "/api/races/{id}/leaderboard/", "/api/races/{id}/submissions/",
                  "/api/races/join/", "/api/races/{id}/remove-racer/"):
        assert route in schema


def test_it_asks_an_account_without_a_racer_name_to_choose_one(race):
    nameless = make_racer("nameless")
    client = APIClient()
    client.force_authenticate(nameless)
    response = client.post("/api/races/", _body(), format="json")
    assert response.status_code == 400 and "racer name" in response.data["detail"]
    response = client.post("/api/races/join/", {"token": race.invite_token})
    assert response.status_code == 400 and "racer name" in response.data["detail"]
    assert Race.objects.count() == 1


def test_it_lists_races_in_a_constant_number_of_queries(owner, owner_api, facilitator, queries_of):
    make_race(facilitator, name="Open 0", is_open=True)
    one = queries_of(lambda: owner_api.get("/api/races/"))
    for number in range(1, 6):
        make_race(facilitator, name=f"Open {number}", is_open=True)
        make_race(owner, name=f"Mine {number}")
    assert queries_of(lambda: owner_api.get("/api/races/")) == one
