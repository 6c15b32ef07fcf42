"""Workflows that cross the database, Celery and the channel layer: starting, running, stopping and
recovering training and evaluation jobs (DESIGN.md "The way data flows").

A view calls ``training_start`` / ``evaluation_start``: the rows are written and the Celery task is
enqueued with the job id once the transaction commits. The worker task calls ``training_run`` /
``evaluation_run``: it claims the job, builds the engine run from the model's snapshot and turns every
engine report into database progress and a broadcast on the job's group. Durable state (status,
heartbeat, last iteration) lives in the database, so ``jobs_recover`` can requeue a job whose worker died;
the engine resumes it from the model folder's last checkpoint.

Stopping the console is not a failure: a worker told to shut down (Ctrl-C, SIGTERM, a deploy) calls
``worker_shutdown_requested``; its running job then checkpoints, becomes INTERRUPTED ("Stopped by the
system") and is sent to the queue again, so the next worker resumes it (``jobs_recover`` at every worker
start sends again what waits, in case the broker lost it). ``training_continue`` is the racer's resume
of a failed or stopped run, in the same job so its graph stays one.

``training.engine`` (torch and the learners) is imported only inside the worker-side functions: the web
process uses this module too and never loads torch.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import socket
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from common.broadcast import publish
from common.envvars import env_int, env_str
from simulator.spec import MAX_TRIALS, MIN_TRIALS
from training import artifacts
from training.live import LivePublisher

if TYPE_CHECKING:
    from training import engine
from training.models import (
    ACTIVE_STATUSES,
    RUNNING_STATUSES,
    EvaluationJob,
    JobStatus,
    TrainingEpisode,
    TrainingJob,
)

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0  # DB heartbeat and stop-request check: often enough to stop fast, cheap on the DB
MAX_ATTEMPTS = 3  # a job whose worker died this many times is failed, not requeued forever
MAX_PENALTY_SECONDS = 60.0
LOG_TAIL_LINES = 200
MAX_EPISODE_POINTS = 5000  # newest per-episode points in a backfill: a day of training has ~10^5 episodes
MAX_CONTINUE_MINUTES = 1440.0  # SPEC 3: the longest stop condition
# The model's status while its job is in each status (SPEC 3).
MODEL_STATUS = {
    JobStatus.QUEUED: "QUEUED",
    JobStatus.INITIALIZING: "TRAINING",
    JobStatus.IN_PROGRESS: "TRAINING",
    JobStatus.STOPPING: "STOPPING",
    JobStatus.COMPLETED: "READY",
    JobStatus.CANCELED: "READY",
    JobStatus.FAILED: "ERROR",
    JobStatus.INTERRUPTED: "QUEUED",  # it waits for a worker, like a new job
}
READY = "READY"
EVALUATING = "EVALUATING"


class JobError(ValueError):
    """A job cannot be started or stopped as asked; the message says why, for the racer."""


# ------------------------------------------------------------------------------------- settings


def engine_options() -> dict:
    """Engine settings of this deployment, read from the environment each time (a worker may differ)."""
    from training import engine

    return {
        "num_workers": env_int("TRAINING_ENV_WORKERS", 1, minimum=1),
        "eval_episodes": env_int("TRAINING_EVAL_EPISODES", 5, minimum=1),
        "env_factory": env_str("TRAINING_ENV_FACTORY", engine.DEFAULT_ENV_FACTORY),
        "update_threads": env_int("WORKER_THREADS", 1, minimum=1),
    }


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ---------------------------------------------------------------------------------- model snapshot


def _track_argument(owner_id, slug: str):
    """The env's ``track`` argument: a built-in's slug as is, the owner's imported track as a Track (the env
    reverses either with its ``reverse`` argument)."""
    from models_app.tracks import resolve_track
    from simulator.tracks import BUILTIN_TRACKS

    return slug if slug in BUILTIN_TRACKS else resolve_track(owner_id, slug)


def _race_type(race_type: dict | None) -> dict | None:
    return race_type or None


def _reward_factory(code: str):
    """One sandbox per env worker, started in the worker (picklable: a class and a string)."""
    from simulator.reward.sandbox import RewardSandbox

    return functools.partial(RewardSandbox, code)


def _check_isolation() -> str:
    """The sandbox backend's self-test; raises IsolationUnavailable (training refuses to start)."""
    from simulator.reward.sandbox import check_isolation

    return check_isolation()


