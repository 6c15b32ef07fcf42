"""The Garage's simple action-space form, in plain Python (no Django): the grid of actions it builds.

The Garage's live table (static/garage/build.js) computes the same grid in the browser; the server always
recomputes it here, so the browser only ever shows a preview. The limits and the checks of a custom action
list are DeepRacer facts, in simulator/spec.py.
"""

from simulator.spec import (
    DISCRETE,
    MAX_SPEED,
    MIN_MAX_STEERING,
    MIN_SPEED,
    SPEED_GRANULARITIES,
    STEERING_GRANULARITIES,
    STEERING_LIMIT,
    ActionSpaceError,
    check_range,
    number,
    round_value,
    with_indices,
)


def simple_actions(max_steering, steering_granularity, max_speed, speed_granularity) -> list[dict]:
    """The simple form's grid: steering evenly spaced on [-max, +max], speeds evenly spaced on
    [max/M, max]; steering is the outer loop (from right to left), as in DeepRacer's metadata."""
    errors: dict[str, str] = {}
    steering = number(max_steering, "max_steering", errors)
    speed = number(max_speed, "max_speed", errors)
    check_range(steering, MIN_MAX_STEERING, STEERING_LIMIT, "max_steering", errors, "°")
    check_range(speed, MIN_SPEED, MAX_SPEED, "max_speed", errors, " m/s")
    steering_count = _granularity(steering_granularity, STEERING_GRANULARITIES, "steering_granularity", errors)
    speed_count = _granularity(speed_granularity, SPEED_GRANULARITIES, "speed_granularity", errors)
    if not errors and round_value(speed / speed_count) < MIN_SPEED:
        errors["max_speed"] = (f"With {speed_count} speeds the maximum speed must be at least "
                               f"{MIN_SPEED * speed_count:g} m/s, so that the slowest action reaches {MIN_SPEED:g} m/s.")
    if errors:
        raise ActionSpaceError(errors)
    angles = [round_value(-steering + 2 * steering * i / (steering_count - 1)) for i in range(steering_count)]
    speeds = [round_value(speed * (j + 1) / speed_count) for j in range(speed_count)]
    actions = [{"steering_angle": angle, "speed": value} for angle in angles for value in speeds]
    return with_indices(actions)


def _granularity(value, allowed, field, errors) -> int | None:
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = None
    if count not in allowed:
        errors[field] = "Choose one of " + ", ".join(map(str, allowed)) + "."
        return None
    return count


def matches_shape(action_space_type, old, new) -> bool:
    """A clone may change action values but never the type or the number of actions (SPEC 2)."""
    if action_space_type == DISCRETE:
        return isinstance(new, list) and len(new) == len(old)
    return True
