"""The fair queue's spread of waiting times: 30 racers each queue 2 jobs (all at once, racer after racer, as
a workshop room does after "press Create"), and 2 workers take them with the real queue (training.queue.
claim_next, against a real database); a job "runs" for a fixed tiny time (the queue is what is measured,
not the engine). Prints, per racer, the wait until their first job started and until both had, as
max / min / spread over racers, next to first come first served (the order the broker alone would give).
Run (a throwaway SQLite database is migrated first):

    python bench/queue_fairness.py [--racers 30] [--jobs 2] [--workers 2] [--job-seconds 0.2]
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _setup(folder: str) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder}/bench.sqlite3")
    os.environ.setdefault("MODEL_STORE", f"{folder}/models")
    os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _queue_jobs(racers: int, jobs: int) -> dict:
    """{job id: racer number}: every racer's jobs queued in turn (racer 0 both, then racer 1 ...)."""
    from django.contrib.auth import get_user_model

    from models_app.models import RLModel
    from training.models import TrainingJob

    owners = {}
    for racer in range(racers):
        user = get_user_model().objects.create_user(username=f"racer{racer}", password="x")
        for number in range(jobs):
            model = RLModel.objects.create(owner=user, name=f"M{number}", vehicle_snapshot={}, reward_code="",
                                           track="quick_loop", race_type={}, hyperparameters={})
            job = TrainingJob.objects.create(model=model, max_minutes=1)
            owners[job.pk] = racer
    return owners


def _work(name: str, job_seconds: float, started: dict, lock: threading.Lock) -> None:
    from django.db import connection
    from django.utils import timezone

    from training import queue
    from training.models import JobStatus

    try:
        while True:
            job = queue.claim_next(name)
            if job is None:
                return
            with lock:
                started[job.pk] = time.monotonic()
            time.sleep(job_seconds)
            type(job).objects.filter(pk=job.pk).update(status=JobStatus.COMPLETED, finished_at=timezone.now())
    finally:
        connection.close()


def _waits(owners: dict, started: dict, origin: float) -> tuple[list[float], list[float]]:
    """Per racer: seconds until their first job started, and until their last did."""
    first, last = {}, {}
    for job_id, racer in owners.items():
        wait = started[job_id] - origin
        first[racer] = min(first.get(racer, wait), wait)
        last[racer] = max(last.get(racer, wait), wait)
    return list(first.values()), list(last.values())


def _fifo(owners: dict, workers: int, job_seconds: float) -> dict:
    """First come first served on the same workers: job n starts after (n // workers) job times."""
    return {job_id: (index // workers) * job_seconds for index, job_id in enumerate(sorted(owners))}


def _line(label: str, values: list[float]) -> str:
    return (f"  {label:<30} min {min(values):6.2f} s   median {statistics.median(values):6.2f} s   "
            f"max {max(values):6.2f} s   spread (max-min) {max(values) - min(values):6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--racers", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--job-seconds", type=float, default=0.2)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        _setup(folder)
        from training.models import QuotaSettings

        QuotaSettings.objects.update_or_create(pk=1, defaults={"concurrent_jobs": 1})
        owners = _queue_jobs(arguments.racers, arguments.jobs)
        started: dict = {}
        lock = threading.Lock()
        origin = time.monotonic()
        threads = [threading.Thread(target=_work, args=(f"bench-{n}", arguments.job_seconds, started, lock))
                   for n in range(arguments.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - origin
        assert len(started) == len(owners), f"{len(owners) - len(started)} jobs never started"
        first, last = _waits(owners, started, origin)
        fifo_first, fifo_last = _waits(owners, _fifo(owners, arguments.workers, arguments.job_seconds), 0.0)
        print(f"{arguments.racers} racers x {arguments.jobs} jobs on {arguments.workers} workers, "
              f"{arguments.job_seconds:g} s jobs, {elapsed:.1f} s in all "
              f"(queue overhead {elapsed / len(owners) * arguments.workers - arguments.job_seconds:.3f} s a job); "
              f"load average {os.getloadavg()[0]:.2f}")
        print("fair queue (round-robin across racers):")
        print(_line("wait for a racer's first job", first))
        print(_line("wait for a racer's last job", last))
        print("first come first served (the broker alone):")
        print(_line("wait for a racer's first job", fifo_first))
        print(_line("wait for a racer's last job", fifo_last))


if __name__ == "__main__":
    main()