def write_static_artifacts(model) -> None:
    """The model folder's files that never change during training (SPEC 5)."""
    model.write_folder(hyperparameters=_hyperparameters_file(model))


def _hyperparameters_file(model) -> dict:
    from training.ppo import PPOConfig
    from training.sac import SACConfig

    config_class = SACConfig if model.training_algorithm == "sac" else PPOConfig
    try:
        return config_class.from_dict(model.hyperparameters or {}).to_dict()
    except ValueError as error:
        raise JobError(f"The model's hyperparameters are invalid: {error}") from None


# ------------------------------------------------------------------------------ status bookkeeping


def _set_model_status(model, status: str) -> None:
    type(model).objects.filter(pk=model.pk).update(status=status)
    model.status = status


def _broadcast_status(job) -> None:
    payload = {"status": job.status, "model_status": MODEL_STATUS.get(job.status, ""),
               "failure_reason": job.failure_reason}
    if isinstance(job, TrainingJob):
        payload.update(last_iteration=job.last_iteration, elapsed_seconds=job.elapsed_seconds,
                       remaining_seconds=job.remaining_seconds, stop_reason=job.stop_reason)
    _publish(job.group, "status", payload)


def _publish(group: str, event: str, payload: dict) -> None:
    # A channel-layer hiccup must never fail a training run: the page backfills from the database.
    try:
        publish(group, event, payload)
    except Exception:
        logger.warning("could not publish %s on %s", event, group, exc_info=True)


def _move(job, status: str, model_status: str | None = None, **fields) -> None:
    """Set the job's status (and the model's with it), save and broadcast. Only the named fields are
    written: the worker and a view may hold copies of the same row."""
    fields["status"] = status
    if status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED):
        fields["finished_at"] = timezone.now()
    for name, value in fields.items():
        setattr(job, name, value)
    job.save(update_fields=list(fields))
    _set_model_status(job.model, model_status or MODEL_STATUS[status])
    _broadcast_status(job)


def _model_status_after(job) -> str:
    """READY when the model has a checkpoint to evaluate or race, otherwise ERROR."""
    has_checkpoint = artifacts.read_checkpoints_index(Path(job.model.folder)) is not None
    return READY if has_checkpoint else "ERROR"


def _claim(job_class, job_id: int, worker: str):
    """Take the job for this worker (JobQuerySet.claim); None when it is not claimable."""
    if not job_class.objects.claim(job_id, worker):
        return None
    job = job_class.objects.select_related("model").get(pk=job_id)
    if job.started_at is None:
        job.started_at = job.heartbeat_at
        job.save(update_fields=["started_at"])
    return job


# --------------------------------------------------------------------- worker shutdown (worker side)


class _WorkerShutdown:
    """Set in a worker process told to shut down (by the Celery signal): its job's reporter sees it at
    the next report and ends the run cleanly, as a stop request would, without waiting for the DB."""

    signal_name: str | None = None


def worker_shutdown_requested(signal_name: str = "SIGTERM") -> None:
    _WorkerShutdown.signal_name = signal_name or "SIGTERM"


def worker_is_shutting_down() -> bool:
    return _WorkerShutdown.signal_name is not None


def _interrupted_by_shutdown(job) -> bool:
    """After a run ends: was it the worker's shutdown (not the racer's stop) that ended it?"""
    return worker_is_shutting_down() and not job.stop_requested


