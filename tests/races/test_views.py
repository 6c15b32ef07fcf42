"""Race pages with owner (the organiser), participant and stranger personas: strangers get 404 on every
page of a private race, racers who are not the organiser get 404 on the organiser's tools, wrong methods
405; the leaderboard page's query count stays flat with 200 entries."""

import csv
import io
import shutil
import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from races.models import Participant, Race, Submission, SubmissionStatus
from tests.conftest import _client_for, make_racer
from tests.races.conftest import make_entry, make_race
from tests.training.jobs_fixtures import make_model


@pytest.fixture
def racer(db):
    return make_racer("racer", "Invited_Racer")


@pytest.fixture
def racer_client(racer):
    return _client_for(racer)


@pytest.fixture
def joined(race, racer):
    Participant.objects.create(race=race, user=racer)
    return racer


def _form(**changes):
    now = timezone.now()
    data = {"name": "Friday Night Cup", "description": "Fast laps only", "time_zone": "UTC",
            "opens_at": (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            "track": "quick_loop", "direction": "counterclockwise", "race_type": "TIME_TRIAL",
            "object_count": "3", "object_placement": "random", "object_positions": "", "bot_count": "3",
            "bot_speed": "0.5", "ranking_method": "AVG_LAP_TIME", "min_laps": "2", "max_laps": "3",
            "off_track_penalty": "5", "collision_penalty": "5", "max_submissions": "5"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


PRIVATE_PAGES = ["races:detail", "races:board", "races:clone"]
ORGANISER_GET_PAGES = ["races:edit", "races:delete", "races:csv"]
ORGANISER_POSTS = ["races:close", "races:reset_invite", "races:delete", "races:edit"]


# ------------------------------------------------------------------------------------------- access


@pytest.mark.parametrize("name", PRIVATE_PAGES + ORGANISER_GET_PAGES)
def test_it_hides_a_private_race_from_strangers(race, stranger_client, name):
    assert stranger_client.get(reverse(name, args=[race.pk])).status_code == 404


@pytest.mark.parametrize("name", PRIVATE_PAGES)
def test_it_shows_the_race_to_its_participants(race, joined, racer_client, name):
    assert racer_client.get(reverse(name, args=[race.pk])).status_code == 200


@pytest.mark.parametrize("name", ORGANISER_GET_PAGES)
def test_it_keeps_the_organisers_pages_from_participants(race, joined, racer_client, name):
    assert racer_client.get(reverse(name, args=[race.pk])).status_code == 404


@pytest.mark.parametrize("name", ORGANISER_POSTS)
def test_it_keeps_the_organisers_actions_from_participants_and_strangers(race, joined, racer_client,
                                                                         stranger_client, name):
    for client in (racer_client, stranger_client):
        assert client.post(reverse(name, args=[race.pk])).status_code == 404
    race.refresh_from_db()
    assert not race.closed_early and Race.objects.filter(pk=race.pk).exists()


def test_it_refuses_removing_racers_and_submitting_for_strangers(race, joined, racer, stranger_client):
    url = reverse("races:remove_racer", args=[race.pk, racer.pk])
    assert stranger_client.post(url).status_code == 404
    assert stranger_client.post(reverse("races:submit", args=[race.pk]), {"model": "x"}).status_code == 404
    assert Participant.objects.get(race=race, user=racer).removed_at is None


@pytest.mark.parametrize("name, method", [("races:close", "get"), ("races:reset_invite", "get"),
                                          ("races:submit", "get"), ("races:detail", "post"),
                                          ("races:board", "post"), ("races:csv", "post")])
def test_it_refuses_wrong_methods(race, owner_client, name, method):
    assert getattr(owner_client, method)(reverse(name, args=[race.pk])).status_code == 405


def test_it_sends_anonymous_visitors_to_sign_in(race, client):
    for url in (reverse("races:list"), reverse("races:detail", args=[race.pk]),
                reverse("races:join", args=[race.invite_token])):
        assert client.get(url).status_code == 302


# ------------------------------------------------------------------------------------------ creating


def test_it_creates_a_private_race_with_the_form(owner_client, owner):
    response = owner_client.post(reverse("races:create"), _form())
    race = Race.objects.get()
    assert response.status_code == 302 and response.url == reverse("races:detail", args=[race.pk])
    assert (race.owner, race.name, race.ranking_method, race.min_laps, race.max_laps, race.is_open) == \
        (owner, "Friday Night Cup", "AVG_LAP_TIME", 2, 3, False)
    assert race.race_type == {"race_type": "TIME_TRIAL"} and not race.track_reversed
    assert Participant.objects.filter(race=race, user=owner).exists()


def test_it_reads_the_times_in_the_organisers_time_zone(owner_client):
    owner_client.post(reverse("races:create"), _form(time_zone="Asia/Tokyo", opens_at="2031-03-01T09:00",
                                                     closes_at="2031-03-08T21:30"))
    race = Race.objects.get()
    assert race.opens_at == datetime(2031, 3, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))
    assert race.time_zone == "Asia/Tokyo"


def test_it_stores_object_avoidance_and_the_other_direction(owner_client):
    owner_client.post(reverse("races:create"), _form(race_type="OBJECT_AVOIDANCE", object_count="2",
                                                     object_placement="fixed",
                                                     object_positions="0.2 inner, 0.6 outer", direction="clockwise"))
    race = Race.objects.get()
    assert race.race_type == {"race_type": "OBJECT_AVOIDANCE", "object_count": 2, "randomize_objects": False,
                              "object_positions": [[0.2, "inner"], [0.6, "outer"]]}
    assert race.track_reversed


@pytest.mark.parametrize("changes, field, message", [
    ({"closes_at": "2020-01-01T00:00", "opens_at": "2019-01-01T00:00"}, "closes_at", "in the future"),
    ({"closes_at": "2030-01-01T00:00", "opens_at": "2030-02-01T00:00"}, "closes_at", "close after it opens"),
    ({"min_laps": "4", "max_laps": "3"}, "min_laps", "cannot be more than"),
    ({"max_laps": "6"}, "max_laps", "less than or equal to 5"),
    ({"race_type": "OBJECT_AVOIDANCE", "object_placement": "fixed", "object_positions": "0.2 inner, 0.25 outer",
      "object_count": "2"}, "object_positions", "at least 0.13"),
    ({"race_type": "OBJECT_AVOIDANCE", "object_placement": "fixed", "object_positions": "middle",
      "object_count": "1"}, "object_positions", "fraction lane"),
    ({"race_type": "HEAD_TO_BOT", "bot_speed": "9"}, "bot_speed", "less than or equal to 6"),
    ({"track": "atlantis"}, "track", "Select a valid choice"),
    ({"time_zone": "Mars/Olympus"}, "time_zone", "Unknown time zone"),
    ({"name": "   "}, "name", "required"),
])
def test_it_refuses_bad_settings_with_the_field_and_reason(owner_client, changes, field, message):
    response = owner_client.post(reverse("races:create"), _form(**changes))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors.get(field, [])), response.context["form"].errors
    assert not Race.objects.exists()


