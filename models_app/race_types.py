"""SPEC 3 race types as the env's race_type dict (docs/INTERFACES.md), checked in plain Python."""

import itertools
import math

from simulator.spec import (
    HEAD_TO_BOT,
    LANES,
    MAX_BOT_SPEED,
    MIN_BOT_SPEED,
    OBJECT_AVOIDANCE,
    RACE_TYPES,
    TIME_TRIAL,
)
from simulator.spec import MAX_OBJECT_POSITION as MAX_POSITION
from simulator.spec import MAX_OBJECTS as MAX_COUNT
from simulator.spec import MIN_OBJECT_GAP as MIN_GAP
from simulator.spec import MIN_OBJECT_POSITION as MIN_POSITION
from simulator.spec import MIN_OBJECTS as MIN_COUNT


class RaceTypeError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _count(value, field):
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_COUNT <= value <= MAX_COUNT:
        raise RaceTypeError({field: f"Enter a whole number from {MIN_COUNT} to {MAX_COUNT}."})
    return value


def check_race_type(race_type) -> dict:
    if race_type is None:
        return {"race_type": TIME_TRIAL}
    if not isinstance(race_type, dict) or race_type.get("race_type") not in RACE_TYPES:
        raise RaceTypeError({"race_type": "Choose " + ", ".join(RACE_TYPES) + "."})
    kind = race_type["race_type"]
    if kind == OBJECT_AVOIDANCE:
        return _object_avoidance(race_type)
    if kind == HEAD_TO_BOT:
        return _head_to_bot(race_type)
    return {"race_type": TIME_TRIAL}


def _object_avoidance(race_type) -> dict:
    count = _count(race_type.get("object_count"), "object_count")
    randomize = race_type.get("randomize_objects", True)
    if not isinstance(randomize, bool):
        raise RaceTypeError({"randomize_objects": "Say true or false."})
    cleaned = {"race_type": OBJECT_AVOIDANCE, "object_count": count, "randomize_objects": randomize}
    if not randomize:
        cleaned["object_positions"] = check_object_positions(race_type.get("object_positions"), count)
    return cleaned


def check_object_positions(positions, count) -> list[list]:
    """Fixed boxes: [fraction of the lap, "inner" | "outer"] each, far enough apart (spec.MIN_OBJECT_GAP)."""
    if not isinstance(positions, list) or len(positions) != count:
        raise RaceTypeError({"object_positions": f"Place all {count} objects: one [fraction, lane] each."})
    cleaned = []
    for number, position in enumerate(positions, start=1):
        if not isinstance(position, (list, tuple)) or len(position) != 2:
            raise RaceTypeError({"object_positions": f"Object {number}: give [fraction of the lap, lane]."})
        fraction, lane = position
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not math.isfinite(fraction) \
                or not MIN_POSITION <= fraction <= MAX_POSITION:
            raise RaceTypeError({"object_positions": f"Object {number}: place it from {MIN_POSITION} to "
                                                     f"{MAX_POSITION} of the lap."})
        if lane not in LANES:
            raise RaceTypeError({"object_positions": f"Object {number}: choose the inner or outer lane."})
        cleaned.append([round(float(fraction), 4), lane])
    ordered = sorted(fraction for fraction, _ in cleaned)
    for before, after in itertools.pairwise(ordered):
        if after - before < MIN_GAP - 1e-9:
            raise RaceTypeError({"object_positions": f"Keep objects at least {MIN_GAP} of a lap apart "
                                                     f"({before:g} and {after:g} are too close)."})
    return cleaned


def _head_to_bot(race_type) -> dict:
    count = _count(race_type.get("bot_count"), "bot_count")
    speed = race_type.get("bot_speed")
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not MIN_BOT_SPEED <= speed <= MAX_BOT_SPEED:
        raise RaceTypeError({"bot_speed": f"Enter a speed from {MIN_BOT_SPEED:g} to {MAX_BOT_SPEED:g} m/s."})
    lane_changes = race_type.get("bot_lane_changes", False)
    if not isinstance(lane_changes, bool):
        raise RaceTypeError({"bot_lane_changes": "Say true or false."})
    return {"race_type": HEAD_TO_BOT, "bot_count": count, "bot_speed": float(speed), "bot_lane_changes": lane_changes}


def describe(race_type: dict) -> str:
    kind = race_type.get("race_type", TIME_TRIAL)
    if kind == OBJECT_AVOIDANCE:
        where = "randomized" if race_type.get("randomize_objects", True) else "fixed"
        return f"Object avoidance: {race_type['object_count']} objects, {where}"
    if kind == HEAD_TO_BOT:
        changes = ", lane changes" if race_type.get("bot_lane_changes") else ""
        return f"Head-to-bot: {race_type['bot_count']} bots at {race_type['bot_speed']:g} m/s{changes}"
    return "Time trial"
