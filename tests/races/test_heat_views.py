"""Head-to-model pages with organiser, facilitator, participant and stranger personas: the heats page and a
heat's page (result, replay) for everyone who can see the race, 404 for strangers to a private race and for
races of another type; the tools (pair, seed, start, stop) for the organiser, and race day's crew in a live
race; bad input shows the field and the reason."""

import pytest
from django.urls import reverse
from django.utils import timezone

from races import services
from races.models import Heat, HeatStatus, Race
from tests.conftest import _client_for
from tests.races.conftest import make_race
from tests.races.heats_fixtures import finish, make_board, make_h2m_race, put_on_track
from tests.races.test_views import _form


@pytest.fixture
def h2m_race(owner):
    return make_h2m_race(owner)


@pytest.fixture
def board(h2m_race):
    return make_board(h2m_race, 4)


@pytest.fixture
def racer_client(board):
    return _client_for(board[0].participant.user)


def test_it_creates_a_head_to_model_race_with_its_heat_rules(owner_client):
    response = owner_client.post(reverse("races:create"), _form(race_type="HEAD_TO_MODEL", heat_laps="3",
                                                                heat_seconds="120"))
    assert response.status_code == 302, response.context["form"].errors
    race = Race.objects.get(name="Friday Night Cup")
    assert race.race_type == {"race_type": "HEAD_TO_MODEL"} and (race.heat_laps, race.heat_seconds) == (3, 120)
    page = owner_client.get(reverse("races:detail", args=[race.pk])).content.decode()
    assert "Head-to-model" in page and reverse("races:heats", args=[race.pk]) in page
    assert "First to finish 3 laps wins" in page
    refused = owner_client.post(reverse("races:create"), _form(race_type="HEAD_TO_MODEL", heat_laps="",
                                                               heat_seconds="5"))
    errors = refused.context["form"].errors
    assert refused.status_code == 400 and "Required for a head-to-model race." in errors["heat_laps"]
    assert "heat_seconds" in errors
    form_page = owner_client.get(reverse("races:create")).content.decode()
    assert 'value="HEAD_TO_MODEL"' in form_page and 'data-show-race="HEAD_TO_MODEL"' in form_page


def test_it_shows_heats_to_those_who_see_the_race_and_404s_the_rest(h2m_race, board, owner, owner_client,
                                                                      racer_client, stranger_client):
    heat = services.heat_pair(h2m_race, board[0], board[1])
    pages = [reverse("races:heats", args=[h2m_race.pk]), reverse("races:heat", args=[h2m_race.pk, heat.pk])]
    for page in pages:
        assert owner_client.get(page).status_code == 200
        assert racer_client.get(page).status_code == 200
        assert stranger_client.get(page).status_code == 404, page
        assert owner_client.post(page).status_code == 405
    assert owner_client.get(reverse("races:heat", args=[h2m_race.pk, heat.pk + 99])).status_code == 404
    other = make_race(owner, name="Time Trial Cup")
    assert owner_client.get(reverse("races:heats", args=[other.pk])).status_code == 404
    assert owner_client.get(reverse("races:heat", args=[other.pk, heat.pk])).status_code == 404
    heats_page = racer_client.get(pages[0]).content.decode()
    assert "Ana_Racer" in heats_page and 'data-testid="pair-form"' not in heats_page
    assert 'data-testid="pair-form"' in owner_client.get(pages[0]).content.decode()


def test_it_keeps_the_tools_to_the_organiser(h2m_race, board, racer_client, stranger_client, owner_client):
    pair = reverse("races:heat_pair", args=[h2m_race.pk])
    body = {"first": board[0].pk, "second": board[1].pk}
    for client in (racer_client, stranger_client):
        assert client.post(pair, body).status_code == 404
        assert client.post(reverse("races:bracket_seed", args=[h2m_race.pk]), {"size": "4"}).status_code == 404
        assert client.post(reverse("races:heats_start", args=[h2m_race.pk])).status_code == 404
    assert owner_client.get(pair).status_code == 405
    response = owner_client.post(pair, body)
    assert response.status_code == 302 and response.url == reverse("races:heats", args=[h2m_race.pk])
    heat = Heat.objects.get(race=h2m_race)
    for action in ("start", "stop", "remove"):
        assert racer_client.post(reverse("races:heat_action", args=[h2m_race.pk, heat.pk, action])).status_code == 404
    assert owner_client.post(reverse("races:heat_action", args=[h2m_race.pk, heat.pk, "fly"])).status_code == 404
    response = owner_client.post(reverse("races:heat_action", args=[h2m_race.pk, heat.pk, "remove"]), follow=True)
    assert "Heat 1 is removed." in response.content.decode() and not Heat.objects.exists()


