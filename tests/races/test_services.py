"""Race workflows with the real evaluation machinery on tiny budgets: a submission is an evaluation under
the race's rules, one at a time per racer; its result lands on the board once, with a toast and a
broadcast on the race's group."""

import shutil
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from common.broadcast import user_group
from races import services
from races.models import Participant, Submission, SubmissionStatus
from tests.races.conftest import make_race
from tests.training.jobs_fixtures import _imported_track, make_model
from training import services as training
from training import worker
from training.models import EvaluationJob, JobStatus


def _listen(*groups):
    """Channels in groups on the real Redis layer; returns a function draining (group, event) pairs."""
    layer = get_channel_layer()
    channels = {}
    for group in groups:
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(group, channel)
        channels[group] = channel

    async def _drain():
        import asyncio

        events = []
        for group, channel in channels.items():
            while True:
                try:
                    message = await asyncio.wait_for(layer.receive(channel), timeout=0.5)
                except TimeoutError:
                    await layer.group_discard(group, channel)
                    break
                events.append((group, message["event"], message["payload"]))
        return events

    return lambda: async_to_sync(_drain)()


@pytest.fixture
def second_trained_model(owner, trained_model_folder):
    model = make_model(owner, name="Second-Trained")
    shutil.copytree(trained_model_folder, model.folder)
    return model


def test_it_submits_an_evaluation_under_the_races_rules(race, owner, trained_rl_model):
    race.continuous, race.off_track_penalty, race.track_reversed, race.max_laps = True, 7.5, True, 4
    race.race_type = {"race_type": "OBJECT_AVOIDANCE", "object_count": 2, "randomize_objects": True}
    race.save()
    submission = services.submission_create(race, owner, trained_rl_model)
    job = submission.evaluation
    assert submission.status == SubmissionStatus.RUNNING and job.status == JobStatus.QUEUED
    assert (job.track, job.track_reversed, job.trials, job.continuous, job.off_track_penalty) == \
        ("quick_loop", True, 4, True, 7.5)
    assert job.race_type == race.race_type and job.label == "Race: Spring Cup" and job.track_owner == owner
    assert not job.live  # a community race's evaluation runs as fast as the worker can (a live run is watched)
    assert services.submission_queue_position(submission) == 1


def test_it_runs_one_submission_at_a_time_per_racer(race, owner, trained_rl_model, second_trained_model):
    other_race = make_race(owner, name="Autumn Cup")
    first = services.submission_create(race, owner, trained_rl_model)
    second = services.submission_create(other_race, owner, second_trained_model)
    assert (second.status, second.evaluation) == (SubmissionStatus.WAITING, None)
    listen = _listen(user_group(owner.pk), race.group)
    training.evaluation_stop(first.evaluation)  # a queued evaluation is canceled: its submission fails
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == SubmissionStatus.FAILED and "stopped" in first.failure_reason
    assert second.status == SubmissionStatus.RUNNING and second.evaluation.label == "Race: Autumn Cup"
    events = listen()
    assert any(event == "notification" and "failed" in payload["message"] for _, event, payload in events)
    assert any(group == race.group and event == "board" for group, event, _ in events)


def test_it_records_a_finished_evaluation_once_with_a_toast_and_a_broadcast(race, owner, trained_rl_model):
    submission = services.submission_create(race, owner, trained_rl_model)
    listen = _listen(user_group(owner.pk), race.group)
    job = worker.evaluation_run(submission.evaluation.pk)
    assert job.status == JobStatus.COMPLETED, job.failure_reason
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.COMPLETED and submission.finished_at is not None
    assert [lap["trial"] for lap in submission.laps] == [1, 2, 3]
    complete = [lap for lap in submission.laps if lap["status"] == "lap_complete"]
    assert submission.laps_completed == len(complete)
    assert submission.best_completion == max(lap["completion"] for lap in submission.laps)
    events = listen()
    toasts = [payload for group, event, payload in events if event == "notification"]
    assert len(toasts) == 1 and "Spring Cup" in toasts[0]["message"] and toasts[0]["level"] == "success"
    assert [(event, payload["submission"]) for group, event, payload in events if group == race.group] == \
        [("board", submission.pk)]
    # The same outcome announced again (a retried hook) changes nothing.
    assert services.submission_finish(job).finished_at == submission.finished_at
    assert training.evaluation_simtrace_path(job).read_text().startswith("episode,steps,X,Y,yaw")


