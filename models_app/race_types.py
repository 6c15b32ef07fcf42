"""SPEC 3 race types as the env's race_type dict (docs/INTERFACES.md), checked in plain Python."""

import itertools
import math

TIME_TRIAL, OBJECT_AVOIDANCE, HEAD_TO_BOT = "TIME_TRIAL", "OBJECT_AVOIDANCE", "HEAD_TO_BOT"
RACE_TYPES = {TIME_TRIAL: "Time trial", OBJECT_AVOIDANCE: "Object avoidance", HEAD_TO_BOT: "Head-to-bot"}
MIN_COUNT, MAX_COUNT = 1, 6
LANES = ("inner", "outer")
MIN_POSITION, MAX_POSITION = 0.07, 0.90  # fraction of the lap
MIN_GAP = 0.13  # fraction of the lap between two fixed objects
MIN_BOT_SPEED, MAX_BOT_SPEED = 0.2, 6.0  # m/s


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
    """Fixed boxes: [fraction 0.07-0.90, "inner" | "outer"] each, at least 0.13 of a lap apart."""
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
