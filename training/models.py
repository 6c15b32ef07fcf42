"""Training and evaluation jobs: the durable state of a run (SPEC 3 statuses), kept in the database so
that a killed worker leaves a job that resumes or fails with a reason, never one stuck "in progress"."""

import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from models_app.models import UNKNOWN_TITLE, imported_track_title
from models_app.models import Status as ModelStatus
from models_app.race_types import describe
from models_app.tracks import track_title
from simulator import spec
from training import artifacts
from training.signals import evaluation_finished, heat_finished

logger = logging.getLogger(__name__)

# A job whose worker has not written a heartbeat for this long is presumed dead (the engine reports at
# least once a second while it runs; MuJoCo and the reward sandbox can take a minute to start).
STALE_AFTER = timedelta(minutes=3)


class JobStatus(models.TextChoices):
    QUEUED = "QUEUED", "Queued"
    INITIALIZING = "INITIALIZING", "Initializing"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    STOPPING = "STOPPING", "Stopping"
    # The console (or its worker) was stopped while the job ran: it checkpointed and waits for a worker.
    INTERRUPTED = "INTERRUPTED", "Stopped by the system"
    COMPLETED = "COMPLETED", "Completed"
    FAILED = "FAILED", "Failed"
    CANCELED = "CANCELED", "Canceled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.INITIALIZING, JobStatus.IN_PROGRESS, JobStatus.STOPPING,
                   JobStatus.INTERRUPTED)
RUNNING_STATUSES = (JobStatus.INITIALIZING, JobStatus.IN_PROGRESS, JobStatus.STOPPING)
# Jobs that wait for a worker to take them: a new one, or one a shutdown interrupted.
WAITING_STATUSES = (JobStatus.QUEUED, JobStatus.INTERRUPTED)
# A failed job always says why; this covers rows failed without one (by hand, or by older code).
UNRECORDED_FAILURE = "It failed without a recorded reason: the training log may say more."
FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)
# The model's status while its training job is in each status (SPEC 3); an evaluation's model is
# EVALUATING while it runs (EvaluationJob.model_status_for).
MODEL_STATUS = {
    JobStatus.QUEUED: ModelStatus.QUEUED,
    JobStatus.INITIALIZING: ModelStatus.TRAINING,
    JobStatus.IN_PROGRESS: ModelStatus.TRAINING,
    JobStatus.STOPPING: ModelStatus.STOPPING,
    JobStatus.COMPLETED: ModelStatus.READY,
    JobStatus.CANCELED: ModelStatus.READY,
    JobStatus.FAILED: ModelStatus.ERROR,
    JobStatus.INTERRUPTED: ModelStatus.QUEUED,  # it waits for a worker, like a new job
}


class JobError(ValueError):
    """A job cannot be started or stopped as asked; the message says why, for the racer."""


class JobQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(**{self.model.OWNER_FIELD: user})

    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)

    def with_track_titles(self):
        """Evaluations: their imported track's title in the same query (the list shows one per row)."""
        return self.annotate(imported_track_title=imported_track_title(
            Coalesce(OuterRef("track_owner"), OuterRef(self.model.OWNER_FIELD)), OuterRef("track")))

    def stale(self, now=None):
        """Running jobs whose worker stopped writing heartbeats (killed, out of memory, machine lost)."""
        limit = (now or timezone.now()) - STALE_AFTER
        return self.filter(status__in=RUNNING_STATUSES, heartbeat_at__lt=limit)

    def waiting(self):
        """Jobs a worker should take: after a broker restart their queue message may be gone, so the
        recovery sweep sends it again (a second message is harmless: claiming is conditional)."""
        return self.filter(status__in=WAITING_STATUSES, stop_requested=False)

    def claimable(self, now=None):
        """What a worker may take: a waiting job, or a running one whose worker stopped beating."""
        limit = (now or timezone.now()) - STALE_AFTER
        return self.filter(Q(status__in=WAITING_STATUSES) | Q(status__in=RUNNING_STATUSES, heartbeat_at__lt=limit),
                           stop_requested=False)

    def claim(self, pk, worker: str) -> bool:
        """Take the job for ``worker`` in one conditional UPDATE, so two workers handed the same job (a
        redelivered message, a sweep) never both run it. Clears the message of an interruption."""
        now = timezone.now()
        return bool(self.claimable(now).filter(pk=pk).update(
            status=JobStatus.INITIALIZING, heartbeat_at=now, claimed_at=now, worker=worker,
            attempts=F("attempts") + 1, failure_reason=""))

    def of_owner(self, user_id):
        return self.filter(**{f"{self.model.OWNER_FIELD}_id": user_id})

    def for_queue(self):
        """Jobs and their models as the fair queue reads them (state, racer, time left), without the
        documents and long texts of either: a training's metrics grow by an iteration's figures every
        iteration, a model's reward code may be 140,000 characters, and a room polls the queue."""
        rl_model = self.model._meta.get_field("model").related_model
        return self.select_related("model").defer(*_bulky_fields(self.model), *(
            f"model__{name}" for name in _bulky_fields(rl_model)))


