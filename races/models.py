"""Community races (SPEC 4): a race, its participants and their submissions, and the leaderboard query.

A race's rules are fixed once it opens (only name, description and a later close time may change), so a
submission's ranking time is computed once, when its evaluation finishes (races.ranking), and stored;
the leaderboard (each racer's best entry, ranks, the leader's time) is computed in SQL from those rows.
"""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, Subquery, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from models_app import race_types
from races import brackets, ranking, rules

MAX_NAME, MAX_DESCRIPTION = 64, 1000
MIN_LAPS_LIMIT = 1
MAX_SUBMISSIONS_LIMIT = 100
MAX_RESETS_DEFAULT, MAX_RESETS_LIMIT = 3, 100
# Head-to-model heats: laps to win and the sim-clock limit after which the car further along wins.
HEAT_LAPS_DEFAULT, MAX_HEAT_LAPS = 1, 5
HEAT_SECONDS_DEFAULT, MIN_HEAT_SECONDS, MAX_HEAT_SECONDS = 180, 10, 600
INVITE_TOKEN_BYTES = 24  # 32 URL-safe characters: unguessable


def new_invite_token() -> str:
    return secrets.token_urlsafe(INVITE_TOKEN_BYTES)


class RaceQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Open races, and private ones the user organises or takes part in (not removed from)."""
        from common.roles import is_admin

        if not user.is_authenticated:
            return self.none()
        if is_admin(user):
            return self
        member = Participant.objects.filter(race=OuterRef("pk"), user=user, removed_at__isnull=True)
        return self.filter(Q(is_open=True) | Q(owner=user) | Q(Exists(member)))

    def with_track_titles(self):
        """Imported tracks' titles in the list query (a list shows one per row)."""
        from models_app.models import imported_track_title

        return self.annotate(imported_track_title=imported_track_title(OuterRef("owner"), OuterRef("track")))

    def with_racer_counts(self):
        """`racer_count`: racers with at least one completed entry on the board (a subquery, no join)."""
        on_board = (Submission.objects.filter(race=OuterRef("pk"), status=SubmissionStatus.COMPLETED,
                                              participant__removed_at__isnull=True)
                    .order_by().values("race").annotate(racers=Count("participant", distinct=True)).values("racers"))
        return self.annotate(racer_count=Coalesce(Subquery(on_board), 0))


