"""Head-to-model heats with the real services and heat jobs: pairing by hand, seeding a bracket from the
leaderboard (standard seeding, clear refusals), winners advancing round by round to the race's winner,
draws and failures run again, and heats in a live race's one queue with the runs."""

import pytest

from common.broadcast import user_group
from races import services
from races.models import Heat, HeatStatus, SubmissionStatus
from tests.conftest import make_racer
from tests.races.conftest import make_entry, make_race
from tests.races.heats_fixtures import finish, make_board, make_h2m_race, put_on_track
from tests.races.test_services import _listen
from training.models import HeatJob, JobStatus


@pytest.fixture
def h2m_race(owner):
    return make_h2m_race(owner)


def _pairs(heats):
    return [(heat.first.racer_display if heat.first else None, heat.second.racer_display if heat.second else None)
            for heat in heats]


def test_it_is_a_race_type_of_its_own_that_qualifies_as_a_time_trial(h2m_race, owner):
    assert h2m_race.is_head_to_model and h2m_race.race_type_label == "Head-to-model"
    assert h2m_race.env_race_type == {"race_type": "TIME_TRIAL"}
    assert h2m_race.heat_rules_label == "First to finish 2 laps wins; after 60 s the car further along wins"
    time_trial = make_race(owner, name="Plain Cup")
    assert not time_trial.is_head_to_model and not time_trial.runs_heats(owner)
    assert h2m_race.runs_heats(owner)


def test_it_seeds_a_bracket_of_eight_from_the_leaderboard(h2m_race):
    make_board(h2m_race, 9)  # the ninth racer is left out
    heats = services.bracket_seed(h2m_race, 8)
    assert [(heat.round, heat.slot) for heat in heats] == [(1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 2), (3, 1)]
    first_round = heats[:4]
    assert _pairs(first_round) == [("Ana_Racer", "Hal_Racer"), ("Dee_Racer", "Eve_Racer"),
                                   ("Ben_Racer", "Gus_Racer"), ("Cy_Racer", "Fay_Racer")]
    assert [(heat.first_seed, heat.second_seed) for heat in first_round] == [(1, 8), (4, 5), (2, 7), (3, 6)]
    assert [heat.name for heat in heats] == ["Quarter-final 1", "Quarter-final 2", "Quarter-final 3",
                                             "Quarter-final 4", "Semi-final 1", "Semi-final 2", "Final"]
    statuses = {heat.pk: heat.status for heat in Heat.objects.filter(race=h2m_race)}
    assert [statuses[heat.pk] for heat in heats] == [HeatStatus.READY] * 4 + [HeatStatus.WAITING] * 3
    assert [heat.job for heat in heats] == [None] * 7  # a race that is not live waits for the organiser
    assert [round_["name"] for round_ in services.bracket_rounds(h2m_race)] == ["Quarter-finals", "Semi-finals",
                                                                               "Final"]


def test_it_refuses_a_bracket_it_cannot_seed(h2m_race, owner):
    make_board(h2m_race, 5)
    with pytest.raises(services.RaceError, match="A bracket of 8 needs 8 racers on the leaderboard; it has 5") as refused:
        services.bracket_seed(h2m_race, 8)
    assert refused.value.field == "size"
    with pytest.raises(services.RaceError, match="4, 8 or 16") as refused:
        services.bracket_seed(h2m_race, 6)
    assert refused.value.field == "size"
    services.bracket_seed(h2m_race, 4)
    with pytest.raises(services.RaceError, match="bracket already"):
        services.bracket_seed(h2m_race, 4)
    assert services.bracket_discard(h2m_race) == 3 and not Heat.objects.filter(race=h2m_race).exists()
    with pytest.raises(services.RaceError, match="head-to-model"):
        services.bracket_seed(make_race(owner, name="Time Trial Cup"), 4)


