"""Head-to-model heats through the REST API, with the pages' rules: heats, a heat's result and the bracket
for those who see the race, pairing, seeding, starting and stopping for the crew; 404 for everyone else;
bad input is a 400 with the field."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from races import services
from races.models import Heat, HeatStatus
from tests.races.conftest import make_race
from tests.races.heats_fixtures import finish, make_board, make_h2m_race, put_on_track
from tests.races.test_api import _body


@pytest.fixture
def h2m_race(owner):
    return make_h2m_race(owner)


@pytest.fixture
def board(h2m_race):
    return make_board(h2m_race, 4)


@pytest.fixture
def racer_api(board):
    client = APIClient()
    client.force_authenticate(board[0].participant.user)
    return client


def test_it_creates_a_head_to_model_race_with_its_heat_rules(owner_api):
    created = owner_api.post("/api/races/", _body(race_type={"race_type": "HEAD_TO_MODEL"}, heat_laps=3,
                                                  heat_seconds=90), format="json")
    assert created.status_code == 201, created.data
    assert created.data["race_type"] == {"race_type": "HEAD_TO_MODEL"}
    assert (created.data["heat_laps"], created.data["heat_seconds"]) == (3, 90)
    refused = owner_api.post("/api/races/", _body(heat_laps=0, heat_seconds=5000), format="json")
    assert refused.status_code == 400 and {"heat_laps", "heat_seconds"} <= refused.data.keys()


def test_it_pairs_entries_for_the_crew_and_answers_400_with_the_field(h2m_race, board, owner_api, racer_api,
                                                                      stranger_api):
    url = f"/api/races/{h2m_race.pk}/heats/"
    body = {"first": board[0].pk, "second": board[1].pk}
    assert racer_api.post(url, body, format="json").status_code == 404
    assert stranger_api.post(url, body, format="json").status_code == 404
    assert stranger_api.get(url).status_code == 404
    assert owner_api.post(url, {"first": board[0].pk}, format="json").data.keys() == {"second"}
    missing = owner_api.post(url, {"first": 999999, "second": board[1].pk}, format="json")
    assert missing.status_code == 400 and missing.data.keys() == {"first"}
    same = owner_api.post(url, {"first": board[0].pk, "second": board[0].pk}, format="json")
    assert same.status_code == 400 and same.data.keys() == {"second"}
    created = owner_api.post(url, body, format="json")
    assert created.status_code == 201, created.data
    heat = created.data
    assert (heat["name"], heat["status"], heat["winner"], heat["job"]) == ("Heat 1", "READY", None, None)
    assert [car["racer_name"] for car in heat["cars"]] == ["Ana_Racer", "Ben_Racer"]
    assert [row["id"] for row in racer_api.get(url).data] == [heat["id"]]
    other = make_race(h2m_race.owner, name="Time Trial Cup")
    assert owner_api.get(f"/api/races/{other.pk}/heats/").status_code == 404


def test_it_seeds_shows_and_discards_the_bracket(h2m_race, board, owner_api, racer_api, stranger_api):
    url = f"/api/races/{h2m_race.pk}/bracket/"
    assert racer_api.post(url, {"size": 4}, format="json").status_code == 404
    assert stranger_api.get(url).status_code == 404
    empty = racer_api.get(url).data
    assert empty == {"size": None, "rounds": [], "champion": None}
    refused = owner_api.post(url, {"size": 8}, format="json")
    assert refused.status_code == 400 and refused.data["size"] == "A bracket of 8 needs 8 racers on the leaderboard; it has 4."
    assert owner_api.post(url, {"size": 5}, format="json").data.keys() == {"size"}
    seeded = owner_api.post(url, {"size": 4}, format="json")
    assert seeded.status_code == 201
    assert [round_["name"] for round_ in seeded.data["rounds"]] == ["Semi-finals", "Final"]
    semis = seeded.data["rounds"][0]["heats"]
    assert [[car["racer_name"] for car in heat["cars"]] for heat in semis] == [["Ana_Racer", "Dee_Racer"],
                                                                              ["Ben_Racer", "Cy_Racer"]]
    assert [heat["seeds"] for heat in semis] == [[1, 4], [2, 3]]
    assert seeded.data["rounds"][1]["heats"][0]["cars"] == [None, None]
    assert owner_api.post(url, {"size": 4}, format="json").status_code == 400
    for heat in Heat.objects.filter(race=h2m_race, round=1):
        put_on_track(heat)
        finish(heat, winner=0)
    final = Heat.objects.get(race=h2m_race, round=2)
    put_on_track(final)
    finish(final, winner=1)
    shown = racer_api.get(url).data
    assert shown["champion"]["racer_name"] == "Ben_Racer" and shown["size"] == 4
    assert racer_api.delete(url).status_code == 404
    assert owner_api.delete(url).status_code == 204 and not Heat.objects.filter(race=h2m_race).exists()


def test_it_shows_a_heat_with_its_result(h2m_race, board, racer_api, stranger_api, owner_api):
    heat = finish(services.heat_pair(h2m_race, board[0], board[1]), winner=0)
    url = f"/api/races/{h2m_race.pk}/heats/{heat.pk}/"
    assert stranger_api.get(url).status_code == 404
    assert racer_api.get(f"/api/races/{h2m_race.pk}/heats/{heat.pk + 50}/").status_code == 404
    data = racer_api.get(url).data
    assert (data["status"], data["winner"], data["winner_racer_name"], data["decided_by"]) == (
        "COMPLETED", board[0].pk, "Ana_Racer", "finish")
    assert data["result"]["cars"][0]["lap_times"] == [12.5, 12.25] and data["video_url"] is None
    assert data["page_url"] == f"/races/{h2m_race.pk}/heats/{heat.pk}/"
    assert racer_api.delete(url).status_code == 404
    refused = owner_api.delete(url)  # it has raced: it stays
    assert refused.status_code == 400 and "has not raced" in refused.data["detail"]
    assert owner_api.post(url + "stop/").status_code == 400
    assert racer_api.post(url + "start/").status_code == 404


def test_it_starts_and_stops_heats_of_a_race_that_is_not_live(h2m_race, trained_model_folder, owner_api):
    ana, ben = make_board(make_h2m_race(h2m_race.owner, name="Trained Cup"), 2, trained_model_folder)
    race = ana.race
    heat = services.heat_pair(race, ana, ben)
    url = f"/api/races/{race.pk}/heats/{heat.pk}/"
    started = owner_api.post(url + "start/")
    assert started.status_code == 200 and started.data["status"] == "RUNNING" and started.data["job"]
    assert owner_api.post(url + "start/").data == {"detail": "This heat is on track already."}
    stopped = owner_api.post(url + "stop/")
    assert stopped.status_code == 200 and stopped.data["status"] == "FAILED"


def test_it_moves_heats_in_race_days_queue(owner, owner_api):
    race = make_h2m_race(owner, is_live=True, event_at=timezone.now())
    make_board(race, 4)
    services.bracket_seed(race, 4)
    first, second = Heat.objects.filter(race=race, round=1).order_by("slot")
    control = f"/api/races/{race.pk}/race-day/control/"
    moved = owner_api.post(control, {"action": "move_down", "heat": first.pk}, format="json")
    assert [row["key"] for row in moved.data["queue"]] == [f"heat:{second.pk}", f"heat:{first.pk}"]
    reordered = owner_api.post(control, {"action": "reorder", "order": [f"heat:{first.pk}"]}, format="json")
    assert reordered.data["queue"][0]["heat"] == first.pk
    unknown = owner_api.post(control, {"action": "remove", "heat": 999999}, format="json")
    assert unknown.status_code == 400 and unknown.data.keys() == {"heat"}
    bad = owner_api.post(control, {"action": "reorder", "order": ["heat:nope"]}, format="json")
    assert bad.status_code == 400 and "each once" in bad.data["detail"]
    owner_api.post(control, {"action": "remove", "heat": second.pk}, format="json")
    second.refresh_from_db()
    assert second.status == HeatStatus.FAILED
    requeued = owner_api.post(control, {"action": "requeue", "heat": second.pk}, format="json")
    assert requeued.data["queue"][-1]["heat"] == second.pk
    state = owner_api.get(f"/api/races/{race.pk}/race-day/").data
    assert state["head_to_model"] and state["queue"][0]["racer"] == "Ana_Racer vs Dee_Racer"
    heat = owner_api.get(f"/api/races/{race.pk}/heats/{first.pk}/").data
    assert heat["queue_position"] == 1


def test_it_lists_a_bracket_in_as_many_queries_for_16_heats_as_for_4(owner, owner_api, queries_of):
    small, large = make_h2m_race(owner, name="Small", is_live=True), make_h2m_race(owner, name="Large", is_live=True)
    make_board(small, 4)
    services.bracket_seed(small, 4)
    board = make_board(large, 16)
    assert len(board) == 16
    services.bracket_seed(large, 16)
    for path in ("heats/", "bracket/"):
        few = queries_of(lambda path=path: owner_api.get(f"/api/races/{small.pk}/{path}"))
        many = queries_of(lambda path=path: owner_api.get(f"/api/races/{large.pk}/{path}"))
        assert many == few, path
    queued = owner_api.get(f"/api/races/{large.pk}/heats/").data
    assert [heat["queue_position"] for heat in queued if heat["round"] == 1] == list(range(1, 9))
