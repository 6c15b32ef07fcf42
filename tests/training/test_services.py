"""Service workflows with the real engine, env and reward sandbox on tiny budgets; the Celery task runs
eagerly here only (DESIGN.md), the real worker is exercised in test_tasks.py. The worker side (running,
reporting, recovery) is tested in test_worker.py."""

import pytest
from django.utils import timezone

from console.celery import app
from tests.training.jobs_fixtures import *  # noqa: F403 (fixtures)
from tests.training.jobs_fixtures import _imported_track, _listen, make_model
from training import artifacts, services
from training.models import EvaluationJob, JobStatus, TrainingEpisode, TrainingJob


@pytest.fixture
def eager_celery():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_it_queues_a_job_writes_the_static_files_and_enqueues_after_commit(rl_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        job = services.training_start(rl_model)
    assert len(callbacks) == 1
    rl_model.refresh_from_db()
    assert (job.status, rl_model.status, job.max_minutes) == (JobStatus.QUEUED, "QUEUED", 10.0)
    assert artifacts.read_model_metadata(rl_model.folder)["sensor"] == ["FRONT_FACING_CAMERA"]
    assert (rl_model.folder / "reward_function.py").read_text() == rl_model.reward_code
    assert artifacts.read_hyperparameters(rl_model.folder)["num_episodes_between_training"] == 2


def test_it_refuses_a_second_job_while_one_is_active(rl_model):
    services.training_start(rl_model)
    with pytest.raises(services.JobError, match="already has a training or evaluation job"):
        services.training_start(rl_model)


def test_it_refuses_invalid_hyperparameters_before_queueing(owner):
    bad = make_model(owner, hyperparameters={"learning_speed": 3})
    with pytest.raises(services.JobError, match="hyperparameters"):
        services.training_start(bad)
    assert not TrainingJob.objects.exists()


def test_it_trains_to_completion_and_broadcasts_progress(rl_model, eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as enqueue:
        job = services.training_start(rl_model, max_iterations=1)
    listen = _listen(job.group)
    for callback in enqueue:
        callback()  # the task runs eagerly here
    job.refresh_from_db()
    rl_model.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.failure_reason
    assert (rl_model.status, job.stop_reason, job.last_iteration, job.best_iteration) == ("READY", "max_iterations", 1, 1)
    assert job.started_at and job.finished_at and job.heartbeat_at and job.attempts == 1
    record = job.metrics[0]
    assert record["iteration"] == 1 and {"average_reward", "average_training_completion",
                                         "average_evaluation_completion"} <= set(record)
    assert TrainingEpisode.objects.filter(job=job, phase="training").count() == 2
    assert TrainingEpisode.objects.filter(job=job, phase="evaluation").count() == 1
    assert artifacts.read_checkpoints_index(rl_model.folder)["best_checkpoint"]["name"]
    events = {event["event"] for event in listen()}
    assert {"status", "episode", "metrics", "frame", "log"} <= events
    log = services.training_log_path(job).read_text()
    assert "distance" in log  # the reward function's print() reaches the training log


def test_it_checks_an_evaluation_before_queueing_it(rl_model, trained_rl_model):
    with pytest.raises(services.JobError, match="no trained checkpoint"):
        services.evaluation_start(rl_model, track="quick_loop")
    with pytest.raises(services.JobError, match="3 to 5 trials"):
        services.evaluation_start(trained_rl_model, track="quick_loop", trials=6)
    with pytest.raises(services.JobError, match="penalty"):
        services.evaluation_start(trained_rl_model, track="quick_loop", off_track_penalty=-1)
    with pytest.raises(services.JobError, match="unknown track 'atlantis'"):
        services.evaluation_start(trained_rl_model, track="atlantis")
    assert not EvaluationJob.objects.exists()

def test_it_refuses_to_evaluate_on_a_strangers_imported_track(trained_rl_model, stranger):
    theirs = _imported_track(stranger)
    with pytest.raises(services.JobError, match="unknown track"):
        services.evaluation_start(trained_rl_model, track=theirs.slug)


def test_it_refuses_to_continue_what_it_cannot(trained_rl_model):
    older = services.training_start(trained_rl_model, enqueue=False)
    TrainingJob.objects.filter(pk=older.pk).update(status=JobStatus.FAILED, started_at=timezone.now())
    older.refresh_from_db()
    with pytest.raises(services.JobError, match="at most 1440 minutes"):
        services.training_continue(older, minutes=0)
    newer = services.training_start(trained_rl_model, enqueue=False)
    with pytest.raises(services.JobError, match="already has a training or evaluation job in progress"):
        services.training_continue(older)
    TrainingJob.objects.filter(pk=newer.pk).update(status=JobStatus.COMPLETED, started_at=timezone.now())
    with pytest.raises(services.JobError, match="Only the model's latest training can continue"):
        services.training_continue(older)
    canceled_before_start = services.training_stop(services.training_start(trained_rl_model, enqueue=False))
    assert not canceled_before_start.can_continue