class Race(models.Model):
    """A community race: rules, window and who may see it. `is_open` races (created by facilitators and
    admins) are listed for everyone; private ones are reached through the invite link."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organised_races")
    name = models.CharField(max_length=MAX_NAME)
    description = models.TextField(max_length=MAX_DESCRIPTION, blank=True)
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, default="UTC", help_text="the organiser's, for pages without JS")
    track = models.CharField(max_length=64, help_text="a built-in track's slug or the organiser's user-<id>")
    track_reversed = models.BooleanField(default=False)
    race_type = models.JSONField(default=dict, help_text="the env's race_type dict (models_app.race_types), or "
                                                         "head-to-model (races.rules)")
    ranking_method = models.CharField(max_length=16, choices=ranking.RANKING_METHODS.items(),
                                      default=ranking.BEST_LAP_TIME)
    min_laps = models.PositiveSmallIntegerField(default=1)
    max_laps = models.PositiveSmallIntegerField(default=3, help_text="laps driven per submission")
    continuous = models.BooleanField(default=False)
    off_track_penalty = models.FloatField(default=5.0)
    collision_penalty = models.FloatField(default=5.0)
    max_submissions = models.PositiveSmallIntegerField(default=10, help_text="per racer")
    is_open = models.BooleanField(default=False, help_text="listed for every racer (facilitators and admins)")
    invite_token = models.CharField(max_length=64, unique=True, default=new_invite_token)
    closed_early = models.BooleanField(default=False)
    # Race day (live races, races.live): submissions wait in the facilitator's queue; one run at a time.
    is_live = models.BooleanField(default=False, help_text="run on race day from the facilitator's queue")
    event_at = models.DateTimeField(null=True, blank=True, help_text="when race day starts (live races)")
    max_resets = models.PositiveSmallIntegerField(
        default=MAX_RESETS_DEFAULT, help_text="resets a live run may use; laps after the limit do not count")
    auto_launch = models.BooleanField(default=False, help_text="launch the queue's next run when one ends")
    finished_at = models.DateTimeField(null=True, blank=True, help_text="the facilitator declared the end")
    broadcast_token = models.CharField(max_length=64, unique=True, default=new_invite_token,
                                       help_text="the read-only broadcast link (a projector)")
    # Head-to-model races (race_type HEAD_TO_MODEL): the heats' rules.
    heat_laps = models.PositiveSmallIntegerField(default=HEAT_LAPS_DEFAULT,
                                                 help_text="head-to-model: the first car to drive these laps wins")
    heat_seconds = models.PositiveSmallIntegerField(
        default=HEAT_SECONDS_DEFAULT, help_text="head-to-model: a heat's sim-time limit (then the car further along "
                                                "wins)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RaceQuerySet.as_manager()

    class Meta:
        ordering = ["-opens_at", "-created_at"]

    def __str__(self):
        return self.name

    @property
    def group(self) -> str:
        """The channel-layer group of the race's open pages."""
        return f"race.{self.pk}"

    # -- the window --------------------------------------------------------------------------------
    def has_opened(self, now=None) -> bool:
        return (now or timezone.now()) >= self.opens_at

    def is_closed(self, now=None) -> bool:
        return (now or timezone.now()) >= self.closes_at

    def accepts_submissions(self, now=None) -> bool:
        return self.has_opened(now) and not self.is_closed(now)

    @property
    def state(self) -> str:
        if self.is_closed():
            return "closed"
        return "open" if self.has_opened() else "upcoming"

    @property
    def state_label(self) -> str:
        return {"closed": "Closed", "open": "Open", "upcoming": "Not open yet"}[self.state]

    # -- rules, as the pages say them ------------------------------------------------------------
    @property
    def race_type_name(self) -> str:
        return (self.race_type or {}).get("race_type", race_types.TIME_TRIAL)

    @property
    def race_type_label(self) -> str:
        return rules.describe_race_type(self.race_type)

    @property
    def is_head_to_model(self) -> bool:
        return self.race_type_name == rules.HEAD_TO_MODEL

    @property
    def env_race_type(self) -> dict:
        """The race type the env drives each run and heat under."""
        return rules.env_race_type(self.race_type)

    @property
    def heat_rules_label(self) -> str:
        laps = f"{self.heat_laps} lap{'s' if self.heat_laps != 1 else ''}"
        return f"First to finish {laps} wins; after {self.heat_seconds} s the car further along wins"

    @property
    def ranking_label(self) -> str:
        label = ranking.RANKING_METHODS[self.ranking_method]
        if self.ranking_method == ranking.AVG_LAP_TIME:
            return f"{label} over {self.min_laps} consecutive laps" if self.min_laps > 1 else f"{label} (1 lap)"
        if self.ranking_method == ranking.TOTAL_TIME:
            return f"{label} of the first {self.min_laps} lap{'s' if self.min_laps != 1 else ''}"
        return label

    @property
    def track_title(self) -> str:
        from models_app.models import UNKNOWN_TITLE, track_title

        return track_title(self.owner_id, self.track, getattr(self, "imported_track_title", UNKNOWN_TITLE))

    def get_track(self):
        from models_app.tracks import resolve_track

        return resolve_track(self.owner_id, self.track, self.track_reversed)

    # -- who may do what -------------------------------------------------------------------------------
    def is_managed_by(self, user) -> bool:
        """The organiser (and admins) reset the link, remove racers, close, edit and delete."""
        from common.roles import is_admin

        return user.is_authenticated and (self.owner_id == user.pk or is_admin(user))

    def is_run_by(self, user) -> bool:
        """Race day's control page: the organiser, admins and race facilitators (who can see the race)."""
        from common.roles import RACE_FACILITATOR, has_role

        return self.is_live and (self.is_managed_by(user) or has_role(user, RACE_FACILITATOR))

    def runs_heats(self, user) -> bool:
        """Who pairs entries, seeds the bracket and starts heats: race day's crew in a live race, the
        organiser (and admins) otherwise."""
        if not self.is_head_to_model:
            return False
        return self.is_run_by(user) if self.is_live else self.is_managed_by(user)

    @property
    def live_group(self) -> str:
        """The channel-layer group of race day's pages (queue, current run, winner)."""
        return f"race.{self.pk}.live"

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None


class Participant(models.Model):
    """A racer in a race: joined through the invite link (private races) or by submitting (open ones).
    A removed racer's entries leave the board and the invite link no longer lets them back in."""

    race = models.ForeignKey(Race, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="race_entries")
    joined_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [models.UniqueConstraint(fields=["race", "user"], name="one_participant_per_race_and_user")]

    def __str__(self):
        return f"{self.user} in {self.race}"


