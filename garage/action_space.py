"""Action-space maths and the SPEC 2 checks of a vehicle, in plain Python (no Django).

The Garage's live table (static/garage/build.js) computes the same simple-form grid in the browser; the
server always recomputes it here, so the browser only ever shows a preview.
"""

import math

FRONT_FACING_CAMERA = "FRONT_FACING_CAMERA"
STEREO_CAMERAS = "STEREO_CAMERAS"
CAMERAS = {FRONT_FACING_CAMERA: "Camera", STEREO_CAMERAS: "Stereo camera"}
LIDARS = {"LIDAR": "LIDAR", "SECTOR_LIDAR": "Sector LIDAR"}
SHALLOW_CNN = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
DEEPEST_CNN = "DEEP_CONVOLUTIONAL_NETWORK_DEEP"
# The console's two choices first; the SimApp's third (deepracer-for-cloud models use it) is the advanced one.
NETWORKS = {SHALLOW_CNN: "3-layer CNN", "DEEP_CONVOLUTIONAL_NETWORK": "5-layer CNN",
            DEEPEST_CNN: "Deep CNN (advanced: 4 conv + batch norm, dense 512)"}

DISCRETE = "discrete"
CONTINUOUS = "continuous"
ACTION_SPACE_TYPES = {DISCRETE: "Discrete", CONTINUOUS: "Continuous"}

MIN_ACTIONS, MAX_ACTIONS = 2, 30
STEERING_LIMIT = 30.0  # degrees either way
MIN_SPEED, MAX_SPEED = 0.1, 4.0  # m/s, one discrete action
MIN_CONTINUOUS_SPEED = 0.5  # m/s, the low end of a continuous speed range
MIN_MAX_STEERING = 1.0
STEERING_GRANULARITIES = (3, 5, 7)
SPEED_GRANULARITIES = (1, 2, 3)
# Two decimals, rounded half up, exactly like build.js (Math.round), so the preview and the server agree.
DECIMALS = 100


class ActionSpaceError(ValueError):
    """Every problem found, keyed by the form field it belongs to."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


def round_value(value: float) -> float:
    return math.floor(value * DECIMALS + 0.5) / DECIMALS


def _number(value, field: str, errors: dict) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors[field] = "Enter a number."
        return None
    if not math.isfinite(number):
        errors[field] = "Enter a finite number."
        return None
    return number


def _check_range(number, low, high, field, errors, unit):
    if number is not None and field not in errors and not low <= number <= high:
        errors[field] = f"Enter a value from {low:g} to {high:g}{unit}."


def simple_actions(max_steering, steering_granularity, max_speed, speed_granularity) -> list[dict]:
    """The simple form's grid: steering evenly spaced on [-max, +max], speeds evenly spaced on
    [max/M, max]; steering is the outer loop (from right to left), as in DeepRacer's metadata."""
    errors: dict[str, str] = {}
    steering = _number(max_steering, "max_steering", errors)
    speed = _number(max_speed, "max_speed", errors)
    _check_range(steering, MIN_MAX_STEERING, STEERING_LIMIT, "max_steering", errors, "°")
    _check_range(speed, MIN_SPEED, MAX_SPEED, "max_speed", errors, " m/s")
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


def with_indices(actions: list[dict]) -> list[dict]:
    return [{"steering_angle": a["steering_angle"], "speed": a["speed"], "index": i} for i, a in enumerate(actions)]


def check_discrete(actions, field: str = "actions") -> list[dict]:
    """A custom action list (the advanced editor, an API call, an imported model_metadata.json):
    2-30 actions, each steering -30..30 degrees and speed 0.1..4 m/s. Returns it cleaned and indexed."""
    if not isinstance(actions, list):
        raise ActionSpaceError({field: "Give the actions as a list of {steering_angle, speed}."})
    if not MIN_ACTIONS <= len(actions) <= MAX_ACTIONS:
        raise ActionSpaceError({field: f"A discrete action space has {MIN_ACTIONS} to {MAX_ACTIONS} actions "
                                       f"(this one has {len(actions)})."})
    cleaned, problems = [], []
    for number, action in enumerate(actions):
        if not isinstance(action, dict):
            problems.append(f"action {number}: give steering_angle and speed")
            continue
        errors: dict[str, str] = {}
        angle = _number(action.get("steering_angle"), "steering angle", errors)
        speed = _number(action.get("speed"), "speed", errors)
        _check_range(angle, -STEERING_LIMIT, STEERING_LIMIT, "steering angle", errors, "°")
        _check_range(speed, MIN_SPEED, MAX_SPEED, "speed", errors, " m/s")
        problems += [f"action {number}: {name}: {message}" for name, message in errors.items()]
        if not errors:
            cleaned.append({"steering_angle": round_value(angle), "speed": round_value(speed)})
    if problems:
        raise ActionSpaceError({field: "; ".join(problems).capitalize()})
    return with_indices(cleaned)


def check_continuous(ranges) -> dict:
    """Continuous ranges: speed low < high within 0.5..4 m/s, steering low < high within -30..30 degrees."""
    if not isinstance(ranges, dict) or not all(isinstance(ranges.get(k), dict) for k in ("speed", "steering_angle")):
        raise ActionSpaceError({"action_space": "Give {speed: {low, high}, steering_angle: {low, high}}."})
    errors: dict[str, str] = {}
    values = {}
    for name, low, high, unit in (("speed", MIN_CONTINUOUS_SPEED, MAX_SPEED, " m/s"),
                                  ("steering", -STEERING_LIMIT, STEERING_LIMIT, "°")):
        source = ranges["speed" if name == "speed" else "steering_angle"]
        for end in ("low", "high"):
            field = f"{name}_{end}"
            values[field] = _number(source.get(end), field, errors)
            _check_range(values[field], low, high, field, errors, unit)
        if f"{name}_low" not in errors and f"{name}_high" not in errors and values[f"{name}_low"] >= values[f"{name}_high"]:
            errors[f"{name}_high"] = f"The high {name} must be greater than the low one."
    if errors:
        raise ActionSpaceError(errors)
    return {
        "speed": {"low": round_value(values["speed_low"]), "high": round_value(values["speed_high"])},
        "steering_angle": {"low": round_value(values["steering_low"]), "high": round_value(values["steering_high"])},
    }


def check_action_space(action_space_type, action_space):
    if action_space_type == DISCRETE:
        return check_discrete(action_space, "action_space")
    if action_space_type == CONTINUOUS:
        return check_continuous(action_space)
    raise ActionSpaceError({"action_space_type": "Choose discrete or continuous."})


def check_sensors(sensors) -> list[str]:
    """One camera first, then at most one LIDAR."""
    if not isinstance(sensors, list) or not sensors or sensors[0] not in CAMERAS:
        raise ActionSpaceError({"sensors": "Start with one camera: " + " or ".join(CAMERAS) + "."})
    if len(sensors) > 2 or (len(sensors) == 2 and sensors[1] not in LIDARS):
        raise ActionSpaceError({"sensors": "Add at most one LIDAR after the camera: " + " or ".join(LIDARS) + "."})
    return list(sensors)


def check_network(network) -> str:
    if network not in NETWORKS:
        raise ActionSpaceError({"neural_network": "Choose " + " or ".join(NETWORKS) + "."})
    return network


def matches_shape(action_space_type, old, new) -> bool:
    """A clone may change action values but never the type or the number of actions (SPEC 2)."""
    if action_space_type == DISCRETE:
        return isinstance(new, list) and len(new) == len(old)
    return True