def test_it_lets_only_facilitators_create_open_races(owner_client, facilitator_client, stranger_client):
    owner_client.post(reverse("races:create"), _form(is_open="true"))
    assert Race.objects.get().is_open is False  # the field is not offered to a racer
    facilitator_client.post(reverse("races:create"), _form(name="Virtual Circuit", is_open="true"))
    circuit = Race.objects.get(name="Virtual Circuit")
    assert circuit.is_open
    assert stranger_client.get(reverse("races:detail", args=[circuit.pk])).status_code == 200


def test_it_offers_the_organisers_imported_tracks(owner_client, owner):
    from tests.training.jobs_fixtures import _imported_track

    theirs = _imported_track(owner)
    page = owner_client.get(reverse("races:create"))
    assert f'data-testid="track-{theirs.slug}"' in page.content.decode()
    owner_client.post(reverse("races:create"), _form(track=theirs.slug))
    assert Race.objects.get().track_title == "re:Invent 2018"


# ------------------------------------------------------------------------------------------- editing


def test_it_edits_everything_before_the_race_opens(owner, owner_client):
    race = make_race(owner, opens_at=timezone.now() + timedelta(hours=1))
    response = owner_client.post(reverse("races:edit", args=[race.pk]), _form(max_laps="5", ranking_method="TOTAL_TIME"))
    assert response.status_code == 302
    race.refresh_from_db()
    assert (race.max_laps, race.ranking_method, race.name) == (5, "TOTAL_TIME", "Friday Night Cup")