def _interruption_message(job) -> str:
    where = (f"iteration {job.last_iteration}" if isinstance(job, TrainingJob) and job.last_iteration
             else "the start")
    what = "resumes from its last checkpoint" if isinstance(job, TrainingJob) else "runs again from the start"
    return (f"The console stopped while this job ran ({_WorkerShutdown.signal_name}). Nothing is lost: it "
            f"{what} ({where}) as soon as a worker is back.")


def _pause(job, enqueue) -> bool:
    """A shutdown ended the run after its checkpoint: the job waits (INTERRUPTED) and its message goes
    back to the queue, for another worker now or this one when it is back. False when it was not running."""
    if not job.mark_interrupted(_interruption_message(job)):
        return False
    _set_model_status(job.model, MODEL_STATUS[JobStatus.INTERRUPTED])
    _broadcast_status(job)
    _publish(job.group, "log", {"lines": [job.failure_reason]})
    transaction.on_commit(functools.partial(enqueue, job.pk))
    return True


# ------------------------------------------------------------------------------------------ training


def training_start(model, *, max_minutes: float | None = None, max_iterations: int | None = None,
                   enqueue: bool = True) -> TrainingJob:
    """Queue a training job for the model and enqueue its task after commit."""
    if model.is_logs_model:
        raise JobError(f"{model.name} was trained elsewhere and cannot be trained on here: "
                       f"{model.logs_only_reason}")
    minutes = float(model.max_minutes if max_minutes is None else max_minutes)
    if not minutes > 0:
        raise JobError("The maximum training time must be more than 0 minutes.")
    with transaction.atomic():
        _lock_idle_model(model)
        write_static_artifacts(model)
        job = TrainingJob.objects.create(model=model, max_minutes=minutes, max_iterations=max_iterations)
        _set_model_status(model, MODEL_STATUS[JobStatus.QUEUED])
        if enqueue:
            transaction.on_commit(functools.partial(_enqueue_training, job.pk))
    return job


def _lock_idle_model(model) -> None:
    """Inside a transaction: lock the model's row (two clicks on Start must not queue two jobs), then
    check it has no job in progress."""
    type(model).objects.select_for_update().values_list("pk", flat=True).get(pk=model.pk)
    if TrainingJob.objects.filter(model=model).active().exists() or \
            EvaluationJob.objects.filter(model=model).active().exists():
        raise JobError("This model already has a training or evaluation job in progress.")


def _enqueue_training(job_id: int) -> None:
    from training.tasks import run_training_job

    run_training_job.delay(job_id)


def training_stop(job: TrainingJob) -> TrainingJob:
    """Ask the run to stop: the loop ends cleanly with a final checkpoint. A queued job is canceled, an
    interrupted one ends at its last checkpoint."""
    moved = _request_stop(job, "training job")
    if moved:
        _set_model_status(job.model, MODEL_STATUS[JobStatus.STOPPING] if moved == JobStatus.STOPPING
                          else _model_status_after(job))
        _broadcast_status(job)
    return job


def _request_stop(job, what: str) -> str | None:
    """Job.request_stop, with the racer's message when there is nothing to stop."""
    if not job.is_active:
        raise JobError(f"This {what} is {job.get_status_display().lower()}: there is nothing to stop.")
    return job.request_stop()


def training_continue(job: TrainingJob, *, minutes: float | None = None, enqueue: bool = True) -> TrainingJob:
    """Continue training by hand: the model's latest training job, failed or stopped, is queued again
    with ``minutes`` more (default: what was left of its limit, or the model's maximum time when none was)
    and resumes from its last checkpoint; its metrics, graph and sim traces go on where they ended."""
    if not job.can_continue:
        raise JobError(f"This training job is {job.get_status_display().lower()}: only a finished one "
                       f"can continue.")
    if minutes is None:
        minutes = job.remaining_seconds / 60.0 if job.remaining_seconds >= 1 else float(job.model.max_minutes)
    if not 0 < float(minutes) <= MAX_CONTINUE_MINUTES:
        raise JobError(f"Continue for more than 0 and at most {MAX_CONTINUE_MINUTES:g} minutes.")
    with transaction.atomic():
        _lock_idle_model(job.model)
        if TrainingJob.objects.filter(model=job.model).values_list("pk", flat=True).first() != job.pk:
            raise JobError("Only the model's latest training can continue.")
        if not job.continue_for(float(minutes)):
            raise JobError("This training job is no longer finished.")
        _set_model_status(job.model, MODEL_STATUS[JobStatus.QUEUED])
        if enqueue:
            transaction.on_commit(functools.partial(_enqueue_training, job.pk))
    _broadcast_status(job)
    _publish(job.group, "log", {"lines": [f"Continuing training for {float(minutes):g} more minutes from "
                                          f"the last checkpoint."]})
    return job


