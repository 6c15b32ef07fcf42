"""The web side of jobs: the workflows a view or the API starts, that cross the database, Celery and the
channel layer (DESIGN.md "The way data flows"), and what the pages read back.

A view calls ``training_start`` / ``evaluation_start``: the rows are written and the Celery task is
enqueued with the job id once the transaction commits; ``training_stop`` / ``evaluation_stop`` set the
stop request the run sees; ``training_continue`` is the racer's resume of a failed or stopped run, in the
same job so its graph stays one. The pages backfill from ``training_metrics`` and ``training_log_tail``.
Running, reporting and recovering jobs is the worker's side (training/worker.py); job state changes are
methods of the job models. Views never requeue a job.
"""

from __future__ import annotations

import functools
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from django.db import transaction
from django.db.models import Q

from models_app.race_types import RaceTypeError, check_race_type
from simulator.spec import MAX_TRAINING_MINUTES, MAX_TRIALS, MIN_TRIALS
from simulator.tracks import TrackError
from training import artifacts, history, queue, quotas, tasks
from training.live import broadcast_status, publish_safely
from training.models import (
    ACTIVE_STATUSES,
    WAITING_STATUSES,
    EvaluationJob,
    HeatJob,
    JobError,
    JobStatus,
    TrainingEpisode,
    TrainingJob,
)
from training.worker import hyperparameters_file, track_argument

__all__ = ["JobError", "job_place", "job_places", "model_places", "evaluation_simtrace_path", "evaluation_start", "evaluation_stop", "evaluation_video_path",
           "job_active_for", "model_history_import", "training_continue", "training_log_path", "training_log_tail", "training_metrics",
           "training_start", "training_stop", "heat_start", "heat_stop", "heat_discard"]

MAX_PENALTY_SECONDS = 60.0
LOG_TAIL_LINES = 200
MAX_EPISODE_POINTS = 5000  # newest per-episode points in a backfill: a day of training has ~10^5 episodes
MAX_CONTINUE_MINUTES = float(MAX_TRAINING_MINUTES)  # the longest stop condition
# A head-to-model heat's limits: a race's laps, and its time limit on the sim clock (a 10-lap heat on a
# long track at 1 m/s takes about 20 minutes).
MAX_HEAT_LAPS = 10
MAX_HEAT_SECONDS = 3600.0


def write_static_artifacts(model) -> None:
    """The model folder's files that never change during training (SPEC 5)."""
    model.write_folder(hyperparameters=hyperparameters_file(model))


def training_start(model, *, max_minutes: float | None = None, max_iterations: int | None = None,
                   enqueue: bool = True) -> TrainingJob:
    """Queue a training job for the model and enqueue its task after commit."""
    if model.is_logs_model:
        raise JobError(f"{model.name} was trained elsewhere and cannot be trained on here: "
                       f"{model.logs_only_reason}")
    minutes = float(model.max_minutes if max_minutes is None else max_minutes)
    if not minutes > 0:
        raise JobError("The maximum training time must be more than 0 minutes.")
    quotas.check_compute(model.owner)
    with transaction.atomic():
        _lock_idle_model(model)
        write_static_artifacts(model)
        job = TrainingJob.objects.create(model=model, max_minutes=minutes, max_iterations=max_iterations)
        job.set_model_status(job.model_status_for(JobStatus.QUEUED))
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
    tasks.run_training_job.delay(job_id)
    queue.broadcast_places()


def training_stop(job: TrainingJob) -> TrainingJob:
    """Ask the run to stop: the loop ends cleanly with a final checkpoint. A queued job is canceled, an
    interrupted one ends at its last checkpoint."""
    moved = _request_stop(job, "training job")
    if moved:
        job.set_model_status(job.model_status_for(JobStatus.STOPPING) if moved == JobStatus.STOPPING
                             else job.model_status_after())
        broadcast_status(job)
    return job


def _request_stop(job, what: str) -> str | None:
    """Job.request_stop, with the racer's message when there is nothing to stop (a waiting job that ends
    moves every job behind it up: their pages hear it)."""
    if not job.is_active:
        raise JobError(f"This {what} is {job.get_status_display().lower()}: there is nothing to stop.")
    waited = job.status in WAITING_STATUSES
    moved = job.request_stop()
    if waited and moved:
        queue.broadcast_places()
    return moved


def job_place(job) -> dict | None:
    """A waiting job's place in the fair queue (position, estimated start) for its page and the API."""
    place = queue.place_of(job)
    return place.as_dict() if place else None


def model_places(owner) -> dict:
    """The owner's waiting models' places (position, estimated start) by model id: the models list and its
    poll (computed at most every queue.PLACES_FRESH_SECONDS for the whole room)."""
    return {model_id: place.as_dict() for model_id, place in queue.places_by_model(owner.pk).items()}


