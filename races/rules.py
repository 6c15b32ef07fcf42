"""The race settings' checks that the form and the API share (field -> message), beyond single values."""

from django.utils import timezone

from models_app import race_types


def window_errors(opens, closes, *, current_closes=None) -> dict[str, str]:
    """Opening and closing times. `current_closes`: the race is open, its close time may only move later."""
    if opens is None or closes is None:
        return {}
    if closes <= opens:
        return {"closes_at": "The race must close after it opens."}
    if closes <= timezone.now():
        return {"closes_at": "Pick a close time in the future."}
    if current_closes is not None and closes < current_closes:
        return {"closes_at": "Once the race is open, its close time can only move later."}
    return {}


def laps_errors(minimum, maximum) -> dict[str, str]:
    if minimum is not None and maximum is not None and minimum > maximum:
        return {"min_laps": "The minimum laps cannot be more than the maximum laps."}
    return {}


# Head-to-model is a race type of races only: models train as time trials, object avoidance or head-to-bot;
# in a head-to-model race every entry qualifies alone as a time trial (the leaderboard), and heats put two
# entries on the track together (races.services, training's HeatJob).
HEAD_TO_MODEL = "HEAD_TO_MODEL"
RACE_TYPES = {**race_types.RACE_TYPES, HEAD_TO_MODEL: "Head-to-model"}


def checked_race_type(candidate) -> dict:
    """A race's race_type dict, checked: the env's (models_app.race_types) or head-to-model (raises
    models_app.race_types.RaceTypeError with field errors)."""
    if isinstance(candidate, dict) and candidate.get("race_type") == HEAD_TO_MODEL:
        return {"race_type": HEAD_TO_MODEL}
    return race_types.check_race_type(candidate)


def env_race_type(race_type: dict) -> dict:
    """The env's race_type for a race's solo runs and heats: head-to-model races are time trials (the other
    car is the only thing on the track)."""
    if (race_type or {}).get("race_type") == HEAD_TO_MODEL:
        return {"race_type": race_types.TIME_TRIAL}
    return race_type or {}


def describe_race_type(race_type: dict) -> str:
    if (race_type or {}).get("race_type") == HEAD_TO_MODEL:
        return RACE_TYPES[HEAD_TO_MODEL]
    return race_types.describe(race_type or {})


# What may change once the race has opened: nothing that could change a ranking.
AFTER_OPENING_FIELDS = ("name", "description", "closes_at", "time_zone")