def training_run(job_id: int, *, worker: str | None = None, observer=None) -> TrainingJob | None:
    """Run a claimed training job to its end. ``observer(progress)`` also sees every engine report
    (the ``train`` command draws its progress bar with it). Returns None when the job was not claimable."""
    job = _claim(TrainingJob, job_id, worker or _worker_name())
    if job is None:
        logger.info("training job %s is not claimable (running elsewhere, stopped or finished)", job_id)
        return None
    _set_model_status(job.model, MODEL_STATUS[JobStatus.INITIALIZING])
    _broadcast_status(job)
    reporter = _TrainingReporter(job, observer)
    from training import engine

    try:
        _check_isolation()
        run = _training_run_config(job)
        result = engine.train(run, reporter)
    except Exception as error:
        reason = _failure_reason(error)
        if not _still_exists(job):
            reporter.close()
            return None
        if _interrupted_by_shutdown(job):  # what failed was stopping with the worker: not the run's fault
            logger.info("training job %s ended by the shutdown: %s", job_id, reason)
            reporter.close()
            _pause(job, _enqueue_training)
            return job
        if not _expected(error):
            logger.exception("training job %s failed", job_id)
        reporter.log(f"ERROR: {reason}")
        reporter.close()
        _move(job, JobStatus.FAILED, failure_reason=reason)
        return job
    reporter.close()
    if not _still_exists(job):
        return None
    if result.stop_reason == "stopped" and _interrupted_by_shutdown(job):
        _pause(job, _enqueue_training)
        return job
    _move(job, JobStatus.COMPLETED, model_status=_model_status_after(job),
          stop_reason=result.stop_reason, elapsed_seconds=result.elapsed_seconds, heartbeat_at=timezone.now())
    return job


def _still_exists(job) -> bool:
    """Refresh the job; False when it was deleted while running (with its model)."""
    try:
        job.refresh_from_db()
    except type(job).DoesNotExist:
        logger.info("%s was deleted while it ran", job)
        return False
    return True


def _expected(error: Exception) -> bool:
    """Failures that are the racer's (reward code, track) or the host's (no sandbox), not bugs."""
    from simulator.reward.sandbox import IsolationUnavailable
    from simulator.tracks import TrackError
    from training import engine

    return isinstance(error, (engine.TrainingError, IsolationUnavailable, TrackError, JobError))


def _failure_reason(error: Exception) -> str:
    if _expected(error):
        return str(error)
    return f"Internal error ({type(error).__name__}: {error}). The logs have the details."


def _training_run_config(job: TrainingJob) -> engine.TrainingRun:
    from training import engine

    model = job.model
    options = engine_options()
    return engine.TrainingRun(
        model_dir=Path(model.folder),
        metadata=model.metadata(),
        hyperparameters=_hyperparameters_file(model),
        env_kwargs={"track": _track_argument(model.owner_id, model.track), "reverse": model.track_reversed,
                    "race_type": _race_type(model.race_type)},
        reward_code=model.reward_code,
        reward_factory=_reward_factory(model.reward_code),
        max_minutes=job.max_minutes,
        max_iterations=job.max_iterations,
        eval_episodes=options["eval_episodes"],
        num_workers=options["num_workers"],
        # A logs model's clone starts from scratch: its parent's weights are not ours to load.
        parent_model_dir=Path(model.parent.folder) if model.parent_id and not model.parent.is_logs_model else None,
        env_factory=options["env_factory"],
        update_threads=options["update_threads"],
    )


