"""Race workflows that cross the database, the training service and the channel layer (DESIGN.md).

The coupling to the training app is two calls wide: ``submission_start`` asks ``training.services.
evaluation_start`` for an evaluation under the race's rules, and ``submission_finish`` (called by
races.receivers when training announces a finished evaluation) records the result. Everything else
the races app keeps to itself: the per-racer turn (one submission evaluating at a time per racer), the
board, the invite link.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, Min
from django.utils import timezone

from common.broadcast import publish, user_group
from races import ranking
from races.models import BOARD_FIELDS, Participant, Race, Submission, SubmissionStatus, new_invite_token
from training import artifacts
from training import services as training
from training.models import EvaluationJob, JobStatus, TrainingJob

logger = logging.getLogger(__name__)


class RaceError(ValueError):
    """A race action cannot be done as asked; the message says why, for the racer."""


# ------------------------------------------------------------------------------------------ broadcasts


def _publish(group: str, event: str, payload: dict) -> None:
    # A channel-layer hiccup must never lose a result: open pages re-read the board when they reconnect.
    try:
        publish(group, event, payload)
    except Exception:
        logger.warning("could not publish %s on %s", event, group, exc_info=True)


def _announce(race: Race, event: str, **payload) -> None:
    """Tell the race's open pages that the board or the racers changed (they fetch the board again)."""
    _publish(race.group, event, {"race": str(race.pk), **payload})


def _notify(user_id: int, message: str, level: str) -> None:
    _publish(user_group(user_id), "notification", {"message": message, "level": level})


# ------------------------------------------------------------------------------------------- the race


def require_racer_name(user) -> None:
    """Leaderboards show racer names: an account without one (an API token user who never chose it) cannot
    race or organise until it has one."""
    profile = getattr(user, "racer", None)
    if not getattr(profile, "racer_name", None):
        raise RaceError("Choose your racer name first (console: Racer name): leaderboards show it.")


def race_join(race: Race, user) -> Participant:
    """Join a race (the invite link of a private race; a first submission to an open one)."""
    require_racer_name(user)
    if race.owner_id == user.pk:
        participant, _ = Participant.objects.get_or_create(race=race, user=user)
        return participant
    participant, created = Participant.objects.get_or_create(race=race, user=user)
    if participant.removed_at is not None:
        raise RaceError("The organiser removed you from this race.")
    if created:
        _announce(race, "racers")
    return participant


def race_reset_invite(race: Race) -> str:
    """A new invite token: links with the old one stop working."""
    race.invite_token = new_invite_token()
    race.save(update_fields=["invite_token", "updated_at"])
    return race.invite_token


def race_remove_racer(race: Race, user) -> None:
    """Take a racer out of the race: their entries leave the board, their link no longer lets them in."""
    if user.pk == race.owner_id:
        raise RaceError("The organiser cannot be removed from their own race.")
    removed = Participant.objects.filter(race=race, user=user, removed_at__isnull=True).update(
        removed_at=timezone.now())
    if not removed:
        raise RaceError("This racer is not in the race.")
    # Their turn of submissions not started yet never starts.
    Submission.objects.filter(race=race, participant__user=user, status=SubmissionStatus.WAITING).update(
        status=SubmissionStatus.FAILED, failure_reason="The organiser removed you from this race.",
        finished_at=timezone.now())
    _announce(race, "board")


def race_close(race: Race) -> None:
    """Close the race now: no more submissions (those already evaluating finish and count)."""
    if race.is_closed():
        raise RaceError("This race is already closed.")
    now = timezone.now()
    race.closes_at = now
    race.closed_early = True
    if race.opens_at > now:
        race.opens_at = now
    race.save(update_fields=["closes_at", "closed_early", "opens_at", "updated_at"])
    _announce(race, "closed")


def race_delete(race: Race) -> None:
    """Delete the race, its board and submissions. Evaluations already running finish as evaluations."""
    group = race.group
    race_id = str(race.pk)
    race.delete()
    _publish(group, "deleted", {"race": race_id})