def test_it_pairs_two_racers_entries_by_hand(h2m_race, owner):
    ana, ben, _ = make_board(h2m_race, 3)
    heat = services.heat_pair(h2m_race, ben, ana)
    assert (heat.name, heat.status, heat.first, heat.second) == ("Heat 1", HeatStatus.READY, ben, ana)
    second_of_ana = make_entry(h2m_race, ana.participant.user, 20_000, model_name="Ana-Second")
    with pytest.raises(services.RaceError, match="two racers") as refused:
        services.heat_pair(h2m_race, ana, second_of_ana)
    assert refused.value.field == "second"
    elsewhere = make_entry(make_h2m_race(owner, name="Other Cup"), ben.participant.user, 9_000)
    with pytest.raises(services.RaceError, match="leaderboard") as refused:
        services.heat_pair(h2m_race, elsewhere, ana)
    assert refused.value.field == "first"
    running = make_entry(h2m_race, make_racer("zed", "Zed_Racer"), status=SubmissionStatus.RUNNING)
    with pytest.raises(services.RaceError, match="leaderboard"):
        services.heat_pair(h2m_race, ana, running)
    services.heat_remove(heat)
    assert not Heat.objects.filter(pk=heat.pk).exists()


def test_it_advances_the_winners_to_the_final_and_the_race_winner(h2m_race, trained_model_folder):
    entries = make_board(h2m_race, 4, trained_model_folder)
    ana, ben, _, dee = (entry.participant.user for entry in entries)
    semi_one, semi_two, final = services.bracket_seed(h2m_race, 4)
    assert _pairs([semi_one, semi_two]) == [("Ana_Racer", "Dee_Racer"), ("Ben_Racer", "Cy_Racer")]
    assert services.heats_run_ready(h2m_race) == 2
    semi_one.refresh_from_db()
    job = semi_one.job
    assert semi_one.status == HeatStatus.RUNNING and job.status == JobStatus.QUEUED
    # The heat job carries the race's rules, on the organiser's track and quota.
    assert (job.model, job.opponent, job.requested_by, job.laps, job.max_seconds, job.race_type, job.label) == (
        entries[0].model, entries[3].model, h2m_race.owner, 2, 60.0, {"race_type": "TIME_TRIAL"},
        "Semi-final 1 of Duel Cup")
    listen = _listen(user_group(dee.pk), user_group(ana.pk), h2m_race.group)

    semi_one = finish(semi_one, winner=1)  # Dee beats the top seed
    assert semi_one.status == HeatStatus.COMPLETED and semi_one.winner == entries[3]
    assert semi_one.decided_label == "First across the line after 2 laps."
    assert [car["laps_shown"] for car in semi_one.cars()] == [["00:13.000"], ["00:12.500", "00:12.250"]]
    assert [car["total_shown"] for car in semi_one.cars()] == ["", "00:24.750"]
    final.refresh_from_db()
    assert (final.first, final.second, final.first_seed, final.status) == (entries[3], None, 4, HeatStatus.WAITING)
    messages = [payload.get("message", "") for _, event, payload in listen() if event == "notification"]
    assert "Dee-Model won Semi-final 1 of Duel Cup." in messages
    assert "Ana-Model lost Semi-final 1 of Duel Cup to Dee_Racer." in messages

    finish(semi_two, winner=0, decided_by="time_limit")
    final = Heat.objects.for_pages().get(pk=final.pk)
    # Both finalists known: the final starts by itself (the organiser started the bracket).
    assert (final.first, final.second, final.second_seed) == (entries[3], entries[1], 2)
    assert final.status == HeatStatus.RUNNING and final.job is not None
    assert services.race_winner(h2m_race) is None

    final = finish(final, winner=None, decided_by="time_limit")  # a draw: nobody advances
    assert final.is_draw and final.may_run_again and services.race_winner(h2m_race) is None
    draw_job = final.job
    services.heat_run(final)  # run again: a new heat job
    final.refresh_from_db()
    assert final.status == HeatStatus.RUNNING and final.job != draw_job and final.result == {}
    listen = _listen(user_group(ben.pk))
    final = finish(final, winner=1)
    assert services.race_winner(h2m_race) == entries[1]
    assert any("you win the race" in payload.get("message", "") for _, _, payload in listen())
    with pytest.raises(services.RaceError, match="winner already"):
        services.heat_run(final)


