"""The owner of the model folder: every read and write of it, in DeepRacer's formats (SPEC 5), so racers'
tools read it unchanged (no Django). The wizard, import, clone, the job services and the engine all go
through these functions; nothing else writes into a model folder.

Layout (deepracer-for-cloud)::

    model/model_metadata.json  model/deepracer_checkpoints.json  model/<iteration>_Step-<steps>.ckpt.pt
    model/model.onnx (best checkpoint)  ip/hyperparameters.json  reward_function.py  training_params.yaml
    metrics/TrainingMetrics.json  metrics/EvaluationMetrics-<ts>.json  training-simtrace/<i>-iteration.csv
    evaluation-<ts>/evaluation-simtrace/0-iteration.csv  evaluation-<ts>/video.mp4  logs/*.log

Every file is written to a temporary name and renamed, so a killed run never leaves half a file, and
ip/hyperparameters.json always carries DeepRacer's legacy keys (its tools expect them).
"""

import csv
import io
import json
import os
import shutil
import tarfile
import time
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import orjson
import yaml

from simulator.spec import (
    CAMERA_CHANNELS,
    DISCRETE,
    HYPERPARAMETERS_PATH,
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    LEGACY_HYPERPARAMETERS,
    LIDAR,
    LIDAR_MAX_RANGE,
    LIDAR_MIN_RANGE,
    LIDAR_RAYS,
    LIDAR_SECTORS,
    METADATA_PATH,
    REWARD_PATH,
    SECTOR_LIDAR,
    TRAINING_PARAMS_PATH,
    MetadataError,
)
from simulator.spec import read_model_metadata as check_metadata

SIMTRACE_COLUMNS = (
    "episode", "steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward", "done",
    "all_wheels_on_track", "progress", "closest_waypoint", "track_len", "tstamp", "episode_status",
    "pause_duration", "obstacle_crash_counter", "wall_clock",
)
SIM_TRACE_PREFIX = "SIM_TRACE_LOG:"
TRAINING_LOG = Path("logs") / "training" / "training-simulation.log"  # in the model folder, with the sim trace
EVALUATION_SIMTRACE = Path("evaluation-simtrace") / "0-iteration.csv"  # inside an evaluation-<ts>/ folder
# A head-to-model heat's folder (HeatJob.folder, in the model store beside the model folders): the replay
# and each car's sim trace, in the evaluation's CSV format.
HEAT_VIDEO = "replay.mp4"
METRICS_VERSION = 2.0
# SPEC 5.3 spells the statuses for humans in the metrics JSON.
METRICS_STATUS = {
    "lap_complete": "Lap complete", "off_track": "Off track", "crashed": "Crashed",
    "reversed": "Reversed", "immobilized": "Immobilized", "in_progress": "In progress",
    "time_up": "Time up",
}
CAMERA_SHAPE = {name: (channels, IMAGE_HEIGHT, IMAGE_WIDTH) for name, channels in CAMERA_CHANNELS.items()}
LIDAR_SPACES = {
    LIDAR: gym.spaces.Box(LIDAR_MIN_RANGE, LIDAR_MAX_RANGE, (LIDAR_RAYS,), np.float32),
    SECTOR_LIDAR: gym.spaces.Box(0.0, 1.0, (LIDAR_SECTORS,), np.float32),
}
KEPT_CHECKPOINTS = 4  # the newest few plus the best; DeepRacer keeps a handful too
CHECKPOINT_SUFFIX = ".ckpt.pt"


class ArtifactError(ValueError):
    """A model-folder file is missing or malformed; the message names the file and the problem."""