class SubmissionStatus(models.TextChoices):
    QUEUED = "QUEUED", "In the race-day queue"
    WAITING = "WAITING", "Waiting for your earlier submission"
    RUNNING = "RUNNING", "Submitted"  # its evaluation job says queued or in progress
    COMPLETED = "COMPLETED", "Completed"
    FAILED = "FAILED", "Failed"


ACTIVE_SUBMISSION_STATUSES = (SubmissionStatus.QUEUED, SubmissionStatus.WAITING, SubmissionStatus.RUNNING)

# What a board row reads (not the laps or the evaluation's results: JSON the board never shows).
BOARD_FIELDS = ("race_id", "participant__user_id", "model_name", "evaluation__video", "status", "submitted_at",
                "ranking_ms", "best_lap_ms", "laps_completed", "best_completion", "off_track_count", "crash_count",
                "penalty_seconds", "reset_count")

# The leaderboard's order: ranked entries by time (ties: the earlier submission), then unranked ones by
# laps completed and best completion. Used for each racer's best entry and for the ranks alike.
BOARD_ORDER = (F("ranking_ms").asc(nulls_last=True), F("laps_completed").desc(), F("best_completion").desc(),
               F("submitted_at").asc(), F("id").asc())


class SubmissionQuerySet(models.QuerySet):
    def entries_of(self, race):
        """Completed submissions of racers still in the race."""
        return self.filter(race=race, status=SubmissionStatus.COMPLETED, participant__removed_at__isnull=True)

    def racer_count(self, race) -> int:
        """How many rows the board has (racers with an entry), without ranking anything."""
        return self.entries_of(race).values("participant_id").distinct().count()

    def ahead_of(self, entry):
        """Entries that come before `entry` in the board's order (BOARD_ORDER, spelt as a filter)."""
        same_time = Q(ranking_ms=entry.ranking_ms) if entry.ranking_ms is not None else Q(ranking_ms__isnull=True)
        later_keys = (Q(laps_completed__gt=entry.laps_completed)
                      | Q(laps_completed=entry.laps_completed, best_completion__gt=entry.best_completion)
                      | Q(laps_completed=entry.laps_completed, best_completion=entry.best_completion,
                          submitted_at__lt=entry.submitted_at)
                      | Q(laps_completed=entry.laps_completed, best_completion=entry.best_completion,
                          submitted_at=entry.submitted_at, id__lt=entry.pk))
        if entry.ranking_ms is None:
            return self.filter(Q(ranking_ms__isnull=False) | (same_time & later_keys))
        return self.filter(Q(ranking_ms__lt=entry.ranking_ms) | (same_time & later_keys))

    def best_per_racer(self, race):
        place = Window(RowNumber(), partition_by=[F("participant_id")], order_by=BOARD_ORDER)
        return self.entries_of(race).annotate(racer_place=place).filter(racer_place=1)

    def leaderboard(self, race):
        """Each racer's best entry with `rank` (1, 2, ...) and `leader_ms`, in board order: one query."""
        best = self.best_per_racer(race).values("pk")
        return (self.filter(pk__in=best)
                .annotate(rank=Window(RowNumber(), order_by=BOARD_ORDER), leader_ms=Window(Min("ranking_ms")),
                          racer_name=F("participant__user__racer__racer_name"))
                .select_related("evaluation", "participant").only(*BOARD_FIELDS)
                .order_by(*BOARD_ORDER))

    def ranked_in(self, races):
        """Each racer's best entry in each of `races`, with `rank` on its race's board (one query)."""
        best = self.filter(race__in=races, status=SubmissionStatus.COMPLETED, participant__removed_at__isnull=True) \
            .annotate(racer_place=Window(RowNumber(), partition_by=[F("participant_id")], order_by=BOARD_ORDER)) \
            .filter(racer_place=1).values("pk")
        return (self.filter(pk__in=best)
                .annotate(rank=Window(RowNumber(), partition_by=[F("race_id")], order_by=BOARD_ORDER),
                          leader_ms=Window(Min("ranking_ms"), partition_by=[F("race_id")]),
                          racer_name=F("participant__user__racer__racer_name"),
                          # The racer as a window value: filtering on it happens after the ranking
                          # (a plain column filter would rank the racer's rows alone).
                          racer_id_ranked=Window(Max("participant__user_id"), partition_by=[F("participant_id")]))
                .select_related("evaluation", "participant").only(*BOARD_FIELDS)
                .order_by("race_id", "rank"))

    def top_of(self, races, count=3):
        """The first `count` rows of each race's leaderboard, for many races in one query."""
        return self.ranked_in(races).filter(rank__lte=count)

    def of_racer_ranked(self, races, user):
        """`user`'s best entry in each of `races`, ranked among everyone's (one query)."""
        return self.ranked_in(races).filter(racer_id_ranked=user.pk)

    def active(self):
        return self.filter(status__in=ACTIVE_SUBMISSION_STATUSES)


