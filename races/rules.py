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


def checked_race_type(candidate) -> dict:
    """The env's race_type dict, checked (raises models_app.race_types.RaceTypeError with field errors)."""
    return race_types.check_race_type(candidate)


# What may change once the race has opened: nothing that could change a ranking.
AFTER_OPENING_FIELDS = ("name", "description", "closes_at", "time_zone")
