"""The fair queue (training.queue) against the test database: round-robin across racers, the per-racer limit,
places and their estimates, and failed or dead jobs that never block the others. The real workers taking
jobs in this order are in test_queue_workers.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.training.jobs_fixtures import make_model
from training import queue, services
from training.models import EvaluationJob, JobStatus, QuotaSettings, TrainingJob, WorkerHost

pytestmark = pytest.mark.django_db


def _jobs(user, count, prefix):
    return [services.training_start(make_model(user, name=f"{prefix}-{n}"), max_minutes=5, enqueue=False)
            for n in range(count)]


def _limit(jobs: int) -> None:
    QuotaSettings.objects.update_or_create(pk=1, defaults={"concurrent_jobs": jobs})


def _finish(job) -> None:
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.COMPLETED, finished_at=timezone.now())


def test_it_serves_the_racer_with_one_job_before_the_third_job_of_the_racer_with_six(owner, stranger):
    _limit(2)
    many = _jobs(owner, 6, "Many")
    (one,) = _jobs(stranger, 1, "One")
    first, second = queue.claim_next("w1"), queue.claim_next("w2")
    assert [first.pk, second.pk] == [many[0].pk, one.pk]
    _finish(first)
    assert queue.claim_next("w1").pk == many[1].pk


def test_it_takes_turns_between_racers_served_longest_ago(owner, stranger):
    _limit(3)
    a = _jobs(owner, 3, "A")
    b = _jobs(stranger, 3, "B")
    taken = [queue.claim_next(f"w{n}").pk for n in range(6)]
    assert taken == [a[0].pk, b[0].pk, a[1].pk, b[1].pk, a[2].pk, b[2].pk]


def test_it_keeps_a_racer_to_the_concurrent_job_limit(owner, stranger):
    _limit(1)
    a = _jobs(owner, 2, "A")
    running = queue.claim_next("w1")
    assert running.pk == a[0].pk
    assert queue.claim_next("w2") is None, "a second job of a racer at the limit started"
    (b,) = _jobs(stranger, 1, "B")
    assert queue.claim_next("w2").pk == b.pk
    _finish(running)
    assert queue.claim_next("w1").pk == a[1].pk


def test_it_never_lets_a_failed_job_or_a_dead_worker_block_the_others(owner):
    _limit(1)
    a = _jobs(owner, 3, "A")
    failed = queue.claim_next("w1")
    TrainingJob.objects.filter(pk=failed.pk).update(status=JobStatus.FAILED, failure_reason="reward code raised")
    dead = queue.claim_next("w1")
    assert dead.pk == a[1].pk
    # Its worker vanished: the recovery sweep puts it back at its place, before the racer's next job.
    TrainingJob.objects.filter(pk=dead.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    TrainingJob.objects.get(pk=dead.pk).requeue_lost()
    assert queue.claim_next("w2").pk == a[1].pk


def test_it_gives_every_waiting_job_a_place_that_moves_up_as_jobs_finish(owner, stranger):
    _limit(1)
    WorkerHost.objects.create(name="training@a", hostname="a", seen_at=timezone.now())
    a = _jobs(owner, 3, "A")
    b = _jobs(stranger, 1, "B")
    running = queue.claim_next("training@a")
    places = services.job_places()
    assert [places[("training", job.pk)]["position"] for job in (b[0], a[1], a[2])] == [1, 2, 3]
    starts = [places[("training", job.pk)]["estimated_start"] for job in (b[0], a[1], a[2])]
    assert starts == sorted(starts) and len(set(starts)) == 3, "one worker: each waits for the one before"
    assert services.job_place(running) is None
    # 5 minutes of running job, then 5 of B's: A's second starts about ten minutes from now.
    eta = timezone.datetime.fromisoformat(places[("training", a[1].pk)]["estimated_start"])
    assert timedelta(minutes=9) < eta - timezone.now() <= timedelta(minutes=10, seconds=2)
    _finish(running)
    assert queue.claim_next("training@a").pk == b[0].pk
    assert [services.job_place(job)["position"] for job in (a[1], a[2])] == [1, 2]


def test_it_counts_live_workers_for_the_estimates(owner):
    now = timezone.now()
    WorkerHost.objects.create(name="training@a", hostname="a", seen_at=now)
    WorkerHost.objects.create(name="training@b", hostname="b", seen_at=now)
    WorkerHost.objects.create(name="training@gone", hostname="c", seen_at=now - timedelta(hours=1))
    assert queue.capacity() == 2
    _limit(5)
    jobs = _jobs(owner, 3, "A")
    places = services.job_places()
    firsts = {places[("training", job.pk)]["estimated_start"] for job in jobs[:2]}
    assert len(firsts) == 1, "two live workers: the first two jobs start now"
    assert places[("training", jobs[2].pk)]["estimated_start"] > firsts.pop()


def test_it_announces_places_to_the_waiting_jobs_pages(owner):
    from tests.training.jobs_fixtures import _listen

    a = _jobs(owner, 2, "A")
    received = _listen(f"training.{a[1].pk}")
    queue.broadcast_places()
    events = [event for event in received() if event.get("event") == "queue"]
    assert [event["payload"]["position"] for event in events] == [2], events


def test_it_never_reads_a_trainings_growing_metrics_or_the_reward_code_for_the_places(owner, stranger):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    WorkerHost.objects.create(name="training@a", hostname="a", seen_at=timezone.now())
    _jobs(owner, 1, "A")
    running = queue.claim_next("training@a")
    # A long training: its row carries every iteration's figures, which a room's polls must not parse.
    TrainingJob.objects.filter(pk=running.pk).update(metrics=[{"iteration": n, "reward": 1.0} for n in range(2000)])
    (waiting,) = _jobs(stranger, 1, "B")
    with CaptureQueriesContext(connection) as captured:
        places = queue.places()
    assert places[("training", waiting.pk)].position == 1
    read = " ".join(query["sql"] for query in captured)
    assert '"metrics"' not in read and '"reward_code"' not in read and '"vehicle_snapshot"' not in read


def test_it_estimates_a_racer_at_their_limit_to_start_when_their_own_job_ends_not_when_a_worker_is_free(
        owner, stranger):
    _limit(1)
    for name in "abc":  # three workers: one runs the owner's first job, two are idle
        WorkerHost.objects.create(name=f"training@{name}", hostname=name, seen_at=timezone.now())
    a = _jobs(owner, 3, "A")  # 5 minutes each
    assert queue.claim_next("training@a").pk == a[0].pk
    (b,) = _jobs(stranger, 1, "B")
    places = services.job_places()

    def starts_in(job) -> timedelta:
        return timezone.datetime.fromisoformat(places[("training", job.pk)]["estimated_start"]) - timezone.now()

    assert places[("training", b.pk)]["position"] == 1 and starts_in(b) <= timedelta(seconds=2)
    # The owner's next jobs wait for the one before them, although a worker stays idle meanwhile.
    assert places[("training", a[1].pk)]["position"] == 2
    assert timedelta(minutes=4, seconds=55) < starts_in(a[1]) <= timedelta(minutes=5, seconds=2)
    assert places[("training", a[2].pk)]["position"] == 3
    assert timedelta(minutes=9, seconds=55) < starts_in(a[2]) <= timedelta(minutes=10, seconds=2)
    assert queue.claim_next("training@b").pk == b.pk and queue.claim_next("training@c") is None  # as estimated


def test_it_orders_the_places_by_when_each_racers_limit_lets_their_job_start(owner, stranger):
    _limit(1)
    for name in "abc":
        WorkerHost.objects.create(name=f"training@{name}", hostname=name, seen_at=timezone.now())
    hour = services.training_start(make_model(stranger, name="B-hour"), max_minutes=60, enqueue=False)
    b_next = services.training_start(make_model(stranger, name="B-next"), max_minutes=5, enqueue=False)
    five = _jobs(owner, 2, "A")
    assert [queue.claim_next(worker).pk for worker in ("training@a", "training@b")] == [hour.pk, five[0].pk]
    places = services.job_places()
    # The stranger was served first, so their next job leads the fair order; but it waits for their hour
    # while the owner's next starts when the owner's five minutes end: that is the order they start in.
    assert [place["position"] for place in (places[("training", five[1].pk)], places[("training", b_next.pk)])] == [1, 2]
    starts = [timezone.datetime.fromisoformat(places[("training", job.pk)]["estimated_start"]) - timezone.now()
              for job in (five[1], b_next)]
    assert timedelta(minutes=4, seconds=55) < starts[0] <= timedelta(minutes=5, seconds=2)
    assert timedelta(minutes=59, seconds=55) < starts[1] <= timedelta(minutes=60, seconds=2)


def test_a_live_race_run_takes_the_next_free_worker_past_the_queue_and_its_racers_limit(owner, stranger):
    _limit(1)
    WorkerHost.objects.create(name="training@a", hostname="a", seen_at=timezone.now())
    a = _jobs(owner, 2, "A")
    (b,) = _jobs(stranger, 1, "B")
    running = queue.claim_next("w1")
    assert running.pk == a[0].pk  # the owner is at their limit, the stranger's job waits for a worker
    evaluation = EvaluationJob.objects.create(model=make_model(owner, name="Evaluated"), track="quick_loop")
    live = EvaluationJob.objects.create(model=make_model(owner, name="On-Track"), track="quick_loop", live=True)
    assert [job.pk for job in queue.fair_order()] == [live.pk, b.pk, a[1].pk, evaluation.pk]
    assert services.job_place(live)["position"] == 1
    assert queue.claim_next("w2").pk == live.pk, "the room waited behind the queue or the racer's limit"
    # The live run does not count toward its racer's limit: their own jobs go on as before it.
    _finish(running)
    assert queue.claim_next("w1").pk == b.pk
    assert queue.claim_next("w3").pk == a[1].pk


def test_it_estimates_a_live_race_run_to_start_on_the_next_free_worker_whatever_its_racers_limit(owner):
    _limit(1)
    for name in "ab":
        WorkerHost.objects.create(name=f"training@{name}", hostname=name, seen_at=timezone.now())
    _jobs(owner, 1, "A")
    queue.claim_next("training@a")  # the owner is at their limit for five minutes
    live = EvaluationJob.objects.create(model=make_model(owner, name="On-Track"), track="quick_loop", live=True)
    place = services.job_place(live)
    assert place["position"] == 1
    assert timezone.datetime.fromisoformat(place["estimated_start"]) - timezone.now() <= timedelta(seconds=2)