# ----------------------------------------------------------------------------------------- helpers


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary name beside the file, then rename: readers see the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def copy_atomically(source, path: Path, chunk: int = 256 * 1024) -> None:
    """Stream a readable binary file into ``path`` (an imported folder's files), by the same rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as destination:
        shutil.copyfileobj(source, destination, chunk)
    os.replace(tmp, path)


def write_json(path: Path, data, indent: bool = True) -> None:
    option = orjson.OPT_INDENT_2 if indent else 0
    write_atomically(path, orjson.dumps(data, option=option | orjson.OPT_SERIALIZE_NUMPY))


def read_json(path: Path):
    path = Path(path)
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ArtifactError(f"{path.name} is missing ({path})") from None
    except orjson.JSONDecodeError as error:
        raise ArtifactError(f"{path.name} is not valid JSON: {error}") from None


# ----------------------------------------------------------------------------- model_metadata.json


def normalize_metadata(raw: dict) -> dict:
    """A model_metadata.json dict as we use it: spec.read_model_metadata, the one reader (SPEC 5.1)."""
    try:
        return check_metadata(raw)
    except MetadataError as error:
        raise ArtifactError(str(error)) from None


def write_model_metadata(model_dir: Path, metadata: dict) -> dict:
    metadata = normalize_metadata(metadata)
    write_json(Path(model_dir) / METADATA_PATH, metadata)
    return metadata


def read_model_metadata(path: Path) -> dict:
    """From a model folder (model/model_metadata.json) or the file itself."""
    path = Path(path)
    if path.is_dir():
        path = path / METADATA_PATH
    return normalize_metadata(read_json(path))


def action_space(metadata: dict) -> gym.Space:
    """The env's action space for a metadata dict (INTERFACES: Discrete(n) or Box[steer, speed])."""
    if metadata["action_space_type"] == DISCRETE:
        return gym.spaces.Discrete(len(metadata["action_space"]))
    space = metadata["action_space"]
    low = [space["steering_angle"]["low"], space["speed"]["low"]]
    high = [space["steering_angle"]["high"], space["speed"]["high"]]
    return gym.spaces.Box(np.array(low, np.float32), np.array(high, np.float32))


def observation_space(sensors) -> gym.spaces.Dict:
    """The env's observation space for a sensor list (INTERFACES shapes), for loading without an env."""
    spaces = {}
    for name in sensors:
        if name in CAMERA_SHAPE:
            spaces[name] = gym.spaces.Box(0, 255, CAMERA_SHAPE[name], np.uint8)
        elif name in LIDAR_SPACES:
            spaces[name] = LIDAR_SPACES[name]
        else:
            raise ArtifactError(f"unknown sensor {name!r}")
    return gym.spaces.Dict(spaces)


# --------------------------------------------------------------- hyperparameters, params, reward


def write_model_files(model_dir: Path, *, metadata: dict, hyperparameters: dict, reward_code: str) -> dict:
    """The files a model folder starts with (SPEC 5.4), so that a model never trained still downloads as a
    folder other tools read; training overwrites and adds to them. Returns the metadata as written."""
    metadata = write_model_metadata(model_dir, metadata)
    write_hyperparameters(model_dir, hyperparameters)
    write_reward_function(model_dir, reward_code)
    return metadata


def write_hyperparameters(model_dir: Path, hyperparameters: dict) -> None:
    """ip/hyperparameters.json: the racer's values beside DeepRacer's legacy keys."""
    write_json(Path(model_dir) / HYPERPARAMETERS_PATH, {**LEGACY_HYPERPARAMETERS, **hyperparameters})


def read_hyperparameters(model_dir: Path) -> dict:
    return read_json(Path(model_dir) / HYPERPARAMETERS_PATH)


def write_training_params(model_dir: Path, params: dict) -> None:
    """training_params.yaml: deepracer-for-cloud's upper-case keys (WORLD_NAME, RACE_TYPE, ...)."""
    write_atomically(Path(model_dir) / TRAINING_PARAMS_PATH, yaml.safe_dump(params, sort_keys=False).encode())


def read_training_params(model_dir: Path) -> dict:
    try:
        return yaml.safe_load((Path(model_dir) / TRAINING_PARAMS_PATH).read_text()) or {}
    except FileNotFoundError:
        raise ArtifactError("training_params.yaml is missing") from None


def write_reward_function(model_dir: Path, code: str) -> None:
    write_atomically(Path(model_dir) / REWARD_PATH, code.encode())


# ----------------------------------------------------------------------------------------- metrics


