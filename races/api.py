"""REST API for races, their leaderboards and submissions, with the pages' rules: a race is found through
Race.objects.visible_to(user) (404 for a stranger to a private race); the organiser's actions answer 404 to
anyone else; a racer sees only their own submissions."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from common.openapi import detail_response, field_errors_response
from common.roles import is_admin
from models_app import race_types
from models_app.models import RLModel
from models_app.tracks import track_options
from races import brackets, ranking, services
from races.forms import may_create_open_races, zone_named
from races.models import (
    HEAT_LAPS_DEFAULT,
    HEAT_SECONDS_DEFAULT,
    MAX_DESCRIPTION,
    MAX_HEAT_LAPS,
    MAX_HEAT_SECONDS,
    MAX_NAME,
    MAX_RESETS_DEFAULT,
    MAX_RESETS_LIMIT,
    MAX_SUBMISSIONS_LIMIT,
    MIN_HEAT_SECONDS,
    Heat,
    HeatStatus,
    Race,
    Submission,
)
from races.rules import AFTER_OPENING_FIELDS, checked_race_type, laps_errors, window_errors
from races.views import BoardPaginator
from simulator.spec import MAX_TRIALS, MIN_TRIALS
from training.services import MAX_PENALTY_SECONDS

PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class RaceSerializer(serializers.ModelSerializer):
    organiser = serializers.CharField(source="owner.racer.racer_name", read_only=True)
    state = serializers.CharField(read_only=True)
    invite_url = serializers.SerializerMethodField()
    name = serializers.CharField(max_length=MAX_NAME)
    description = serializers.CharField(max_length=MAX_DESCRIPTION, required=False, allow_blank=True, default="")
    time_zone = serializers.CharField(required=False, default="UTC", max_length=64)
    track = serializers.CharField(max_length=64)
    ranking_method = serializers.ChoiceField(choices=list(ranking.RANKING_METHODS), default=ranking.BEST_LAP_TIME)
    min_laps = serializers.IntegerField(min_value=1, max_value=MAX_TRIALS, default=1)
    max_laps = serializers.IntegerField(min_value=MIN_TRIALS, max_value=MAX_TRIALS, default=3)
    off_track_penalty = serializers.FloatField(min_value=0, max_value=MAX_PENALTY_SECONDS, default=5.0)
    collision_penalty = serializers.FloatField(min_value=0, max_value=MAX_PENALTY_SECONDS, default=5.0)
    max_submissions = serializers.IntegerField(min_value=1, max_value=MAX_SUBMISSIONS_LIMIT, default=10)
    max_resets = serializers.IntegerField(min_value=0, max_value=MAX_RESETS_LIMIT, default=MAX_RESETS_DEFAULT,
                                          help_text="live races: resets a run may use")
    race_type = serializers.DictField(
        required=False, default=dict,
        help_text='e.g. {"race_type": "TIME_TRIAL"} (the Validate API\'s race_type), or {"race_type": "HEAD_TO_MODEL"}: '
                  'entries qualify alone, then race two at a time in heats')
    heat_laps = serializers.IntegerField(min_value=1, max_value=MAX_HEAT_LAPS, default=HEAT_LAPS_DEFAULT,
                                         help_text="head-to-model: the first car to drive these laps wins a heat")
    heat_seconds = serializers.IntegerField(min_value=MIN_HEAT_SECONDS, max_value=MAX_HEAT_SECONDS,
                                            default=HEAT_SECONDS_DEFAULT,
                                            help_text="head-to-model: a heat's sim-time limit (then the car "
                                                      "further along wins)")

    class Meta:
        model = Race
        fields = ["id", "name", "description", "opens_at", "closes_at", "time_zone", "track", "track_reversed",
                  "race_type", "ranking_method", "min_laps", "max_laps", "continuous", "off_track_penalty",
                  "collision_penalty", "max_submissions", "is_open", "closed_early", "state", "organiser",
                  "invite_url", "created_at", "is_live", "event_at", "max_resets", "finished_at", "heat_laps",
                  "heat_seconds"]
        read_only_fields = ["id", "closed_early", "state", "organiser", "invite_url", "created_at", "finished_at"]

    def get_invite_url(self, race) -> str | None:
        request = self.context["request"]
        if "viewer_is_admin" not in self.context:  # once per response, not once per race of a list
            self.context["viewer_is_admin"] = is_admin(request.user)
        managed = race.owner_id == request.user.pk or self.context["viewer_is_admin"]
        if race.is_open or not managed:
            return None
        return request.build_absolute_uri(reverse("races:join", args=[race.invite_token]))

    def validate_time_zone(self, value):
        if zone_named(value) is None:
            raise ValidationError("Unknown time zone.")
        return value

    def validate_race_type(self, value):
        try:
            return checked_race_type(value or None)
        except race_types.RaceTypeError as error:
            raise ValidationError(" ".join(error.errors.values())) from None

    def validate(self, attrs):
        race, user = self.instance, self.context["request"].user
        locked = race is not None and race.has_opened()
        if locked:
            refused = sorted(set(self.initial_data) - set(AFTER_OPENING_FIELDS))
            if refused:
                raise ValidationError({name: "The race is open: this can no longer change." for name in refused})
        errors = window_errors(attrs.get("opens_at", race.opens_at if race else None),
                               attrs.get("closes_at", race.closes_at if race else None),
                               current_closes=race.closes_at if locked else None)
        errors.update(laps_errors(attrs.get("min_laps", race.min_laps if race else 1),
                                  attrs.get("max_laps", race.max_laps if race else 3)))
        if "track" in attrs and attrs["track"] not in track_options(race.owner if race else user):
            errors["track"] = f"Unknown track {attrs['track']!r}: a built-in track or one of your imported ones."
        if attrs.get("is_live", race.is_live if race else False) and \
                attrs.get("event_at", race.event_at if race else None) is None:
            errors["event_at"] = "A live race needs the time race day starts."
        if attrs.get("is_open") and not may_create_open_races(user):
            errors["is_open"] = "Only race facilitators and admins create open races."
        if errors:
            raise ValidationError(errors)
        return attrs

    def create(self, validated_data):
        return Race.objects.create(owner=self.context["request"].user, **validated_data)


class EntrySerializer(serializers.ModelSerializer):
    """One row of a leaderboard: a racer's best entry."""

    rank = serializers.SerializerMethodField()
    racer_name = serializers.CharField(read_only=True)
    ranking_time = serializers.CharField(read_only=True)
    gap = serializers.CharField(read_only=True)
    best_lap_time = serializers.CharField(read_only=True)
    video_url = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = ["id", "rank", "racer_name", "ranking_ms", "ranking_time", "gap", "best_lap_ms", "best_lap_time",
                  "laps_completed", "best_completion", "off_track_count", "crash_count", "penalty_seconds",
                  "reset_count", "submitted_at", "video_url"]
        read_only_fields = fields

    def get_rank(self, entry) -> int | None:
        return entry.rank if entry.ranking_ms is not None else None

    def get_video_url(self, entry) -> str | None:
        if entry.evaluation is None or not entry.evaluation.video:
            return None
        return reverse("races:entry_video", args=[entry.race_id, entry.pk])


class SubmissionSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    model = serializers.UUIDField(source="model_id", read_only=True)
    evaluation = serializers.IntegerField(source="evaluation_id", read_only=True)
    ranking_time = serializers.CharField(read_only=True)
    queue_position = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = ["id", "race", "model", "model_name", "evaluation", "status", "failure_reason", "submitted_at",
                  "finished_at", "laps", "ranking_ms", "ranking_time", "laps_completed", "off_track_count",
                  "crash_count", "penalty_seconds", "reset_count", "queue_position"]
        read_only_fields = fields

    def get_queue_position(self, submission) -> int | None:
        return services.submission_queue_position(submission)


class SubmitSerializer(serializers.Serializer):
    model = serializers.UUIDField(help_text="one of your models with a trained checkpoint")


class RemoveRacerSerializer(serializers.Serializer):
    racer_name = serializers.CharField()


class JoinSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="the token at the end of the race's invite link")


RACE_DAY_ACTIONS = ("launch", "auto_launch_on", "auto_launch_off", "stop", "clear_board", "finish", "reorder",
                    "move_up", "move_down", "remove", "requeue")


class RaceDayActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=RACE_DAY_ACTIONS)
    submission = serializers.IntegerField(required=False, help_text="move_up, move_down, remove, requeue: the run")
    heat = serializers.IntegerField(required=False, help_text="move_up, move_down, remove, requeue: the heat "
                                                              "(head-to-model races), instead of a run")
    order = serializers.ListField(child=serializers.CharField(max_length=32), required=False,
                                  help_text='reorder: the queue in its new order, as keys "run:<id>" and '
                                            '"heat:<id>" (a bare number is a run)')


