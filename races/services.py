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
from races import brackets, ranking, timing
from races.models import (
    BOARD_FIELDS,
    Heat,
    HeatStatus,
    Participant,
    Race,
    Submission,
    SubmissionStatus,
    new_invite_token,
)
from training import artifacts
from training import services as training
from training.models import WAITING_STATUSES, EvaluationJob, HeatJob, JobStatus, TrainingJob

logger = logging.getLogger(__name__)


class RaceError(ValueError):
    """A race action cannot be done as asked; the message says why, for the racer. `field`: the input it
    is about, when one is (the API answers 400 with it)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


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
        model, track=race.track, reversed=race.track_reversed, race_type=race.env_race_type, trials=race.max_laps,
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
# A live race's submissions wait in the facilitator's queue instead of starting, and so do a head-to-model
# race's heats: the queue is one, its items runs (submissions) and heats, each QUEUED with a queue_order
# from one counter. The facilitator launches the items one at a time (or lets auto-launch run the queue).
# A run is a submission's evaluation under the race's rules, a heat its heat job; their frames and ticks go
# out on the job's group, which the broadcast page's socket joins (races.consumers.LiveRaceConsumer).
# Everything that changes race day is announced on the race's live group as "queue" (the pages re-read
# race_day_state), "run_finished" or "finished".

LIVE_BOARD_ROWS = 10  # what a projector shows beside the video
QUEUED, RUNNING, FAILED = "QUEUED", "RUNNING", "FAILED"  # the statuses runs and heats share in the queue

QueueItem = Submission | Heat


def _announce_live(race: Race, event: str, **payload) -> None:
    _publish(race.live_group, event, {"race": str(race.pk), **payload})


def live_queue(race: Race) -> list[QueueItem]:
    """The facilitator's queue in order: the runs and heats waiting to be launched."""
    runs = (Submission.objects.filter(race=race, status=SubmissionStatus.QUEUED)
            .select_related("participant__user__racer", "race", "model"))
    heats = Heat.objects.filter(race=race, status=HeatStatus.QUEUED).for_pages()
    return sorted([*runs, *heats], key=lambda item: (item.queue_order, item.queue_key))


def live_current_run(race: Race) -> QueueItem | None:
    """What is on track: the race's run whose evaluation is under way, or its heat (one at a time)."""
    run = (Submission.objects.filter(race=race, status=SubmissionStatus.RUNNING)
           .select_related("participant__user__racer", "evaluation").order_by("submitted_at").first())
    if run is not None:
        return run
    return Heat.objects.filter(race=race, status=HeatStatus.RUNNING).for_pages().order_by("number").first()


def _next_queue_order(race: Race) -> int:
    last = max(Submission.objects.filter(race=race).aggregate(last=Max("queue_order"))["last"] or 0,
               Heat.objects.filter(race=race).aggregate(last=Max("queue_order"))["last"] or 0)
    return last + 1


def live_enqueue(item: QueueItem) -> None:
    """A live race's new submission, or a heat whose racers are known, goes to the end of the queue."""
    item.status = QUEUED
    item.queue_order = _next_queue_order(item.race)
    item.save(update_fields=["status", "queue_order"])
    _announce_live(item.race, "queue")


def queue_key(value) -> str:
    """A queue item's key as callers name it: "run:<id>", "heat:<id>", or a bare run id."""
    text = str(value).strip()
    return f"run:{text}" if text.isdigit() else text


def live_reorder(race: Race, keys: list) -> None:
    """Put the queue in the given order (keys of queued runs and heats, see queue_key; keys not in the queue
    are refused, queued items left out keep their relative order after the given ones)."""
    queued = [item.queue_key for item in live_queue(race)]
    keys = [queue_key(key) for key in keys]
    if any(key not in queued for key in keys) or len(set(keys)) != len(keys):
        raise RaceError("The order must list queued runs and heats of this race, each once.")
    order = keys + [key for key in queued if key not in keys]
    with transaction.atomic():
        for place, key in enumerate(order, start=1):
            kind, pk = key.split(":")
            (Heat if kind == "heat" else Submission).objects.filter(pk=int(pk)).update(queue_order=place)
    _announce_live(race, "queue")


