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
from django.db.models import Count, F, Max, Min, Q
from django.utils import timezone

from common.broadcast import publish, user_group
from models_app.models import RLModel
from races import ranking, timing
from races.models import BOARD_FIELDS, Participant, Race, Submission, SubmissionStatus, new_invite_token
from training import artifacts
from training import services as training
from training.models import WAITING_STATUSES, EvaluationJob, JobStatus, TrainingJob

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
    participant, created = Participant.objects.get_or_create(race=race, user=user)
    if participant.removed_at is not None:  # never the organiser: race_remove_racer refuses to
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
    Submission.objects.filter(race=race, participant__user=user, status__in=(SubmissionStatus.WAITING, SubmissionStatus.QUEUED)).update(
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


# ------------------------------------------------------------------------------------------ submissions


def submission_refusal(race: Race, user, model) -> str | None:
    """Why `user` may not enter `model` into `race` now, or None."""
    if not race.accepts_submissions():
        return "This race is closed to submissions." if race.is_closed() else "This race is not open yet."
    if model.owner_id != user.pk:
        return "Pick one of your own models."
    refusal = model_race_refusal(model)
    if refusal:
        return refusal
    used = Submission.objects.filter(race=race, participant__user=user).count()
    if used >= race.max_submissions:
        return f"You have used all {race.max_submissions} submissions of this race."
    return None


def model_race_refusal(model) -> str | None:
    """Why `model` cannot race now, in any race (busy training, trained elsewhere, untrained, no camera), or
    None."""
    if model.status in ("QUEUED", "TRAINING", "STOPPING"):
        return f"{model.name} is {model.get_status_display().lower()}: submit it once it is ready."
    if model.is_logs_model:
        return f"{model.name} was trained elsewhere: {model.logs_only_reason}"
    if artifacts.read_checkpoints_index(Path(model.folder)) is None:
        return f"{model.name} has no trained checkpoint to race yet."
    sensors = model.vehicle_snapshot.get("sensor") or []
    if not any(sensor in ("FRONT_FACING_CAMERA", "STEREO_CAMERAS") for sensor in sensors):
        return f"{model.name} has no camera: every race type needs one."
    return None


def models_for_racing(user) -> tuple[list, list[tuple]]:
    """The user's models by name, split for the race page's picker: those that can race now, and the others
    with why not (model_race_refusal)."""
    raceable, refused = [], []
    for model in RLModel.objects.owned_by(user).order_by("name"):
        refusal = model_race_refusal(model)
        if refusal:
            refused.append((model, refusal))
        else:
            raceable.append(model)
    return raceable, refused


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
    if race.is_live:
        live_enqueue(submission)
    else:
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


def submission_start(submission: Submission, live: bool = False) -> EvaluationJob:
    """The evaluation under the race's rules, on the organiser's track (raises training.JobError); ``live``
    for a live race's run, which the room watches as it happens."""
    race, model = submission.race, submission.model
    if model is None:
        raise training.JobError("The model was deleted before its turn came.")
    job = training.evaluation_start(
        model, track=race.track, reversed=race.track_reversed, race_type=race.race_type, trials=race.max_laps,
        continuous=race.continuous, off_track_penalty=race.off_track_penalty,
        collision_penalty=race.collision_penalty, track_owner=race.owner, label=f"Race: {race.name}", live=live)
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
            laps = live_laps(race, job) if race.is_live else sorted(job.results, key=lambda lap: lap["trial"])
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
    if race.is_live:
        live_run_finished(submission)
    _start_next_turn(user_id)
    return submission


def submission_queue_position(submission: Submission) -> int | None:
    """Place on the training queue of a submission whose evaluation waits for a worker (1 = next), or in
    a live race's queue."""
    if submission.status == SubmissionStatus.QUEUED:
        return live_queue_position(submission)
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


# ------------------------------------------------------------------------------------------- race day
#
# A live race's submissions wait in the facilitator's queue (QUEUED, by queue_order) instead of starting:
# the facilitator launches them one at a time (or lets auto-launch run the queue). A run is a submission's
# evaluation under the race's rules; its frames and ticks go out on the evaluation job's group, which the
# broadcast page's socket joins (races.consumers.LiveRaceConsumer). Everything that changes race day is
# announced on the race's live group as "queue" (the pages re-read race_day_state) or "finished".

LIVE_BOARD_ROWS = 10  # what a projector shows beside the video


def _announce_live(race: Race, event: str, **payload) -> None:
    _publish(race.live_group, event, {"race": str(race.pk), **payload})


def live_queue(race: Race):
    return (Submission.objects.filter(race=race, status=SubmissionStatus.QUEUED)
            .select_related("participant__user__racer").order_by("queue_order", "id"))


def live_current_run(race: Race) -> Submission | None:
    """The run on track: the race's submission whose evaluation is under way (one at a time)."""
    return (Submission.objects.filter(race=race, status=SubmissionStatus.RUNNING)
            .select_related("participant__user__racer", "evaluation").order_by("submitted_at").first())


def _next_queue_order(race: Race) -> int:
    last = Submission.objects.filter(race=race).aggregate(last=Max("queue_order"))["last"]
    return (last or 0) + 1


def live_enqueue(submission: Submission) -> None:
    """A live race's new submission goes to the end of the facilitator's queue."""
    submission.status = SubmissionStatus.QUEUED
    submission.queue_order = _next_queue_order(submission.race)
    submission.save(update_fields=["status", "queue_order"])
    _announce_live(submission.race, "queue")


def live_reorder(race: Race, submission_ids: list[int]) -> None:
    """Put the queue in the given order (ids of queued submissions; ids not in the queue are refused,
    queued ones left out keep their relative order after the given ones)."""
    queued = list(live_queue(race).values_list("pk", flat=True))
    unknown = [pk for pk in submission_ids if pk not in queued]
    if unknown or len(set(submission_ids)) != len(submission_ids):
        raise RaceError("The order must list queued runs of this race, each once.")
    order = list(submission_ids) + [pk for pk in queued if pk not in submission_ids]
    with transaction.atomic():
        for place, pk in enumerate(order, start=1):
            Submission.objects.filter(pk=pk).update(queue_order=place)
    _announce_live(race, "queue")


def live_move(race: Race, submission: Submission, offset: int) -> None:
    """Move a queued run up (-1) or down (+1) by one place (the buttons; drag and drop uses live_reorder)."""
    order = list(live_queue(race).values_list("pk", flat=True))
    if submission.pk not in order:
        raise RaceError("This run is not in the queue.")
    index = order.index(submission.pk)
    target = min(max(index + offset, 0), len(order) - 1)
    order.insert(target, order.pop(index))
    live_reorder(race, order)


def live_remove(race: Race, submission: Submission) -> None:
    """Take a run out of the queue (it is listed for its racer as removed; re-queue brings it back)."""
    if submission.race_id != race.pk or submission.status != SubmissionStatus.QUEUED:
        raise RaceError("Only a run waiting in the queue can be removed.")
    submission.status = SubmissionStatus.FAILED
    submission.failure_reason = "The facilitator took this run out of the queue."
    submission.finished_at = timezone.now()
    submission.save(update_fields=["status", "failure_reason", "finished_at"])
    _announce_live(race, "queue")


def live_requeue(race: Race, submission: Submission) -> None:
    """Put a failed (or removed, or stopped) run back at the end of the queue: a fresh evaluation later."""
    if submission.race_id != race.pk or submission.status != SubmissionStatus.FAILED:
        raise RaceError("Only a failed or removed run can go back in the queue.")
    if race.is_finished:
        raise RaceError("The race is finished.")
    submission.evaluation = None
    submission.failure_reason = ""
    submission.finished_at = None
    submission.save(update_fields=["evaluation", "failure_reason", "finished_at"])
    live_enqueue(submission)


def live_dispatch(submission: Submission) -> EvaluationJob:
    """The one place a live run is handed to the workers: the race's evaluation as a live one, which the fair
    queue gives the next free worker, past its racer's limit (raises training.JobError)."""
    return submission_start(submission, live=True)


def live_launch(race: Race) -> Submission | None:
    """Launch the queue's next run (None when the queue is empty). A run that cannot start (its model
    was deleted or is busy) fails with the reason and the next one is tried."""
    if race.is_finished:
        raise RaceError("The race is finished.")
    while True:
        with transaction.atomic():
            Race.objects.select_for_update().filter(pk=race.pk).values_list("pk", flat=True).first()
            if live_current_run(race) is not None:
                raise RaceError("A run is on track: stop it or wait for it to finish.")
            submission = live_queue(race).select_related("race", "model").first()
            if submission is None:
                return None
            try:
                live_dispatch(submission)
            except training.JobError as error:
                reason = str(error)
                Submission.objects.filter(pk=submission.pk).update(
                    status=SubmissionStatus.FAILED, failure_reason=reason, finished_at=timezone.now())
            else:
                reason = None
        if reason is None:
            break
        _notify(submission.participant.user_id, f"Your run of {submission.model_name} in {race.name} could not "
                                                f"start: {reason}", "error")
    _notify(submission.participant.user_id, f"You are up: {submission.model_name} is on track in {race.name}.",
            "info")
    following = live_queue(race).first()
    if following is not None:
        _notify(following.participant.user_id, f"You are next in {race.name}.", "info")
    _announce_live(race, "queue", run=submission.pk)
    return submission


def live_set_auto_launch(race: Race, enabled: bool) -> None:
    """Auto-launch: each run's end launches the next queued one (and turning it on launches now if idle)."""
    if enabled and race.is_finished:
        raise RaceError("The race is finished.")
    race.auto_launch = bool(enabled)
    race.save(update_fields=["auto_launch", "updated_at"])
    _announce_live(race, "queue")
    if race.auto_launch and live_current_run(race) is None:
        live_launch(race)


def live_stop(race: Race) -> Submission:
    """Stop the run on track: its evaluation is stopped and the run fails (re-queue can run it again)."""
    current = live_current_run(race)
    if current is None or current.evaluation is None:
        raise RaceError("No run is on track.")
    race.auto_launch = False  # a stop is the facilitator taking over: the queue waits for them
    race.save(update_fields=["auto_launch", "updated_at"])
    training.evaluation_stop(current.evaluation)
    _announce_live(race, "queue")
    return current


def live_clear_board(race: Race) -> int:
    """Clear the board (after a practice round): the race's finished runs are deleted; the evaluations
    stay in the racers' models. Returns how many were cleared."""
    cleared, _ = Submission.objects.filter(
        race=race, status__in=(SubmissionStatus.COMPLETED, SubmissionStatus.FAILED)).delete()
    _announce(race, "board")
    _announce_live(race, "queue")
    return cleared


def live_finish(race: Race) -> Submission | None:
    """Declare the race finished: no more submissions or launches, the broadcast shows the winner (the
    board's first row, returned; None when nobody finished a run)."""
    if race.is_finished:
        raise RaceError("The race is already finished.")
    if live_current_run(race) is not None:
        raise RaceError("A run is on track: stop it or wait for it to finish.")
    now = timezone.now()
    race.finished_at = now
    race.auto_launch = False
    if not race.is_closed(now):
        race.closes_at, race.closed_early = now, True
        if race.opens_at > now:
            race.opens_at = now
    race.save(update_fields=["finished_at", "auto_launch", "closes_at", "closed_early", "opens_at", "updated_at"])
    winner = Submission.objects.leaderboard(race).first()
    _announce_live(race, "finished")
    _announce(race, "closed")
    return winner


def live_run_finished(submission: Submission) -> None:
    """A live run ended (submission_finish recorded it): the room hears it, the next run launches when
    auto-launch is on."""
    race = submission.race
    _announce_live(race, "run_finished", submission=submission.pk)
    race.refresh_from_db(fields=["auto_launch", "finished_at"])
    if race.auto_launch and not race.is_finished:
        try:
            live_launch(race)
        except RaceError:
            logger.info("auto-launch of race %s skipped: a run is on track", race.pk)


def lap_sectors(job: EvaluationJob) -> dict[int, list[float | None]]:
    """Each trial's sector times from the evaluation's sim trace ({} when it has none)."""
    path = training.evaluation_simtrace_path(job)
    if path is None:
        return {}
    by_episode: dict[int, list[tuple[float, float]]] = {}
    try:
        for row in artifacts.read_simtrace(path):
            by_episode.setdefault(int(row["episode"]), []).append((float(row["progress"]), float(row["tstamp"])))
    except (artifacts.ArtifactError, ValueError, KeyError):
        logger.warning("unreadable sim trace of evaluation %s", job.pk, exc_info=True)
        return {}
    return {episode + 1: timing.sector_times(samples) for episode, samples in by_episode.items()}


def live_laps(race: Race, job: EvaluationJob) -> list[dict]:
    """A live run's laps as they count: sector times added, laps after the reset limit dropped."""
    laps = sorted(job.results, key=lambda lap: lap["trial"])
    sectors = lap_sectors(job)
    laps = [{**lap, "sectors": sectors.get(lap["trial"], [None] * timing.SECTORS)} for lap in laps]
    return timing.laps_within_resets(laps, race.max_resets)


def _sector_laps(race: Race) -> dict[int, list]:
    """Each racer's complete laps' sector times in the race's recorded runs, by user id."""
    completed = Submission.objects.filter(race=race, status=SubmissionStatus.COMPLETED,
                                          participant__removed_at__isnull=True)
    sector_laps: dict[int, list] = {}
    for user_id, laps in completed.values_list("participant__user_id", "laps"):
        sector_laps.setdefault(user_id, []).extend(lap.get("sectors") or [] for lap in laps
                                                    if lap.get("status") == ranking.LAP_COMPLETE)
    return sector_laps


def _race_best_sectors(sector_laps: dict[int, list]) -> list[float | None]:
    return timing.best_sectors(lap for laps in sector_laps.values() for lap in laps)


def live_sectors(job: EvaluationJob) -> timing.LiveSectors | None:
    """The timer of a live run's sectors (its ticks get them, timed and coloured, for the broadcast) from the
    race's and the racer's bests so far; None when the job is not a live race's run."""
    submission = (Submission.objects.filter(evaluation=job, race__is_live=True)
                  .select_related("race", "participant").first())
    if submission is None:
        return None
    sector_laps = _sector_laps(submission.race)
    return timing.LiveSectors(_race_best_sectors(sector_laps),
                              timing.best_sectors(sector_laps.get(submission.participant.user_id, [])))


def race_day_state(race: Race) -> dict:
    """What the control and broadcast pages show (JSON): the run on track, the queue, the race's and each
    racer's best sectors, the winner once finished. The run's sectors come with its ticks (live_sectors)."""
    current = live_current_run(race)
    sector_laps = _sector_laps(race)
    race_best = _race_best_sectors(sector_laps)
    board = list(Submission.objects.leaderboard(race)[:LIVE_BOARD_ROWS])
    winner = board[0] if race.is_finished and board else None
    return {
        "race": str(race.pk), "name": race.name, "auto_launch": race.auto_launch,
        "finished": race.is_finished, "max_laps": race.max_laps, "max_resets": race.max_resets,
        "current": _run_state(current, sector_laps) if current else None,
        "queue": [_queued_state(place, entry) for place, entry in enumerate(live_queue(race), start=1)],
        "race_best_sectors": race_best,
        "leader_ms": board[0].leader_ms if board else None,
        "board": [{"submission": row.pk, "rank": row.rank, "racer": row.racer_name, "model": row.model_name,
                   "time": row.ranking_time, "gap": row.gap, "best_lap": row.best_lap_time,
                   "laps": row.laps_completed, "resets": row.reset_count} for row in board],
        "winner": {"racer": winner.racer_name, "model": winner.model_name,
                   "time": winner.ranking_time or f"{winner.laps_completed} laps completed, not ranked"}
        if winner is not None else None,
    }


def _racer_name(submission: Submission) -> str:
    profile = getattr(submission.participant.user, "racer", None)
    return getattr(profile, "racer_name", "") or submission.participant.user.get_username()


def _run_state(run: Submission, sector_laps: dict) -> dict:
    job = run.evaluation
    return {"submission": run.pk, "racer": _racer_name(run), "model": run.model_name,
            "job": job.pk if job else None, "status": job.status if job else "",
            # Every worker is busy (the fair queue gives it the next free one): the room waits, the page says so.
            "waiting_for_worker": job is not None and job.status in WAITING_STATUSES,
            "laps": sorted(job.results, key=lambda lap: lap["trial"]) if job else [],
            "personal_best_sectors": timing.best_sectors(sector_laps.get(run.participant.user_id, []))}


def _queued_state(place: int, entry: Submission) -> dict:
    return {"submission": entry.pk, "place": place, "racer": _racer_name(entry), "model": entry.model_name,
            "user": entry.participant.user_id}


def live_queue_position(submission: Submission) -> int | None:
    """A queued run's place in the facilitator's queue (1 = next)."""
    if submission.status != SubmissionStatus.QUEUED:
        return None
    return Submission.objects.filter(race_id=submission.race_id, status=SubmissionStatus.QUEUED).filter(
        Q(queue_order__lt=submission.queue_order) | Q(queue_order=submission.queue_order, id__lt=submission.pk)
    ).count() + 1