def test_it_records_a_failed_heat_and_runs_it_again(h2m_race, trained_model_folder):
    ana, ben = make_board(h2m_race, 2, trained_model_folder)
    heat = services.heat_run(services.heat_pair(h2m_race, ana, ben))
    heat.refresh_from_db()
    heat.job.move(JobStatus.FAILED, failure_reason="The simulator crashed.")
    heat.refresh_from_db()
    assert heat.status == HeatStatus.FAILED and heat.failure_reason == "The simulator crashed."
    assert heat.may_run_again
    services.heat_run(heat)
    heat.refresh_from_db()
    assert heat.status == HeatStatus.RUNNING and heat.failure_reason == ""
    services.heat_stop(heat)  # a queued heat job is canceled at once: the heat fails, it can run again
    heat.refresh_from_db()
    assert heat.status == HeatStatus.FAILED and "stopped" in heat.failure_reason
    with pytest.raises(services.RaceError, match="not on track"):
        services.heat_stop(heat)


def test_it_fails_a_heat_whose_model_cannot_race_with_the_reason(h2m_race):
    ana, ben = make_board(h2m_race, 2)  # models without a trained checkpoint
    heat = services.heat_pair(h2m_race, ana, ben)
    with pytest.raises(services.RaceError, match="no trained checkpoint"):
        services.heat_run(heat)
    heat.refresh_from_db()
    assert heat.status == HeatStatus.FAILED and "Ana-Model has no trained checkpoint" in heat.failure_reason
    assert not HeatJob.objects.exists()


def test_it_runs_heats_from_a_live_races_queue_with_the_runs(owner, trained_model_folder):
    race = make_h2m_race(owner, is_live=True)
    ana, ben, cy, dee = make_board(race, 4, trained_model_folder)
    with pytest.raises(services.RaceError, match="race-day queue"):
        services.heat_run(services.heat_pair(race, ana, ben))
    run = make_entry(race, cy.participant.user, status=SubmissionStatus.QUEUED, model=cy.model, model_name="Cy-Run")
    services.live_enqueue(run)
    semis = services.bracket_seed(race, 4)[:2]
    queue = services.live_queue(race)
    assert [item.queue_key for item in queue] == [f"heat:{Heat.objects.get(round=None).pk}", run.queue_key,
                                                  semis[0].queue_key, semis[1].queue_key]
    services.live_reorder(race, [semis[1].queue_key, str(run.pk)])
    assert [item.queue_key for item in services.live_queue(race)][:2] == [semis[1].queue_key, run.queue_key]
    assert services.live_queue_position(semis[0]) == 4

    listen = _listen(race.live_group, user_group(ben.participant.user_id))
    launched = services.live_launch(race)
    assert launched == semis[1] and services.live_current_run(race) == semis[1]
    assert Heat.objects.get(pk=semis[1].pk).job.live, "a live race's heat goes first in the fair queue"
    state = services.race_day_state(race)
    assert state["current"]["kind"] == "heat" and state["current"]["name"] == "Semi-final 2"
    assert [car["racer"] for car in state["current"]["cars"]] == ["Ben_Racer", "Cy_Racer"]
    assert state["queue"][0]["kind"] == "run" and state["queue"][1]["racer"] == "Ana_Racer vs Ben_Racer"
    with pytest.raises(services.RaceError, match="on track"):
        services.live_launch(race)
    events = listen()
    assert any(event == "queue" and payload.get("heat") == semis[1].pk for _, event, payload in events)
    assert any("You are up: Ben-Model (Semi-final 2)" in payload.get("message", "") for _, _, payload in events)

    # The heat ends with auto-launch on: the winner waits for the final, the queue's next run launches.
    race.auto_launch = True
    race.save()
    finish(Heat.objects.get(pk=semis[1].pk), winner=0)
    assert services.live_current_run(race) == run
    state = services.race_day_state(race)
    assert state["last_heat"]["winner"] == "Ben_Racer" and state["last_heat"]["name"] == "Semi-final 2"

    # The other semi-final's winner completes the final, which joins the queue by itself.
    services.live_stop(race)
    semi = Heat.objects.get(pk=semis[0].pk)
    put_on_track(semi)
    finish(semi, winner=0)
    final = Heat.objects.get(race=race, round=2)
    assert final.status == HeatStatus.QUEUED and (final.first, final.second) == (ana, ben)
    assert [item.queue_key for item in services.live_queue(race)][-1] == final.queue_key

    # Stopped on track, a heat fails; re-queued, it waits at the end again.
    services.live_reorder(race, [final.queue_key])
    services.live_launch(race)
    services.live_stop(race)
    final.refresh_from_db()
    assert final.status == HeatStatus.FAILED and services.live_current_run(race) is None
    services.live_requeue(race, final)
    final.refresh_from_db()
    assert final.status == HeatStatus.QUEUED and final.job is None
    services.live_remove(race, final)
    final.refresh_from_db()
    assert final.status == HeatStatus.FAILED and "took this heat out" in final.failure_reason


