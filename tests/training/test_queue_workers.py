"""The fair queue with real Celery workers (subprocesses, solo pool) on the test database and Redis: one
racer queues six trainings, another one; on two workers the second racer's job starts before the first
racer's third, every waiting job's place moves up as jobs start, and every job finishes. Tiny budgets
(one iteration each)."""

import os
import shutil
import sys
import time

import pytest

from tests.processes import ManagedProcess
from tests.training.jobs_fixtures import make_model
from training import services
from training.models import JobStatus, QuotaSettings, TrainingJob, WorkerHost

FINISH_SECONDS = 600  # seven one-iteration trainings on two workers, on a shared 2-core machine


def _worker(env: dict, name: str) -> ManagedProcess:
    argv = [sys.executable, "-m", "celery", "-A", "console", "worker", "-Q", "training", "-P", "solo",
            "-n", f"{name}-{os.getpid()}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-l", "INFO"]
    process = ManagedProcess(name, argv, {**env, "TRAINING_ENV_WORKERS": "1", "TRAINING_EVAL_EPISODES": "1"}).start()
    process.wait_until(lambda: " ready." in process.log(), timeout=90, what="'ready' in its log")
    return process


@pytest.fixture
def two_workers(server_env):
    workers = [_worker(server_env, "fair-a"), _worker(server_env, "fair-b")]
    yield workers
    for process in workers:
        process.stop()


@pytest.mark.django_db(transaction=True)
def test_it_starts_the_second_racers_job_before_the_first_racers_third(two_workers, owner, stranger):
    QuotaSettings.objects.update_or_create(pk=1, defaults={"concurrent_jobs": 2})
    models = [make_model(owner, name=f"Many-{n}") for n in range(6)] + [make_model(stranger, name="One")]
    try:
        jobs = [services.training_start(model, max_iterations=1) for model in models]
        many, one = jobs[:6], jobs[6]
        last = many[-1]
        positions = []
        deadline = time.monotonic() + FINISH_SECONDS
        while time.monotonic() < deadline:
            place = services.job_place(TrainingJob.objects.get(pk=last.pk))
            if place:
                positions.append(place["position"])
            if all(TrainingJob.objects.get(pk=job.pk).is_finished for job in jobs):
                break
            time.sleep(0.5)
        rows = {job.pk: TrainingJob.objects.get(pk=job.pk) for job in jobs}
        logs = "\n".join(process.log()[-2000:] for process in two_workers)
        assert all(row.status == JobStatus.COMPLETED for row in rows.values()), \
            [(row.pk, row.status, row.failure_reason) for row in rows.values()] + [logs]
        assert rows[one.pk].claimed_at < rows[many[2].pk].claimed_at, "the racer with one job waited behind a third"
        assert len({row.worker for row in rows.values()}) == 2, "both workers took jobs"
        assert positions and positions == sorted(positions, reverse=True) and positions[-1] == 1, positions
        assert len(set(positions)) > 1, f"the last job's place never moved up: {positions}"
        hosts = {host.name: host for host in WorkerHost.objects.filter(name__startswith="fair-")}
        assert len(hosts) == 2 and all(host.is_alive for host in hosts.values())
    finally:
        for model in models:
            shutil.rmtree(model.folder, ignore_errors=True)