def job_places() -> dict[tuple[str, int], dict]:
    """Every waiting job's place, keyed by ("training" | "evaluation", id): one computation for a list."""
    return {key: place.as_dict() for key, place in queue.places().items()}


def training_continue(job: TrainingJob, *, minutes: float | None = None, enqueue: bool = True) -> TrainingJob:
    """Continue training by hand: the model's latest training job, failed or stopped, is queued again
    with ``minutes`` more (default: what was left of its limit, or the model's maximum time when none was)
    and resumes from its last checkpoint; its metrics, graph and sim traces go on where they ended."""
    if job.model.is_logs_model:
        raise JobError(job.model.logs_only_reason)
    if not job.can_continue:
        raise JobError(f"This training job is {job.get_status_display().lower()}: only a finished one "
                       f"can continue.")
    if minutes is None:
        minutes = job.remaining_seconds / 60.0 if job.remaining_seconds >= 1 else float(job.model.max_minutes)
    if not 0 < float(minutes) <= MAX_CONTINUE_MINUTES:
        raise JobError(f"Continue for more than 0 and at most {MAX_CONTINUE_MINUTES:g} minutes.")
    quotas.check_compute(job.model.owner)
    with transaction.atomic():
        _lock_idle_model(job.model)
        if TrainingJob.objects.filter(model=job.model).values_list("pk", flat=True).first() != job.pk:
            raise JobError("Only the model's latest training can continue.")
        if not job.continue_for(float(minutes)):
            raise JobError("This training job is no longer finished.")
        job.set_model_status(job.model_status_for(JobStatus.QUEUED))
        if enqueue:
            transaction.on_commit(functools.partial(_enqueue_training, job.pk))
    broadcast_status(job)
    publish_safely(job.group, "log", {"lines": [f"Continuing training for {float(minutes):g} more minutes from "
                                          f"the last checkpoint."]})
    return job


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


def evaluation_start(model, *, track: str, reversed: bool = False, race_type: dict | None = None,
                     trials: int = 3, continuous: bool = False, off_track_penalty: float = 5.0,
                     collision_penalty: float = 5.0, track_owner=None, label: str = "", live: bool = False,
                     enqueue: bool = True) -> EvaluationJob:
    """Queue an evaluation of the model's best checkpoint and enqueue its task after commit.

    ``track_owner``: the user whose imported track ``track`` names, when it is not the model's owner (a race
    organiser's track; the caller has checked the racer may drive it). ``label`` says in the Evaluation tab
    what started it (e.g. a race submission). ``live``: a live race run, watched as it happens (EvaluationJob.live)."""
    if model.is_logs_model:
        raise JobError(model.logs_only_reason)
    if artifacts.read_checkpoints_index(Path(model.folder)) is None:
        raise JobError("This model has no trained checkpoint to evaluate yet.")
    if not MIN_TRIALS <= int(trials) <= MAX_TRIALS:
        raise JobError(f"An evaluation runs {MIN_TRIALS} to {MAX_TRIALS} trials.")
    _check_penalties(off_track_penalty, collision_penalty)
    try:
        track_argument(track_owner.pk if track_owner else model.owner_id, track)
    except TrackError as error:
        raise JobError(str(error)) from None
    quotas.check_compute(model.owner, queued=False)
    with transaction.atomic():
        _lock_idle_model(model)
        job = EvaluationJob.objects.create(
            model=model, track=track, track_owner=track_owner, label=label[:120],
            track_reversed=bool(reversed), race_type=race_type or {},
            trials=int(trials), continuous=bool(continuous), off_track_penalty=float(off_track_penalty),
            collision_penalty=float(collision_penalty), live=bool(live))
        if enqueue:
            transaction.on_commit(functools.partial(_enqueue_evaluation, job.pk))
    return job


def _enqueue_evaluation(job_id: int) -> None:
    tasks.run_evaluation_job.delay(job_id)
    queue.broadcast_places()


def evaluation_stop(job: EvaluationJob) -> EvaluationJob:
    moved = _request_stop(job, "evaluation")
    if moved:
        if moved != JobStatus.STOPPING:
            job.set_model_status(job.model_status_after())
        broadcast_status(job)
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


def evaluation_simtrace_path(job: EvaluationJob) -> Path | None:
    """The sim-trace CSV of a finished evaluation (SPEC 5.2), beside its video, only inside the model folder."""
    video = evaluation_video_path(job)
    if video is None:
        return None
    path = video.parent / artifacts.EVALUATION_SIMTRACE
    return path if path.is_file() else None