def live_move(race: Race, item: QueueItem, offset: int) -> None:
    """Move a queued run or heat up (-1) or down (+1) by one place (the buttons; drag and drop reorders)."""
    order = [queued.queue_key for queued in live_queue(race)]
    if item.queue_key not in order:
        raise RaceError("This run is not in the queue.")
    index = order.index(item.queue_key)
    target = min(max(index + offset, 0), len(order) - 1)
    order.insert(target, order.pop(index))
    live_reorder(race, order)


def live_remove(race: Race, item: QueueItem) -> None:
    """Take a run or heat out of the queue (listed as removed; re-queue brings it back)."""
    if item.race_id != race.pk or item.status != QUEUED:
        raise RaceError("Only a run or heat waiting in the queue can be removed.")
    item.status = FAILED
    item.failure_reason = f"The facilitator took this {_kind(item)} out of the queue."
    item.finished_at = timezone.now()
    item.save(update_fields=["status", "failure_reason", "finished_at"])
    _announce_live(race, "queue")


def live_requeue(race: Race, item: QueueItem) -> None:
    """Put a failed (or removed, or stopped) run, or a failed or drawn heat, back at the end of the queue:
    a fresh job later."""
    if isinstance(item, Heat):
        if item.race_id != race.pk or not item.may_run_again:
            raise RaceError("Only a failed, removed or drawn heat can go back in the queue.")
    elif item.race_id != race.pk or item.status != SubmissionStatus.FAILED:
        raise RaceError("Only a failed or removed run can go back in the queue.")
    if race.is_finished:
        raise RaceError("The race is finished.")
    item.failure_reason, item.finished_at = "", None
    if isinstance(item, Heat):
        item.job, item.result, item.winner = None, {}, None
        item.save(update_fields=["job", "result", "winner", "failure_reason", "finished_at"])
    else:
        item.evaluation = None
        item.save(update_fields=["evaluation", "failure_reason", "finished_at"])
    live_enqueue(item)


def live_dispatch(item: QueueItem):
    """The one place a live run or heat is handed to the workers: the run's evaluation as a live one, which
    the fair queue gives the next free worker, past its racer's limit; the heat's job (raises
    training.JobError)."""
    if isinstance(item, Heat):
        return heat_dispatch(item)
    return submission_start(item, live=True)


def _kind(item: QueueItem) -> str:
    return "heat" if isinstance(item, Heat) else "run"


def _racers_of(item: QueueItem) -> list[tuple[int, str]]:
    """(user id, what they race with) of each racer of a run or heat."""
    entries = item.entries if isinstance(item, Heat) else [item]
    return [(entry.participant.user_id, entry.model_name) for entry in entries if entry is not None]


def _what(item: QueueItem, model_name: str) -> str:
    return f"{model_name} ({item.name})" if isinstance(item, Heat) else model_name


def live_launch(race: Race) -> QueueItem | None:
    """Launch the queue's next run or heat (None when the queue is empty). One that cannot start (its model
    was deleted or is busy) fails with the reason and the next one is tried."""
    if race.is_finished:
        raise RaceError("The race is finished.")
    while True:
        with transaction.atomic():
            Race.objects.select_for_update().filter(pk=race.pk).values_list("pk", flat=True).first()
            if live_current_run(race) is not None:
                raise RaceError("A run is on track: stop it or wait for it to finish.")
            queue = live_queue(race)
            if not queue:
                return None
            item = queue[0]
            try:
                live_dispatch(item)
            except training.JobError as error:
                reason = str(error)
                type(item).objects.filter(pk=item.pk).update(status=FAILED, failure_reason=reason,
                                                              finished_at=timezone.now())
            else:
                reason = None
        if reason is None:
            break
        for user_id, model_name in _racers_of(item):
            _notify(user_id, f"Your {_kind(item)} with {_what(item, model_name)} in {race.name} could not start: "
                             f"{reason}", "error")
    for user_id, model_name in _racers_of(item):
        _notify(user_id, f"You are up: {_what(item, model_name)} is on track in {race.name}.", "info")
    following = live_queue(race)[:1]
    for user_id, _ in _racers_of(following[0]) if following else []:
        _notify(user_id, f"You are next in {race.name}.", "info")
    _announce_live(race, "queue", **{_kind(item): item.pk})
    return item