def test_it_names_the_finals_winner_when_a_live_race_finishes(owner):
    race = make_h2m_race(owner, is_live=True)
    make_board(race, 4)
    _, _, final = services.bracket_seed(race, 4)
    for heat in Heat.objects.filter(race=race, round=1):
        put_on_track(heat)
        finish(heat, winner=1)
    final = Heat.objects.get(pk=final.pk)
    for item in services.live_queue(race):
        services.live_remove(race, item)
    put_on_track(final)
    final = finish(final, winner=0)
    winner = services.live_finish(race)
    assert winner == final.winner and winner.racer_display == "Dee_Racer"
    state = services.race_day_state(race)
    assert state["winner"] == {"racer": "Dee_Racer", "model": "Dee-Model", "time": "winner of the final"}


def test_it_clears_the_heats_with_the_board(owner):
    race = make_h2m_race(owner, is_live=True)
    ana, ben = make_board(race, 2)
    heat = services.heat_pair(race, ana, ben)
    put_on_track(heat)
    with pytest.raises(services.RaceError, match="heat is on track"):
        services.live_clear_board(race)
    Heat.objects.filter(pk=heat.pk).update(status=HeatStatus.FAILED)
    assert services.live_clear_board(race) == 2
    assert not Heat.objects.filter(race=race).exists()
    assert not HeatJob.objects.exists()  # the cleared heat's job went with it


def _replay_on_disk(job) -> None:
    job.folder.mkdir(parents=True)
    (job.folder / "replay.mp4").write_bytes(b"mp4")


def test_it_deletes_a_heats_job_and_replay_with_the_race_or_when_the_heat_runs_again(
        h2m_race, trained_model_folder, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MODEL_STORE = tmp_path / "models"
    ana, ben, cy, dee = make_board(h2m_race, 4, trained_model_folder)
    first, second = services.heat_pair(h2m_race, ana, ben), services.heat_pair(h2m_race, cy, dee)
    drawn = finish(first, winner=None, decided_by="time_limit")
    raced = finish(second, winner=0)
    for heat in (drawn, raced):
        _replay_on_disk(heat.job)
    draw_job = drawn.job
    with django_capture_on_commit_callbacks(execute=True):
        services.heat_dispatch(drawn)  # run again: the draw's job and replay are of no more use
    drawn.refresh_from_db()
    assert drawn.job != draw_job and not HeatJob.objects.filter(pk=draw_job.pk).exists()
    assert not draw_job.folder.exists() and raced.job.folder.exists()
    _replay_on_disk(drawn.job)
    folders = [drawn.job.folder, raced.job.folder]
    with django_capture_on_commit_callbacks(execute=True):
        services.race_delete(h2m_race)
    assert not HeatJob.objects.exists()
    assert not any(folder.exists() for folder in folders)


@pytest.mark.parametrize(("winner", "decided_by", "label"), [
    (0, "finish", "First across the line after 2 laps."),
    (1, "time_limit", "Time limit after 24.75 s: neither car finished, the winner was further along."),
    (0, "all_out", "Both cars were out of the race: the winner got further."),
    (None, "time_limit", "A draw: neither car finished and both got equally far. Run it again."),
])
def test_it_says_how_a_heat_was_decided(h2m_race, winner, decided_by, label):
    ana, ben = make_board(h2m_race, 2)
    heat = finish(services.heat_pair(h2m_race, ana, ben), winner=winner, decided_by=decided_by)
    assert heat.decided_label == label
    assert heat.winner == (None if winner is None else heat.entries[winner])
