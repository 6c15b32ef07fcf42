"""The create / edit race form (a stepped form like the model wizard, validated here) and the enter-race
form. Times are typed in the organiser's time zone (the page sends it) and stored in UTC."""

import re
import zoneinfo
from datetime import timedelta

from django import forms
from django.utils import timezone

from common.roles import RACE_FACILITATOR, has_role, is_admin
from models_app import race_types
from models_app.models import DIRECTION_LABELS, RLModel
from models_app.tracks import track_options
from races import brackets, ranking
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
    MIN_LAPS_LIMIT,
    Race,
    Submission,
)
from races.rules import (
    AFTER_OPENING_FIELDS,
    HEAD_TO_MODEL,
    RACE_TYPES,
    checked_race_type,
    laps_errors,
    window_errors,
)
from simulator.spec import MAX_TRIALS, MIN_TRIALS
from training.services import MAX_PENALTY_SECONDS

DEFAULT_TRACK = "quick_loop"
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
PLACEMENTS = {"random": "Randomize object locations", "fixed": "Fixed locations"}
POSITION_PATTERN = re.compile(r"^\s*([0-9.]+)\s+(inner|outer)\s*$")


def _datetime_input():
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT)


def may_create_open_races(user) -> bool:
    return has_role(user, RACE_FACILITATOR) or is_admin(user)