def race_clone_initial(race: Race) -> dict:
    """The create form pre-filled from a race (a new window: open now for a week)."""
    from races.forms import initial_from_race

    return initial_from_race(race)


# ------------------------------------------------------------------------------------------ submissions


def submission_refusal(race: Race, user, model) -> str | None:
    """Why `user` may not enter `model` into `race` now, or None."""
    if not race.accepts_submissions():
        return "This race is closed to submissions." if race.is_closed() else "This race is not open yet."
    if model.owner_id != user.pk:
        return "Pick one of your own models."
    if model.status in ("QUEUED", "TRAINING", "STOPPING"):
        return f"{model.name} is {model.get_status_display().lower()}: submit it once it is ready."
    if model.is_logs_model:
        return f"{model.name} was trained elsewhere: {model.logs_only_reason}"
    if artifacts.read_checkpoints_index(Path(model.folder)) is None:
        return f"{model.name} has no trained checkpoint to race yet."
    sensors = model.vehicle_snapshot.get("sensor") or []
    if not any(sensor in ("FRONT_FACING_CAMERA", "STEREO_CAMERAS") for sensor in sensors):
        return f"{model.name} has no camera: every race type needs one."
    used = Submission.objects.filter(race=race, participant__user=user).count()
    if used >= race.max_submissions:
        return f"You have used all {race.max_submissions} submissions of this race."
    return None


def submission_create(race: Race, user, model) -> Submission:
    """Enter a model: the submission waits for the racer's turn (one evaluation at a time per racer)."""
    with transaction.atomic():
        _lock_racer(user)
        participant = race_join(race, user)
        refusal = submission_refusal(race, user, model)
        if refusal:
            raise RaceError(refusal)
        submission = Submission.objects.create(race=race, participant=participant, model=model,
                                               model_name=model.name)
    _start_next_turn(user.pk)
    submission.refresh_from_db()
    _announce(race, "submitted", submission=submission.pk)
    return submission


def _lock_racer(user) -> None:
    """Inside a transaction: serialise a racer's submissions (two clicks must not start two evaluations)."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()


def _start_next_turn(user_id: int) -> Submission | None:
    """Start the racer's oldest waiting submission unless one of theirs is evaluating already."""
    while True:
        with transaction.atomic():
            get_user_model().objects.select_for_update().filter(pk=user_id).values_list("pk", flat=True).first()
            racer_submissions = Submission.objects.filter(participant__user_id=user_id)
            # A running submission whose evaluation is gone (its model was deleted) never finishes: fail it.
            racer_submissions.filter(status=SubmissionStatus.RUNNING, evaluation__isnull=True).update(
                status=SubmissionStatus.FAILED, failure_reason="The model was deleted before its race finished.",
                finished_at=timezone.now())
            if racer_submissions.filter(status=SubmissionStatus.RUNNING).exists():
                return None
            submission = (racer_submissions.filter(status=SubmissionStatus.WAITING)
                          .select_related("race", "model").order_by("submitted_at", "id").first())
            if submission is None:
                return None
            try:
                submission_start(submission)
            except training.JobError as error:
                submission.status = SubmissionStatus.FAILED
                submission.failure_reason = str(error)
                submission.finished_at = timezone.now()
                submission.save(update_fields=["status", "failure_reason", "finished_at"])
                failed = submission
            else:
                return submission
        _notify(user_id, f"Your submission of {failed.model_name} to {failed.race.name} failed: "
                         f"{failed.failure_reason}", "error")
        _announce(failed.race, "board")


def submission_start(submission: Submission) -> EvaluationJob:
    """The evaluation under the race's rules, on the organiser's track (raises training.JobError)."""
    race, model = submission.race, submission.model
    if model is None:
        raise training.JobError("The model was deleted before its turn came.")
    job = training.evaluation_start(
        model, track=race.track, reversed=race.track_reversed, race_type=race.race_type, trials=race.max_laps,
        continuous=race.continuous, off_track_penalty=race.off_track_penalty,
        collision_penalty=race.collision_penalty, track_owner=race.owner, label=f"Race: {race.name}")
    submission.evaluation = job
    submission.status = SubmissionStatus.RUNNING
    submission.save(update_fields=["evaluation", "status"])
    return job