def _bulky_fields(model_class) -> list[str]:
    return [field.name for field in model_class._meta.concrete_fields
            if isinstance(field, models.JSONField | models.TextField)]


class Job(models.Model):
    """What training and evaluation jobs share: a model, a status, timestamps, a stop request."""

    model = models.ForeignKey("models_app.RLModel", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    stop_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When a worker last took it: the fair queue serves first the racer it served longest ago.
    claimed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True, help_text="why it failed, or why the system stopped it")
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="times a worker picked the job up since it started or was last paused cleanly")

    objects = JobQuerySet.as_manager()

    # Whose job it is (the fair queue's racer, whose quotas it uses): the model's owner, for most jobs.
    OWNER_FIELD = "model__owner"

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def racer_id(self) -> int:
        """The racer the job runs for (OWNER_FIELD): the fair queue's turns and the compute quota."""
        return self.model.owner_id

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def is_interrupted(self) -> bool:
        return self.status == JobStatus.INTERRUPTED

    def _same_row(self):
        return type(self).objects.filter(pk=self.pk)

    def request_stop(self) -> str | None:
        """The racer's stop: a queued job is canceled, a running one moves to STOPPING (its loop sees
        stop_requested) and an interrupted one ends where its last checkpoint left it. Returns the status
        it moved to, or None when it ended meanwhile (the updates are conditional, so a run that ends
        during the request is never put back). The instance is refreshed."""
        now = timezone.now()
        same = self._same_row()
        if same.filter(status=JobStatus.QUEUED).update(stop_requested=True, status=JobStatus.CANCELED,
                                                        finished_at=now):
            moved = JobStatus.CANCELED
        elif same.filter(status__in=RUNNING_STATUSES).update(stop_requested=True, status=JobStatus.STOPPING):
            moved = JobStatus.STOPPING
        elif same.filter(status=JobStatus.INTERRUPTED).update(stop_requested=True, finished_at=now,
                                                               **self.interrupted_stop_fields()):
            moved = self.interrupted_stop_fields()["status"]
        else:
            moved = None
        self.refresh_from_db()
        if moved in FINISHED_STATUSES:
            self.announce_finished()
        return moved

    def interrupted_stop_fields(self) -> dict:
        """What a stop request makes of a job waiting to resume: an evaluation has nothing to keep."""
        return {"status": JobStatus.CANCELED}

    def mark_interrupted(self, reason: str) -> bool:
        """The system stopped the run (shutdown, deploy) after it checkpointed: it waits for a worker.
        Only the worker that runs it may do so; the dead-worker count restarts (it ended cleanly)."""
        moved = self._same_row().filter(status__in=RUNNING_STATUSES).update(
            status=JobStatus.INTERRUPTED, failure_reason=reason, attempts=0, worker="")
        if moved:
            self.refresh_from_db()
        return bool(moved)

    def requeue_lost(self) -> bool:
        """A running job whose worker is gone waits for another one (resumed from its last checkpoint)."""
        moved = self._same_row().filter(status__in=RUNNING_STATUSES).update(status=JobStatus.QUEUED)
        if moved:
            self.refresh_from_db()
        return bool(moved)

    # -- the model's status follows its job: set here, and only here --------------------------------------

    def model_status_for(self, status: str) -> str:
        """The model's status while this job is in ``status``."""
        return MODEL_STATUS[status]

    def model_status_after(self) -> str:
        """When the job is over: READY when the model has a checkpoint to evaluate or race, else ERROR."""
        has_checkpoint = artifacts.read_checkpoints_index(self.model.folder) is not None
        return ModelStatus.READY if has_checkpoint else ModelStatus.ERROR

    def set_model_status(self, status: str) -> None:
        type(self.model).objects.filter(pk=self.model_id).update(status=status)
        self.model.status = status

    def move(self, status: str, *, model_status: str | None = None, **fields) -> None:
        """Set the job's status (finished ones get finished_at) and the named fields, and the model's
        status with it. Only those fields are written: the worker and a view may hold copies of the row."""
        fields["status"] = status
        if status in FINISHED_STATUSES:
            fields["finished_at"] = timezone.now()
        for name, value in fields.items():
            setattr(self, name, value)
        self.save(update_fields=list(fields))
        self.set_model_status(model_status or self.model_status_for(status))
        if status in FINISHED_STATUSES:
            self.announce_finished()

    # -- the apps above hear when a job is over (training.signals), from its two ways to end: move and
    # request_stop. A training job has no listener.
    finished_signal = None

    def announce_finished(self) -> None:
        """Send ``finished_signal``; a receiver that raises is logged, the job is unchanged."""
        if self.finished_signal is None:
            return
        for receiver, response in self.finished_signal.send_robust(sender=type(self), job=self):
            if isinstance(response, Exception):
                logger.error("%s receiver failed for %s", receiver, self, exc_info=response)

    def status_payload(self) -> dict:
        """What the job's pages are told when its status changes."""
        return {"status": self.status, "model_status": MODEL_STATUS.get(self.status, ""),
                "failure_reason": self.failure_message}

    @property
    def failure_message(self) -> str:
        """What the job's page says under its status: the reason it failed, or that none was recorded."""
        return self.failure_reason or (UNRECORDED_FAILURE if self.status == JobStatus.FAILED else "")