class Submission(models.Model):
    """One model entered into a race: an evaluation under the race's rules; when it completes, its laps
    and score. Every submission stays listed for its racer with its status and, on failure, the reason."""

    race = models.ForeignKey(Race, on_delete=models.CASCADE, related_name="submissions")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="submissions")
    model = models.ForeignKey("models_app.RLModel", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="race_submissions")
    model_name = models.CharField(max_length=64, help_text="kept when the model is deleted")
    evaluation = models.OneToOneField("training.EvaluationJob", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="race_submission")
    status = models.CharField(max_length=16, choices=SubmissionStatus.choices, default=SubmissionStatus.WAITING)
    failure_reason = models.TextField(blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    laps = models.JSONField(default=list, blank=True, help_text="the evaluation's trial records (SPEC 4)")
    ranking_ms = models.PositiveIntegerField(null=True, blank=True)
    best_lap_ms = models.PositiveIntegerField(null=True, blank=True)
    laps_completed = models.PositiveSmallIntegerField(default=0)
    best_completion = models.FloatField(default=0.0)
    off_track_count = models.PositiveIntegerField(default=0)
    crash_count = models.PositiveIntegerField(default=0)
    penalty_seconds = models.FloatField(default=0.0)
    reset_count = models.PositiveIntegerField(default=0)
    queue_order = models.PositiveIntegerField(default=0, help_text="place in a live race's queue (smallest first)")

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["race", "status"], name="race_submission_status")]

    def __str__(self):
        return f"{self.model_name} in {self.race_id}"

    @property
    def racer_id(self) -> int:
        return self.participant.user_id

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_SUBMISSION_STATUSES

    @property
    def status_label(self) -> str:
        if self.status == SubmissionStatus.RUNNING and self.evaluation is not None:
            return self.evaluation.get_status_display()
        return self.get_status_display()

    @property
    def ranking_time(self) -> str:
        return ranking.format_ms(self.ranking_ms)

    @property
    def best_lap_time(self) -> str:
        return ranking.format_ms(self.best_lap_ms)

    @property
    def gap(self) -> str:
        leader = getattr(self, "leader_ms", None)
        if self.ranking_ms is None or leader is None:
            return ""
        return ranking.format_gap(self.ranking_ms - leader)

    def record(self, score: ranking.Score, laps: list[dict]) -> None:
        """Keep the finished evaluation's laps and score (saved by the caller)."""
        self.laps = laps
        self.ranking_ms = score.ranking_ms
        self.best_lap_ms = score.best_lap_ms
        self.laps_completed = score.laps_completed
        self.best_completion = score.best_completion
        self.off_track_count = score.off_track_count
        self.crash_count = score.crash_count
        self.penalty_seconds = score.penalty_seconds
        self.reset_count = score.reset_count

    @property
    def queue_key(self) -> str:
        """The run's key in a live race's queue, which holds runs and heats (races.services.live_queue)."""
        return f"run:{self.pk}"

    @property
    def racer_display(self) -> str:
        profile = getattr(self.participant.user, "racer", None)
        return getattr(profile, "racer_name", "") or self.participant.user.get_username()


# ---------------------------------------------------------------------------------------- head-to-model


class HeatStatus(models.TextChoices):
    WAITING = "WAITING", "Waiting for the earlier heats"  # a later bracket round: its racers are not known yet
    READY = "READY", "Ready to start"
    QUEUED = "QUEUED", "In the race-day queue"
    RUNNING = "RUNNING", "On track"  # its heat job is queued for a worker or racing
    COMPLETED = "COMPLETED", "Finished"
    FAILED = "FAILED", "Failed"


# Who the pages name in a heat: the entries' racers and the winner, in one query with the heat.
HEAT_RELATIONS = ("race", "job", "first__participant__user__racer", "second__participant__user__racer",
                  "winner__participant__user__racer")


class HeatQuerySet(models.QuerySet):
    def for_pages(self):
        return self.select_related(*HEAT_RELATIONS)

    def of_bracket(self, race):
        return self.filter(race=race, round__isnull=False).order_by("round", "slot")

    def paired_by_hand(self, race):
        return self.filter(race=race, round__isnull=True).order_by("number")

    def final_of(self, race):
        """The bracket's final (the heat of the last round), or None."""
        return self.of_bracket(race).order_by("-round").first()