def test_it_drives_the_organisers_imported_track(owner, stranger, trained_model_folder):
    theirs = _imported_track(owner)
    race = make_race(owner, track=theirs.slug)
    model = make_model(stranger, name="Racer-Model")
    shutil.copytree(trained_model_folder, model.folder)
    services.race_join(race, stranger)
    submission = services.submission_create(race, stranger, model)
    job = worker.evaluation_run(submission.evaluation.pk)
    assert job.status == JobStatus.COMPLETED, job.failure_reason
    assert EvaluationJob.objects.with_track_titles().get(pk=job.pk).track_title == "re:Invent 2018"


@pytest.mark.parametrize("change, reason", [
    ({"closes_at": timezone.now() - timedelta(minutes=1)}, "closed to submissions"),
    ({"opens_at": timezone.now() + timedelta(hours=1)}, "not open yet"),
    ({"max_submissions": 1}, "used all 1 submissions"),
])
def test_it_refuses_submissions_outside_the_rules(race, owner, trained_rl_model, change, reason):
    if change.get("max_submissions"):
        services.submission_create(race, owner, trained_rl_model)
    for name, value in change.items():
        setattr(race, name, value)
    race.save()
    with pytest.raises(services.RaceError, match=reason):
        services.submission_create(race, owner, trained_rl_model)


def test_it_refuses_untrained_busy_and_other_racers_models(race, owner, stranger, rl_model, trained_rl_model):
    with pytest.raises(services.RaceError, match="no trained checkpoint"):
        services.submission_create(race, owner, rl_model)
    with pytest.raises(services.RaceError, match="your own models"):
        services.submission_create(race, stranger, trained_rl_model)
    trained_rl_model.status = "TRAINING"
    trained_rl_model.save()
    with pytest.raises(services.RaceError, match="is training"):
        services.submission_create(race, owner, trained_rl_model)
    assert not Submission.objects.exists()


def test_it_runs_the_same_model_again_when_its_turn_comes(race, owner, trained_rl_model):
    first = services.submission_create(race, owner, trained_rl_model)
    second = services.submission_create(race, owner, trained_rl_model)
    assert second.status == SubmissionStatus.WAITING
    training.evaluation_stop(first.evaluation)
    second.refresh_from_db()
    assert second.status == SubmissionStatus.RUNNING and second.evaluation.model == trained_rl_model


def test_it_fails_a_waiting_turn_that_cannot_start_with_the_reason(race, owner, trained_rl_model,
                                                                   second_trained_model):
    first = services.submission_create(race, owner, trained_rl_model)
    second = services.submission_create(race, owner, second_trained_model)
    training.training_start(second_trained_model, enqueue=False)  # the waiting model starts training meanwhile
    training.evaluation_stop(first.evaluation)
    second.refresh_from_db()
    assert second.status == SubmissionStatus.FAILED
    assert "already has a training or evaluation job" in second.failure_reason


def test_it_resets_the_invite_and_removes_a_racer(race, owner, stranger, trained_model_folder):
    old = race.invite_token
    assert services.race_reset_invite(race) != old and len(race.invite_token) >= 32
    model = make_model(stranger, name="Racer-Model")
    shutil.copytree(trained_model_folder, model.folder)
    services.race_join(race, stranger)
    services.submission_create(race, stranger, model)
    waiting_turn = services.submission_create(race, stranger, model)
    services.race_remove_racer(race, stranger)
    assert Participant.objects.get(race=race, user=stranger).removed_at is not None
    waiting_turn.refresh_from_db()
    assert waiting_turn.status == SubmissionStatus.FAILED and "removed" in waiting_turn.failure_reason
    with pytest.raises(services.RaceError, match="removed you"):
        services.race_join(race, stranger)
    with pytest.raises(services.RaceError, match="removed you"):
        services.submission_create(race, stranger, model)
    with pytest.raises(services.RaceError, match="cannot be removed"):
        services.race_remove_racer(race, owner)


def test_it_closes_a_race_early(race, owner, trained_rl_model):
    services.race_close(race)
    race.refresh_from_db()
    assert race.closed_early and race.is_closed()
    with pytest.raises(services.RaceError, match="already closed"):
        services.race_close(race)
    with pytest.raises(services.RaceError, match="closed to submissions"):
        services.submission_create(race, owner, trained_rl_model)


def test_it_fails_a_submission_whose_model_was_deleted_and_goes_on(race, owner, trained_rl_model,
                                                                    second_trained_model):
    first = services.submission_create(race, owner, trained_rl_model)
    trained_rl_model.delete()  # its evaluation goes with it: no finish is ever announced
    second = services.submission_create(race, owner, second_trained_model)
    first.refresh_from_db()
    assert first.status == SubmissionStatus.FAILED and "deleted" in first.failure_reason
    assert first.model_name == "Trained-Model"
    assert second.status == SubmissionStatus.RUNNING
