"""The web side of head-to-model heats: heat_start checks every setting before it queues (JobError with
the reason), heat_stop, the heat_finished signal, and the fair queue's view of a heat (the requester's job)."""

import shutil

import pytest

from tests.training.jobs_fixtures import *  # noqa: F403 (fixtures)
from tests.training.jobs_fixtures import _imported_track, make_model
from training import queue, services
from training.models import HeatJob, JobStatus
from training.signals import heat_finished


@pytest.fixture(name="opponent_model")
def fixture_opponent_model(stranger, trained_model_folder):
    model = make_model(stranger, name="Opponent")
    shutil.copytree(trained_model_folder, model.folder)
    return model


def _start(requested_by, model, opponent, **settings):
    return services.heat_start(requested_by=requested_by, model=model, opponent=opponent, track="quick_loop",
                               enqueue=False, **settings)


def test_it_queues_a_heat_with_its_rules_and_enqueues_after_commit(owner, trained_rl_model, opponent_model,
                                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        job = services.heat_start(requested_by=owner, model=trained_rl_model, opponent=opponent_model,
                                  track="quick_loop", track_reversed=True, laps=2, max_seconds=60,
                                  label="Final of My race")
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert (job.status, job.laps, job.max_seconds, job.track_reversed, job.continuous) == (
        JobStatus.QUEUED, 2, 60.0, True, True)
    assert job.race_type == {"race_type": "TIME_TRIAL"} and job.result == {} and job.video_path is None
    assert job.group == f"heat.{job.pk}" and job.cars == [trained_rl_model, opponent_model]
    assert job.label == "Final of My race"
    # A heat leaves the models' own statuses alone and waits in the fair queue as the requester's job.
    trained_rl_model.refresh_from_db()
    assert trained_rl_model.status == "READY"
    assert queue.place_of(job).position == 1 and queue.kind_of(job) == "heat"
    assert list(HeatJob.objects.owned_by(owner)) == [job]
    assert trained_rl_model.heat_jobs.get() == job and opponent_model.heat_jobs_as_opponent.get() == job


@pytest.mark.parametrize(("change", "reason"), [
    ({"laps": 0}, "1 to 10 laps"),
    ({"laps": 11}, "1 to 10 laps"),
    ({"laps": 1.5}, "laps must be a whole number"),
    ({"max_seconds": 0}, "time limit must be more than 0"),
    ({"max_seconds": "soon"}, "time limit must be a number"),
    ({"max_seconds": float("nan")}, "time limit must be a number"),
    ({"off_track_penalty": -1}, "off-track penalty must be between 0 and 60"),
    ({"collision_penalty": 61}, "collision penalty must be between 0 and 60"),
    ({"race_type": {"race_type": "DRAG_RACE"}}, "race type is invalid"),
    ({"track": "atlantis"}, "unknown track 'atlantis'"),
])
def test_it_refuses_a_heat_with_a_bad_setting(owner, trained_rl_model, opponent_model, change, reason):
    arguments = {"requested_by": owner, "model": trained_rl_model, "opponent": opponent_model,
                 "track": "quick_loop", "enqueue": False, **change}
    with pytest.raises(services.JobError, match=reason):
        services.heat_start(**arguments)
    assert not HeatJob.objects.exists()


def test_it_refuses_untrained_or_identical_models(owner, rl_model, trained_rl_model, opponent_model):
    with pytest.raises(services.JobError, match="Quick-Model has no trained checkpoint"):
        _start(owner, trained_rl_model, rl_model)
    with pytest.raises(services.JobError, match="two different models"):
        _start(owner, trained_rl_model, trained_rl_model)
    assert not HeatJob.objects.exists()


def test_it_races_on_the_track_owners_imported_track_only(owner, stranger, trained_rl_model, opponent_model):
    theirs = _imported_track(stranger)
    with pytest.raises(services.JobError, match="unknown track"):
        services.heat_start(requested_by=owner, model=trained_rl_model, opponent=opponent_model,
                            track=theirs.slug, enqueue=False)
    job = services.heat_start(requested_by=owner, model=trained_rl_model, opponent=opponent_model,
                              track=theirs.slug, track_owner=stranger, enqueue=False)
    assert job.track_title == "re:Invent 2018"


def test_it_cancels_a_queued_heat_and_says_so(owner, trained_rl_model, opponent_model):
    heard = []

    def receiver(sender, job, **kwargs):
        heard.append((sender, job.pk, job.status))

    heat_finished.connect(receiver)
    try:
        job = _start(owner, trained_rl_model, opponent_model)
        services.heat_stop(job)
    finally:
        heat_finished.disconnect(receiver)
    assert job.status == JobStatus.CANCELED and job.finished_at is not None
    assert heard == [(HeatJob, job.pk, JobStatus.CANCELED)]
    with pytest.raises(services.JobError, match="nothing to stop"):
        services.heat_stop(job)