def _plain(value):
    """JSON-safe copies of what the engine reports (numpy scalars become Python numbers)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


class _JobReporter:
    """The engine's ``report`` callback for one job: DB progress + broadcasts; returns whether to go on."""

    def __init__(self, job, observer=None):
        self.job = job
        self.observer = observer
        self.last_beat = time.monotonic()
        self.stop_requested = False
        self.running = False
        self.live = LivePublisher()

    def publish(self, event: str, payload: dict) -> None:
        self.live.publish(self.job.group, event, payload)

    def close(self) -> None:
        self.live.close()

    def __call__(self, progress: engine.Progress) -> bool:
        if not self.running:
            self.running = True
            self._start_running()
        handler = getattr(self, f"on_{progress.kind}", None)
        if handler is not None:
            handler(progress.data)
        if self.observer is not None:
            self.observer(progress)
        if worker_is_shutting_down():
            return False
        return self._beat()

    def _start_running(self) -> None:
        """INITIALIZING -> IN_PROGRESS at the first report, unless a stop request came first."""
        started = type(self.job).objects.filter(pk=self.job.pk, status=JobStatus.INITIALIZING).update(
            status=JobStatus.IN_PROGRESS, heartbeat_at=timezone.now())
        if started:
            self.job.status = JobStatus.IN_PROGRESS
            _set_model_status(self.job.model, self.running_model_status(JobStatus.IN_PROGRESS))
            _broadcast_status(self.job)
        else:
            self.job.refresh_from_db(fields=["status", "stop_requested"])
            self.stop_requested = self.job.stop_requested

    def running_model_status(self, status) -> str:
        return MODEL_STATUS[status]

    def _beat(self) -> bool:
        now = time.monotonic()
        if now - self.last_beat >= HEARTBEAT_SECONDS:
            self.last_beat = now
            jobs = type(self.job).objects.filter(pk=self.job.pk)
            jobs.update(heartbeat_at=timezone.now(), **self.beat_fields())
            stop_requested = jobs.values_list("stop_requested", flat=True).first()
            # A job deleted under the run (its model was deleted) stops like a stop request.
            self.stop_requested = stop_requested is None or stop_requested
            if self.stop_requested:
                self.job.status = JobStatus.STOPPING
        return not self.stop_requested

    def beat_fields(self) -> dict:
        return {}

    def on_frame(self, data: dict) -> None:
        self.publish("frame", {"view": data["view"], "phase": data.get("phase", ""),
                                           "jpeg": base64.b64encode(data["jpeg"]).decode()})

    def on_log(self, data: dict) -> None:
        self.publish("log", {"lines": [str(line) for line in data["lines"]]})

    def log(self, line: str) -> None:
        self.on_log({"lines": [line]})


class _TrainingReporter(_JobReporter):
    def __init__(self, job: TrainingJob, observer=None):
        super().__init__(job, observer)
        self.elapsed = job.elapsed_seconds

    def beat_fields(self) -> dict:
        return {"elapsed_seconds": self.elapsed}

    def on_status(self, data: dict) -> None:
        self.elapsed = data.get("elapsed_seconds", self.elapsed)
        self.publish("status", {"status": self.job.status, "model_status": self.job.model.status,
                                            "phase": data.get("phase", ""), "iteration": data.get("iteration")})

    def on_episode(self, data: dict) -> None:
        number = data["episode"] if data["phase"] == "training" else data["trial"]
        episode = TrainingEpisode(job=self.job, phase=data["phase"], iteration=data["iteration"], number=number,
                                  reward=float(data["reward"]), progress=float(data["progress"]),
                                  status=str(data["status"]), steps=int(data["steps"]))
        # One INSERT ... ON CONFLICT: a resumed run redoes episodes of the iteration it lost.
        TrainingEpisode.objects.bulk_create([episode], update_conflicts=True,
                                            unique_fields=["job", "phase", "iteration", "number"],
                                            update_fields=["reward", "progress", "status", "steps"])
        self.publish("episode", episode.as_point())

    def on_metrics(self, data: dict) -> None:
        record = _plain(data)
        iteration = record["iteration"]
        job = self.job
        # A resumed run redoes the iterations after its last checkpoint: their old points are replaced.
        job.metrics = [old for old in job.metrics if old["iteration"] < iteration] + [record]
        job.last_iteration = iteration
        if record.get("best"):
            job.best_iteration = iteration
        self.elapsed = job.elapsed_seconds = float(record.get("elapsed_seconds", job.elapsed_seconds))
        job.heartbeat_at = timezone.now()
        job.save(update_fields=["metrics", "last_iteration", "best_iteration", "elapsed_seconds", "heartbeat_at"])
        TrainingEpisode.objects.filter(job=job, iteration__gt=iteration).delete()
        self.publish("metrics", {**record, "remaining_seconds": job.remaining_seconds})


