"""The DeepRacer facts the console needs (../shared/SPEC.md), written once, in plain Python.

The simulator, the Garage, the model wizard, the REST API and the learners all import these numbers and
names from here; nothing else restates them. It imports only the standard library (no Django, torch,
MuJoCo or numpy), so a notebook, a Celery worker and the web process can all afford it.

Also here: the SPEC 2 checks of a vehicle (action space, sensors, network) and the one reader of
`model_metadata.json` (`read_model_metadata`), which every part that reads a model folder uses.
"""

import math

# ------------------------------------------------------------------------------- sensors (SPEC 2)

FRONT_FACING_CAMERA = "FRONT_FACING_CAMERA"
STEREO_CAMERAS = "STEREO_CAMERAS"
LIDAR = "LIDAR"
SECTOR_LIDAR = "SECTOR_LIDAR"
CAMERAS = {FRONT_FACING_CAMERA: "Camera", STEREO_CAMERAS: "Stereo camera"}
LIDARS = {LIDAR: "LIDAR", SECTOR_LIDAR: "Sector LIDAR"}
CAMERA_SENSORS = tuple(CAMERAS)
LIDAR_SENSORS = tuple(LIDARS)
SENSOR_NAMES = CAMERA_SENSORS + LIDAR_SENSORS
DEFAULT_SENSORS = (FRONT_FACING_CAMERA,)
DEFAULT_TRACK = "quick_loop"  # the console's and the env's default track (a built-in)
# Camera frames: 160 x 120 grayscale, one channel per lens.
IMAGE_WIDTH, IMAGE_HEIGHT = 160, 120
CAMERA_CHANNELS = {FRONT_FACING_CAMERA: 1, STEREO_CAMERAS: 2}
# LIDAR (the DeepRacer simulation app's values): 64 rays, 0.15-12 m; sector LIDAR: 8 sectors, 0 or 1.
LIDAR_RAYS = 64
LIDAR_MIN_RANGE, LIDAR_MAX_RANGE = 0.15, 12.0
LIDAR_SECTORS = 8

# ------------------------------------------------------------------------------ networks (SPEC 2)

SHALLOW_CNN = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
DEEP_CNN = "DEEP_CONVOLUTIONAL_NETWORK"
# The SimApp's third network (deepracer-for-cloud models use it): 4 convolutions with batch norm, dense 512, 512.
DEEPEST_CNN = "DEEP_CONVOLUTIONAL_NETWORK_DEEP"
# The console's two choices first; the deep one is the Garage's advanced choice.
NETWORKS = {SHALLOW_CNN: "3-layer CNN", DEEP_CNN: "5-layer CNN",
            DEEPEST_CNN: "Deep CNN (advanced: 4 conv + batch norm, dense 512)"}

# ---------------------------------------------------------------------------- algorithms (SPEC 3)

PPO = "clipped_ppo"
SAC = "sac"
ALGORITHMS = {PPO: "PPO", SAC: "SAC"}

# -------------------------------------------------------------------------- action space (SPEC 2)

DISCRETE = "discrete"
CONTINUOUS = "continuous"
ACTION_SPACE_TYPES = {DISCRETE: "Discrete", CONTINUOUS: "Continuous"}
MIN_ACTIONS, MAX_ACTIONS = 2, 30
STEERING_LIMIT = 30.0  # degrees either way
MIN_SPEED, MAX_SPEED = 0.1, 4.0  # m/s, one discrete action (and the car's command limits)
MIN_CONTINUOUS_SPEED = 0.5  # m/s, the low end of a continuous speed range
MIN_MAX_STEERING = 1.0
STEERING_GRANULARITIES = (3, 5, 7)
SPEED_GRANULARITIES = (1, 2, 3)
# "The Original DeepRacer": 30° max steering in 5 steps, 1 m/s max speed in 2 steps.
DEFAULT_ACTION_SPACE = {
    "action_space_type": DISCRETE,
    "action_space": [
        {"steering_angle": steering, "speed": speed}
        for steering in (-30.0, -15.0, 0.0, 15.0, 30.0) for speed in (0.5, 1.0)
    ],
}
# Two decimals, rounded half up, exactly like build.js (Math.round), so the preview and the server agree.
DECIMALS = 100

# ------------------------------------------------------------------------- hyperparameters (SPEC 3)

