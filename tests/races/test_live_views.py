"""Race-day pages with organiser, facilitator, participant and stranger personas: the control page and its
actions are the organiser's, facilitators' and admins'; the broadcast is the participants'; the projector
link needs only its token; strangers get 404 everywhere."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from races import services
from races.models import Participant, Race, SubmissionStatus
from tests.conftest import _client_for, make_racer
from tests.races.conftest import make_entry, make_race
from tests.races.test_views import _form


@pytest.fixture
def live_race(owner):
    return make_race(owner, name="Race Day", is_live=True, event_at=timezone.now(), max_resets=2)


@pytest.fixture
def racer(live_race):
    racer = make_racer("racer", "Invited_Racer")
    Participant.objects.create(race=live_race, user=racer)
    return racer


def test_it_creates_a_live_race_with_its_event_time_and_reset_limit(facilitator_client):
    event = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = facilitator_client.post(reverse("races:create"), _form(is_live="on", event_at=event, max_resets="4", is_open="false"))
    assert response.status_code == 302, response.context["form"].errors
    race = Race.objects.get(name="Friday Night Cup")
    assert race.is_live and race.max_resets == 4 and race.event_at is not None
    page = facilitator_client.get(reverse("races:detail", args=[race.pk])).content.decode()
    assert reverse("races:control", args=[race.pk]) in page and reverse("races:broadcast", args=[race.pk]) in page
    response = facilitator_client.post(reverse("races:create"), _form(is_live="on", event_at="", is_open="false"))
    assert response.status_code == 400 and "needs the time race day starts" in response.context["form"].errors["event_at"][0]


def test_it_keeps_race_day_to_those_who_run_it(live_race, owner_client, facilitator_client, stranger_client, racer):
    racer_client = _client_for(racer)
    control = reverse("races:control", args=[live_race.pk])
    assert owner_client.get(control).status_code == 200
    assert racer_client.get(control).status_code == 404
    assert stranger_client.get(control).status_code == 404
    launch = reverse("races:control_action", args=[live_race.pk, "launch"])
    assert racer_client.post(launch).status_code == 404
    for name in ("races:broadcast", "races:live_state"):
        assert racer_client.get(reverse(name, args=[live_race.pk])).status_code == 200
        assert stranger_client.get(reverse(name, args=[live_race.pk])).status_code == 404
    # A facilitator who can see the race (an open one) runs it too.
    live_race.is_open = True
    live_race.save()
    assert facilitator_client.get(control).status_code == 200


def test_it_opens_the_projector_link_without_signing_in(live_race):
    anonymous = Client()
    page = anonymous.get(reverse("races:projector", args=[live_race.broadcast_token]))
    assert page.status_code == 200 and f"/ws/races/projector/{live_race.broadcast_token}/" in page.content.decode()
    state = anonymous.get(reverse("races:projector_state", args=[live_race.broadcast_token])).json()
    assert state["name"] == "Race Day" and state["queue"] == [] and state["current"] is None
    assert anonymous.get(reverse("races:projector", args=["wrong-token"])).status_code == 404
    assert anonymous.get(reverse("races:broadcast", args=[live_race.pk])).status_code == 302  # to sign in


def test_it_reorders_removes_and_requeues_from_the_control_page(live_race, owner_client, racer, owner):
    first = make_entry(live_race, racer, status=SubmissionStatus.QUEUED, queue_order=1, model_name="A")
    second = make_entry(live_race, owner, status=SubmissionStatus.QUEUED, queue_order=2, model_name="B")
    response = owner_client.post(reverse("races:control_action", args=[live_race.pk, "reorder"]),
                                 {"order": f"{second.pk},{first.pk}"}, HTTP_ACCEPT="application/json")
    assert [row["model"] for row in response.json()["queue"]] == ["B", "A"]
    bad = owner_client.post(reverse("races:control_action", args=[live_race.pk, "reorder"]),
                            {"order": "x"}, HTTP_ACCEPT="application/json")
    assert bad.status_code == 400 and "commas" in bad.json()["detail"]
    owner_client.post(reverse("races:run_action", args=[live_race.pk, second.pk, "down"]))
    assert [entry.model_name for entry in services.live_queue(live_race)] == ["A", "B"]
    owner_client.post(reverse("races:run_action", args=[live_race.pk, first.pk, "remove"]))
    page = owner_client.get(reverse("races:control", args=[live_race.pk])).content.decode()
    assert "took this run out of the queue" in page and "Re-queue" in page
    owner_client.post(reverse("races:run_action", args=[live_race.pk, first.pk, "requeue"]))
    assert [entry.model_name for entry in services.live_queue(live_race)] == ["B", "A"]
    response = owner_client.post(reverse("races:control_action", args=[live_race.pk, "stop"]), follow=True)
    assert "No run is on track" in response.content.decode()
    assert owner_client.post(reverse("races:control_action", args=[live_race.pk, "nonsense"])).status_code == 404


def test_it_says_when_the_run_on_track_waits_for_a_worker(live_race, owner_client, racer):
    from tests.training.jobs_fixtures import make_model
    from training.models import EvaluationJob, JobStatus

    job = EvaluationJob.objects.create(model=make_model(racer), track="quick_loop", live=True)
    make_entry(live_race, racer, status=SubmissionStatus.RUNNING, evaluation=job)
    page = owner_client.get(reverse("races:control", args=[live_race.pk])).content.decode()
    assert "waiting for a worker" in page
    assert owner_client.get(reverse("races:live_state", args=[live_race.pk])).json()["current"]["waiting_for_worker"]
    EvaluationJob.objects.filter(pk=job.pk).update(status=JobStatus.IN_PROGRESS)
    page = owner_client.get(reverse("races:control", args=[live_race.pk])).content.decode()
    assert "waiting for a worker" not in page and "in_progress" in page


def test_it_declares_the_winner(live_race, owner_client, racer, owner):
    make_entry(live_race, racer, 61_000)
    make_entry(live_race, owner, 65_500)
    owner_client.post(reverse("races:control_action", args=[live_race.pk, "finish"]))
    state = owner_client.get(reverse("races:live_state", args=[live_race.pk])).json()
    assert state["finished"] and state["winner"]["racer"] == "Invited_Racer"
    assert [row["gap"] for row in state["board"]][1].startswith("+4.5")