def submission_finish(job: EvaluationJob) -> Submission | None:
    """Record a finished race evaluation: its laps and score, the board's broadcast, the racer's toast,
    then the racer's next waiting submission. Idempotent: a result is recorded once per job outcome."""
    with transaction.atomic():
        submission = (Submission.objects.select_for_update().select_related("race", "participant")
                      .filter(evaluation_id=job.pk).first())
        if submission is None or submission.status == SubmissionStatus.COMPLETED:
            return submission
        race = submission.race
        if job.status == JobStatus.COMPLETED:
            laps = sorted(job.results, key=lambda lap: lap["trial"])
            submission.record(ranking.score(race.ranking_method, laps, race.min_laps), laps)
            submission.status = SubmissionStatus.COMPLETED
        else:
            submission.status = SubmissionStatus.FAILED
            submission.failure_reason = job.failure_message or "The evaluation was stopped before it finished."
        submission.finished_at = timezone.now()
        submission.save()
    user_id = submission.participant.user_id
    _announce(race, "board", submission=submission.pk)
    if submission.status == SubmissionStatus.COMPLETED:
        result = (f"ranking time {submission.ranking_time}" if submission.ranking_ms is not None
                  else f"{submission.laps_completed} of {race.max_laps} laps completed, not ranked")
        _notify(user_id, f"Your submission of {submission.model_name} to {race.name} finished: {result}.",
                "success")
    else:
        _notify(user_id, f"Your submission of {submission.model_name} to {race.name} failed: "
                         f"{submission.failure_reason}", "error")
    _start_next_turn(user_id)
    return submission


def submission_queue_position(submission: Submission) -> int | None:
    """Place on the training queue of a submission whose evaluation waits for a worker (1 = next)."""
    job = submission.evaluation
    if submission.status != SubmissionStatus.RUNNING or job is None or job.status != JobStatus.QUEUED:
        return None
    ahead = (EvaluationJob.objects.filter(status=JobStatus.QUEUED, created_at__lt=job.created_at).count()
             + TrainingJob.objects.filter(status=JobStatus.QUEUED, created_at__lt=job.created_at).count())
    return ahead + 1


def announce_changed(race: Race) -> None:
    """The race's rules or window were edited: open pages refresh what they show."""
    _announce(race, "race")


# ---------------------------------------------------------------------------------------------- boards


def racer_board_entry(race: Race, user) -> Submission | None:
    """The user's row of the race's board with its rank among everyone's, or None. Three small queries
    instead of ranking the whole board: the rank is 1 + the racers with an entry ahead of it."""
    mine = (Submission.objects.best_per_racer(race).filter(participant__user=user)
            .annotate(racer_name=F("participant__user__racer__racer_name"))
            .select_related("evaluation", "participant").only(*BOARD_FIELDS).first())
    if mine is None:
        return None
    entries = Submission.objects.entries_of(race)
    mine.rank = 1 + entries.ahead_of(mine).exclude(participant_id=mine.participant_id) \
        .values("participant_id").distinct().count()
    mine.leader_ms = entries.aggregate(leader=Min("ranking_ms"))["leader"]
    return mine


def racer_results(racer, viewer) -> list[dict]:
    """The racer's races that `viewer` may see, with their best rank and lap times (the profile pages)."""
    races = list(Race.objects.visible_to(viewer).filter(
        participants__user=racer, participants__removed_at__isnull=True).with_track_titles().order_by("-opens_at"))
    if not races:
        return []
    best = {entry.race_id: entry for entry in Submission.objects.of_racer_ranked(races, racer)}
    submitted = dict(Submission.objects.filter(race__in=races, participant__user=racer).order_by()
                     .values_list("race").annotate(count=Count("pk")))
    return [{"race": race, "entry": best.get(race.pk), "submissions": submitted.get(race.pk, 0)} for race in races]