class Heat(models.Model):
    """Two entries of a head-to-model race on the track at once (training's HeatJob runs it). A bracket's
    heats are created when it is seeded, later rounds empty until the winners of the earlier heats advance
    into them; heats paired by hand have no round."""

    race = models.ForeignKey(Race, on_delete=models.CASCADE, related_name="heats")
    number = models.PositiveIntegerField(help_text="1, 2, ... in the race, in order of creation")
    bracket_size = models.PositiveSmallIntegerField(null=True, blank=True, help_text="4, 8 or 16; none: by hand")
    round = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1 = the bracket's first round")
    slot = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1, 2, ... top to bottom in its round")
    # The two entries in grid order (car 0, car 1): completed submissions, each a racer and a model.
    first = models.ForeignKey(Submission, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Submission, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    first_seed = models.PositiveSmallIntegerField(null=True, blank=True)
    second_seed = models.PositiveSmallIntegerField(null=True, blank=True)
    job = models.OneToOneField("training.HeatJob", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="race_heat")
    status = models.CharField(max_length=16, choices=HeatStatus.choices, default=HeatStatus.READY)
    failure_reason = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="the heat job's result, kept with the heat")
    winner = models.ForeignKey(Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    queue_order = models.PositiveIntegerField(default=0, help_text="place in a live race's queue (smallest first)")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = HeatQuerySet.as_manager()

    class Meta:
        ordering = ["race", "number"]
        constraints = [
            models.UniqueConstraint(fields=["race", "number"], name="one_heat_number_per_race"),
            models.UniqueConstraint(fields=["race", "round", "slot"], condition=Q(round__isnull=False),
                                    name="one_heat_per_bracket_slot"),
        ]

    def __str__(self):
        return f"{self.name} of {self.race_id}"

    @property
    def name(self) -> str:
        if self.round is None:
            return f"Heat {self.number}"
        return brackets.heat_name(self.bracket_size, self.round, self.slot)

    @property
    def label(self) -> str:
        """What the heat job is called where its racers see it."""
        return f"{self.name} of {self.race.name}"

    @property
    def group(self) -> str:
        """The channel-layer group of the heat's page (started, finished)."""
        return f"race.{self.race_id}.heat.{self.pk}"

    @property
    def queue_key(self) -> str:
        return f"heat:{self.pk}"

    @property
    def entries(self) -> list[Submission | None]:
        return [self.first, self.second]

    @property
    def is_paired(self) -> bool:
        return self.first_id is not None and self.second_id is not None

    @property
    def is_draw(self) -> bool:
        """Finished without a winner: neither car finished and both got equally far (re-run it)."""
        return self.status == HeatStatus.COMPLETED and self.winner_id is None

    @property
    def may_run_again(self) -> bool:
        return self.status == HeatStatus.FAILED or self.is_draw

    @property
    def decided_by(self) -> str:
        return self.result.get("decided_by", "")

    @property
    def decided_label(self) -> str:
        """How the heat was decided, as its page says it."""
        if self.status != HeatStatus.COMPLETED:
            return ""
        if self.winner_id is None:
            return "A draw: neither car finished and both got equally far. Run it again."
        if self.decided_by == "finish":
            laps = self.race.heat_laps
            return f"First across the line after {laps} lap{'s' if laps != 1 else ''}."
        if self.decided_by == "all_out":
            return "Both cars were out of the race: the winner got further."
        seconds = self.result.get("sim_seconds")
        limit = f" after {seconds:g} s" if isinstance(seconds, (int, float)) else ""
        return f"Time limit{limit}: neither car finished, the winner was further along."

    def cars(self) -> list[dict]:
        """Each car's result (the heat job's) with its entry, in grid order; [] before the heat finished."""
        cars = self.result.get("cars") or []
        return [{**car, "entry": entry, "won": entry is not None and entry.pk == self.winner_id,
                 "laps_shown": [_seconds_shown(time) for time in car.get("lap_times") or []],
                 "total_shown": _seconds_shown(car.get("total_time")),
                 "laps_driven": (car.get("progress") or 0) / 100}  # progress: % of a lap, 100 per lap
                for car, entry in zip(cars, self.entries, strict=False)]

    def record(self, result: dict) -> None:
        """Keep the finished heat job's result and its winner (saved by the caller)."""
        self.result = result
        winner = result.get("winner")
        self.winner = self.entries[winner] if winner in (0, 1) else None


def _seconds_shown(seconds) -> str:
    """A heat's time in seconds as the console shows lap times (MM:SS.mmm); "" for none."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return ""
    return ranking.format_ms(round(seconds * 1000))