class MetricsFile:
    """metrics/TrainingMetrics.json or EvaluationMetrics-<ts>.json: records appended, rewritten whole."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.records: list[dict] = []
        if self.path.exists():
            self.records = list(read_json(self.path).get("metrics", []))

    def append(self, records) -> None:
        self.records.extend(records)
        self.save()

    def truncate(self, keep) -> None:
        """Keep only the records keep(record) accepts (resume drops what came after the checkpoint)."""
        self.records = [record for record in self.records if keep(record)]
        self.save()

    def save(self) -> None:
        write_json(self.path, {"metrics": self.records, "version": METRICS_VERSION,
                               "best_model_metric": "progress"}, indent=False)


def metrics_record(*, episode: int, trial: int, phase: str, reward: float, progress: float,
                   status: str, start_time: float, end_time: float, **counts) -> dict:
    """One SPEC 5.3 record (times are unix seconds in, milliseconds out)."""
    record = {
        "reward_score": int(round(reward)),
        "metric_time": int(end_time * 1000),
        "start_time": int(start_time * 1000),
        "elapsed_time_in_milliseconds": int((end_time - start_time) * 1000),
        "episode": int(episode),
        "trial": int(trial),
        "phase": phase,
        "completion_percentage": int(progress),
        "episode_status": METRICS_STATUS.get(status, status),
    }
    record.update({name: int(value) for name, value in counts.items()})
    return record


def format_lap_time(seconds: float) -> str:
    """MM:SS.mmm, as the console shows lap times."""
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes):02d}:{rest:06.3f}"


def read_metrics(path: Path) -> list[dict]:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), list):
        raise ArtifactError(f"{Path(path).name} has no metrics list")
    return data["metrics"]


# -------------------------------------------------------------------------------------- sim traces


def format_trace_value(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (float, np.floating)):
        return repr(round(float(value), 4))
    if isinstance(value, (list, tuple, np.ndarray)):
        # A continuous action is written "[steer speed]", as DeepRacer's simapp writes it.
        return "[" + " ".join(format_trace_value(v) for v in value) + "]"
    return str(value)


def trace_row(episode: int, trace: dict, wall_clock: float | None = None) -> list[str]:
    """One sim-trace row from the env's info["trace"] (the engine adds the step's wall_clock to it)."""
    values = {"wall_clock": wall_clock if wall_clock is not None else time.time(), **trace, "episode": episode}
    try:
        return [format_trace_value(values[name]) for name in SIMTRACE_COLUMNS]
    except KeyError as error:
        raise ArtifactError(f"the env's trace lacks the sim-trace column {error}") from None


def write_simtrace(path: Path, rows) -> None:
    """A whole sim-trace CSV (header exactly as SPEC 5.2) from rows of already-formatted values."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SIMTRACE_COLUMNS)
        writer.writerows(rows)
    os.replace(tmp, path)


def heat_simtrace_name(car: int) -> str:
    """Car ``car``'s sim trace in a heat's folder (SPEC 5.2 rows, one file per car)."""
    return f"car-{int(car)}-simtrace.csv"


def simtrace_log_line(row) -> str:
    return SIM_TRACE_PREFIX + ",".join(row)