def job_active_for(model):
    """The model's job in progress (training or evaluation), if any."""
    return (TrainingJob.objects.filter(model=model, status__in=ACTIVE_STATUSES).first()
            or EvaluationJob.objects.filter(model=model, status__in=ACTIVE_STATUSES).first())


def heat_start(*, requested_by, model, opponent, track: str, track_owner=None, track_reversed: bool = False,
               race_type: dict | None = None, laps: int = 1, continuous: bool = True,
               off_track_penalty: float = 5.0, collision_penalty: float = 5.0, max_seconds: float = 180.0,
               label: str = "", live: bool = False, enqueue: bool = True) -> HeatJob:
    """Queue a head-to-model heat: ``model`` (car 0) and ``opponent`` (car 1) race on one track, each
    driven by its best checkpoint, first across the line after ``laps`` laps wins (or the one further
    along after ``max_seconds`` of sim time). It is ``requested_by``'s job (a race organiser's) in the fair
    queue, and its compute time counts against their quota; the models' own jobs are not affected.
    ``live``: a live race's heat, which a room watches: it takes the next free worker, like a live run.

    ``track_owner``: the user whose imported track ``track`` names (default: ``requested_by``); the caller
    has checked that the racers may drive it. Raises JobError with the reason when a setting is wrong."""
    for car in (model, opponent):
        _check_raceable(car)
    if model.pk == opponent.pk:
        raise JobError("A heat needs two different models.")
    laps = _whole_number(laps, "laps")
    if not 1 <= laps <= MAX_HEAT_LAPS:
        raise JobError(f"A heat runs 1 to {MAX_HEAT_LAPS} laps.")
    _check_penalties(off_track_penalty, collision_penalty)
    if not 0 < _number(max_seconds, "time limit") <= MAX_HEAT_SECONDS:
        raise JobError(f"The heat's time limit must be more than 0 and at most {MAX_HEAT_SECONDS:g} seconds.")
    try:
        race_type = check_race_type(race_type or None)
    except RaceTypeError as error:
        raise JobError(f"The race type is invalid: {error}") from None
    try:
        track_argument((track_owner or requested_by).pk, track)
    except TrackError as error:
        raise JobError(str(error)) from None
    quotas.check_compute(requested_by, queued=False)
    with transaction.atomic():
        job = HeatJob.objects.create(
            model=model, opponent=opponent, requested_by=requested_by, track=track, track_owner=track_owner,
            track_reversed=bool(track_reversed), race_type=race_type, laps=laps, continuous=bool(continuous),
            off_track_penalty=float(off_track_penalty), collision_penalty=float(collision_penalty),
            max_seconds=float(max_seconds), label=str(label)[:120], live=bool(live))
        if enqueue:
            transaction.on_commit(functools.partial(_enqueue_heat, job.pk))
    return job


def _check_raceable(model) -> None:
    if model.is_logs_model:
        raise JobError(f"{model.name} cannot race: {model.logs_only_reason}")
    if artifacts.read_checkpoints_index(Path(model.folder)) is None:
        raise JobError(f"{model.name} has no trained checkpoint to race yet.")


def _check_penalties(off_track_penalty, collision_penalty) -> None:
    for name, value in (("off-track penalty", off_track_penalty), ("collision penalty", collision_penalty)):
        if not 0 <= _number(value, name) <= MAX_PENALTY_SECONDS:
            raise JobError(f"The {name} must be between 0 and {MAX_PENALTY_SECONDS:g} seconds.")


def _number(value, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise JobError(f"The {name} must be a number.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise JobError(f"The {name} must be a number.")
    return number


def _whole_number(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobError(f"The {name} must be a whole number.")
    return value


def _enqueue_heat(job_id: int) -> None:
    tasks.run_heat_job.delay(job_id)
    queue.broadcast_places()


def heat_folders(model) -> list[Path]:
    """The folders (replays, traces) of the heats a model raced in: its heat jobs go when it is deleted."""
    return [job.folder for job in HeatJob.objects.filter(Q(model=model) | Q(opponent=model)).only("pk")]


def heat_discard(job_id: int) -> None:
    """Delete a heat job with its replay and traces, once nothing shows it (its race's heat was deleted, or
    raced again). One still queued leaves the fair queue; one on track is deleted under its worker, which
    ends the run as it does a deleted model's. The folder goes once the deletion is committed."""
    job = HeatJob.objects.filter(pk=job_id).first()
    if job is None:
        return
    folder, was_active = job.folder, job.is_active
    job.delete()
    transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
    if was_active:
        transaction.on_commit(queue.broadcast_places)


def heat_stop(job: HeatJob) -> HeatJob:
    """Stop a heat: a queued one is canceled, a running one ends at its next step (CANCELED, no result)."""
    if _request_stop(job, "heat"):
        broadcast_status(job)
    return job