def live_set_auto_launch(race: Race, enabled: bool) -> None:
    """Auto-launch: each run's end launches the next queued one (and turning it on launches now if idle)."""
    if enabled and race.is_finished:
        raise RaceError("The race is finished.")
    race.auto_launch = bool(enabled)
    race.save(update_fields=["auto_launch", "updated_at"])
    _announce_live(race, "queue")
    if race.auto_launch and live_current_run(race) is None:
        live_launch(race)


def live_stop(race: Race) -> QueueItem:
    """Stop the run or heat on track: its job is stopped and it fails (re-queue can run it again)."""
    current = live_current_run(race)
    job = (current.job if isinstance(current, Heat) else current.evaluation) if current is not None else None
    if job is None:
        raise RaceError("No run is on track.")
    race.auto_launch = False  # a stop is the facilitator taking over: the queue waits for them
    race.save(update_fields=["auto_launch", "updated_at"])
    if isinstance(current, Heat):
        training.heat_stop(job)
    else:
        training.evaluation_stop(job)
    _announce_live(race, "queue")
    return current


def live_clear_board(race: Race) -> int:
    """Clear the board (after a practice round): the race's finished runs are deleted, and the heats between
    them; the evaluations stay in the racers' models. Returns how many runs were cleared."""
    if Heat.objects.filter(race=race, status=HeatStatus.RUNNING).exists():
        raise RaceError("A heat is on track: stop it or wait for it to finish.")
    Heat.objects.filter(race=race).delete()  # a heat is between entries of the board
    _, deleted = Submission.objects.filter(
        race=race, status__in=(SubmissionStatus.COMPLETED, SubmissionStatus.FAILED)).delete()
    cleared = deleted.get(Submission._meta.label, 0)
    _announce(race, "board")
    _announce(race, "heats")
    _announce_live(race, "queue")
    return cleared


def bracket_champion(race: Race) -> Submission | None:
    """The winner of a head-to-model race's bracket final, once it is decided."""
    final = Heat.objects.final_of(race)
    return final.winner if final is not None and final.winner_id else None


def race_winner(race: Race) -> Submission | None:
    """The race's winner: a head-to-model race with a bracket, its final's winner (None until decided);
    otherwise the board's first row."""
    if race.is_head_to_model and Heat.objects.of_bracket(race).exists():
        return bracket_champion(race)
    return Submission.objects.leaderboard(race).first()


def live_finish(race: Race) -> Submission | None:
    """Declare the race finished: no more submissions or launches, the broadcast shows the winner
    (race_winner, returned; None when nobody finished a run)."""
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
    _announce_live(race, "finished")
    _announce(race, "closed")
    return race_winner(race)


def live_run_finished(item: QueueItem) -> None:
    """A live run or heat ended (its result is recorded): the room hears it, the next one launches when
    auto-launch is on."""
    race = item.race
    _announce_live(race, "run_finished", **{"submission" if isinstance(item, Submission) else "heat": item.pk})
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
    """What the control and broadcast pages show (JSON): the run or heat on track, the queue, the race's and
    each racer's best sectors, the last heat's result, the winner once finished. The run's sectors come with
    its ticks (live_sectors)."""
    current = live_current_run(race)
    sector_laps = _sector_laps(race)
    race_best = _race_best_sectors(sector_laps)
    board = list(Submission.objects.leaderboard(race)[:LIVE_BOARD_ROWS])
    winner = race_winner(race) if race.is_finished else None
    if isinstance(current, Heat):
        current_state = _heat_state(current)
    else:
        current_state = _run_state(current, sector_laps) if current else None
    return {
        "race": str(race.pk), "name": race.name, "auto_launch": race.auto_launch,
        "finished": race.is_finished, "max_laps": race.max_laps, "max_resets": race.max_resets,
        "head_to_model": race.is_head_to_model, "heat_laps": race.heat_laps,
        "current": current_state,
        "queue": [_queued_state(place, item) for place, item in enumerate(live_queue(race), start=1)],
        "race_best_sectors": race_best,
        "leader_ms": board[0].leader_ms if board else None,
        "board": [{"submission": row.pk, "rank": row.rank, "racer": row.racer_name, "model": row.model_name,
                   "time": row.ranking_time, "gap": row.gap, "best_lap": row.best_lap_time,
                   "laps": row.laps_completed, "resets": row.reset_count} for row in board],
        "last_heat": _last_heat_state(race) if race.is_head_to_model else None,
        "winner": _winner_state(race, winner) if winner is not None else None,
    }


