"""The fair queue: which waiting job a free worker takes, and where every waiting job stands.

Jobs (training, evaluation, race submissions: all evaluation jobs, head-to-model heats) wait in the database, not in the broker:
a message on the `training` queue only says "a worker is free: take the fairest waiting job", so a racer
who queues ten jobs does not hold every worker while another waits for one. The fair order is round-robin
across racers: each racer's jobs in the order they were queued, and between racers, first the one with
the fewest jobs running, then the one served longest ago. A racer runs at most
``QuotaSettings.concurrent_jobs`` jobs at once; a job over that limit waits, and the worker that ends the
racer's running job sends the message that picks it up (``training.worker``). A failed job or a dead
worker never blocks the others: the recovery sweep requeues a dead worker's job at its place in the queue.
A live race run or heat (EvaluationJob.live, HeatJob.live: a room watches it) goes before every other job, to the next free
worker, and neither waits for nor counts toward its racer's limit.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max
from django.utils import timezone

from training.live import publish_safely
from training.models import (
    RUNNING_STATUSES,
    EvaluationJob,
    HeatJob,
    JobStatus,
    QuotaSettings,
    TrainingJob,
    WorkerHost,
)

JOB_CLASSES = (TrainingJob, EvaluationJob, HeatJob)
# A room of racers polls the models list's places every few seconds (static/models_app/list.js): a process
# computes them at most this often and shares them (places_by_model). What the process itself changes
# shows at once (broadcast_places computes them afresh); what a worker elsewhere changes, within this.
PLACES_FRESH_SECONDS = 2.0
_recent: tuple[float, list[tuple]] = (-math.inf, [])  # (time.monotonic() when computed, _placed())
# What an evaluation (or a heat) takes when no finished one says better (a few laps with video on a busy
# machine).
EVALUATION_ESTIMATE_SECONDS = 120.0
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.get_fixed_timezone(0))


@dataclass(frozen=True)
class Place:
    """Where a waiting job stands: 1 = next; when it should start (an estimate from the running jobs)."""

    position: int
    estimated_start: datetime

    def as_dict(self) -> dict:
        return {"position": self.position, "estimated_start": self.estimated_start.isoformat()}


def _owner(job) -> int:
    return job.racer_id


def _is_live(job) -> bool:
    return getattr(job, "live", False)


def waiting_jobs() -> list:
    """Every job that waits for a worker, oldest first (both kinds)."""
    jobs = []
    for job_class in JOB_CLASSES:
        jobs += list(job_class.objects.waiting().for_queue().order_by("created_at", "id"))
    return sorted(jobs, key=lambda job: (job.created_at, job.pk))


def running_jobs() -> list:
    jobs = []
    for job_class in JOB_CLASSES:
        jobs += list(job_class.objects.filter(status__in=RUNNING_STATUSES).for_queue())
    return jobs


def _last_served(owner_ids) -> dict[int, datetime]:
    """When a worker last took each racer's job (any kind)."""
    served: dict[int, datetime] = {}
    for job_class in JOB_CLASSES:
        owner_field = f"{job_class.OWNER_FIELD}_id"
        rows = (job_class.objects.filter(**{f"{owner_field}__in": owner_ids}, claimed_at__isnull=False)
                .values(owner_field).annotate(last=Max("claimed_at")))
        for row in rows:
            owner, last = row[owner_field], row["last"]
            served[owner] = max(last, served.get(owner, last))
    return served


def fair_order(waiting: list | None = None, running: list | None = None) -> list:
    """The waiting jobs in the order workers take them (ignoring the per-racer limit, which only delays a
    racer's turn): round k holds each racer's k-th job; within a round, racers with fewer running jobs,
    then those served longest ago, then those who queued first."""
    waiting = waiting_jobs() if waiting is None else waiting
    running = running_jobs() if running is None else running
    live = [job for job in waiting if _is_live(job)]
    per_racer: dict[int, list] = defaultdict(list)
    for job in waiting:
        if not _is_live(job):
            per_racer[_owner(job)].append(job)
    busy = _busy(running)
    served = _last_served(list(per_racer))
    racers = sorted(per_racer, key=lambda owner: (busy[owner], served.get(owner, _EPOCH),
                                                  per_racer[owner][0].created_at))
    order = live
    for round_number in range(max((len(jobs) for jobs in per_racer.values()), default=0)):
        order += [per_racer[owner][round_number] for owner in racers if round_number < len(per_racer[owner])]
    return order


def claim_next(worker: str):
    """Claim the fairest waiting job a racer's limit allows, for ``worker``; None when there is none. A
    claim that a simultaneous one pushed over the racer's limit is undone (the job keeps its place)."""
    limit = QuotaSettings.current().concurrent_jobs
    running = running_jobs()
    busy = _busy(running)
    for job in fair_order(running=running):
        owner = _owner(job)
        if busy[owner] >= limit and not _is_live(job):
            continue
        if not type(job).objects.claim(job.pk, worker):
            continue  # another worker took it meanwhile
        if not _is_live(job) and _running_count(owner) > limit:
            type(job).objects.filter(pk=job.pk, worker=worker, status=JobStatus.INITIALIZING).update(
                status=job.status, worker="", attempts=job.attempts, claimed_at=job.claimed_at)
            busy[owner] = limit
            continue
        return type(job).objects.select_related("model").get(pk=job.pk)
    return None


def _busy(running: list) -> Counter:
    """Each racer's running jobs that count toward their limit (a live race run does not)."""
    return Counter(_owner(job) for job in running if not _is_live(job))


def _running_count(owner_id: int) -> int:
    return _busy(running_jobs())[owner_id]


