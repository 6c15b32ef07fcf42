"""training.signals.evaluation_finished: the apps above hear once when an evaluation is over, whichever way
it ended, never while it only waits to resume; a failing receiver never changes the job."""

import pytest

from tests.training.jobs_fixtures import *  # noqa: F403 (fixtures)
from training.models import EvaluationJob, JobStatus
from training.signals import evaluation_finished


@pytest.fixture
def heard():
    jobs = []

    def receiver(sender, job, **kwargs):
        jobs.append((job.pk, job.status))

    evaluation_finished.connect(receiver, dispatch_uid="test-heard")
    yield jobs
    evaluation_finished.disconnect(dispatch_uid="test-heard")


def _evaluation(model, status=JobStatus.QUEUED):
    return EvaluationJob.objects.create(model=model, track="quick_loop", status=status)


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED])
def test_it_announces_an_evaluation_that_ends(rl_model, heard, status):
    job = _evaluation(rl_model, JobStatus.IN_PROGRESS)
    job.move(status)
    assert heard == [(job.pk, status)]


def test_it_stays_quiet_while_an_evaluation_runs_or_waits_to_resume(rl_model, heard):
    job = _evaluation(rl_model)
    job.move(JobStatus.IN_PROGRESS)
    assert job.mark_interrupted("The console was stopped.")
    assert heard == []


def test_it_announces_a_canceled_queued_or_interrupted_evaluation(rl_model, heard):
    queued = _evaluation(rl_model)
    assert queued.request_stop() == JobStatus.CANCELED
    interrupted = _evaluation(rl_model, JobStatus.INTERRUPTED)
    interrupted.request_stop()
    running = _evaluation(rl_model, JobStatus.IN_PROGRESS)
    assert running.request_stop() == JobStatus.STOPPING
    assert heard == [(queued.pk, JobStatus.CANCELED), (interrupted.pk, JobStatus.CANCELED)]


def test_it_keeps_the_outcome_when_a_receiver_fails(rl_model):
    def broken(sender, job, **kwargs):
        raise RuntimeError("a listener's bug")

    evaluation_finished.connect(broken, dispatch_uid="test-broken")
    try:
        job = _evaluation(rl_model, JobStatus.IN_PROGRESS)
        job.move(JobStatus.COMPLETED)
    finally:
        evaluation_finished.disconnect(dispatch_uid="test-broken")
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