def training_metrics(job: TrainingJob) -> dict:
    """The reward graph's backfill: per-iteration records and per-episode points."""
    return {
        "job": job.pk,
        "status": job.status,
        "best_iteration": job.best_iteration,
        "iterations": job.metrics,
        "episodes": [episode.as_point() for episode in reversed(job.episodes.order_by("-id")[:MAX_EPISODE_POINTS])],
    }


def model_history_import(model) -> None:
    """An imported model's past, from its folder's DeepRacer metrics: a completed training job (the reward
    graph: iterations and episode points), one completed evaluation per EvaluationMetrics file, and the
    figures the model list and page show."""
    from training import history

    folder = Path(model.folder)
    past = history.read_training_history(folder)
    evaluations = history.read_evaluations(folder)
    # The track it ran on elsewhere, by its DeepRacer name (it is none of ours); the title shows it.
    track = (model.import_details.get("world_name") or IMPORTED_TRACK)[:64]
    with transaction.atomic():
        if past.iterations:
            job = TrainingJob.objects.create(
                model=model, status=JobStatus.COMPLETED, max_minutes=max(past.elapsed_seconds / 60.0, 1.0),
                last_iteration=len(past.iterations), best_iteration=past.best_iteration,
                elapsed_seconds=past.elapsed_seconds, metrics=past.iterations, stop_reason="imported")
            TrainingEpisode.objects.bulk_create(
                [TrainingEpisode(job=job, **point) for point in past.episodes[-MAX_EPISODE_POINTS:]],
                ignore_conflicts=True)
        for evaluation in evaluations:
            done = _stamp_time(evaluation.stamp)
            job = EvaluationJob.objects.create(model=model, status=JobStatus.COMPLETED, track=track,
                                               trials=len(evaluation.trials),
                                               results=evaluation.trials)
            if done is not None:
                EvaluationJob.objects.filter(pk=job.pk).update(created_at=done, started_at=done, finished_at=done)
        model.import_details = {**model.import_details, "figures": history.figures(past, evaluations)}
        model.save(update_fields=["import_details"])


IMPORTED_TRACK = "its original track (not recorded)"