class TrainingJob(Job):
    model = models.ForeignKey("models_app.RLModel", on_delete=models.CASCADE, related_name="training_jobs")
    max_minutes = models.FloatField(help_text="stop condition: minutes of training, counted across resumes")
    max_iterations = models.PositiveIntegerField(null=True, blank=True,
                                                 help_text="optional stop after this many iterations")
    last_iteration = models.PositiveIntegerField(default=0)
    best_iteration = models.PositiveIntegerField(null=True, blank=True)
    elapsed_seconds = models.FloatField(default=0.0, help_text="training time so far, across resumes")
    stop_reason = models.CharField(max_length=20, blank=True,
                                   help_text='why a completed run ended: "stopped", "max_time", "max_iterations"')
    metrics = models.JSONField(default=list, blank=True,
                               help_text="one record per iteration: the reward graph's points")

    def __str__(self):
        return f"Training job {self.pk} of {self.model_id}"

    @property
    def group(self) -> str:
        return f"training.{self.pk}"

    @property
    def remaining_seconds(self) -> float:
        return max(0.0, self.max_minutes * 60.0 - self.elapsed_seconds)

    def status_payload(self) -> dict:
        return {**super().status_payload(), "last_iteration": self.last_iteration,
                "elapsed_seconds": self.elapsed_seconds, "remaining_seconds": self.remaining_seconds,
                "stop_reason": self.stop_reason}

    def interrupted_stop_fields(self) -> dict:
        # Its last checkpoint is a finished run's last one, as after the racer's stop of a running job.
        return {"status": JobStatus.COMPLETED, "stop_reason": "stopped"}

    @property
    def can_continue(self) -> bool:
        """Continue training by hand: a run that failed or was stopped (by the racer or its time limit)
        goes on from its last checkpoint in the same job, so its graph and traces stay one."""
        return self.status in (JobStatus.FAILED, JobStatus.CANCELED, JobStatus.COMPLETED) and self.started_at is not None

    def continue_for(self, minutes: float) -> bool:
        """Queue the finished job again with ``minutes`` more of training; False when it is no longer
        finished (a second click). Counters and metrics stay: the engine resumes from the checkpoint."""
        total = self.elapsed_seconds / 60.0 + minutes
        moved = self._same_row().filter(status__in=FINISHED_STATUSES).update(
            status=JobStatus.QUEUED, max_minutes=total, max_iterations=None, stop_requested=False,
            stop_reason="", failure_reason="", finished_at=None, attempts=0, worker="")
        if moved:
            self.refresh_from_db()
        return bool(moved)


