"""Race day with the real evaluation machinery on tiny budgets: live submissions wait in the facilitator's
queue, run one at a time when launched (or auto-launched), their laps get sector times and the reset limit,
and the race's live group hears each change."""

import shutil

import pytest

from common.broadcast import user_group
from races import services
from races.models import SubmissionStatus
from tests.conftest import make_racer
from tests.races.conftest import make_race
from tests.races.test_services import _listen
from tests.training.jobs_fixtures import make_model
from training import worker
from training.models import JobStatus


@pytest.fixture
def live_race(owner):
    return make_race(owner, name="Race Day", is_live=True, max_laps=3, max_resets=3)


def _racer_with_model(name, trained_model_folder):
    racer = make_racer(name.lower(), name)
    model = make_model(racer, name=f"{name}-Model")
    shutil.copytree(trained_model_folder, model.folder)
    return racer, model


@pytest.fixture
def three_entries(live_race, trained_model_folder):
    entries = []
    for name in ("Ana", "Ben", "Cy"):
        racer, model = _racer_with_model(name, trained_model_folder)
        entries.append(services.submission_create(live_race, racer, model))
    return entries


def test_it_queues_live_submissions_and_reorders_them(live_race, three_entries):
    ana, ben, cy = three_entries
    assert {entry.status for entry in three_entries} == {SubmissionStatus.QUEUED}
    assert all(entry.evaluation is None for entry in three_entries)
    assert [services.live_queue_position(entry) for entry in three_entries] == [1, 2, 3]
    services.live_reorder(live_race, [cy.pk, ana.pk])
    assert [entry.pk for entry in services.live_queue(live_race)] == [cy.pk, ana.pk, ben.pk]
    services.live_move(live_race, ben, -1)
    assert [entry.pk for entry in services.live_queue(live_race)] == [cy.pk, ben.pk, ana.pk]
    with pytest.raises(services.RaceError, match="each once"):
        services.live_reorder(live_race, [cy.pk, cy.pk])
    services.live_remove(live_race, ana)
    ana.refresh_from_db()
    assert ana.status == SubmissionStatus.FAILED and "out of the queue" in ana.failure_reason
    services.live_requeue(live_race, ana)
    assert [entry.pk for entry in services.live_queue(live_race)] == [cy.pk, ben.pk, ana.pk]


def test_it_launches_one_run_at_a_time_and_stops_it(live_race, three_entries):
    ana, ben, _ = three_entries
    listen = _listen(live_race.live_group, user_group(ana.participant.user_id), user_group(ben.participant.user_id))
    run = services.live_launch(live_race)
    ana.refresh_from_db()
    assert run is not None, ana.failure_reason
    assert run.pk == ana.pk and run.status == SubmissionStatus.RUNNING and run.evaluation.label == "Race: Race Day"
    assert run.evaluation.live  # the room watches it: streamed in real time, a frame per step
    with pytest.raises(services.RaceError, match="on track"):
        services.live_launch(live_race)
    state = services.race_day_state(live_race)
    assert state["current"]["racer"] == "Ana" and [row["racer"] for row in state["queue"]] == ["Ben", "Cy"]
    events = listen()
    messages = [payload["message"] for _, event, payload in events if event == "notification"]
    assert any("You are up" in message for message in messages)
    assert any("You are next" in message for message in messages)
    assert any(event == "queue" and payload.get("run") == ana.pk for _, event, payload in events)
    services.live_stop(live_race)  # a queued evaluation is canceled at once: the run fails
    ana.refresh_from_db()
    assert ana.status == SubmissionStatus.FAILED and services.live_current_run(live_race) is None
    services.live_requeue(live_race, ana)
    ana.refresh_from_db()
    assert ana.evaluation is None and services.live_queue_position(ana) == 3