class HeatCarSerializer(serializers.Serializer):
    """One of a heat's two entries (None until an earlier heat decides it)."""

    submission = serializers.IntegerField(source="pk")
    racer_name = serializers.CharField(source="racer_display")
    model_name = serializers.CharField()


class HeatSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    cars = serializers.SerializerMethodField()
    seeds = serializers.SerializerMethodField()
    winner = serializers.IntegerField(source="winner_id", read_only=True, allow_null=True,
                                      help_text="the winning entry (submission id); null before the end or a draw")
    winner_racer_name = serializers.SerializerMethodField()
    decided_by = serializers.CharField(read_only=True, help_text='"finish", "time_limit", "all_out" (both cars out '
                                                                 'of a heat that is not continuous), or ""')
    job = serializers.IntegerField(source="job_id", read_only=True, allow_null=True)
    result = serializers.DictField(read_only=True, help_text="both cars' lap times, total time, distance, resets, "
                                                             "off-tracks, collisions and penalties (H2M result)")
    video_url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()
    queue_position = serializers.SerializerMethodField()

    class Meta:
        model = Heat
        fields = ["id", "number", "name", "bracket_size", "round", "slot", "status", "cars", "seeds", "winner",
                  "winner_racer_name", "decided_by", "result", "failure_reason", "job", "video_url", "page_url",
                  "queue_position", "created_at", "finished_at"]
        read_only_fields = fields

    @extend_schema_field(HeatCarSerializer(many=True, allow_null=True))
    def get_cars(self, heat) -> list:
        return [HeatCarSerializer(entry).data if entry is not None else None for entry in heat.entries]

    def get_seeds(self, heat) -> list[int | None]:
        return [heat.first_seed, heat.second_seed]

    def get_winner_racer_name(self, heat) -> str | None:
        return heat.winner.racer_display if heat.winner_id else None

    def get_video_url(self, heat) -> str | None:
        if heat.job is None or not heat.job.video:
            return None
        return reverse("races:heat_video", args=[heat.race_id, heat.pk])

    def get_page_url(self, heat) -> str:
        return reverse("races:heat", args=[heat.race_id, heat.pk])

    def get_queue_position(self, heat) -> int | None:
        """Its place in a live race's queue (1 = next): the queue is read once per response, not per heat."""
        if heat.status != HeatStatus.QUEUED:
            return None
        queues = self.context.setdefault("queue_keys", {})
        if heat.race_id not in queues:
            queues[heat.race_id] = [item.queue_key for item in services.live_queue(heat.race)]
        keys = queues[heat.race_id]
        return keys.index(heat.queue_key) + 1 if heat.queue_key in keys else None


class HeatPairSerializer(serializers.Serializer):
    first = serializers.IntegerField(help_text="an entry of the leaderboard (submission id): car 1, on the line")
    second = serializers.IntegerField(help_text="another racer's entry: car 2")


class BracketSeedSerializer(serializers.Serializer):
    size = serializers.ChoiceField(choices=list(brackets.SIZES),
                                   help_text="the leaderboard's first 4, 8 or 16 entries, seeded 1v8, 4v5, 2v7, 3v6 ...")


BracketSerializer = inline_serializer("Bracket", {
    "size": serializers.IntegerField(allow_null=True),
    "rounds": inline_serializer("BracketRound", {"number": serializers.IntegerField(),
                                                 "name": serializers.CharField(),
                                                 "heats": HeatSerializer(many=True)}, many=True),
    "champion": HeatCarSerializer(allow_null=True, help_text="the final's winner, once decided"),
})
HEAT_ID = OpenApiParameter("heat_id", int, OpenApiParameter.PATH, description="the heat's id")


def _race_error(error: services.RaceError):
    return ValidationError({error.field or "detail": str(error)})


class RaceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Races you can see: open races, and private races you organise or joined."""

    serializer_class = RaceSerializer
    queryset = Race.objects.all()  # for the schema; requests see get_queryset

    def get_queryset(self):
        races = Race.objects.visible_to(self.request.user).select_related("owner__racer")
        if self.request.query_params.get("open") == "true":
            races = races.filter(is_open=True)
        return races

    def managed_race(self) -> Race:
        race = self.get_object()
        if not race.is_managed_by(self.request.user):
            raise NotFound("Only the race's organiser can do this.")
        return race

    @extend_schema(parameters=[OpenApiParameter("open", bool, description="only open races (Leaderboards)")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        try:
            services.require_racer_name(self.request.user)
        except services.RaceError as error:
            raise _race_error(error) from None
        with transaction.atomic():
            race = serializer.save()
            services.race_join(race, self.request.user)

    def update(self, request, *args, **kwargs):
        race = self.managed_race()
        serializer = self.get_serializer(race, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        services.announce_changed(race)
        return Response(serializer.data)

    def destroy(self, request, *args, **kwargs):
        services.race_delete(self.managed_race())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: RaceSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the race now (organiser): no more submissions; running ones finish and count."""
        race = self.managed_race()
        try:
            services.race_close(race)
        except services.RaceError as error:
            raise _race_error(error) from None
        return Response(self.get_serializer(race).data)

    @extend_schema(request=None, responses={200: RaceSerializer})
    @action(detail=True, methods=["post"], url_path="reset-invite")
    def reset_invite(self, request, pk=None):
        """A new invite link (organiser): the old one stops working."""
        race = self.managed_race()
        services.race_reset_invite(race)
        return Response(self.get_serializer(race).data)

    @extend_schema(request=RemoveRacerSerializer, responses={204: None})
    @action(detail=True, methods=["post"], url_path="remove-racer")
    def remove_racer(self, request, pk=None):
        """Remove a racer (organiser): their entries leave the board."""
        race = self.managed_race()
        body = RemoveRacerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = get_object_or_404(get_user_model(), racer__racer_name__iexact=body.validated_data["racer_name"])
        try:
            services.race_remove_racer(race, user)
        except services.RaceError as error:
            raise _race_error(error) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=JoinSerializer, responses={
        200: RaceSerializer, 404: detail_response("No race has this invite token (it may have been reset)."),
        400: field_errors_response("No token, or the organiser removed you from this race.")})
    @action(detail=False, methods=["post"])
    def join(self, request):
        """Join a private race with the token of its invite link."""
        body = JoinSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        race = Race.objects.filter(invite_token=body.validated_data["token"]).first()
        if race is None:
            raise NotFound("This invite link is not valid: the organiser may have reset it.")
        try:
            services.race_join(race, request.user)
        except services.RaceError as error:
            raise _race_error(error) from None
        return Response(self.get_serializer(race).data)

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int, description=f"up to {MAX_PAGE_SIZE}")],
        responses={200: inline_serializer("Leaderboard", {"count": serializers.IntegerField(),
                                                         "page": serializers.IntegerField(),
                                                         "results": EntrySerializer(many=True)})})
    @action(detail=True, methods=["get"])
    def leaderboard(self, request, pk=None):
        """The board: each racer's best entry, ranked (ties go to the earlier submission)."""
        race = self.get_object()
        try:
            size = min(MAX_PAGE_SIZE, max(1, int(request.query_params.get("page_size", PAGE_SIZE))))
        except ValueError:
            raise ValidationError({"page_size": "A whole number."}) from None
        page = BoardPaginator(race, size).get_page(request.query_params.get("page"))
        return Response({"count": page.paginator.count, "page": page.number,
                         "results": EntrySerializer(page.object_list, many=True).data})

    @extend_schema(methods=["get"], responses={200: SubmissionSerializer(many=True)})
    @extend_schema(methods=["post"], request=SubmitSerializer, responses={201: SubmissionSerializer})
    @action(detail=True, methods=["get", "post"])
    def submissions(self, request, pk=None):
        """Your submissions to this race (GET), or enter one of your models (POST)."""
        race = self.get_object()
        if request.method == "POST":
            body = SubmitSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            model = get_object_or_404(RLModel, pk=body.validated_data["model"], owner=request.user)
            try:
                submission = services.submission_create(race, request.user, model)
            except services.RaceError as error:
                raise _race_error(error) from None
            return Response(SubmissionSerializer(submission).data, status=status.HTTP_201_CREATED)
        mine = Submission.objects.filter(race=race, participant__user=request.user).select_related("evaluation")
        return Response(SubmissionSerializer(mine, many=True).data)


    def live_race(self) -> Race:
        race = self.get_object()
        if not race.is_live:
            raise NotFound("This race is not a live race.")
        return race

    @extend_schema(responses={200: inline_serializer("RaceDayState", {
        "current": serializers.DictField(allow_null=True), "queue": serializers.ListField(),
        "board": serializers.ListField(), "winner": serializers.DictField(allow_null=True),
        "auto_launch": serializers.BooleanField(), "finished": serializers.BooleanField()})})
    @action(detail=True, methods=["get"], url_path="race-day")
    def race_day(self, request, pk=None):
        """A live race's race day: the run on track, the queue, the board, the winner once finished."""
        return Response(services.race_day_state(self.live_race()))

    @extend_schema(request=RaceDayActionSerializer, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"], url_path="race-day/control")
    def race_day_control(self, request, pk=None):
        """Run race day (organiser, facilitators, admins): launch, auto-launch, stop, the queue, finish."""
        race = self.live_race()
        if not race.is_run_by(request.user):
            raise NotFound("Only the race's organiser, facilitators and admins run race day.")
        serializer = RaceDayActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            _race_day_action(race, data)
        except services.RaceError as error:
            raise _race_error(error) from None
        return Response(services.race_day_state(race))

    # -- head-to-model heats ------------------------------------------------------------------------------

    def heats_race(self) -> Race:
        race = self.get_object()
        if not race.is_head_to_model:
            raise NotFound("This race is not a head-to-model race.")
        return race

    def heats_crew_race(self) -> Race:
        race = self.heats_race()
        if not race.runs_heats(self.request.user):
            raise NotFound("Only the race's organiser (and race day's facilitators) run heats.")
        return race

    def race_heat(self, race: Race, heat_id) -> Heat:
        return get_object_or_404(Heat.objects.for_pages(), race=race, pk=heat_id)

    @extend_schema(methods=["get"], responses={200: HeatSerializer(many=True)})
    @extend_schema(methods=["post"], request=HeatPairSerializer, responses={201: HeatSerializer})
    @action(detail=True, methods=["get", "post"])
    def heats(self, request, pk=None):
        """A head-to-model race's heats (GET), or pair two entries of the board for a heat (POST: the organiser;
        in a live race also facilitators): it joins the race-day queue, or waits for the organiser to start it."""
        if request.method == "POST":
            race = self.heats_crew_race()
            body = HeatPairSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            entries = {name: Submission.objects.entries_of(race).select_related("participant", "race").filter(
                pk=body.validated_data[name]).first() for name in ("first", "second")}
            missing = {name: "No such entry on this race's leaderboard." for name, entry in entries.items()
                       if entry is None}
            if missing:
                raise ValidationError(missing)
            try:
                heat = services.heat_pair(race, entries["first"], entries["second"])
            except services.RaceError as error:
                raise _race_error(error) from None
            return Response(HeatSerializer(self.race_heat(race, heat.pk)).data, status=status.HTTP_201_CREATED)
        race = self.heats_race()
        heats = Heat.objects.filter(race=race).for_pages().order_by("number")
        return Response(HeatSerializer(heats, many=True).data)

    @extend_schema(methods=["get"], parameters=[HEAT_ID], responses={200: HeatSerializer})
    @extend_schema(methods=["delete"], parameters=[HEAT_ID], responses={
        204: None, 400: detail_response("A bracket's heat, or one that has raced: it stays.")})
    @action(detail=True, methods=["get", "delete"], url_path=r"heats/(?P<heat_id>[0-9]+)")
    def heat(self, request, pk=None, heat_id=None):
        """A heat with its result once finished: winner, how it was decided, both cars' figures, the replay
        (GET); remove a heat paired by hand that has not raced (DELETE: the crew)."""
        if request.method == "DELETE":
            race = self.heats_crew_race()
            try:
                services.heat_remove(self.race_heat(race, heat_id))
            except services.RaceError as error:
                raise _race_error(error) from None
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(HeatSerializer(self.race_heat(self.heats_race(), heat_id)).data)

    @extend_schema(request=None, parameters=[HEAT_ID], responses={
        200: HeatSerializer, 400: detail_response("The heat cannot start (live race, not paired, raced).")})
    @action(detail=True, methods=["post"], url_path=r"heats/(?P<heat_id>[0-9]+)/start")
    def heat_start(self, request, pk=None, heat_id=None):
        """Start a ready heat, or run a failed or drawn one again (races that are not live: the organiser)."""
        race = self.heats_crew_race()
        heat = self.race_heat(race, heat_id)
        try:
            services.heat_run(heat)
        except services.RaceError as error:
            raise _race_error(error) from None
        return Response(HeatSerializer(self.race_heat(race, heat.pk)).data)

    @extend_schema(request=None, parameters=[HEAT_ID], responses={
        200: HeatSerializer, 400: detail_response("The heat is not on track.")})
    @action(detail=True, methods=["post"], url_path=r"heats/(?P<heat_id>[0-9]+)/stop")
    def heat_stop(self, request, pk=None, heat_id=None):
        """Stop a heat on track (it fails and can run again); a live race's stops on race day's control."""
        race = self.heats_crew_race()
        heat = self.race_heat(race, heat_id)
        try:
            services.heat_stop(heat)
        except services.RaceError as error:
            raise _race_error(error) from None
        return Response(HeatSerializer(self.race_heat(race, heat.pk)).data)

    @extend_schema(methods=["get"], responses={200: BracketSerializer})
    @extend_schema(methods=["post"], request=BracketSeedSerializer, responses={201: BracketSerializer})
    @extend_schema(methods=["delete"], responses={
        204: None, 400: detail_response("A heat of the bracket is on track.")})
    @action(detail=True, methods=["get", "post", "delete"])
    def bracket(self, request, pk=None):
        """The single-elimination bracket: rounds, pairs, winners, the champion (GET); seed it from the
        leaderboard (POST: the crew); discard it (DELETE: the crew)."""
        if request.method == "GET":
            return Response(_bracket_data(self.heats_race()))
        race = self.heats_crew_race()
        if request.method == "DELETE":
            try:
                services.bracket_discard(race)
            except services.RaceError as error:
                raise _race_error(error) from None
            return Response(status=status.HTTP_204_NO_CONTENT)
        body = BracketSeedSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.bracket_seed(race, body.validated_data["size"])
        except services.RaceError as error:
            raise _race_error(error) from None
        return Response(_bracket_data(race), status=status.HTTP_201_CREATED)


def _bracket_data(race: Race) -> dict:
    rounds = services.bracket_rounds(race)
    champion = services.bracket_champion(race)
    first = rounds[0]["heats"][0] if rounds else None
    return {"size": first.bracket_size if first else None,
            "rounds": [{"number": round_["number"], "name": round_["name"],
                        "heats": HeatSerializer(round_["heats"], many=True).data} for round_ in rounds],
            "champion": HeatCarSerializer(champion).data if champion is not None else None}


def _queue_item(race: Race, data: dict):
    """The run or heat a queue action names."""
    if "heat" in data:
        heat = Heat.objects.for_pages().filter(race=race, pk=data["heat"]).first()
        if heat is None:
            raise ValidationError({"heat": "No such heat in this race."})
        return heat
    if "submission" not in data:
        raise ValidationError({"submission": "Name the run (or the heat)."})
    submission = Submission.objects.filter(race=race, pk=data["submission"]).first()
    if submission is None:
        raise ValidationError({"submission": "No such run in this race."})
    return submission


def _race_day_action(race: Race, data: dict) -> None:
    action_name = data["action"]
    if action_name in ("move_up", "move_down", "remove", "requeue"):
        item = _queue_item(race, data)
        {"move_up": lambda: services.live_move(race, item, -1),
         "move_down": lambda: services.live_move(race, item, 1),
         "remove": lambda: services.live_remove(race, item),
         "requeue": lambda: services.live_requeue(race, item)}[action_name]()

    elif action_name == "reorder":
        services.live_reorder(race, data.get("order") or [])
    elif action_name == "launch":
        if services.live_launch(race) is None:
            raise services.RaceError("The queue is empty.")
    elif action_name in ("auto_launch_on", "auto_launch_off"):
        services.live_set_auto_launch(race, action_name == "auto_launch_on")
    else:
        {"stop": services.live_stop, "clear_board": services.live_clear_board,
         "finish": services.live_finish}[action_name](race)


router = SimpleRouter()
router.register("races", RaceViewSet, basename="race")
urlpatterns = router.urls