def _winner_state(race: Race, winner: Submission) -> dict:
    if race.is_head_to_model and Heat.objects.final_of(race) is not None:
        time = "winner of the final"
    else:
        time = winner.ranking_time or f"{winner.laps_completed} laps completed, not ranked"
    return {"racer": winner.racer_display, "model": winner.model_name, "time": time}


def _run_state(run: Submission, sector_laps: dict) -> dict:
    job = run.evaluation
    return {"kind": "run", "submission": run.pk, "racer": run.racer_display, "model": run.model_name,
            "job": job.pk if job else None, "status": job.status if job else "",
            # Every worker is busy (the fair queue gives it the next free one): the room waits, the page says so.
            "waiting_for_worker": job is not None and job.status in WAITING_STATUSES,
            "laps": sorted(job.results, key=lambda lap: lap["trial"]) if job else [],
            "personal_best_sectors": timing.best_sectors(sector_laps.get(run.participant.user_id, []))}


def _heat_state(heat: Heat) -> dict:
    job = heat.job
    return {"kind": "heat", "heat": heat.pk, "name": heat.name, "job": job.pk if job else None,
            "status": job.status if job else "", "laps": heat.race.heat_laps,
            "cars": [_car_state(entry, seed) for entry, seed in zip(heat.entries, (heat.first_seed, heat.second_seed),
                                                                   strict=True)]}


def _car_state(entry: Submission | None, seed: int | None) -> dict:
    if entry is None:
        return {"racer": "", "model": "", "submission": None, "seed": seed}
    return {"racer": entry.racer_display, "model": entry.model_name, "submission": entry.pk, "seed": seed}


def _last_heat_state(race: Race) -> dict | None:
    heat = (Heat.objects.filter(race=race, status=HeatStatus.COMPLETED).for_pages()
            .order_by("-finished_at", "-number").first())
    if heat is None:
        return None
    return {"heat": heat.pk, "name": heat.name, "winner": heat.winner.racer_display if heat.winner else None,
            "decided": heat.decided_label, "racers": [entry.racer_display for entry in heat.entries if entry]}


def _queued_state(place: int, item: QueueItem) -> dict:
    if isinstance(item, Heat):
        racers = [entry.racer_display for entry in item.entries if entry is not None]
        return {"kind": "heat", "key": item.queue_key, "heat": item.pk, "place": place,
                "racer": " vs ".join(racers), "model": item.name,
                "users": [entry.participant.user_id for entry in item.entries if entry is not None]}
    return {"kind": "run", "key": item.queue_key, "submission": item.pk, "place": place,
            "racer": item.racer_display, "model": item.model_name, "user": item.participant.user_id}


def live_queue_position(item: QueueItem) -> int | None:
    """A queued run's (or heat's) place in the facilitator's queue (1 = next)."""
    if item.status != QUEUED:
        return None
    keys = [queued.queue_key for queued in live_queue(item.race)]
    return keys.index(item.queue_key) + 1 if item.queue_key in keys else None


# ------------------------------------------------------------------------------------------ head-to-model
#
# Heats put two entries of a head-to-model race on the track at once (training's heat job, through the fair
# queue). The organiser (race day's crew in a live race) pairs two entries by hand or seeds a single-
# elimination bracket from the leaderboard. When a heat ends (races.receivers hears training's
# heat_finished), its winner advances into the next round's heat, which is ready once both its racers are
# known. A live race's ready heats join the facilitator's queue. A non-live race's wait for the organiser
# to start them, except later rounds, which start as soon as both racers are known: starting the first
# round runs the bracket. The final's winner is the race's winner.


