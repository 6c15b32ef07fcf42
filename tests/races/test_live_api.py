"""Race day through the REST API, with the pages' rules: the state for those who see the race, the control
endpoint for the organiser, facilitators and admins; 404 for everyone else; bad input is a 400 with the field."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from races.models import Participant, Race, SubmissionStatus
from tests.conftest import make_racer
from tests.races.conftest import make_entry, make_race
from tests.races.test_api import _body


@pytest.fixture
def live_race(owner):
    return make_race(owner, name="Race Day", is_live=True, event_at=timezone.now())


@pytest.fixture
def racer_api(live_race):
    racer = make_racer("racer", "Invited_Racer")
    Participant.objects.create(race=live_race, user=racer)
    client = APIClient()
    client.force_authenticate(racer)
    return client


def test_it_creates_a_live_race_only_with_its_event_time(owner_api):
    refused = owner_api.post("/api/races/", _body(is_live=True), format="json")
    assert refused.status_code == 400 and "event_at" in refused.data
    event = (timezone.now() + timedelta(hours=2)).isoformat()
    created = owner_api.post("/api/races/", _body(is_live=True, event_at=event, max_resets=5), format="json")
    assert created.status_code == 201, created.data
    assert created.data["is_live"] and created.data["max_resets"] == 5 and created.data["finished_at"] is None
    assert Race.objects.get(pk=created.data["id"]).is_live


def test_it_runs_race_day_for_the_organiser_only(live_race, owner, owner_api, racer_api, stranger_api):
    first = make_entry(live_race, owner, status=SubmissionStatus.QUEUED, queue_order=1, model_name="A")
    second = make_entry(live_race, owner, status=SubmissionStatus.QUEUED, queue_order=2, model_name="B")
    url = f"/api/races/{live_race.pk}/race-day/"
    assert racer_api.get(url).status_code == 200 and stranger_api.get(url).status_code == 404
    control = url + "control/"
    assert racer_api.post(control, {"action": "finish"}, format="json").status_code == 404
    assert stranger_api.post(control, {"action": "finish"}, format="json").status_code == 404
    response = owner_api.post(control, {"action": "reorder", "order": [second.pk, first.pk]}, format="json")
    assert [row["model"] for row in response.data["queue"]] == ["B", "A"]
    assert owner_api.post(control, {"action": "fly"}, format="json").data.keys() == {"action"}
    assert owner_api.post(control, {"action": "remove"}, format="json").data.keys() == {"submission"}
    refused = owner_api.post(control, {"action": "stop"}, format="json")
    assert refused.status_code == 400 and "No run is on track" in refused.data["detail"]
    finished = owner_api.post(control, {"action": "finish"}, format="json")
    assert finished.status_code == 200 and finished.data["finished"]


def test_it_describes_race_day_in_the_schema(owner_client):
    schema = owner_client.get("/api/schema/").content.decode()
    assert "/api/races/{id}/race-day/" in schema and "/api/races/{id}/race-day/control/" in schema