def test_it_shows_bad_pairs_and_seeds_with_the_field_and_the_reason(h2m_race, board, owner_client):
    pair = reverse("races:heat_pair", args=[h2m_race.pk])
    same = owner_client.post(pair, {"first": board[0].pk, "second": board[0].pk})
    assert same.status_code == 400
    assert same.context["pair_form"].errors["second"] == ["A heat is between two racers: pick an entry of another racer."]
    missing = owner_client.post(pair, {"first": board[0].pk, "second": "999999"})
    assert missing.status_code == 400 and "second" in missing.context["pair_form"].errors
    too_many = owner_client.post(reverse("races:bracket_seed", args=[h2m_race.pk]), {"size": "8"})
    assert too_many.status_code == 400
    assert too_many.context["seed_form"].errors["size"] == [
        "A bracket of 8 needs 8 racers on the leaderboard; it has 4."]
    assert "needs 8 racers" in too_many.content.decode()
    odd = owner_client.post(reverse("races:bracket_seed", args=[h2m_race.pk]), {"size": "5"})
    assert odd.status_code == 400 and "size" in odd.context["seed_form"].errors


def test_it_draws_the_bracket_and_starts_its_first_round(h2m_race, board, owner_client, racer_client):
    response = owner_client.post(reverse("races:bracket_seed", args=[h2m_race.pk]), {"size": "4"}, follow=True)
    page = response.content.decode()
    assert "The bracket of 4 is seeded" in page and page.count('data-testid="heat-card"') == 3
    assert "Semi-finals" in page and "Final" in page and "winner of an earlier heat" in page
    assert 'data-testid="start-ready-heats"' in page
    # The models are not trained: each heat fails at once, with the reason, and can run again.
    response = owner_client.post(reverse("races:heats_start", args=[h2m_race.pk]), follow=True)
    assert Heat.objects.filter(race=h2m_race, status=HeatStatus.FAILED).count() == 2
    assert "has no trained checkpoint" in racer_client.get(reverse("races:heats", args=[h2m_race.pk])).content.decode()
    refused = owner_client.post(reverse("races:heats_start", args=[h2m_race.pk]), follow=True)
    assert "No heat is ready to start." in refused.content.decode()