def _require_heats(race: Race) -> None:
    if not race.is_head_to_model:
        raise RaceError("Heats are for head-to-model races.")
    if race.is_finished:
        raise RaceError("The race is finished.")


def _next_heat_number(race: Race) -> int:
    return (Heat.objects.filter(race=race).aggregate(last=Max("number"))["last"] or 0) + 1


def _lock_race(race: Race) -> None:
    Race.objects.select_for_update().filter(pk=race.pk).values_list("pk", flat=True).first()


def _check_entry(race: Race, entry: Submission, field: str) -> None:
    if entry.race_id != race.pk or entry.status != SubmissionStatus.COMPLETED or \
            entry.participant.removed_at is not None:
        raise RaceError("Pick an entry on this race's leaderboard (a completed submission).", field=field)


def heat_pair(race: Race, first: Submission, second: Submission) -> Heat:
    """Pair two entries by hand (two racers' completed submissions): `first` starts on the line."""
    _require_heats(race)
    _check_entry(race, first, "first")
    _check_entry(race, second, "second")
    if first.participant_id == second.participant_id:
        raise RaceError("A heat is between two racers: pick an entry of another racer.", field="second")
    with transaction.atomic():
        _lock_race(race)
        heat = Heat.objects.create(race=race, number=_next_heat_number(race), first=first, second=second)
    _heat_paired(heat)
    return heat


def bracket_seed(race: Race, size: int) -> list[Heat]:
    """A single-elimination bracket of the leaderboard's first `size` entries (4, 8 or 16), in standard
    seeding (1v8, 4v5, 2v7, 3v6 ...): every round's heats, the first round's paired."""
    _require_heats(race)
    try:
        brackets.check_size(size)
    except brackets.BracketError as error:
        raise RaceError(str(error), field="size") from None
    with transaction.atomic():
        _lock_race(race)
        if Heat.objects.of_bracket(race).exists():
            raise RaceError("This race has a bracket already: discard it to seed a new one.", field="size")
        board = list(Submission.objects.leaderboard(race)[:size])
        if len(board) < size:
            raise RaceError(f"A bracket of {size} needs {size} racers on the leaderboard; it has {len(board)}.",
                            field="size")
        number = _next_heat_number(race)
        pairs = dict(enumerate(brackets.first_round(size), start=1))
        heats = []
        for round_number in range(1, brackets.rounds(size) + 1):
            for slot in range(1, brackets.heats_in_round(size, round_number) + 1):
                heat = Heat(race=race, number=number, bracket_size=size, round=round_number, slot=slot,
                            status=HeatStatus.WAITING)
                if round_number == 1:
                    heat.first_seed, heat.second_seed = pairs[slot]
                    heat.first, heat.second = board[heat.first_seed - 1], board[heat.second_seed - 1]
                heat.save()
                heats.append(heat)
                number += 1
    for heat in heats:
        if heat.is_paired:
            _heat_paired(heat)
    return heats


def bracket_discard(race: Race) -> int:
    """Delete the bracket (seeded by mistake, or to seed again): refused while one of its heats races."""
    heats = Heat.objects.of_bracket(race)
    if heats.filter(status=HeatStatus.RUNNING).exists():
        raise RaceError("A heat of the bracket is on track: stop it or wait for it to finish.")
    discarded, _ = heats.delete()
    _announce(race, "heats")
    _announce_live(race, "queue")
    return discarded


def heat_remove(heat: Heat) -> None:
    """Delete a heat paired by hand that has not raced (a bracket's heats go with the bracket)."""
    if heat.round is not None:
        raise RaceError("A bracket's heats stay in the bracket: discard the bracket instead.")
    if heat.status not in (HeatStatus.READY, HeatStatus.QUEUED, HeatStatus.FAILED):
        raise RaceError("Only a heat that has not raced can be removed.")
    race = heat.race
    heat.delete()
    _announce(race, "heats")
    _announce_live(race, "queue")


def _heat_paired(heat: Heat, *, start: bool = False) -> None:
    """A heat whose two racers are known: into a live race's queue; in another race, ready for the organiser
    (`start`: started at once, as a bracket's later rounds are)."""
    race = heat.race
    if race.is_live:
        live_enqueue(heat)
    else:
        heat.status = HeatStatus.READY
        heat.save(update_fields=["status"])
        if start:
            _heat_start_or_fail(heat)
    _announce(race, "heats", heat=heat.pk)