def expected_seconds(job, estimates: dict) -> float:
    """How long a job should still take: a training's time limit left; an evaluation's or a heat's recent
    average (``estimates``: _estimates())."""
    if isinstance(job, TrainingJob):
        return max(job.remaining_seconds, 1.0)
    return estimates[type(job)]


def _estimates() -> dict:
    """What an evaluation and a heat took lately (the mean of the last 20 completed), by class."""
    return {job_class: _recent_duration(job_class) for job_class in (EvaluationJob, HeatJob)}


def _recent_duration(job_class) -> float:
    recent = (job_class.objects.filter(status=JobStatus.COMPLETED, started_at__isnull=False,
                                       finished_at__isnull=False).order_by("-finished_at")
              .values_list("started_at", "finished_at")[:20])
    durations = [(finished - started).total_seconds() for started, finished in recent]
    return sum(durations) / len(durations) if durations else EVALUATION_ESTIMATE_SECONDS


def capacity() -> int:
    """Jobs the instance runs at once: the live workers (at least one: a queue waits for one)."""
    return max(1, sum(1 for host in WorkerHost.objects.all() if host.is_alive))


def places(now: datetime | None = None) -> dict[tuple[str, int], Place]:
    """Every waiting job's place, keyed by (kind, id) with kind "training", "evaluation" or "heat": its position
    in the fair order and an estimated start, from the running jobs' time left and ``capacity`` slots."""
    return {(kind_of(job), job.pk): place for job, place in _placed(now)}


def _places_remembered() -> dict[tuple[str, int], Place]:
    return {(kind_of(job), job.pk): place for job, place in _remember(_placed())}


def places_by_model(owner_id: int) -> dict:
    """The owner's waiting jobs' places by model id (a model has at most one active training or evaluation
    job), from the places this process computed at most PLACES_FRESH_SECONDS ago: the models list and its
    poll. Heats race other racers' models too: they are not a model's job."""
    computed_at, placed = _recent
    if time.monotonic() - computed_at > PLACES_FRESH_SECONDS:
        placed = _remember(_placed())
    return {job.model_id: place for job, place in placed if _owner(job) == owner_id and not isinstance(job, HeatJob)}


def _remember(placed: list[tuple]) -> list[tuple]:
    global _recent
    _recent = (time.monotonic(), placed)
    return placed


def forget_recent_places() -> None:
    """The next places_by_model computes afresh (tests: every test has its own database)."""
    global _recent
    _recent = (-math.inf, [])


def _placed(now: datetime | None = None) -> list[tuple]:
    """The waiting jobs in the order they should start, each with its Place: what the workers will do if
    every job takes its expected time. A free worker takes the first job in the fair order whose racer is
    under their limit of concurrent jobs (claim_next), so a racer at the limit waits for their own job to end
    even while a worker is idle, and another racer's job may start before theirs; a live race run waits for
    a worker only."""
    now = now or timezone.now()
    running = running_jobs()
    estimates = _estimates()
    limit = QuotaSettings.current().concurrent_jobs
    ends = [now.timestamp() + _left(job, estimates, now) for job in running]
    # One slot per worker: busy ones free when their job should end; a job over capacity (a worker that
    # vanished, not yet swept) holds no slot of its own, but it counts to its racer's limit.
    workers = capacity()
    slots = sorted(sorted(ends)[:workers] + [now.timestamp()] * max(0, workers - len(ends)))
    under_way: dict[int, list[float]] = defaultdict(list)  # each racer's jobs by when they should end
    for job, end in zip(running, ends, strict=True):
        if not _is_live(job):
            under_way[_owner(job)].append(end)

    def earliest_start(job) -> float:
        racer_free = -math.inf if _is_live(job) else _racer_free_at(under_way[_owner(job)], limit)
        return max(slots[0], now.timestamp(), racer_free)

    waiting, result = fair_order(running=running), []
    while waiting:
        start, index = min((earliest_start(job), index) for index, job in enumerate(waiting))
        job = waiting.pop(index)
        end = start + expected_seconds(job, estimates)
        heapq.heapreplace(slots, end)
        if not _is_live(job):
            under_way[_owner(job)].append(end)
        result.append((job, Place(len(result) + 1, datetime.fromtimestamp(math.ceil(start), tz=now.tzinfo))))
    return result


def _racer_free_at(ends: list[float], limit: int) -> float:
    """When a racer whose jobs under way end at ``ends`` may start one more: at once below the limit,
    else when all but limit - 1 of them have ended."""
    if len(ends) < limit:
        return -math.inf
    return sorted(ends, reverse=True)[limit - 1]


def _left(job, estimates: dict, now: datetime) -> float:
    if isinstance(job, TrainingJob):
        return job.remaining_seconds
    elapsed = (now - (job.claimed_at or now)).total_seconds()
    return max(0.0, estimates[type(job)] - elapsed)


KINDS = {TrainingJob: "training", EvaluationJob: "evaluation", HeatJob: "heat"}


def kind_of(job) -> str:
    """The job's kind: the first part of its group's name (``<kind>.<id>``) and of its place's key."""
    return KINDS[type(job)]


def place_of(job) -> Place | None:
    """A waiting job's place, or None when it is not waiting."""
    if not job.is_active or job.status in RUNNING_STATUSES:
        return None
    return places().get((kind_of(job), job.pk))


def broadcast_places() -> None:
    """Tell every waiting job's page its place (after the queue changed: a job queued, taken or ended)."""
    for (kind, job_id), place in _places_remembered().items():
        publish_safely(f"{kind}.{job_id}", "queue", place.as_dict())