BATCH_SIZES = (32, 64, 128, 256, 512)
LOSS_TYPES = ("huber", "mean squared error")
# num_epochs stays DeepRacer's 10. 3 epochs (the bottom of DeepRacer's range) train twice the env steps a
# minute on 2 cores (bench/learner_throughput.py), but 10 learn so much more per step that the default car's
# first 3/3 lap came sooner: 0.7-0.9 against 1.0-2.1 minutes on 2022_reinvent_champ_ccw over 3 seeds, and
# 0.4 against 0.6 on reinvent_base (bench/time_to_lap.py --epochs). The learner takes num_epochs as the most
# passes: it ends an update once the policy has drifted past its target_kl (training/ppo.py PPOConfig).
HYPERPARAMETER_DEFAULTS = {
    "batch_size": 64,
    "num_epochs": 10,
    "lr": 0.0003,
    "beta_entropy": 0.01,
    "discount_factor": 0.999,
    "loss_type": "huber",
    "num_episodes_between_training": 20,
    "sac_alpha": 0.2,
}
# name -> (low, high, integer?) for the numeric ones
HYPERPARAMETER_RANGES = {
    "num_epochs": (3, 10, True),
    "lr": (1e-8, 1e-3, False),
    "beta_entropy": (0.0, 1.0, False),
    "discount_factor": (0.0, 1.0, False),
    "num_episodes_between_training": (5, 100, True),
    "sac_alpha": (0.0, 1.0, False),
}
HYPERPARAMETER_LABELS = {
    "batch_size": "Gradient descent batch size",
    "num_epochs": "Number of epochs",
    "lr": "Learning rate",
    "beta_entropy": "Entropy",
    "discount_factor": "Discount factor",
    "loss_type": "Loss type",
    "num_episodes_between_training": "Number of experience episodes between each policy-updating iteration",
    "sac_alpha": "SAC alpha (α)",
}
# SAC learns off-policy from a replay buffer: it updates after every episode.
SAC_EPISODES_BETWEEN_TRAINING = 1
# Keys of DeepRacer's hyperparameters.json that belong to its older agents; we write and accept them.
LEGACY_HYPERPARAMETERS = {
    "e_greedy_value": 0.05,
    "epsilon_steps": 10000,
    "exploration_type": "categorical",
    "stack_size": 1,
    "term_cond_avg_score": 350.0,
    "term_cond_max_episodes": 1000,
}

# ------------------------------------------------------------------------------ race types (SPEC 3)

TIME_TRIAL, OBJECT_AVOIDANCE, HEAD_TO_BOT = "TIME_TRIAL", "OBJECT_AVOIDANCE", "HEAD_TO_BOT"
RACE_TYPES = {TIME_TRIAL: "Time trial", OBJECT_AVOIDANCE: "Object avoidance", HEAD_TO_BOT: "Head-to-bot"}
MIN_OBJECTS, MAX_OBJECTS = 1, 6  # boxes or bot cars
LANES = ("inner", "outer")
# Fixed or randomized boxes: between 7% and 90% of the lap, at least 13% of a lap apart.
MIN_OBJECT_POSITION, MAX_OBJECT_POSITION = 0.07, 0.90
MIN_OBJECT_GAP = 0.13
MIN_BOT_SPEED, MAX_BOT_SPEED = 0.2, 6.0  # m/s
DEFAULT_OBJECT_COUNT = 3  # the console's default number of boxes
DEFAULT_BOT_COUNT, DEFAULT_BOT_SPEED = 2, 1.0

# ------------------------------------------------------- stop conditions and evaluation (SPEC 3, 4)

MIN_TRAINING_MINUTES, MAX_TRAINING_MINUTES, DEFAULT_TRAINING_MINUTES = 10, 1440, 60
MIN_TRIALS, MAX_TRIALS, DEFAULT_TRIALS = 3, 5, 3
DEFAULT_PENALTY = 5.0  # s, continuous evaluation's off-track and collision penalties

# ----------------------------------------------------------------------- reward function (SPEC 1)

MAX_REWARD_CODE_CHARS = 140_000
REWARD_LIMIT = 1e5  # a reward must be finite and within ±1e5

# ------------------------------------------------------------------------- the model folder (SPEC 5)

METADATA_PATH = "model/model_metadata.json"
HYPERPARAMETERS_PATH = "ip/hyperparameters.json"
REWARD_PATH = "reward_function.py"
TRAINING_PARAMS_PATH = "training_params.yaml"
METADATA_VERSION = "5"
METADATA_KEYS = ("action_space", "action_space_type", "sensor", "neural_network", "training_algorithm", "version")


# ------------------------------------------------------------------------------------- the checks


class ActionSpaceError(ValueError):
    """Every problem found, keyed by the form field it belongs to."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


class MetadataError(ValueError):
    """A model_metadata.json we cannot use; the message says what is wrong."""


class NetworkError(MetadataError):
    """The metadata asks for a network or sensor combination we cannot build."""


def round_value(value: float) -> float:
    return math.floor(value * DECIMALS + 0.5) / DECIMALS


def number(value, field: str, errors: dict) -> float | None:
    """`value` as a finite float, or None with the reason in errors[field]."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        errors[field] = "Enter a number."
        return None
    except OverflowError:  # a JSON integer past float's range (e.g. 10**400): no car goes that far
        errors[field] = "Enter a finite number."
        return None
    if not math.isfinite(result):
        errors[field] = "Enter a finite number."
        return None
    return result


