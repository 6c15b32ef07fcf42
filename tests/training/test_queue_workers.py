"""The fair queue with real Celery workers (subprocesses, solo pool) on the test database and Redis: one
racer queues six trainings, another one; on two workers the second racer's job starts before the first
racer's third, every waiting job's place moves up as jobs start, and every job finishes. A worker that
vanishes is noticed by the other one's sweep while it idles, shown on the admin page, and its job finishes
on the other from its last checkpoint. Tiny budgets (one or two iterations each)."""

import os
import re
import shutil
import sys
import time

import pytest

from tests.processes import ManagedProcess, session_workers_paused
from tests.training.jobs_fixtures import make_model
from training import services
from training.models import JobStatus, QuotaSettings, TrainingJob, WorkerHost

FINISH_SECONDS = 600  # seven one-iteration trainings on two workers, on a shared 2-core machine


def _worker(env: dict, name: str) -> ManagedProcess:
    argv = [sys.executable, "-m", "celery", "-A", "console", "worker", "-Q", "training", "-P", "solo",
            "-n", f"{name}-{os.getpid()}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-l", "INFO"]
    # WORKER_SWEEP_SECONDS: an idle worker notices a vanished one within seconds, not a minute.
    process = ManagedProcess(name, argv, {**env, "TRAINING_ENV_WORKERS": "1", "TRAINING_EVAL_EPISODES": "1",
                                          "WORKER_SWEEP_SECONDS": "2"}).start()
    process.wait_until(lambda: " ready." in process.log(), timeout=90, what="'ready' in its log")
    return process


@pytest.fixture
def two_workers(server_env):
    with session_workers_paused():
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


@pytest.mark.django_db(transaction=True)
def test_it_notices_a_vanished_worker_while_the_other_idles_and_finishes_its_job_there(two_workers, owner,
                                                                                       site_admin_client):
    import signal
    import socket
    from datetime import timedelta

    from django.urls import reverse
    from django.utils import timezone

    from console.launcher import signal_group
    from training.models import STALE_AFTER

    hosts = {host.name: host for host in WorkerHost.objects.filter(name__startswith="fair-")}
    assert len(hosts) == 2, "each worker registered at its start"
    assert all((host.hostname, host.queues, host.running) == (socket.gethostname(), "training", "")
               for host in hosts.values())
    model = make_model(owner, name="Survivor")
    try:
        # Four iterations: on a quiet machine a second one is checkpointed before the kill lands.
        job = services.training_start(model, max_iterations=4)
        deadline = time.monotonic() + FINISH_SECONDS
        while time.monotonic() < deadline and TrainingJob.objects.get(pk=job.pk).last_iteration < 1:
            time.sleep(0.5)
        running = TrainingJob.objects.get(pk=job.pk)
        assert running.last_iteration >= 1, [process.log()[-2000:] for process in two_workers]
        assert WorkerHost.objects.get(name=running.worker).running == f"training {job.pk}"
        doomed = next(process for process in two_workers if running.worker.startswith(process.name))
        survivor = next(process for process in two_workers if process is not doomed)
        signal_group(doomed.process, signal.SIGKILL)  # the machine is gone: no shutdown, no checkpoint call
        doomed.process.wait()
        # STALE_AFTER later, as the clock would have it: neither the job nor its worker beat any more.
        long_ago = timezone.now() - STALE_AFTER - timedelta(seconds=10)
        TrainingJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
        WorkerHost.objects.filter(name=running.worker).update(seen_at=long_ago)
        page = site_admin_client.get(reverse("console:usage")).content.decode()
        assert f"not responding: training {job.pk} is requeued from its last checkpoint" in page
        # Nobody calls the recovery: the idle survivor's sweep notices, requeues the job and takes it.
        while time.monotonic() < deadline and not TrainingJob.objects.get(pk=job.pk).is_finished:
            time.sleep(0.5)
        finished = TrainingJob.objects.get(pk=job.pk)
        assert finished.status == JobStatus.COMPLETED, (finished.failure_reason, survivor.log()[-3000:])
        assert finished.worker.startswith(survivor.name) and finished.last_iteration == 4
        assert [record["iteration"] for record in finished.metrics] == [1, 2, 3, 4]
        # It went on from the dead worker's last checkpoint (the first, or a later one on a quick machine).
        resumed = re.search(r"Resuming from checkpoint (\d+)_", services.training_log_path(finished).read_text())
        assert resumed and 1 <= int(resumed.group(1)) <= 3, "the survivor started again from scratch"
        survivor.stop()  # a clean shutdown leaves the list; the vanished one stays, not responding
        assert list(WorkerHost.objects.filter(name__startswith="fair-").values_list("name", flat=True)) == [
            running.worker]
    finally:
        shutil.rmtree(model.folder, ignore_errors=True)