def heat_dispatch(heat: Heat) -> HeatJob:
    """The one place a heat is handed to the workers: its heat job under the race's rules, on the organiser's
    track and quota, through the fair queue (raises training.JobError)."""
    race = heat.race
    for entry in heat.entries:
        if entry.model is None:
            raise training.JobError(f"{entry.model_name} was deleted: the heat cannot race.")
    job = training.heat_start(
        requested_by=race.owner, model=heat.first.model, opponent=heat.second.model, track=race.track,
        track_owner=race.owner, track_reversed=race.track_reversed, race_type=race.env_race_type,
        laps=race.heat_laps, continuous=race.continuous, off_track_penalty=race.off_track_penalty,
        collision_penalty=race.collision_penalty, max_seconds=float(race.heat_seconds), label=heat.label,
        live=race.is_live)
    replaced = heat.job_id  # a failed or drawn attempt: the new one's replay is the one the heat shows
    heat.job, heat.status = job, HeatStatus.RUNNING
    heat.result, heat.winner, heat.failure_reason, heat.finished_at = {}, None, "", None
    heat.save(update_fields=["job", "status", "result", "winner", "failure_reason", "finished_at"])
    if replaced is not None:
        training.heat_discard(replaced)
    # The heat's page follows the new job once this is committed (its socket reads the heat again).
    transaction.on_commit(lambda: _publish(heat.group, "heat", {"heat": heat.pk, "status": heat.status}))
    return job


def _heat_start_or_fail(heat: Heat) -> bool:
    """Start a non-live race's heat; one that cannot start fails with the reason, told to its racers."""
    try:
        heat_dispatch(heat)
    except training.JobError as error:
        _heat_failed(heat, str(error))
        return False
    return True


def _heat_failed(heat: Heat, reason: str) -> None:
    heat.status, heat.failure_reason, heat.finished_at = HeatStatus.FAILED, reason, timezone.now()
    heat.save(update_fields=["status", "failure_reason", "finished_at"])
    for user_id, _ in _racers_of(heat):
        _notify(user_id, f"{heat.name} of {heat.race.name} could not start: {reason}", "error")
    _publish(heat.group, "heat", {"heat": heat.pk, "status": heat.status})


def heat_run(heat: Heat) -> Heat:
    """Start (or re-run, after a failure or a draw) a heat of a race that is not live: its heat job joins the
    fair queue. A live race's heats run from the facilitator's queue instead."""
    race = heat.race
    _require_heats(race)
    if race.is_live:
        raise RaceError("In a live race, heats run from the race-day queue: launch them on the control page.")
    if not heat.is_paired:
        raise RaceError("This heat waits for the winners of the earlier heats.")
    if heat.status != HeatStatus.READY and not heat.may_run_again:
        raise RaceError("This heat is on track already." if heat.status == HeatStatus.RUNNING
                        else "This heat has a winner already.")
    if not _heat_start_or_fail(heat):
        raise RaceError(f"{heat.name} could not start: {heat.failure_reason}")
    _announce(race, "heats", heat=heat.pk)
    return heat


def heats_run_ready(race: Race) -> int:
    """Start every ready heat of a race that is not live (the first round of a new bracket, heats paired by
    hand); returns how many started (those that cannot start fail with the reason)."""
    _require_heats(race)
    if race.is_live:
        raise RaceError("In a live race, heats run from the race-day queue: launch them on the control page.")
    ready = list(Heat.objects.filter(race=race, status=HeatStatus.READY).for_pages().order_by("number"))
    if not ready:
        raise RaceError("No heat is ready to start.")
    started = sum(_heat_start_or_fail(heat) for heat in ready)
    _announce(race, "heats")
    return started


def heat_stop(heat: Heat) -> None:
    """Stop a heat on track (the heat fails; it can run again). A live race's heat stops from the control
    page like a run (live_stop)."""
    if heat.status != HeatStatus.RUNNING or heat.job is None:
        raise RaceError("This heat is not on track.")
    training.heat_stop(heat.job)