def _stamp_time(stamp: str):
    """YYYYmmddHHMMSS (UTC, as deepracer-for-cloud names evaluations) or unix seconds, as a datetime."""
    from datetime import UTC, datetime

    try:
        if len(stamp) == 14:
            return datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        return datetime.fromtimestamp(int(stamp), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def training_log_path(job: TrainingJob) -> Path:
    return Path(job.model.folder) / artifacts.TRAINING_LOG


def training_log_tail(job: TrainingJob, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The newest lines of the training log, without the sim-trace rows (they are for analysis tools)."""
    path = training_log_path(job)
    if not path.exists():
        return []
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 256 * 1024))
        text = handle.read().decode(errors="replace")
    kept = [line for line in text.splitlines() if not line.startswith(artifacts.SIM_TRACE_PREFIX)]
    return kept[-lines:]


# ---------------------------------------------------------------------------------------- evaluation


def evaluation_start(model, *, track: str, reversed: bool = False, race_type: dict | None = None,
                     trials: int = 3, continuous: bool = False, off_track_penalty: float = 5.0,
                     collision_penalty: float = 5.0, enqueue: bool = True) -> EvaluationJob:
    """Queue an evaluation of the model's best checkpoint and enqueue its task after commit."""
    from simulator.tracks import TrackError

    if model.is_logs_model:
        raise JobError(model.logs_only_reason)
    if artifacts.read_checkpoints_index(Path(model.folder)) is None:
        raise JobError("This model has no trained checkpoint to evaluate yet.")
    if not MIN_TRIALS <= int(trials) <= MAX_TRIALS:
        raise JobError(f"An evaluation runs {MIN_TRIALS} to {MAX_TRIALS} trials.")
    for name, value in (("off-track penalty", off_track_penalty), ("collision penalty", collision_penalty)):
        if not 0 <= float(value) <= MAX_PENALTY_SECONDS:
            raise JobError(f"The {name} must be between 0 and {MAX_PENALTY_SECONDS:g} seconds.")
    try:
        _track_argument(model.owner_id, track)
    except TrackError as error:
        raise JobError(str(error)) from None
    with transaction.atomic():
        _lock_idle_model(model)
        job = EvaluationJob.objects.create(
            model=model, track=track, track_reversed=bool(reversed), race_type=race_type or {},
            trials=int(trials), continuous=bool(continuous), off_track_penalty=float(off_track_penalty),
            collision_penalty=float(collision_penalty))
        if enqueue:
            transaction.on_commit(functools.partial(_enqueue_evaluation, job.pk))
    return job


def _enqueue_evaluation(job_id: int) -> None:
    from training.tasks import run_evaluation_job

    run_evaluation_job.delay(job_id)


def evaluation_stop(job: EvaluationJob) -> EvaluationJob:
    moved = _request_stop(job, "evaluation")
    if moved:
        if moved != JobStatus.STOPPING:
            _set_model_status(job.model, _model_status_after(job))
        _broadcast_status(job)
    return job


class _EvaluationReporter(_JobReporter):
    def running_model_status(self, status) -> str:
        return EVALUATING

    def on_episode(self, data: dict) -> None:
        result = _plain(data)
        job = self.job
        job.results = [old for old in job.results if old["trial"] != result["trial"]] + [result]
        job.save(update_fields=["results"])
        self.publish("episode", result)


def evaluation_run(job_id: int, *, worker: str | None = None, observer=None) -> EvaluationJob | None:
    """Run a claimed evaluation job: trials with the deterministic policy, results per trial, video."""
    job = _claim(EvaluationJob, job_id, worker or _worker_name())
    if job is None:
        logger.info("evaluation job %s is not claimable", job_id)
        return None
    if job.results:  # a run again after an interruption: its trials start over
        job.results = []
        job.save(update_fields=["results"])
    _set_model_status(job.model, EVALUATING)
    _broadcast_status(job)
    reporter = _EvaluationReporter(job, observer)
    model = job.model
    from training import engine

    try:
        _check_isolation()
        run = engine.EvaluationRun(
            model_dir=Path(model.folder),
            env_kwargs={"track": _track_argument(model.owner_id, job.track), "reverse": job.track_reversed,
                        "race_type": _race_type(job.race_type)},
            trials=job.trials, continuous=job.continuous, off_track_penalty=job.off_track_penalty,
            collision_penalty=job.collision_penalty, reward_factory=_reward_factory(model.reward_code),
            env_factory=engine_options()["env_factory"])
        result = engine.evaluate(run, reporter)
    except Exception as error:
        reason = _failure_reason(error)
        if not _still_exists(job):
            reporter.close()
            return None
        if _interrupted_by_shutdown(job):
            logger.info("evaluation job %s ended by the shutdown: %s", job_id, reason)
            reporter.close()
            _pause(job, _enqueue_evaluation)
            return job
        if not _expected(error):
            logger.exception("evaluation job %s failed", job_id)
        reporter.log(f"ERROR: {reason}")
        reporter.close()
        _move(job, JobStatus.FAILED, model_status=_model_status_after(job), failure_reason=reason)
        return job
    reporter.close()
    if not _still_exists(job):
        return None
    if result.stopped and _interrupted_by_shutdown(job):
        _pause(job, _enqueue_evaluation)
        return job
    video = ""
    if result.video_path is not None and Path(result.video_path).exists():
        video = str(Path(result.video_path).relative_to(Path(model.folder)))
    status = JobStatus.CANCELED if result.stopped else JobStatus.COMPLETED
    _move(job, status, model_status=_model_status_after(job),
          results=[_plain(asdict(trial)) for trial in result.trials], video=video)
    return job


def evaluation_video_path(job: EvaluationJob) -> Path | None:
    """The MP4 of a finished evaluation, only inside the model's own folder."""
    if not job.video:
        return None
    folder = Path(job.model.folder).resolve()
    path = (folder / job.video).resolve()
    if folder not in path.parents or not path.is_file():
        return None
    return path


# ------------------------------------------------------------------------------------------ recovery


def jobs_recover(*, dead_worker: str | None = None, resend_waiting: bool = False) -> list[tuple[str, int, str]]:
    """Requeue (or fail, after MAX_ATTEMPTS) running jobs whose worker is gone: those whose heartbeat is
    stale, and, when a worker restarts, every job that worker name still holds. With ``resend_waiting``
    (a worker starting), the queue message of every waiting job (queued, or interrupted by a shutdown) is
    sent again: a broker that restarted without it must not leave a job waiting forever. Returns what was
    done."""
    done = []
    for job_class, enqueue in ((TrainingJob, _enqueue_training), (EvaluationJob, _enqueue_evaluation)):
        lost = job_class.objects.stale()
        if dead_worker:
            lost = lost | job_class.objects.filter(status__in=RUNNING_STATUSES, worker=dead_worker)
        for job in lost.select_related("model"):
            done.append((job_class.__name__, job.pk, _recover(job, enqueue)))
        if resend_waiting:
            for job_id in job_class.objects.waiting().values_list("pk", flat=True):
                transaction.on_commit(functools.partial(enqueue, job_id))
                done.append((job_class.__name__, job_id, "resent"))
    return done


def _recover(job, enqueue) -> str:
    if job.stop_requested:
        # The racer asked it to stop: a training's last checkpoint is the final one.
        status = JobStatus.COMPLETED if isinstance(job, TrainingJob) else JobStatus.CANCELED
        _move(job, status, model_status=_model_status_after(job),
              **({"stop_reason": "stopped"} if isinstance(job, TrainingJob) else {}))
        return status.lower()
    if job.attempts >= MAX_ATTEMPTS:
        reason = (f"The worker running this job stopped responding ({job.attempts} "
                  f"attempt{'s' if job.attempts != 1 else ''}).")
        _move(job, JobStatus.FAILED, model_status=_model_status_after(job), failure_reason=reason)
        return "failed"
    # A training resumes from its last checkpoint; an evaluation runs again (its trials start over).
    with transaction.atomic():
        requeued = job.requeue_lost()
        if requeued:
            transaction.on_commit(functools.partial(enqueue, job.pk))
    if requeued:
        _set_model_status(job.model, MODEL_STATUS[JobStatus.QUEUED])
        _broadcast_status(job)
        what = "resumes from its last checkpoint" if isinstance(job, TrainingJob) else "runs again"
        _publish(job.group, "log", {"lines": [f"The worker stopped responding: the job is queued again and {what}."]})
    return "requeued" if requeued else "untouched"


def job_active_for(model):
    """The model's job in progress (training or evaluation), if any."""
    return (TrainingJob.objects.filter(model=model, status__in=ACTIVE_STATUSES).first()
            or EvaluationJob.objects.filter(model=model, status__in=ACTIVE_STATUSES).first())
