"""The registry of workers (training.models.WorkerHost, kept by training.worker): a worker registers where it
runs, beats while it waits or runs a job, leaves on a clean shutdown, and one that vanished ages out and is
shown as not responding. The real workers doing this (and the sweep that requeues a vanished worker's job)
are in test_queue_workers.py."""

import logging
import os
import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from training import queue, worker
from training.models import STALE_AFTER, WorkerHost

pytestmark = pytest.mark.django_db


def test_it_registers_a_worker_where_it_runs_once_per_name():
    host = worker.worker_register("training1@box", "training")
    assert (host.hostname, host.pid, host.queues, host.running) == (socket.gethostname(), os.getpid(), "training", "")
    assert host.is_alive
    worker.worker_seen("training1@box", running="training 4")
    again = worker.worker_register("training1@box", "training")  # the same worker started again
    assert WorkerHost.objects.count() == 1 and again.running == "", "a restarted worker runs nothing yet"


def test_it_keeps_a_waiting_or_running_worker_alive_and_says_what_it_runs():
    worker.worker_register("training1@box", "training")
    WorkerHost.objects.update(seen_at=timezone.now() - STALE_AFTER - timedelta(seconds=1))
    assert not WorkerHost.objects.get().is_alive
    worker.worker_seen("training1@box", running="training 4")  # its job's reporter
    host = WorkerHost.objects.get()
    assert host.is_alive and host.running == "training 4"
    worker.worker_seen("training1@box")  # the idle timer: what it runs stays as it was
    assert WorkerHost.objects.get().running == "training 4"
    worker.worker_seen("training1@box", running="")
    assert WorkerHost.objects.get().running == ""


def test_it_lists_a_worker_that_beats_before_it_registered():
    worker.worker_seen("training2@other-host", running="evaluation 9")  # its row was removed meanwhile
    host = WorkerHost.objects.get()
    assert (host.name, host.hostname, host.running) == ("training2@other-host", "other-host", "evaluation 9")


def test_it_lets_a_cleanly_stopped_worker_leave_and_a_vanished_one_age_out():
    worker.worker_register("training1@box", "training")
    worker.worker_register("training2@gone", "training")
    assert queue.capacity() == 2
    worker.worker_unregister("training1@box")
    WorkerHost.objects.filter(name="training2@gone").update(seen_at=timezone.now() - STALE_AFTER - timedelta(seconds=1))
    assert list(WorkerHost.objects.values_list("name", flat=True)) == ["training2@gone"]
    assert queue.capacity() == 1, "a queue waits for one worker at least"
    assert not WorkerHost.objects.get().is_alive


def test_a_failed_sweep_is_logged_and_never_stops_the_worker(monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(worker, "jobs_recover", broken)
    with caplog.at_level(logging.WARNING, logger="training.worker"):
        assert worker.jobs_sweep() == []
    assert "the recovery sweep failed" in caplog.text


def test_workers_sweep_while_they_wait_as_often_as_running_jobs_do(monkeypatch):
    from console.celery import IdleSweep, WorkerHeartbeat, app

    assert {WorkerHeartbeat, IdleSweep} <= set(app.steps["consumer"])
    assert worker.sweep_seconds() == worker.SWEEP_SECONDS == 60
    monkeypatch.setenv("WORKER_SWEEP_SECONDS", "5")
    assert worker.sweep_seconds() == 5
