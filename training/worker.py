"""The worker side of jobs: a Celery task (training/tasks.py) hands a job id to ``training_run`` or
``evaluation_run``, which claims the job, builds the engine run from the model's snapshot and turns every
engine report into database progress and a broadcast on the job's group (the reporters). Durable state
(status, heartbeat, last iteration) lives in the database, so ``jobs_recover`` (at every worker start, and
from running jobs now and then) requeues a job whose worker died; the engine resumes it from the model
folder's last checkpoint.

Stopping the console is not a failure: a worker told to shut down (Ctrl-C, SIGTERM, a deploy) calls
``worker_shutdown_requested``; its running job then checkpoints, becomes INTERRUPTED ("Stopped by the
system") and is sent to the queue again, so the next worker resumes it (``jobs_recover`` at every worker
start sends again what waits, in case the broker lost it).

The web side (training/services.py: start, stop, continue, backfill) never imports this module's engine:
``training.engine`` (torch and the learners) is imported only inside the functions that run a job. Job
state changes are methods of the job models (claim, request_stop, move, mark_interrupted, requeue_lost);
the model's status follows its job through ``Job.set_model_status``, in one place.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import socket
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from celery import current_app
from django.db import transaction
from django.utils import timezone

from common.envvars import env_int, env_str
from models_app.tracks import resolve_track
from simulator.reward.sandbox import IsolationUnavailable, RewardSandbox, check_isolation
from simulator.tracks import BUILTIN_TRACKS, TrackError
from training import queue, quotas
from training.live import LivePublisher, broadcast_status, publish_safely
from training.models import (
    RUNNING_STATUSES,
    EvaluationJob,
    HeatJob,
    JobError,
    JobStatus,
    TrainingEpisode,
    TrainingJob,
    WorkerHost,
)
from training.signals import live_run_started

if TYPE_CHECKING:
    from training import engine, heat

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0  # DB heartbeat and stop-request check: often enough to stop fast, cheap on the DB
MAX_ATTEMPTS = 3  # a job whose worker died this many times is failed, not requeued forever
# No beat scheduler: besides the sweep at every worker start, every worker sweeps for jobs whose worker
# died this often (WORKER_SWEEP_SECONDS): a running job from its reporter, an idle worker from its event
# loop (console.celery.IdleSweep). The pages only show what they find; they never requeue.
SWEEP_SECONDS = 60
# The job tasks (training/tasks.py, routed by console.celery.TASK_ROUTES), found by name in Celery's
# registry: the tasks call into this module, so it cannot import them back.
TRAINING_TASK = "training.tasks.run_training_job"
# A training stopped because the racer's monthly compute quota ran out (TrainingJob.stop_reason).
QUOTA_STOP = "quota"
EVALUATION_TASK = "training.tasks.run_evaluation_job"
HEAT_TASK = "training.tasks.run_heat_job"
JOB_TASKS = {TrainingJob: TRAINING_TASK, EvaluationJob: EVALUATION_TASK, HeatJob: HEAT_TASK}


def _engine():
    """training.engine, imported when a job runs: it loads torch, which the web process (it imports this
    module for services.training_start's checks) must never pay for."""
    from training import engine

    return engine


def _heat():
    """training.heat (torch and MuJoCo), imported when a heat runs, as _engine."""
    from training import heat

    return heat


def _enqueue(task: str, job_id: int) -> None:
    current_app.tasks[task].delay(job_id)


def sweep_seconds() -> int:
    return env_int("WORKER_SWEEP_SECONDS", SWEEP_SECONDS, minimum=1)


def jobs_sweep() -> list[tuple[str, int, str]]:
    """jobs_recover, as a courtesy to other jobs: a failure is logged and never stops the worker or its job."""
    try:
        return jobs_recover()
    except Exception:
        logger.warning("the recovery sweep failed", exc_info=True)
        return []


def _move(job, status: str, model_status: str | None = None, **fields) -> None:
    """Job.move (the job's fields and the model's status), then the status on the job's group."""
    job.move(status, model_status=model_status, **fields)
    broadcast_status(job)


def engine_options() -> dict:
    """Engine settings of this deployment, read from the environment each time (a worker may differ).

    A job uses its share of the cores: those this process may run on, divided among the training workers
    (``TRAINING_WORKERS``, one job each). Alone on a 2-core machine a job steps 2 simulators and updates on
    the cores the evaluation leaves; in a room of racers each job keeps 1 simulator and 1 update thread."""
    engine = _engine()
    cores = max(1, engine.available_cores() // env_int("TRAINING_WORKERS", 1, minimum=1))
    threads = env_int("WORKER_THREADS", 0, minimum=1)
    return {
        "num_workers": env_int("TRAINING_ENV_WORKERS", cores, minimum=1),
        "eval_episodes": env_int("TRAINING_EVAL_EPISODES", 5, minimum=1),
        "env_factory": env_str("TRAINING_ENV_FACTORY", engine.DEFAULT_ENV_FACTORY),
        "cores": cores,
        "update_threads": threads or None,  # None: the engine's choice within the job's cores
    }


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def track_argument(owner_id, slug: str):
    """The env's ``track`` argument: a built-in's slug as is, the owner's imported track as a Track (the env
    reverses either with its ``reverse`` argument)."""
    return slug if slug in BUILTIN_TRACKS else resolve_track(owner_id, slug)


def _race_type(race_type: dict | None) -> dict | None:
    return race_type or None


def _reward_factory(code: str):
    """One sandbox per env worker, started in the worker (picklable: a class and a string)."""
    return functools.partial(RewardSandbox, code)


def _check_isolation() -> str:
    """The sandbox backend's self-test; raises IsolationUnavailable (training refuses to start)."""
    return check_isolation()


def hyperparameters_file(model) -> dict:
    """ip/hyperparameters.json for the model, checked by its learner's config (JobError when invalid)."""
    from training.ppo import PPOConfig
    from training.sac import SACConfig

    config_class = SACConfig if model.training_algorithm == "sac" else PPOConfig
    try:
        return config_class.from_dict(model.hyperparameters or {}).to_dict()
    except ValueError as error:
        raise JobError(f"The model's hyperparameters are invalid: {error}") from None


def _claim(job_class, job_id: int, worker: str):
    """Take the job for this worker (JobQuerySet.claim); None when it is not claimable."""
    if not job_class.objects.claim(job_id, worker):
        return None
    return _started(job_class.objects.select_related("model").get(pk=job_id))


def _started(job):
    if job.started_at is None:
        job.started_at = job.heartbeat_at
        job.save(update_fields=["started_at"])
    return job


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


def _pause(job, task: str) -> bool:
    """A shutdown ended the run after its checkpoint: the job waits (INTERRUPTED) and its message goes
    back to the queue, for another worker now or this one when it is back. False when it was not running."""
    if not job.mark_interrupted(_interruption_message(job)):
        return False
    job.set_model_status(job.model_status_for(JobStatus.INTERRUPTED))
    broadcast_status(job)
    publish_safely(job.group, "log", {"lines": [job.failure_reason]})
    transaction.on_commit(functools.partial(_enqueue, task, job.pk))
    return True


def training_run(job_id: int, *, worker: str | None = None, observer=None) -> TrainingJob | None:
    """Run a claimed training job to its end. ``observer(progress)`` also sees every engine report
    (the ``train`` command draws its progress bar with it). Returns None when the job was not claimable."""
    job = _claim(TrainingJob, job_id, worker or _worker_name())
    if job is None:
        logger.info("training job %s is not claimable (running elsewhere, stopped or finished)", job_id)
        return None
    return _run_training(job, observer)


def _run_training(job: TrainingJob, observer=None) -> TrainingJob | None:
    job_id = job.pk
    job.set_model_status(job.model_status_for(JobStatus.INITIALIZING))
    broadcast_status(job)
    reporter = _TrainingReporter(job, observer)
    engine = _engine()
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
            _pause(job, TRAINING_TASK)
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
        _pause(job, TRAINING_TASK)
        return job
    ended = {"stop_reason": result.stop_reason}
    if result.stop_reason == "stopped" and reporter.quota_reached and not job.stop_requested:
        # The system stopped it (failure_reason says why, on the page): the racer's month is used up.
        ended = {"stop_reason": QUOTA_STOP, "failure_reason": (
            f"Your monthly compute quota is used up: training stopped with a final checkpoint. The quota "
            f"resets on {quotas.resets_on():%-d %B %Y} (UTC).")}
        reporter.log(ended["failure_reason"])
    _move(job, JobStatus.COMPLETED, model_status=job.model_status_after(),
          elapsed_seconds=result.elapsed_seconds, heartbeat_at=timezone.now(), **ended)
    return job


def _still_exists(job) -> bool:
    """Refresh the job; False when it was deleted while running (with its model), or when it is no longer
    this run's (another worker took it over): then the run leaves the job to whoever holds it."""
    worker = job.worker
    try:
        job.refresh_from_db()
    except type(job).DoesNotExist:
        logger.info("%s was deleted while it ran", job)
        return False
    if job.worker != worker or job.status not in RUNNING_STATUSES:
        logger.warning("%s was taken from this run (now %s on %r): leaving it", job, job.status, job.worker)
        return False
    return True


def _expected(error: Exception) -> bool:
    """Failures that are the racer's (reward code, track) or the host's (no sandbox), not bugs."""
    engine = _engine()
    return isinstance(error, (engine.TrainingError, _heat().HeatError, IsolationUnavailable, TrackError,
                              JobError))


def _failure_reason(error: Exception) -> str:
    if _expected(error):
        return str(error)
    return f"Internal error ({type(error).__name__}: {error}). The logs have the details."


def _training_run_config(job: TrainingJob) -> engine.TrainingRun:
    engine = _engine()
    model = job.model
    options = engine_options()
    return engine.TrainingRun(
        model_dir=Path(model.folder),
        metadata=model.metadata(),
        hyperparameters=hyperparameters_file(model),
        env_kwargs={"track": track_argument(model.owner_id, model.track), "reverse": model.track_reversed,
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
        cores=options["cores"],
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
        self.last_sweep = time.monotonic()
        self.sweep_every = sweep_seconds()
        self.owner_id = job.racer_id
        self.quota_reached = False
        worker_seen(job.worker, running=f"{queue.kind_of(job)} {job.pk}")

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
            self.job.set_model_status(self.job.model_status_for(JobStatus.IN_PROGRESS))
            broadcast_status(self.job)
        else:
            self.job.refresh_from_db(fields=["status", "stop_requested"])
            self.stop_requested = self.job.stop_requested

    def _beat(self) -> bool:
        now = time.monotonic()
        if now - self.last_beat >= HEARTBEAT_SECONDS:
            # The racer's compute time: what ran since the last beat (a killed run loses at most one beat).
            quotas.add_compute(self.owner_id, now - self.last_beat)
            self.last_beat = now
            worker_seen(self.job.worker, running=f"{queue.kind_of(self.job)} {self.job.pk}")
            if self.stops_at_quota and quotas.compute_exhausted(self.owner_id):
                self.quota_reached = True
                return False
            jobs = type(self.job).objects.filter(pk=self.job.pk)
            ours = jobs.filter(status__in=RUNNING_STATUSES, worker=self.job.worker).update(
                heartbeat_at=timezone.now(), **self.beat_fields())
            # A job deleted under the run (its model was deleted), or no longer this run's (requeued as
            # lost, claimed by another worker), stops like a stop request.
            stop_requested = jobs.values_list("stop_requested", flat=True).first() if ours else None
            self.stop_requested = stop_requested is None or stop_requested
            if self.stop_requested:
                self.job.status = JobStatus.STOPPING
        if now - self.last_sweep >= self.sweep_every:
            self.last_sweep = now
            jobs_sweep()
        return not self.stop_requested

    def beat_fields(self) -> dict:
        return {}

    # A training stops at the racer's compute quota; an evaluation (a few laps) finishes what it started.
    stops_at_quota = False

    def on_frame(self, data: dict) -> None:
        self.publish("frame", {"view": data["view"], "phase": data.get("phase", ""),
                                           "jpeg": base64.b64encode(data["jpeg"]).decode()})

    def on_tick(self, data: dict) -> None:
        self.publish("tick", _plain(data))

    def on_log(self, data: dict) -> None:
        self.publish("log", {"lines": [str(line) for line in data["lines"]]})

    def log(self, line: str) -> None:
        self.on_log({"lines": [line]})


class _TrainingReporter(_JobReporter):
    stops_at_quota = True

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


class _EvaluationReporter(_JobReporter):
    def __init__(self, job: EvaluationJob, observer=None):
        super().__init__(job, observer)
        self.tick_fields = _live_tick_fields(job) if job.live else []

    def on_tick(self, data: dict) -> None:
        tick = _plain(data)
        for fields in list(self.tick_fields):
            try:
                tick.update(fields(tick))
            except Exception:  # what the room sees beside the frame must never end the run
                logger.warning("live tick fields of %s failed: left out of its ticks", self.job, exc_info=True)
                self.tick_fields.remove(fields)
        self.publish("tick", tick)

    def on_episode(self, data: dict) -> None:
        result = _plain(data)
        job = self.job
        job.results = [old for old in job.results if old["trial"] != result["trial"]] + [result]
        job.save(update_fields=["results"])
        self.publish("episode", result)


def _live_tick_fields(job: EvaluationJob) -> list:
    """What the apps above add to a live run's ticks (training.signals.live_run_started's answers)."""
    fields = []
    for receiver, answer in live_run_started.send_robust(sender=EvaluationJob, job=job):
        if isinstance(answer, Exception):
            logger.error("live_run_started receiver %s failed for %s", receiver, job, exc_info=answer)
        elif callable(answer):
            fields.append(answer)
    return fields


def evaluation_run(job_id: int, *, worker: str | None = None, observer=None) -> EvaluationJob | None:
    """Run a claimed evaluation job: trials with the deterministic policy, results per trial, video."""
    job = _claim(EvaluationJob, job_id, worker or _worker_name())
    if job is None:
        logger.info("evaluation job %s is not claimable", job_id)
        return None
    return _run_evaluation(job, observer)


def _run_evaluation(job: EvaluationJob, observer=None) -> EvaluationJob | None:
    if job.results:  # a run again after an interruption: its trials start over
        job.results = []
        job.save(update_fields=["results"])
    job.set_model_status(job.model_status_for(JobStatus.INITIALIZING))
    broadcast_status(job)
    reporter = _EvaluationReporter(job, observer)
    model = job.model
    engine = _engine()
    try:
        _check_isolation()
        run = engine.EvaluationRun(
            model_dir=Path(model.folder),
            env_kwargs={"track": track_argument(job.track_owner_id or model.owner_id, job.track),
                        "reverse": job.track_reversed,
                        "race_type": _race_type(job.race_type)},
            trials=job.trials, continuous=job.continuous, off_track_penalty=job.off_track_penalty,
            collision_penalty=job.collision_penalty, reward_factory=_reward_factory(model.reward_code),
            env_factory=engine_options()["env_factory"], live=job.live)
        result = engine.evaluate(run, reporter)
    except Exception as error:
        return _run_failed(job, error, reporter, EVALUATION_TASK)
    reporter.close()
    if not _still_exists(job):
        return None
    if result.stopped and _interrupted_by_shutdown(job):
        _pause(job, EVALUATION_TASK)
        return job
    video = ""
    if result.video_path is not None and Path(result.video_path).exists():
        video = str(Path(result.video_path).relative_to(Path(model.folder)))
    status = JobStatus.CANCELED if result.stopped else JobStatus.COMPLETED
    _move(job, status, model_status=job.model_status_after(),
          results=[_plain(asdict(trial)) for trial in result.trials], video=video)
    return job


class _HeatReporter(_JobReporter):
    """A heat's reports: frames of each car (``car``: 0, 1, or None for the top-down view) and ticks."""

    def on_frame(self, data: dict) -> None:
        self.publish("frame", {"car": data.get("car"), "view": data["view"],
                               "jpeg": base64.b64encode(data["jpeg"]).decode()})


def heat_run(job_id: int, *, worker: str | None = None, observer=None) -> HeatJob | None:
    """Run a claimed heat job: both cars race until a winner or the time limit; result, replay, traces."""
    job = _claim(HeatJob, job_id, worker or _worker_name())
    if job is None:
        logger.info("heat job %s is not claimable", job_id)
        return None
    return _run_heat(job, observer)


def _heat_run_config(job: HeatJob) -> heat.HeatRun:
    heat = _heat()
    track_owner = job.track_owner_id or job.requested_by_id
    return heat.HeatRun(
        cars=[heat.HeatCar(model_dir=Path(model.folder), model_id=str(model.pk), model_name=model.name)
              for model in job.cars],
        env_kwargs={"track": track_argument(track_owner, job.track), "reverse": job.track_reversed,
                    "race_type": _race_type(job.race_type)},
        laps=job.laps, continuous=job.continuous, off_track_penalty=job.off_track_penalty,
        collision_penalty=job.collision_penalty, max_seconds=job.max_seconds, folder=job.folder,
        # A live audience watches the heat as it happens (HEAT_REALTIME=0: as fast as the machine goes).
        realtime=bool(env_int("HEAT_REALTIME", 1, minimum=0)),
        # The same heat run again (after an interruption) is the same race.
        seed=job.pk)


def _run_heat(job: HeatJob, observer=None) -> HeatJob | None:
    if job.result or job.video:  # a run again after an interruption starts over
        job.result, job.video = {}, ""
        job.save(update_fields=["result", "video"])
    broadcast_status(job)
    reporter = _HeatReporter(job, observer)
    try:
        result = _heat().race(_heat_run_config(job), reporter)
    except Exception as error:
        return _run_failed(job, error, reporter, HEAT_TASK)
    reporter.close()
    if not _still_exists(job):
        return None
    if result.stopped and _interrupted_by_shutdown(job):
        _pause(job, HEAT_TASK)
        return job
    if result.stopped:
        _move(job, JobStatus.CANCELED)
        return job
    video = result.video_path.name if result.video_path is not None and result.video_path.exists() else ""
    _move(job, JobStatus.COMPLETED, result=_plain(result.as_dict()), video=video)
    return job


def _run_failed(job, error: Exception, reporter, task: str):
    """A run that raised: paused when the worker's shutdown caused it, else FAILED with the reason."""
    reason = _failure_reason(error)
    if not _still_exists(job):
        reporter.close()
        return None
    if _interrupted_by_shutdown(job):
        logger.info("%s ended by the shutdown: %s", job, reason)
        reporter.close()
        _pause(job, task)
        return job
    if not _expected(error):
        logger.exception("%s failed", job)
    reporter.log(f"ERROR: {reason}")
    reporter.close()
    _move(job, JobStatus.FAILED, model_status=job.model_status_after(), failure_reason=reason)
    return job


def jobs_recover(*, dead_worker: str | None = None, started_at: float | None = None,
                 resend_waiting: bool = False) -> list[tuple[str, int, str]]:
    """Requeue (or fail, after MAX_ATTEMPTS) running jobs whose worker is gone: those whose heartbeat is
    stale, and, when a worker restarts, every job that worker name still holds from before ``started_at``
    (the new process's start, unix seconds: a job it claimed since is its own). With ``resend_waiting``
    (a worker starting), the queue message of every waiting job (queued, or interrupted by a shutdown) is
    sent again: a broker that restarted without it must not leave a job waiting forever. Returns what was
    done."""
    done = []
    for job_class, task in JOB_TASKS.items():
        enqueue = functools.partial(_enqueue, task)
        lost = job_class.objects.stale()
        if dead_worker:
            held = job_class.objects.filter(status__in=RUNNING_STATUSES, worker=dead_worker)
            if started_at is not None:
                held = held.filter(heartbeat_at__lt=datetime.fromtimestamp(started_at, UTC))
            lost = lost | held
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
        _move(job, status, model_status=job.model_status_after(),
              **({"stop_reason": "stopped"} if isinstance(job, TrainingJob) else {}))
        return status.lower()
    if job.attempts >= MAX_ATTEMPTS:
        reason = (f"The worker running this job stopped responding ({job.attempts} "
                  f"attempt{'s' if job.attempts != 1 else ''}).")
        _move(job, JobStatus.FAILED, model_status=job.model_status_after(), failure_reason=reason)
        return "failed"
    # A training resumes from its last checkpoint; an evaluation runs again (its trials start over).
    with transaction.atomic():
        requeued = job.requeue_lost()
        if requeued:
            transaction.on_commit(functools.partial(enqueue, job.pk))
    if requeued:
        job.set_model_status(job.model_status_for(JobStatus.QUEUED))
        broadcast_status(job)
        what = "resumes from its last checkpoint" if isinstance(job, TrainingJob) else "runs again"
        publish_safely(job.group, "log", {"lines": [f"The worker stopped responding: the job is queued again and {what}."]})
    return "requeued" if requeued else "untouched"


# -- the fair queue: a message on the training queue means "a worker is free" ----------------------------------


def job_run_next(*, worker: str | None = None):
    """Run the fairest waiting job this worker may take (training.queue), whichever job the message that
    woke the worker was sent for; then send one message for what still waits, since a job skipped for its
    racer's limit lost its message and the job that just ended freed that racer. None when nothing may run."""
    name = worker or _worker_name()
    job = queue.claim_next(name)
    if job is None:
        worker_seen(name, running="")
        return None
    job = _started(job)
    queue.broadcast_places()
    run = {TrainingJob: _run_training, EvaluationJob: _run_evaluation, HeatJob: _run_heat}[type(job)]
    try:
        return run(job)
    finally:
        worker_seen(name, running="")
        _send_for_next_waiting()
        queue.broadcast_places()


def _send_for_next_waiting() -> None:
    if worker_is_shutting_down():
        return  # the next worker's start sends what waits
    waiting = queue.fair_order()
    if waiting:
        job = waiting[0]
        transaction.on_commit(functools.partial(_enqueue, JOB_TASKS[type(job)], job.pk))


# -- workers on several machines: each says where it runs and what it runs -------------------------------------


AUTOGROUP = Path("/proc/self/autogroup")


def worker_yield_cpu() -> int:
    """A worker that takes training jobs lowers its CPU priority by TRAINING_NICE (10 unless set; its env and
    reward processes inherit it): where pages are served from the same machine (`make run`), a room's
    requests come first and training takes the rest, slowing only while pages are served. Returns the
    worker's niceness."""
    niceness = os.nice(env_int("TRAINING_NICE", 10, minimum=0))
    _yield_as_a_session(niceness)
    return niceness


def _yield_as_a_session(niceness: int) -> None:
    """Linux schedules each session as a group (autogroup, on by default outside containers' cgroups) and
    a nice value orders processes within their group only: a worker in a session of its own (make run's
    launcher starts every child in one) lowers its whole group. One started from a shell shares the shell's
    session, which stays as it was."""
    if os.getsid(0) != os.getpid() or not AUTOGROUP.exists():
        return
    try:
        AUTOGROUP.write_text(str(niceness))
    except OSError:  # an older kernel or a locked-down /proc: the process's own nice still orders its group
        logger.info("could not lower the session's scheduling group", exc_info=True)


def worker_register(name: str, queues: str = "") -> WorkerHost:
    """A worker started (on any host pointing at the same database, Redis and model store)."""
    host, _ = WorkerHost.objects.update_or_create(name=name, defaults={
        "hostname": socket.gethostname(), "pid": os.getpid(), "queues": queues, "seen_at": timezone.now(),
        "running": ""})
    return host


def worker_seen(name: str, *, running: str | None = None) -> None:
    """The worker is alive (and, with ``running``, what it runs now): its row's heartbeat."""
    if not name:
        return
    fields = {"seen_at": timezone.now()}
    if running is not None:
        fields["running"] = running
    if not WorkerHost.objects.filter(name=name).update(**fields):
        WorkerHost.objects.get_or_create(name=name, defaults={
            "hostname": name.rpartition("@")[2] or socket.gethostname(), "pid": os.getpid(), **fields})


def worker_unregister(name: str) -> None:
    """A worker that shuts down cleanly leaves the list (a killed one ages out: WorkerHost.is_alive)."""
    WorkerHost.objects.filter(name=name).delete()