def read_simtrace(path: Path) -> list[dict]:
    with Path(path).open(newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != SIMTRACE_COLUMNS:
            raise ArtifactError(f"{Path(path).name}: unexpected sim-trace header {reader.fieldnames}")
        return list(reader)


# ------------------------------------------------------------------------------------- checkpoints


def checkpoint_name(iteration: int, steps: int) -> str:
    return f"{iteration}_Step-{steps}{CHECKPOINT_SUFFIX}"


def save_checkpoint(model_dir: Path, name: str, state: dict) -> Path:
    path = Path(model_dir) / "model" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    import torch  # here, not at the top: the web process reads model folders and never loads torch

    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(model_dir: Path, name: str, map_location="cpu") -> dict:
    path = Path(model_dir) / "model" / name
    if not path.exists():
        raise ArtifactError(f"checkpoint {name} is missing from {path.parent}")
    import torch

    return torch.load(path, map_location=map_location, weights_only=False)


def write_checkpoints_index(model_dir: Path, best: dict | None, last: dict) -> None:
    """deepracer_checkpoints.json: {best_checkpoint, last_checkpoint}, each {name, time_stamp, avg_eval_metric}
    (and avg_eval_lap_time, see checkpoint_entry)."""
    write_json(Path(model_dir) / "model" / "deepracer_checkpoints.json",
               {"best_checkpoint": best or last, "last_checkpoint": last})


def read_checkpoints_index(model_dir: Path) -> dict | None:
    path = Path(model_dir) / "model" / "deepracer_checkpoints.json"
    return read_json(path) if path.exists() else None


def checkpoint_entry(name: str, avg_eval_metric: float, avg_eval_lap_time: float | None = None,
                     avg_training_progress: float | None = None) -> dict:
    """A deepracer_checkpoints.json entry; the console's own keys ``avg_eval_lap_time`` (s, when every
    evaluation episode completed its lap) and ``avg_training_progress`` (%, the mean progress of the training
    episodes the evaluated policy collected), so that a resumed run still knows how fast and how steady its
    best was (engine.beats_best)."""
    entry = {"name": name, "time_stamp": round(time.time(), 3), "avg_eval_metric": float(avg_eval_metric)}
    if avg_eval_lap_time is not None:
        entry["avg_eval_lap_time"] = round(float(avg_eval_lap_time), 4)
    if avg_training_progress is not None:
        entry["avg_training_progress"] = round(float(avg_training_progress), 4)
    return entry


def prune_checkpoints(model_dir: Path, keep_names) -> None:
    """Delete all but the newest KEPT_CHECKPOINTS and the names in keep_names."""
    folder = Path(model_dir) / "model"
    found = sorted(folder.glob(f"*{CHECKPOINT_SUFFIX}"), key=lambda p: int(p.name.split("_", 1)[0]))
    keep = set(keep_names) | {p.name for p in found[-KEPT_CHECKPOINTS:]}
    for path in found:
        if path.name not in keep:
            path.unlink(missing_ok=True)


# -------------------------------------------------------------------------------- ONNX, car bundle


def load_policy(model_dir: Path, which: str = "best"):
    """The agent of a model folder's best (or last) checkpoint, in eval mode, on the CPU."""
    metadata = read_model_metadata(model_dir)
    index = read_checkpoints_index(model_dir)
    if index is None:
        raise ArtifactError("the model has no checkpoint yet (model/deepracer_checkpoints.json is missing)")
    name = index[f"{which}_checkpoint"]["name"]
    from training.networks import build_agent  # torch: see save_checkpoint

    agent = build_agent(metadata, observation_space(metadata["sensor"]), action_space(metadata))
    agent.load_state_dict(load_checkpoint(model_dir, name)["learner"]["agent"])
    return agent.eval(), metadata


def export_onnx(agent, sensors, path: Path) -> Path:
    """ONNX of the deterministic policy: one input per sensor (camera uint8 NCHW, LIDAR float32) and
    one output, ``action_probabilities`` (discrete) or ``action`` ([steering deg, speed m/s])."""
    import torch

    from training.networks import PolicyExport

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(sensors)
    space = observation_space(names)
    example = tuple(torch.as_tensor(space[name].sample()[None]) for name in names)
    output = "action_probabilities" if getattr(agent, "discrete", False) else "action"
    wrapper = PolicyExport(agent.cpu().eval(), names).eval()
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter is deprecated but needs no onnxscript; its warning is not news.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            wrapper, example, str(path), input_names=names, output_names=[output],
            dynamic_axes={name: {0: "batch"} for name in [*names, output]},
            opset_version=17, dynamo=False,
        )
    return path


def write_car_bundle(model_dir: Path, destination: Path | None = None) -> Path:
    """model_metadata.json + agent/model.onnx of the best checkpoint, as a .tar.gz (SPEC 5.4)."""
    model_dir = Path(model_dir)
    agent, metadata = load_policy(model_dir, "best")
    onnx_path = export_onnx(agent, metadata["sensor"], model_dir / "model" / "model.onnx")
    destination = Path(destination or model_dir / "car_bundle.tar.gz")
    tmp = destination.with_name(destination.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as bundle:
        metadata_bytes = json.dumps(metadata, indent=2).encode()
        info = tarfile.TarInfo("model_metadata.json")
        info.size, info.mtime = len(metadata_bytes), int(time.time())
        bundle.addfile(info, io.BytesIO(metadata_bytes))
        bundle.add(onnx_path, arcname="agent/model.onnx")
    os.replace(tmp, destination)
    return destination