def test_it_shows_a_finished_heat_with_both_racers_and_the_replay(h2m_race, board, owner, racer_client,
                                                                  stranger_client):
    heat = services.heat_pair(h2m_race, board[0], board[1])
    video = reverse("races:heat_video", args=[h2m_race.pk, heat.pk])
    assert racer_client.get(video).status_code == 404  # no replay yet
    heat = finish(heat, winner=1, decided_by="time_limit")
    heat.job.folder.mkdir(parents=True)
    (heat.job.folder / "heat.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(1000))
    heat.job.video = "heat.mp4"
    heat.job.save(update_fields=["video"])
    page = racer_client.get(reverse("races:heat", args=[h2m_race.pk, heat.pk])).content.decode()
    assert "<strong>Ben_Racer</strong> wins with Ben-Model." in page
    assert "Time limit after 24.75 s: neither car finished, the winner was further along." in page
    assert "00:12.500, 00:12.250" in page and "00:24.750" in page and "00:13.000" in page
    assert "did not finish" in page and video in page
    whole = racer_client.get(video)
    assert whole.status_code == 200 and whole["Content-Type"] == "video/mp4" and whole["Accept-Ranges"] == "bytes"
    part = racer_client.get(video, HTTP_RANGE="bytes=0-99")
    assert part.status_code == 206 and len(b"".join(part.streaming_content)) == 100
    assert stranger_client.get(video).status_code == 404
    heats = racer_client.get(reverse("races:heats", args=[h2m_race.pk])).content.decode()
    assert 'data-testid="heat-winner">Ben_Racer' in heats


def test_it_runs_a_live_races_heats_from_the_control_page(owner, facilitator_client):
    race = make_h2m_race(owner, is_live=True, is_open=True, event_at=timezone.now())
    entries = make_board(race, 4)
    racer_client = _client_for(entries[0].participant.user)
    control = reverse("races:control", args=[race.pk])
    page = facilitator_client.get(control).content.decode()
    assert 'data-testid="pair-form"' in page and 'data-testid="seed-form"' in page
    response = facilitator_client.post(reverse("races:bracket_seed", args=[race.pk]), {"size": "4", "back": "control"})
    assert response.status_code == 302 and response.url == control
    page = facilitator_client.get(control).content.decode()
    assert page.count('data-heat="') == 2 and "Ana_Racer vs Dee_Racer" in page
    first = Heat.objects.get(race=race, round=1, slot=1)
    down = reverse("races:heat_queue_action", args=[race.pk, first.pk, "down"])
    assert racer_client.post(down).status_code == 404
    facilitator_client.post(down)
    assert [item.name for item in services.live_queue(race)] == ["Semi-final 2", "Semi-final 1"]
    reorder = reverse("races:control_action", args=[race.pk, "reorder"])
    facilitator_client.post(reorder, {"order": f"heat:{first.pk}"})
    assert services.live_queue(race)[0] == first
    bad = facilitator_client.post(reorder, {"order": "heat:x"}, HTTP_ACCEPT="application/json")
    assert bad.status_code == 400 and "separated by commas" in bad.json()["detail"]
    start = reverse("races:heat_action", args=[race.pk, first.pk, "start"])
    refused = facilitator_client.post(start, follow=True)
    assert "run from the race-day queue" in refused.content.decode()
    # Launched, a heat whose models cannot race fails with the reason and can go back in the queue.
    facilitator_client.post(reverse("races:control_action", args=[race.pk, "launch"]))
    first.refresh_from_db()
    assert first.status == HeatStatus.FAILED and "no trained checkpoint" in first.failure_reason
    page = facilitator_client.get(control).content.decode()
    assert 'data-testid="failed-heats"' in page
    facilitator_client.post(reverse("races:heat_queue_action", args=[race.pk, first.pk, "requeue"]))
    first.refresh_from_db()
    assert first.status == HeatStatus.QUEUED


def test_it_names_the_brackets_winner_on_the_race_page(h2m_race, board, racer_client):
    services.bracket_seed(h2m_race, 4)
    for heat in Heat.objects.filter(race=h2m_race, round=1):
        put_on_track(heat)
        finish(heat, winner=1)
    detail = reverse("races:detail", args=[h2m_race.pk])
    assert 'data-testid="race-champion"' not in racer_client.get(detail).content.decode()
    final = Heat.objects.get(race=h2m_race, round=2)
    put_on_track(final)
    finish(final, winner=0)
    for page in (detail, reverse("races:heats", args=[h2m_race.pk])):
        assert "<strong>Dee_Racer</strong> (Dee-Model) won the final" in racer_client.get(page).content.decode()


def test_it_shows_racers_their_heats_and_places_in_the_queue(owner):
    race = make_h2m_race(owner, is_live=True, event_at=timezone.now())
    entries = make_board(race, 4)
    services.bracket_seed(race, 4)
    page = _client_for(entries[2].participant.user).get(reverse("races:detail", args=[race.pk])).content.decode()
    assert 'data-testid="my-heats"' in page and "Semi-final 2" in page and "Ben_Racer vs Cy_Racer" in page
    assert "place 2 in the queue" in page and "Semi-final 1" not in page
    assert 'data-testid="my-heats"' not in _client_for(owner).get(reverse("races:detail", args=[race.pk])).content.decode()