def test_it_auto_launches_the_queue_and_declares_the_winner(live_race, three_entries):
    services.live_set_auto_launch(live_race, True)  # idle: the first run launches now
    first = services.live_current_run(live_race)
    assert first.pk == three_entries[0].pk
    listen = _listen(live_race.live_group)
    reports = []
    job = worker.evaluation_run(first.evaluation.pk, observer=reports.append)
    assert job.status == JobStatus.COMPLETED, job.failure_reason
    chase_frames = [p for p in reports if p.kind == "frame" and p.data["view"] == "chase"]
    assert len(chase_frames) == sum(lap["steps"] for lap in job.results)  # one per sim step: 15 a second
    first.refresh_from_db()
    assert first.status == SubmissionStatus.COMPLETED
    assert len(first.laps) == 3 and all(len(lap["sectors"]) == 3 for lap in first.laps)
    for lap in first.laps:  # a sector is timed once the car got past its end
        assert [time is not None and time > 0 for time in lap["sectors"]] == \
            [lap["completion"] >= bound for bound in (100 / 3, 200 / 3, 100)]
    second = services.live_current_run(live_race)
    assert second.pk == three_entries[1].pk  # auto-launch took the next one
    events = [event for _, event, _ in listen()]
    assert "run_finished" in events and "queue" in events
    with pytest.raises(services.RaceError, match="on track"):
        services.live_finish(live_race)
    services.live_stop(live_race)  # a stop ends auto-launch: the queue waits
    live_race.refresh_from_db()
    assert not live_race.auto_launch and services.live_current_run(live_race) is None
    winner = services.live_finish(live_race)
    assert winner.pk == first.pk and live_race.is_closed()
    state = services.race_day_state(live_race)
    assert state["finished"] and state["winner"]["racer"] == "Ana"
    with pytest.raises(services.RaceError, match="finished"):
        services.live_launch(live_race)


def test_a_live_runs_ticks_carry_its_sectors_timed_and_coloured_by_the_server(live_race, three_entries):
    # Ben's recorded run holds the race's best sectors; Ana's run on track is timed against them.
    ana, ben, _ = three_entries
    ben.status, ben.laps = SubmissionStatus.COMPLETED, [
        {"trial": 1, "status": "lap_complete", "sectors": [2.0, 9.0, 9.0]},
        {"trial": 2, "status": "off_track", "sectors": [1.0, None, None]}]  # an unfinished lap sets no best
    ben.save()
    run = services.live_launch(live_race)
    listen = _listen(run.evaluation.group)
    reporter = worker._EvaluationReporter(run.evaluation)
    for step in range(1, 31):  # 10 % of the lap a second: S1 of 3.333 s, S2 of 3.333 s
        reporter.on_tick({"phase": "evaluation", "episode": 1, "sim_time": step / 4, "progress": 2.5 * step,
                          "x": 0.0, "y": 0.0, "reset_count": 0, "off_track_count": 0})
    reporter.close()
    ticks = [payload for _, event, payload in listen() if event == "tick"]
    assert len(ticks) == 30
    assert ticks[0]["sectors"] == [{"time": None, "colour": None}] * 3
    last = ticks[-1]["sectors"]
    assert [sector["time"] for sector in last] == pytest.approx([3.333, 3.333, None], abs=0.001)
    assert [sector["colour"] for sector in last] == ["green", "purple", None]  # Ana's first lap: her best


def test_only_a_live_runs_ticks_carry_sectors(trained_rl_model):
    from training import services as training

    job = training.evaluation_start(trained_rl_model, track="quick_loop", enqueue=False)
    listen = _listen(job.group)
    reporter = worker._EvaluationReporter(job)
    reporter.on_tick({"phase": "evaluation", "episode": 1, "sim_time": 0.1, "progress": 1.0, "x": 0.0, "y": 0.0,
                      "reset_count": 0, "off_track_count": 0})
    reporter.close()
    assert [set(payload) for _, event, payload in listen() if event == "tick"] == [
        {"phase", "episode", "sim_time", "progress", "x", "y", "reset_count", "off_track_count"}]


def test_it_clears_the_board(live_race, three_entries):
    services.live_remove(live_race, three_entries[0])
    assert services.live_clear_board(live_race) == 1
    assert [entry.pk for entry in services.live_queue(live_race)] == [entry.pk for entry in three_entries[1:]]