def heat_finish(job: HeatJob) -> Heat | None:
    """Record a finished heat job (races.receivers): the result and winner, the winner advanced into the next
    round, the racers told, the pages announced; in a live race, the queue goes on. Idempotent."""
    with transaction.atomic():
        heat = Heat.objects.select_for_update().filter(job_id=job.pk).first()
        if heat is None or heat.status != HeatStatus.RUNNING:
            return heat
        heat = Heat.objects.for_pages().get(pk=heat.pk)
        if job.status == JobStatus.COMPLETED:
            heat.record(job.result)
            heat.status, heat.failure_reason = HeatStatus.COMPLETED, ""
        else:
            heat.status = HeatStatus.FAILED
            heat.failure_reason = job.failure_message or "The heat was stopped before it finished."
        heat.finished_at = timezone.now()
        heat.save(update_fields=["result", "winner", "status", "failure_reason", "finished_at"])
        following = _advance(heat)
    race = heat.race
    _publish(heat.group, "heat", {"heat": heat.pk, "status": heat.status})
    _announce(race, "heats", heat=heat.pk)
    _tell_heat_racers(heat)
    if following is not None:
        _heat_paired(following, start=True)
    if race.is_live:
        live_run_finished(heat)
    return heat


def _advance(heat: Heat) -> Heat | None:
    """Inside the heat's transaction: put a bracket heat's winner into their next heat; that heat when both
    its racers are now known."""
    if heat.round is None or heat.winner_id is None:
        return None
    target = brackets.next_heat(heat.bracket_size, heat.round, heat.slot)
    if target is None:
        return None  # the final: its winner is the race's
    round_number, slot, car = target
    following = Heat.objects.select_for_update().get(race_id=heat.race_id, round=round_number, slot=slot)
    seed = heat.first_seed if heat.winner_id == heat.first_id else heat.second_seed
    if car == 0:
        following.first_id, following.first_seed = heat.winner_id, seed
    else:
        following.second_id, following.second_seed = heat.winner_id, seed
    following.save(update_fields=["first", "first_seed", "second", "second_seed"])
    if not following.is_paired or following.status != HeatStatus.WAITING:
        return None
    return Heat.objects.for_pages().get(pk=following.pk)


def _tell_heat_racers(heat: Heat) -> None:
    race = heat.race
    final = heat.round is not None and brackets.next_heat(heat.bracket_size, heat.round, heat.slot) is None
    for entry in heat.entries:
        where = f"{heat.name} of {race.name}"
        if heat.status == HeatStatus.FAILED:
            message, level = f"{where} failed: {heat.failure_reason}", "error"
        elif heat.winner_id is None:
            message, level = f"{where} was a draw: it runs again.", "info"
        elif heat.winner_id == entry.pk:
            message, level = f"{entry.model_name} won {where}{': you win the race!' if final else '.'}", "success"
        else:
            message, level = f"{entry.model_name} lost {where} to {heat.winner.racer_display}.", "info"
        _notify(entry.participant.user_id, message, level)


def racer_heats(race: Race, user) -> list[Heat]:
    """`user`'s heats in the race, each with `queue_position` (its place in race day's queue, or None)."""
    heats = list(Heat.objects.filter(race=race).filter(Q(first__participant__user=user)
                                                       | Q(second__participant__user=user))
                 .for_pages().order_by("number"))
    keys = [item.queue_key for item in live_queue(race)] if any(heat.status == QUEUED for heat in heats) else []
    for heat in heats:
        heat.queue_position = keys.index(heat.queue_key) + 1 if heat.queue_key in keys else None
    return heats


def bracket_rounds(race: Race) -> list[dict]:
    """The bracket's rounds for the pages: [{"number", "name", "heats"}], first round first ([] if none)."""
    heats = list(Heat.objects.of_bracket(race).for_pages())
    rounds: dict[int, dict] = {}
    for heat in heats:
        rounds.setdefault(heat.round, {"number": heat.round, "name": brackets.round_name(heat.bracket_size,
                                                                                          heat.round),
                                       "heats": []})["heats"].append(heat)
    return [rounds[number] for number in sorted(rounds)]