def test_it_limits_editing_after_the_race_opens(race, owner_client):
    closes = race.closes_at
    form = owner_client.get(reverse("races:edit", args=[race.pk])).context["form"]
    assert set(form.fields) == {"name", "description", "closes_at", "time_zone"}
    later = (closes + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = owner_client.post(reverse("races:edit", args=[race.pk]),
                                 _form(name="Renamed", closes_at=later, max_laps="5", ranking_method="TOTAL_TIME"))
    assert response.status_code == 302
    race.refresh_from_db()
    assert (race.name, race.max_laps, race.ranking_method) == ("Renamed", 3, "BEST_LAP_TIME")
    earlier = (closes - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = owner_client.post(reverse("races:edit", args=[race.pk]), _form(closes_at=earlier))
    assert response.status_code == 400 and "only move later" in str(response.context["form"].errors)


def test_it_clones_a_race_into_a_new_window(race, joined, racer_client, racer):
    page = racer_client.get(reverse("races:clone", args=[race.pk]))
    form = page.context["form"]
    assert form.initial["name"] == "Spring Cup (copy)" and form.initial["max_laps"] == race.max_laps
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(continuous="on" if race.continuous else None, bot_lane_changes=None)
    response = racer_client.post(reverse("races:clone", args=[race.pk]),
                                 {key: value for key, value in data.items() if value is not None})
    clone = Race.objects.exclude(pk=race.pk).get()
    assert response.status_code == 302 and clone.owner == racer and clone.track == race.track


# -------------------------------------------------------------------------------- invite, organiser tools


def test_it_joins_through_the_invite_link_and_refuses_reset_links(race, owner_client, stranger_client, stranger):
    url = reverse("races:join", args=[race.invite_token])
    page = stranger_client.get(url)
    assert page.status_code == 200 and "invites you to race" in page.content.decode()
    assert stranger_client.post(url).status_code == 302
    assert stranger_client.get(reverse("races:detail", args=[race.pk])).status_code == 200
    owner_client.post(reverse("races:reset_invite", args=[race.pk]))
    race.refresh_from_db()
    late = make_racer("late", "Late_Racer")
    assert _client_for(late).get(url).status_code == 404
    assert _client_for(late).post(url).status_code == 404
    assert _client_for(late).post(reverse("races:join", args=[race.invite_token])).status_code == 302


def test_it_removes_a_racer_whose_entries_leave_the_board(race, joined, racer, owner_client, racer_client):
    make_entry(race, racer, 12_000)
    assert Submission.objects.leaderboard(race).count() == 1
    response = owner_client.post(reverse("races:remove_racer", args=[race.pk, racer.pk]))
    assert response.status_code == 302
    assert Submission.objects.leaderboard(race).count() == 0
    assert racer_client.get(reverse("races:detail", args=[race.pk])).status_code == 404
    rejoin = racer_client.post(reverse("races:join", args=[race.invite_token]))
    assert rejoin.status_code == 403 and "removed you" in rejoin.content.decode()


def test_it_closes_early_and_deletes(race, owner_client):
    owner_client.post(reverse("races:close", args=[race.pk]))
    race.refresh_from_db()
    assert race.closed_early and race.state == "closed"
    assert 'data-testid="enter-race"' not in owner_client.get(reverse("races:detail", args=[race.pk])).content.decode()
    assert owner_client.get(reverse("races:delete", args=[race.pk])).status_code == 200
    assert owner_client.post(reverse("races:delete", args=[race.pk])).status_code == 302
    assert not Race.objects.exists()


def test_it_downloads_the_leaderboard_as_csv(race, owner, stranger, owner_client):
    Participant.objects.create(race=race, user=stranger)
    make_entry(race, stranger, 12_345, penalty_seconds=5.0)
    make_entry(race, owner, None, laps_completed=0, best_completion=40.0)
    response = owner_client.get(reverse("races:csv", args=[race.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["rank", "racer_name", "ranking_time", "gap"]
    assert rows[1][:3] == ["1", "Stranger-Racer", "00:12.345"] and rows[1][8] == "5"
    assert rows[2][:3] == ["", "Owner_Racer", ""]


# ------------------------------------------------------------------------------------------- racing


def test_it_submits_a_model_from_the_race_page(race, owner, owner_client, trained_rl_model):
    response = owner_client.post(reverse("races:submit", args=[race.pk]), {"model": trained_rl_model.pk})
    assert response.status_code == 302
    submission = Submission.objects.get()
    assert submission.status == SubmissionStatus.RUNNING and submission.evaluation.label == "Race: Spring Cup"
    page = owner_client.get(reverse("races:detail", args=[race.pk])).content.decode()
    assert "place 1 in the queue" in page
    evaluations = owner_client.get(reverse("training:model_evaluation", args=[trained_rl_model.pk]))
    assert "Race: Spring Cup" in evaluations.content.decode()


def test_it_says_why_a_submission_is_refused(race, owner_client, rl_model, stranger, trained_model_folder):
    response = owner_client.post(reverse("races:submit", args=[race.pk]), {"model": rl_model.pk}, follow=True)
    assert "no trained checkpoint" in response.content.decode()
    theirs = make_model(stranger, name="Theirs")
    shutil.copytree(trained_model_folder, theirs.folder)
    response = owner_client.post(reverse("races:submit", args=[race.pk]), {"model": theirs.pk}, follow=True)
    assert "Pick one of your models" in response.content.decode()
    assert not Submission.objects.exists()


def test_its_model_picker_lists_only_the_models_that_can_race(race, owner, owner_client, trained_rl_model,
                                                               trained_model_folder):
    make_model(owner, name="Untrained")  # no checkpoint yet
    training = make_model(owner, name="Still-Training", status="TRAINING")
    shutil.copytree(trained_model_folder, training.folder)  # its first checkpoints are in, it trains on
    make_model(owner, name="From-Logs", logs_only_reason="Its weights are TensorFlow: logs only.")
    page = owner_client.get(reverse("races:detail", args=[race.pk]))
    assert list(page.context["form"].fields["model"].queryset) == [trained_rl_model]
    content = page.content.decode()
    picker = content[content.index("<select"):content.index("</select>")]
    assert "Trained-Model" in picker and "Untrained" not in picker and "Still-Training" not in picker
    assert "From-Logs" not in picker
    refused = content[content.index('data-testid="models-refused"'):]
    assert "3 of your models cannot race now" in refused
    for reason in ("Untrained has no trained checkpoint", "Still-Training is training", "From-Logs was trained elsewhere"):
        assert reason in refused
    trained_rl_model.delete()
    content = owner_client.get(reverse("races:detail", args=[race.pk])).content.decode()
    assert "None of your models can race now" in content and "<select" not in content


def test_it_lists_the_board_with_my_row_pinned_off_the_first_page(race, owner, owner_client):
    racers = [make_racer(f"fast{n}", f"Fast_{n:02d}") for n in range(55)]
    for number, fast in enumerate(racers):
        make_entry(race, fast, 10_000 + number)
    make_entry(race, owner, 50_000)
    page = owner_client.get(reverse("races:detail", args=[race.pk]))
    assert len(page.context["rows"]) == 50 and page.context["pinned"].rank == 56
    html = page.content.decode()
    assert 'class="mine" aria-current="true"' in html and "Page 1 of 2" in html


def test_it_keeps_the_page_queries_flat_with_200_entries(race, owner, owner_client, queries_of):
    make_entry(race, owner, 30_000)
    url = reverse("races:detail", args=[race.pk])
    one = queries_of(lambda: owner_client.get(url))
    for number in range(199):
        make_entry(race, make_racer(f"r{number}", f"Racer_{number:03d}"), 10_000 + number)
    assert queries_of(lambda: owner_client.get(url)) == one
    assert queries_of(lambda: owner_client.get(reverse("races:board", args=[race.pk]))) <= one
    assert queries_of(lambda: owner_client.get(reverse("races:csv", args=[race.pk]))) < one


def test_it_serves_entry_videos_to_who_can_see_the_race_only(race, owner, stranger_client, owner_client):
    entry = make_entry(race, owner, 12_000)
    assert owner_client.get(reverse("races:entry_video", args=[race.pk, entry.pk])).status_code == 404  # none
    assert stranger_client.get(reverse("races:entry_video", args=[race.pk, entry.pk])).status_code == 404
    assert stranger_client.get(reverse("races:entry_simtrace", args=[race.pk, entry.pk])).status_code == 404


# ------------------------------------------------------------------------------------ lists, profiles


def test_it_lists_my_races_and_the_open_races_with_their_top_three(race, owner, owner_client, stranger_client,
                                                                   facilitator, stranger):
    circuit = make_race(facilitator, name="Virtual Circuit", is_open=True)
    for number, time in enumerate((14_000, 11_000, 12_000, 13_000)):
        make_entry(circuit, make_racer(f"c{number}", f"Circuit_{number}"), time)
    assert [r.name for r in owner_client.get(reverse("races:list")).context["races"]] == ["Spring Cup"]
    page = stranger_client.get(reverse("races:leaderboards"))
    (listed, top), = page.context["races"]
    assert listed == circuit and [entry.racer_name for entry in top] == ["Circuit_1", "Circuit_2", "Circuit_3"]
    assert "Spring Cup" not in page.content.decode()


def test_it_shows_navigation_entries(owner_client):
    html = owner_client.get(reverse("races:list")).content.decode()
    assert ">Community races</a>" in html and ">Leaderboards</a>" in html


def test_it_shows_a_public_profile_with_visible_results_only(race, owner, stranger_client, facilitator):
    circuit = make_race(facilitator, name="Virtual Circuit", is_open=True)
    make_entry(circuit, owner, 11_000)
    make_entry(race, owner, 9_000)
    page = stranger_client.get(reverse("races:racer", args=["owner_racer"]))
    html = page.content.decode()
    assert page.status_code == 200 and "Virtual Circuit" in html and "00:11.000" in html
    assert "Spring Cup" not in html and "Quick-Model" not in html  # no private race, no model names
    assert stranger_client.get(reverse("races:racer", args=["nobody"])).status_code == 404


def test_it_shows_my_results_on_my_racer_profile(race, owner, owner_client):
    make_entry(race, owner, 9_000)
    html = owner_client.get(reverse("accounts:profile")).content.decode()
    assert "Spring Cup" in html and "00:09.000" in html


def test_it_asks_a_new_racer_for_a_racer_name_before_joining(race):
    newcomer = make_racer("newcomer")  # signed up, no racer name yet
    url = reverse("races:join", args=[race.invite_token])
    response = _client_for(newcomer).get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:racer_name")) and "join" in response.url


def test_it_keeps_the_race_lists_and_profiles_flat_with_more_races(owner, owner_client, facilitator, queries_of):
    from tests.training.jobs_fixtures import _imported_track

    def add_races(count, start):
        for number in range(start, start + count):
            theirs = _imported_track(facilitator, title=f"Track {number}")
            circuit = make_race(facilitator, name=f"Circuit {number}", is_open=True, track=theirs.slug)
            make_entry(circuit, owner, 10_000 + number)
            mine = make_race(owner, name=f"Mine {number}", track=_imported_track(owner, title=f"Mine {number}").slug)
            make_entry(mine, owner, 12_000)

    add_races(1, 0)
    pages = (reverse("races:list"), reverse("races:leaderboards"), reverse("accounts:profile"),
             reverse("races:racer", args=["Owner_Racer"]))
    before = [queries_of(lambda url=url: owner_client.get(url)) for url in pages]
    add_races(4, 1)
    assert [queries_of(lambda url=url: owner_client.get(url)) for url in pages] == before
    assert "Track 3" in owner_client.get(reverse("races:leaderboards")).content.decode()


def test_it_says_when_submissions_open_and_that_a_closed_race_takes_none(owner, owner_client):
    upcoming = make_race(owner, opens_at=timezone.now() + timedelta(days=1))
    html = owner_client.get(reverse("races:detail", args=[upcoming.pk])).content.decode()
    assert 'data-testid="race-not-open"' in html and 'data-testid="enter-race"' not in html
    closed = make_race(owner, closes_at=timezone.now() - timedelta(minutes=1))
    html = owner_client.get(reverse("races:detail", args=[closed.pk])).content.decode()
    assert 'data-testid="race-closed"' in html and 'data-testid="enter-race"' not in html