class TrainingEpisode(models.Model):
    """One episode's point on the reward graph (training) or one evaluation trial after an update."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="episodes")
    phase = models.CharField(max_length=10)  # "training" | "evaluation"
    iteration = models.PositiveIntegerField()
    number = models.PositiveIntegerField(help_text="training: episode number in the run; evaluation: trial")
    reward = models.FloatField()
    progress = models.FloatField()
    status = models.CharField(max_length=16)
    steps = models.PositiveIntegerField()

    class Meta:
        ordering = ["iteration", "phase", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "phase", "iteration", "number"],
                                               name="one_point_per_episode")]

    def as_point(self) -> dict:
        return {"phase": self.phase, "iteration": self.iteration, "episode": self.number,
                "reward": self.reward, "progress": self.progress, "status": self.status, "steps": self.steps}


class EvaluationJob(Job):
    model = models.ForeignKey("models_app.RLModel", on_delete=models.CASCADE, related_name="evaluation_jobs")
    track = models.CharField(max_length=64)
    # Whose imported track `track` names when it is not the model owner's (a race organiser's); the
    # service that sets it has checked that the racer may drive it.
    track_owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="+",
                                    help_text="owner of the imported track when it is not the model's owner")
    track_reversed = models.BooleanField(default=False)
    race_type = models.JSONField(default=dict, blank=True)
    label = models.CharField(max_length=120, blank=True,
                             help_text="what started it when not the Evaluation tab, e.g. a race submission")
    trials = models.PositiveSmallIntegerField(default=3)
    continuous = models.BooleanField(default=False)
    off_track_penalty = models.FloatField(default=5.0)
    collision_penalty = models.FloatField(default=5.0)
    results = models.JSONField(default=list, blank=True, help_text="one record per trial (SPEC 4)")
    video = models.CharField(max_length=300, blank=True, help_text="MP4 path relative to the model folder")
    live = models.BooleanField(default=False, help_text="a live race run: a room watches it, so it streams in "
                                                        "real time at 15 frames a second")

    def __str__(self):
        return f"Evaluation job {self.pk} of {self.model_id}"

    def model_status_for(self, status: str) -> str:
        return ModelStatus.EVALUATING if status in RUNNING_STATUSES else super().model_status_for(status)

    finished_signal = evaluation_finished

    @property
    def group(self) -> str:
        return f"evaluation.{self.pk}"

    @property
    def best_time(self) -> str | None:
        """The fastest completed lap's time (MM:SS.mmm), if any lap was completed."""
        laps = [trial for trial in self.results if trial.get("status") == "lap_complete"]
        return min(laps, key=lambda trial: trial["time_seconds"])["time"] if laps else None

    @property
    def race_type_name(self) -> str:
        return (self.race_type or {}).get("race_type", spec.TIME_TRIAL)

    @property
    def race_type_label(self) -> str:
        return describe(self.race_type or {"race_type": spec.TIME_TRIAL})

    @property
    def track_title(self) -> str:
        return track_title(self.track_owner_id or self.model.owner_id, self.track,
                           getattr(self, "imported_track_title", UNKNOWN_TITLE))


