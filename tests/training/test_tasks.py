"""The Celery tasks in a real worker process (the `worker` fixture: both queues, solo pool) against the
test database and Redis: a job enqueued after commit runs to completion in the worker."""

import os
import shutil
import time
from pathlib import Path

import pytest

from console.celery import DEFAULT_QUEUE, TRAINING_QUEUE, app
from tests.training.jobs_fixtures import make_model
from training import services, tasks, worker
from training.models import JobStatus, TrainingJob

FINISH_SECONDS = 180


@pytest.fixture
def worker_model(owner):
    # The worker process reads the model store from its own settings: keep the default store here.
    model = make_model(owner, name="Worker-Model")
    yield model
    shutil.rmtree(model.folder, ignore_errors=True)


def test_it_routes_job_tasks_to_the_training_queue_and_acknowledges_late():
    for task in (tasks.run_training_job, tasks.run_evaluation_job):
        assert app.amqp.router.route({}, task.name)["queue"].name == TRAINING_QUEUE
        assert task.acks_late and task.reject_on_worker_lost
    assert app.amqp.router.route({}, tasks.recover_jobs.name)["queue"].name == DEFAULT_QUEUE


def test_it_declares_no_deprecated_queue_attribute():
    assert all(getattr(task, "queue", None) is None for task in (tasks.run_training_job, tasks.run_evaluation_job))


@pytest.mark.django_db(transaction=True)
def test_it_trains_in_a_real_worker(worker, worker_model):
    job = services.training_start(worker_model, max_iterations=1)
    deadline = time.monotonic() + FINISH_SECONDS
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(1)
    worker_model.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.failure_reason or worker.log()[-3000:]
    assert (worker_model.status, job.last_iteration, job.worker.startswith("test-")) == ("READY", 1, True)


@pytest.mark.django_db
def test_it_requeues_a_dead_workers_job_through_the_recovery_task(worker_model, django_capture_on_commit_callbacks):
    job = services.training_start(worker_model, enqueue=False)
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.IN_PROGRESS, attempts=1, worker="lost@host")
    with django_capture_on_commit_callbacks() as enqueued:
        assert tasks.recover_jobs.run(dead_worker="lost@host") == [("TrainingJob", job.pk, "requeued")]
    assert len(enqueued) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


RUN_JOB = "import django; django.setup(); from training import worker; worker.training_run({job_id}, worker='doomed')"


@pytest.mark.django_db(transaction=True)
def test_it_resumes_from_the_last_checkpoint_after_the_worker_is_killed(server_env, worker_model):
    import signal
    import sys
    from datetime import timedelta

    from django.utils import timezone

    from console.launcher import signal_group
    from tests.processes import ManagedProcess, session_workers_paused
    from training.models import STALE_AFTER

    job = services.training_start(worker_model, max_iterations=3, enqueue=False)
    doomed = ManagedProcess("doomed-training", [sys.executable, "-c", RUN_JOB.format(job_id=job.pk)],
                            server_env).start()
    doomed.wait_until(lambda: TrainingJob.objects.get(pk=job.pk).last_iteration >= 1, timeout=FINISH_SECONDS,
                      what="a first iteration")
    signal_group(doomed.process, signal.SIGKILL)  # the worker and its env processes, without warning
    doomed.process.wait()
    job.refresh_from_db()
    assert job.status == JobStatus.IN_PROGRESS and job.worker == "doomed"  # what a killed worker leaves

    # No one beats for it any more: once its heartbeat is stale another worker may claim it and resume. (The
    # session's idle worker sweeps for stale jobs too: paused, so the rescuer is the one that resumes it.)
    with session_workers_paused():
        TrainingJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - STALE_AFTER - timedelta(seconds=1))
        job = worker.training_run(job.pk, worker="rescuer")
    assert job.status == JobStatus.COMPLETED, job.failure_reason
    assert (job.last_iteration, job.attempts, job.worker) == (3, 2, "rescuer")
    assert "Resuming from checkpoint" in services.training_log_path(job).read_text()


def test_a_reconnected_worker_asks_for_the_recovery_task_by_its_name():
    from console.celery import RECOVER_JOBS_TASK, ResendWaitingJobsAfterReconnect

    assert RECOVER_JOBS_TASK == tasks.recover_jobs.name
    assert ResendWaitingJobsAfterReconnect in app.steps["consumer"]


def _niceness(pid: int) -> int:
    return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.mark.django_db(transaction=True)
def test_it_runs_training_workers_below_the_pages_cpu_priority(worker, server_env, worker_model):
    from tests.launched_console import descendants
    from tests.processes import celery_worker

    # The session's worker takes the training queue (and default): it yields the CPU to the web server, and
    # so does its session's scheduling group (Linux autogroup: nice values order processes within one only),
    # and the env process it starts in a session of its own.
    lowered = str(min(19, os.nice(0) + 10))
    assert str(_niceness(worker.process.pid)) == lowered
    assert _autogroup_nice(worker.process.pid) in (lowered, None)
    job = services.training_start(worker_model, max_iterations=1)
    deadline = time.monotonic() + FINISH_SECONDS
    env_processes = {}
    while time.monotonic() < deadline and not env_processes:
        env_processes = {pid for pid, command in descendants(worker.process.pid).items()
                         if "training.rollout_worker" in command}
        time.sleep(0.2)
    assert env_processes, worker.log()[-3000:]
    for pid in env_processes:
        assert str(_niceness(pid)) == lowered and _autogroup_nice(pid) in (lowered, None)
    services.training_stop(TrainingJob.objects.get(pk=job.pk))  # seen: it need not train on
    while time.monotonic() < deadline and not TrainingJob.objects.get(pk=job.pk).is_finished:
        time.sleep(0.5)
    short_jobs = celery_worker(server_env, queues=DEFAULT_QUEUE, name="short-jobs")
    try:
        assert _niceness(short_jobs.process.pid) == os.nice(0), "a worker of short jobs only keeps its priority"
        assert _autogroup_nice(short_jobs.process.pid) in ("0", None)
    finally:
        short_jobs.stop()


def _autogroup_nice(pid: int) -> str | None:
    """The nice value of the process's scheduling group (Linux autogroup), None where there is none."""
    try:
        return (Path("/proc") / str(pid) / "autogroup").read_text().split()[-1]
    except OSError:
        return None