def check_range(value, low, high, field, errors, unit):
    if value is not None and field not in errors and not low <= value <= high:
        errors[field] = f"Enter a value from {low:g} to {high:g}{unit}."


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
    for index, action in enumerate(actions):
        if not isinstance(action, dict):
            problems.append(f"action {index}: give steering_angle and speed")
            continue
        errors: dict[str, str] = {}
        angle = number(action.get("steering_angle"), "steering angle", errors)
        speed = number(action.get("speed"), "speed", errors)
        check_range(angle, -STEERING_LIMIT, STEERING_LIMIT, "steering angle", errors, "°")
        check_range(speed, MIN_SPEED, MAX_SPEED, "speed", errors, " m/s")
        problems += [f"action {index}: {name}: {message}" for name, message in errors.items()]
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
            values[field] = number(source.get(end), field, errors)
            check_range(values[field], low, high, field, errors, unit)
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
    # Only strings are looked up: a list or object in the list (unhashable) would raise TypeError.
    if not isinstance(sensors, list) or not all(isinstance(name, str) for name in sensors):
        raise ActionSpaceError({"sensors": "Give the sensors as a list of names."})
    if not sensors or sensors[0] not in CAMERAS:
        raise ActionSpaceError({"sensors": "Start with one camera: " + " or ".join(CAMERAS) + "."})
    if len(sensors) > 2 or (len(sensors) == 2 and sensors[1] not in LIDARS):
        raise ActionSpaceError({"sensors": "Add at most one LIDAR after the camera: " + " or ".join(LIDARS) + "."})
    return list(sensors)


def check_network(network) -> str:
    if not isinstance(network, str) or network not in NETWORKS:
        raise ActionSpaceError({"neural_network": "Choose " + " or ".join(NETWORKS) + "."})
    return network


def camera_sensor(sensors) -> str:
    """The one camera a sensor list names (the observation's image)."""
    cameras = [s for s in sensors if s in CAMERA_SENSORS]
    if len(cameras) != 1:
        raise NetworkError(f"exactly one camera sensor is needed ({' or '.join(CAMERA_SENSORS)}), got {sensors}")
    return cameras[0]


def lidar_sensor(sensors) -> str | None:
    """The LIDAR a sensor list names, if any."""
    lidars = [s for s in sensors if s in LIDAR_SENSORS]
    if len(lidars) > 1:
        raise NetworkError(f"at most one LIDAR sensor, got {lidars}")
    return lidars[0] if lidars else None


# ------------------------------------------------------------------------------ model_metadata.json


def read_model_metadata(raw) -> dict:
    """A model_metadata.json dict, read as SPEC 5.1 asks and checked against SPEC 2.

    Lenient where DeepRacer's readers are (a missing index, a numeric version, a missing
    action_space_type meaning discrete, a missing sensor list meaning the front camera), strict about
    what a car can do: 2-30 discrete actions within the steering and speed limits, continuous ranges
    within them, one camera then at most one LIDAR, a network and an algorithm we have, SAC only with a
    continuous action space. Returns every METADATA_KEYS key; raises MetadataError with the reason.
    """
    if not isinstance(raw, dict):
        raise MetadataError("model_metadata.json must hold an object")
    if "action_space" not in raw:
        raise MetadataError("model_metadata.json needs an action_space")
    kind = raw.get("action_space_type", DISCRETE)
    _check_shape(kind, raw["action_space"])
    algorithm = raw.get("training_algorithm", PPO)
    try:
        sensors = check_sensors(raw.get("sensor", list(DEFAULT_SENSORS)))
        network = check_network(raw.get("neural_network", SHALLOW_CNN))
        action_space = check_action_space(kind, raw["action_space"])
    except ActionSpaceError as error:
        raise MetadataError("; ".join(error.errors.values())) from None
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise MetadataError(f"training_algorithm must be {' or '.join(ALGORITHMS)}.")
    if algorithm == SAC and kind != CONTINUOUS:
        raise MetadataError("a SAC model needs a continuous action space.")
    return {"action_space": action_space, "action_space_type": kind, "sensor": sensors, "neural_network": network,
            "training_algorithm": algorithm, "version": str(raw.get("version", METADATA_VERSION))}


def _check_shape(kind, action_space) -> None:
    """The structure before the values, with the messages SPEC 5.1 readers give."""
    if kind == DISCRETE:
        if not isinstance(action_space, list) or not action_space:
            raise MetadataError("a discrete action_space must be a non-empty list of actions")
        for index, action in enumerate(action_space):
            try:
                float(action["steering_angle"]), float(action["speed"])
            except (KeyError, TypeError, ValueError, OverflowError):
                raise MetadataError(f"action {index} needs numeric steering_angle and speed") from None
    elif kind == CONTINUOUS:
        try:
            bounds = {key: (float(action_space[key]["low"]), float(action_space[key]["high"]))
                      for key in ("speed", "steering_angle")}
        except (KeyError, TypeError, ValueError, OverflowError):
            raise MetadataError("a continuous action_space needs speed and steering_angle low/high") from None
        for key, (low, high) in bounds.items():
            if not low < high:
                raise MetadataError(f"continuous {key}: low must be below high")
    else:
        raise MetadataError(f"action_space_type must be 'discrete' or 'continuous', got {kind!r}")