def zone_named(name: str | None):
    try:
        return zoneinfo.ZoneInfo(name) if name else zoneinfo.ZoneInfo("UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class RaceForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME, label="Race name", help_text=f"Up to {MAX_NAME} characters.")
    description = forms.CharField(max_length=MAX_DESCRIPTION, required=False, label="Description - optional",
                                  widget=forms.Textarea(attrs={"rows": 3}))
    time_zone = forms.CharField(widget=forms.HiddenInput, initial="UTC", required=False)
    opens_at = forms.DateTimeField(label="Opens", widget=_datetime_input(), input_formats=[DATETIME_FORMAT])
    closes_at = forms.DateTimeField(label="Closes", widget=_datetime_input(), input_formats=[DATETIME_FORMAT])
    track = forms.ChoiceField(widget=forms.RadioSelect, initial=DEFAULT_TRACK)
    direction = forms.ChoiceField(choices=DIRECTION_LABELS.items(), widget=forms.RadioSelect,
                                  initial="counterclockwise", label="Direction")
    race_type = forms.ChoiceField(choices=RACE_TYPES.items(), widget=forms.RadioSelect,
                                  initial=race_types.TIME_TRIAL, label="Race type")
    object_count = forms.IntegerField(min_value=1, max_value=6, initial=3, required=False,
                                      label="Number of objects", help_text="1 to 6 boxes.")
    object_placement = forms.ChoiceField(choices=PLACEMENTS.items(), widget=forms.RadioSelect, initial="random",
                                         required=False, label="Object locations")
    object_positions = forms.CharField(required=False, label="Fixed object locations",
                                       help_text="One per object, comma-separated: fraction of the lap (0.07–0.90, "
                                                 "at least 0.13 apart) and lane, e.g. 0.25 inner, 0.55 outer.")
    bot_count = forms.IntegerField(min_value=1, max_value=6, initial=3, required=False,
                                   label="Number of bot cars", help_text="1 to 6.")
    bot_speed = forms.FloatField(min_value=0.2, max_value=6.0, initial=0.5, required=False,
                                 label="Bot car speed (m/s)", help_text="0.2 to 6 m/s.")
    bot_lane_changes = forms.BooleanField(required=False, label="Bot cars change lanes (every 3–5 s)")
    heat_laps = forms.IntegerField(min_value=1, max_value=MAX_HEAT_LAPS, initial=HEAT_LAPS_DEFAULT, required=False,
                                   label="Laps of a heat", help_text=f"1 to {MAX_HEAT_LAPS}: the first car to "
                                                                     f"drive them wins.")
    heat_seconds = forms.IntegerField(min_value=MIN_HEAT_SECONDS, max_value=MAX_HEAT_SECONDS,
                                      initial=HEAT_SECONDS_DEFAULT, required=False, label="Time limit of a heat (s)",
                                      help_text=f"{MIN_HEAT_SECONDS} to {MAX_HEAT_SECONDS} s on the sim clock: "
                                                f"then the car further along wins.")
    ranking_method = forms.ChoiceField(choices=ranking.RANKING_METHODS.items(), widget=forms.RadioSelect,
                                       initial=ranking.BEST_LAP_TIME, label="Ranking method")
    min_laps = forms.IntegerField(min_value=MIN_LAPS_LIMIT, max_value=MAX_TRIALS, initial=1, label="Minimum laps",
                                  help_text="Laps a submission must complete to be ranked (the window of the "
                                            "average, the laps of the total).")
    max_laps = forms.IntegerField(min_value=MIN_TRIALS, max_value=MAX_TRIALS, initial=3, label="Maximum laps",
                                  help_text=f"Laps each submission drives: {MIN_TRIALS} to {MAX_TRIALS}.")
    continuous = forms.BooleanField(required=False, label="Continuous mode",
                                    help_text="Off track or a collision puts the car back with a time penalty "
                                              "instead of ending the lap.")
    off_track_penalty = forms.FloatField(min_value=0, max_value=MAX_PENALTY_SECONDS, initial=5.0,
                                         label="Off-track penalty (s)")
    collision_penalty = forms.FloatField(min_value=0, max_value=MAX_PENALTY_SECONDS, initial=5.0,
                                         label="Collision penalty (s)")
    max_submissions = forms.IntegerField(min_value=1, max_value=MAX_SUBMISSIONS_LIMIT, initial=10,
                                         label="Submissions per racer",
                                         help_text=f"1 to {MAX_SUBMISSIONS_LIMIT}.")
    is_open = forms.TypedChoiceField(choices=(("false", "Private: racers join with the invite link"),
                                              ("true", "Open: every racer sees it on Leaderboards")),
                                     coerce=lambda value: value == "true", widget=forms.RadioSelect,
                                     initial="false", label="Who can race")

    is_live = forms.BooleanField(required=False, label="Live race (race day)",
                                 help_text="Submissions wait in your queue; you launch each run while the room "
                                           "watches the broadcast.")
    event_at = forms.DateTimeField(required=False, label="Race day starts", widget=_datetime_input(),
                                   input_formats=[DATETIME_FORMAT])
    max_resets = forms.IntegerField(min_value=0, max_value=MAX_RESETS_LIMIT, initial=MAX_RESETS_DEFAULT,
                                    required=False, label="Resets per run",
                                    help_text=f"0 to {MAX_RESETS_LIMIT}: laps after a run goes over it do not "
                                              f"count.")

    def __init__(self, *args, owner, instance: Race | None = None, **kwargs):
        self.instance = instance
        if instance is not None:
            kwargs.setdefault("initial", initial_from_race(instance, keep_window=True))
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.locked = instance is not None and instance.has_opened()
        if self.locked:
            for name in list(self.fields):
                if name not in AFTER_OPENING_FIELDS:
                    del self.fields[name]
            self.tracks = {}
            return
        self.tracks = track_options(instance.owner if instance else owner)
        self.fields["track"].choices = [(slug, track.title) for slug, track in self.tracks.items()]
        if not may_create_open_races(owner):
            del self.fields["is_open"]

    # -- times in the organiser's zone ---------------------------------------------------------------
    def zone(self):
        return zone_named(self.data.get("time_zone") if self.is_bound else self.initial.get("time_zone")) \
            or zoneinfo.ZoneInfo("UTC")

    def full_clean(self):
        # Naive datetime-local values are read in the organiser's zone, not the server's.
        with timezone.override(self.zone()):
            super().full_clean()

    def clean_time_zone(self):
        name = self.cleaned_data.get("time_zone") or "UTC"
        if zone_named(name) is None:
            raise forms.ValidationError("Unknown time zone.")
        return name

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the race a name.")
        return name

    # -- the whole form ------------------------------------------------------------------------------------
    def clean(self):
        data = super().clean()
        self._clean_window(data)
        if not self.locked:
            self._clean_race_type(data)
            self._clean_laps(data)
            self._clean_live(data)
        return data

    def _clean_live(self, data):
        if not data.get("is_live"):
            return
        if data.get("event_at") is None and not self.has_error("event_at"):
            self.add_error("event_at", "A live race needs the time race day starts.")
        if data.get("max_resets") is None and not self.has_error("max_resets"):
            self.add_error("max_resets", "Say how many resets a run may use.")

    def _clean_window(self, data):
        opens = data.get("opens_at", self.instance.opens_at if self.locked else None)
        errors = window_errors(opens, data.get("closes_at"),
                               current_closes=self.instance.closes_at if self.locked else None)
        for field, message in errors.items():
            self.add_error(field, message)

    def _clean_race_type(self, data):
        kind = data.get("race_type")
        try:
            if kind == race_types.OBJECT_AVOIDANCE:
                randomize = data.get("object_placement") != "fixed"
                candidate = {"race_type": kind, "object_count": data.get("object_count"),
                             "randomize_objects": randomize}
                if not randomize:
                    candidate["object_positions"] = _parse_positions(data.get("object_positions", ""))
            elif kind == race_types.HEAD_TO_BOT:
                candidate = {"race_type": kind, "bot_count": data.get("bot_count"), "bot_speed": data.get("bot_speed"),
                             "bot_lane_changes": bool(data.get("bot_lane_changes"))}
            elif kind == HEAD_TO_MODEL:
                candidate = {"race_type": kind}
                for name in ("heat_laps", "heat_seconds"):
                    if data.get(name) is None and not self.has_error(name):
                        self.add_error(name, "Required for a head-to-model race.")
            else:
                candidate = {"race_type": race_types.TIME_TRIAL}
            data["race_type_config"] = checked_race_type(candidate)
        except race_types.RaceTypeError as error:
            for field, message in error.errors.items():
                self.add_error(field if field in self.fields else "race_type", message)

    def _clean_laps(self, data):
        for field, message in laps_errors(data.get("min_laps"), data.get("max_laps")).items():
            self.add_error(field, message)

    def save(self) -> Race:
        data = self.cleaned_data
        race = self.instance or Race(owner=self.owner)
        race.name, race.description = data["name"], data["description"]
        race.closes_at, race.time_zone = data["closes_at"], data["time_zone"]
        if not self.locked:
            track = self.tracks[data["track"]]
            race.opens_at = data["opens_at"]
            race.track = data["track"]
            race.track_reversed = data["direction"] != track.direction
            race.race_type = data["race_type_config"]
            for name in ("ranking_method", "min_laps", "max_laps", "continuous", "off_track_penalty",
                         "collision_penalty", "max_submissions"):
                setattr(race, name, data[name])
            race.is_open = bool(data.get("is_open", False))
            race.is_live = bool(data.get("is_live"))
            if race.is_live:
                race.event_at, race.max_resets = data["event_at"], data["max_resets"]
            if race.is_head_to_model:
                race.heat_laps, race.heat_seconds = data["heat_laps"], data["heat_seconds"]
        race.save()
        return race


def _parse_positions(text: str):
    """'0.25 inner, 0.55 outer' -> [[0.25, "inner"], [0.55, "outer"]] (race_types checks the values)."""
    positions = []
    for part in filter(None, (piece.strip() for piece in (text or "").split(","))):
        match = POSITION_PATTERN.match(part)
        if not match:
            raise race_types.RaceTypeError({"object_positions": f"Write each object as 'fraction lane', e.g. "
                                                                f"0.25 inner (not {part!r})."})
        try:
            positions.append([float(match.group(1)), match.group(2)])
        except ValueError:
            raise race_types.RaceTypeError({"object_positions": f"{match.group(1)!r} is not a number."}) from None
    return positions


def initial_from_race(race: Race, keep_window: bool = False) -> dict:
    """The form's values for editing a race (keep_window) or cloning it (a new window from now)."""
    zone = zone_named(race.time_zone) or zoneinfo.ZoneInfo("UTC")
    if keep_window:
        opens, closes = race.opens_at, race.closes_at
    else:
        opens = timezone.now().replace(second=0, microsecond=0)
        closes = opens + max(race.closes_at - race.opens_at, timedelta(hours=1))
    try:
        track = race.get_track()
        direction = track.direction
    except Exception:  # noqa: BLE001 (an imported track that no longer loads: the organiser picks again)
        direction = "counterclockwise"
    race_type = race.race_type or {}
    initial = {
        "name": race.name if keep_window else f"{race.name} (copy)"[:MAX_NAME],
        "description": race.description, "time_zone": race.time_zone,
        "opens_at": timezone.localtime(opens, zone).strftime(DATETIME_FORMAT),
        "closes_at": timezone.localtime(closes, zone).strftime(DATETIME_FORMAT),
        "track": race.track, "direction": direction, "race_type": race.race_type_name,
        "ranking_method": race.ranking_method, "min_laps": race.min_laps, "max_laps": race.max_laps,
        "continuous": race.continuous, "off_track_penalty": race.off_track_penalty,
        "collision_penalty": race.collision_penalty, "max_submissions": race.max_submissions,
        "is_open": "true" if race.is_open else "false",
        "is_live": race.is_live, "max_resets": race.max_resets,
        "heat_laps": race.heat_laps, "heat_seconds": race.heat_seconds,
    }
    if race.is_live and race.event_at is not None:
        event_at = race.event_at if keep_window else opens
        initial["event_at"] = timezone.localtime(event_at, zone).strftime(DATETIME_FORMAT)
    if race.race_type_name == race_types.OBJECT_AVOIDANCE:
        initial.update(object_count=race_type.get("object_count"),
                       object_placement="random" if race_type.get("randomize_objects", True) else "fixed",
                       object_positions=", ".join(f"{fraction:g} {lane}" for fraction, lane in
                                                  race_type.get("object_positions", [])))
    if race.race_type_name == race_types.HEAD_TO_BOT:
        initial.update(bot_count=race_type.get("bot_count"), bot_speed=race_type.get("bot_speed"),
                       bot_lane_changes=race_type.get("bot_lane_changes", False))
    return initial


def new_race_initial() -> dict:
    """A new race opens now (this minute) and runs for a week."""
    opens = timezone.now().replace(second=0, microsecond=0)
    return {"opens_at": opens.strftime(DATETIME_FORMAT),
            "closes_at": (opens + timedelta(days=7)).strftime(DATETIME_FORMAT)}


class EnterRaceForm(forms.Form):
    model = forms.ModelChoiceField(queryset=RLModel.objects.none(), label="Your model", empty_label=None,
                                   help_text="Trained on any track: it races under this race's rules.")

    def __init__(self, *args, user, offered=None, **kwargs):
        """Any of the user's models is accepted (one that cannot race is refused with why by the service);
        ``offered``: the models the picker lists (the race page: those that can race now)."""
        super().__init__(*args, **kwargs)
        models = RLModel.objects.owned_by(user)
        if offered is not None:
            models = models.filter(pk__in=[model.pk for model in offered])
        self.fields["model"].queryset = models.order_by("name")


# ------------------------------------------------------------------------------------------- heats


class EntryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, entry):
        rank = f"{entry.rank}. " if getattr(entry, "rank", None) else ""
        time = entry.ranking_time or f"{entry.laps_completed} laps"
        return f"{rank}{entry.racer_name} · {entry.model_name} · {time}"


class HeatPairForm(forms.Form):
    """Two entries of the board for a heat: each racer's best entry, in board order."""

    first = EntryChoiceField(queryset=None, label="Car 1 (on the line)", empty_label="Pick an entry")
    second = EntryChoiceField(queryset=None, label="Car 2", empty_label="Pick an entry")

    def __init__(self, *args, race: Race, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("first", "second"):
            self.fields[name].queryset = Submission.objects.leaderboard(race)

    def clean(self):
        data = super().clean()
        first, second = data.get("first"), data.get("second")
        if first is not None and second is not None and first.participant_id == second.participant_id:
            self.add_error("second", "A heat is between two racers: pick an entry of another racer.")
        return data


class BracketSeedForm(forms.Form):
    size = forms.TypedChoiceField(choices=[(size, f"{size} entries") for size in brackets.SIZES], coerce=int,
                                  initial=brackets.SIZES[1], label="Bracket of",
                                  help_text="The leaderboard's first entries, seeded 1v8, 4v5, 2v7, 3v6 ...")