class HeatJob(Job):
    """A head-to-model heat: two models' cars race on one track at the same time, each driven by its own
    policy from its own sensors (issue 10). Car 0 (``model``) and car 1 (``opponent``) are in grid order.
    It runs in the fair queue as ``requested_by``'s job (the race organiser's), and leaves both models'
    statuses alone: a heat only reads their best checkpoints."""

    model = models.ForeignKey("models_app.RLModel", on_delete=models.CASCADE, related_name="heat_jobs")
    opponent = models.ForeignKey("models_app.RLModel", on_delete=models.CASCADE,
                                 related_name="heat_jobs_as_opponent")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                                     help_text="whose job it is for the fair queue and the quotas")
    track = models.CharField(max_length=64)
    track_owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="+",
                                    help_text="owner of the imported track when it is not the requester")
    track_reversed = models.BooleanField(default=False)
    race_type = models.JSONField(default=dict, blank=True)
    label = models.CharField(max_length=120, blank=True, help_text='what it is, e.g. "Quarter-final 2 of My race"')
    laps = models.PositiveSmallIntegerField(default=1, help_text="first across the line after this many laps wins")
    continuous = models.BooleanField(default=True, help_text="off track or crashed: reset with a penalty")
    off_track_penalty = models.FloatField(default=5.0)
    collision_penalty = models.FloatField(default=5.0)
    max_seconds = models.FloatField(default=180.0, help_text="time limit of the heat on the sim clock")
    live = models.BooleanField(default=False, help_text="a live race's heat: a room watches it, so it goes "
                                                        "first in the fair queue")
    result = models.JSONField(default=dict, blank=True, help_text="winner and both cars' figures; {} until completed")
    video = models.CharField(max_length=300, blank=True, help_text="replay MP4, relative to the heat's folder")

    OWNER_FIELD = "requested_by"

    def __str__(self):
        return f"Heat job {self.pk}: {self.model_id} v {self.opponent_id}"

    @property
    def racer_id(self) -> int:
        return self.requested_by_id

    @property
    def group(self) -> str:
        return f"heat.{self.pk}"

    @property
    def cars(self) -> list:
        """The two models in grid order."""
        return [self.model, self.opponent]

    @property
    def folder(self) -> Path:
        """The heat's own folder in the model store (workers on any host share it): replay and traces."""
        return Path(settings.MODEL_STORE) / "heats" / str(self.pk)

    @property
    def video_path(self) -> Path | None:
        """The replay MP4 when it exists, only inside the heat's folder."""
        if not self.video:
            return None
        folder = self.folder.resolve()
        path = (folder / self.video).resolve()
        return path if folder in path.parents and path.is_file() else None

    def simtrace_path(self, car: int) -> Path | None:
        """Car ``car``'s sim-trace CSV (SPEC 5.2) when the heat wrote one."""
        path = self.folder / artifacts.heat_simtrace_name(car)
        return path if path.is_file() else None

    # A heat races the models' checkpoints: their statuses (training, ready...) are their own jobs'.
    def set_model_status(self, status: str) -> None:
        pass

    def model_status_for(self, status: str) -> str:
        return self.model.status

    def model_status_after(self) -> str:
        return self.model.status

    def status_payload(self) -> dict:
        return {"status": self.status, "failure_reason": self.failure_message, "result": self.result}

    finished_signal = heat_finished

    @property
    def winner_model(self):
        """The winning car's model, or None (not completed, or a tie)."""
        winner = (self.result or {}).get("winner")
        return self.cars[winner] if winner in (0, 1) else None

    @property
    def race_type_label(self) -> str:
        return describe(self.race_type or {"race_type": spec.TIME_TRIAL})

    @property
    def track_title(self) -> str:
        return track_title(self.track_owner_id or self.requested_by_id, self.track,
                           getattr(self, "imported_track_title", UNKNOWN_TITLE))


# -- quotas (SPEC 4): monthly compute minutes and model count, -1 = unlimited ---------------------------------

UNLIMITED = -1


class QuotaSettings(models.Model):
    """The instance's quotas (one row, edited by an admin): the default every racer without an override
    gets, the override a new racer starts with, and how many jobs one racer may run at once."""

    compute_minutes = models.IntegerField(default=UNLIMITED, help_text="compute minutes per month (-1: unlimited)")
    models_count = models.IntegerField(default=UNLIMITED, help_text="models a racer may keep (-1: unlimited)")
    new_racer_compute_minutes = models.IntegerField(
        null=True, blank=True, help_text="a new racer's own compute minutes quota (empty: the default)")
    new_racer_models_count = models.IntegerField(
        null=True, blank=True, help_text="a new racer's own model quota (empty: the default)")
    concurrent_jobs = models.PositiveSmallIntegerField(
        default=1, help_text="jobs (training, evaluation, race submission) one racer may run at once")

    @classmethod
    def current(cls) -> "QuotaSettings":
        # Read-only until an admin saves it: a page view never writes (the defaults are the fields').
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class RacerQuota(models.Model):
    """One racer's overrides (null: the instance's default)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota")
    compute_minutes = models.IntegerField(null=True, blank=True, help_text="-1: unlimited; empty: the default")
    models_count = models.IntegerField(null=True, blank=True, help_text="-1: unlimited; empty: the default")


class ComputeUsageQuerySet(models.QuerySet):
    def of_month(self, month):
        return self.filter(month=month)


class ComputeUsage(models.Model):
    """Compute seconds a racer's jobs ran in one month (UTC): a new month is a new row, so quotas reset."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="the first day of the month (UTC)")
    seconds = models.FloatField(default=0.0)

    objects = ComputeUsageQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "month"], name="one_usage_row_per_month")]


class WorkerHost(models.Model):
    """A training worker, wherever it runs (it joins by pointing at the same database, Redis and model
    store): it says where it runs and what it runs, for the admin page and the queue's estimates."""

    name = models.CharField(max_length=200, unique=True, help_text="Celery's node name, e.g. training@host")
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField(default=0)
    queues = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField()
    running = models.CharField(max_length=200, blank=True, help_text="the job it runs now, e.g. training 12")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_alive(self) -> bool:
        return self.seen_at >= timezone.now() - STALE_AFTER
