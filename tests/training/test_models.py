from datetime import timedelta

from django.utils import timezone

from tests.training.jobs_fixtures import *  # noqa: F403 (fixtures)
from tests.training.jobs_fixtures import make_model
from training.models import EvaluationJob, JobStatus, TrainingJob


def test_it_names_the_channel_groups_after_the_job(rl_model):
    job = TrainingJob.objects.create(model=rl_model, max_minutes=10)
    evaluation = EvaluationJob.objects.create(model=rl_model, track="oval")
    assert (job.group, evaluation.group) == (f"training.{job.pk}", f"evaluation.{evaluation.pk}")


def test_it_starts_queued_with_the_full_time_remaining(rl_model):
    job = TrainingJob.objects.create(model=rl_model, max_minutes=1.5)
    assert job.status == JobStatus.QUEUED and job.is_active and not job.is_finished
    assert job.remaining_seconds == 90.0
    job.elapsed_seconds = 100.0
    assert job.remaining_seconds == 0.0


def test_it_finds_running_jobs_whose_heartbeat_is_stale(rl_model):
    now = timezone.now()
    fresh = TrainingJob.objects.create(model=rl_model, max_minutes=10, status=JobStatus.IN_PROGRESS, heartbeat_at=now)
    stale = TrainingJob.objects.create(model=rl_model, max_minutes=10, status=JobStatus.IN_PROGRESS,
                                       heartbeat_at=now - timedelta(minutes=5))
    TrainingJob.objects.create(model=rl_model, max_minutes=10, status=JobStatus.COMPLETED,
                               heartbeat_at=now - timedelta(minutes=5))
    assert list(TrainingJob.objects.stale(now)) == [stale]
    assert set(TrainingJob.objects.active()) == {fresh, stale}


def test_it_filters_jobs_by_owner(rl_model, stranger):
    mine = TrainingJob.objects.create(model=rl_model, max_minutes=10)
    TrainingJob.objects.create(model=make_model(stranger, name="Theirs"), max_minutes=10)
    assert list(TrainingJob.objects.owned_by(rl_model.owner)) == [mine]


def test_it_reports_the_best_completed_lap_time(rl_model):
    evaluation = EvaluationJob(model=rl_model, track="oval", results=[
        {"trial": 1, "time": "00:09.000", "time_seconds": 9.0, "status": "off_track"},
        {"trial": 2, "time": "00:15.250", "time_seconds": 15.25, "status": "lap_complete"},
        {"trial": 3, "time": "00:14.500", "time_seconds": 14.5, "status": "lap_complete"}])
    assert evaluation.best_time == "00:14.500"
    assert EvaluationJob(model=rl_model, track="oval").best_time is None
    assert evaluation.race_type_name == "TIME_TRIAL"
