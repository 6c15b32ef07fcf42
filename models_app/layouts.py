"""Which DeepRacer folder an upload is, and where each of its files goes in our model folder (SPEC 5.4).

Plain Python on relative POSIX paths (no Django, no I/O), so that the model-folder owner can take it
over as is. The layouts are the ones deepracer-utils' FileHandler reads:

- deepracer-for-cloud, single worker: ``training-simtrace/<i>-iteration.csv``, ``evaluation-<14 digits>/
  evaluation-simtrace/0-iteration.csv``, ``model/``, ``ip/hyperparameters.json``, ``metrics/``;
- deepracer-for-cloud, several workers: ``0/training-simtrace/``, ``1/training-simtrace/``, ... and
  ``metrics/TrainingMetrics.json``, ``TrainingMetrics_1.json``, ...;
- deepracer-for-cloud model upload: ``model/`` (and evaluations) without training sim-traces;
- the AWS console's downloaded logs: ``sim-trace/training/training-simtrace/``, ``sim-trace/evaluation/
  <14 digits>-<id>/evaluation-simtrace/``, ``logs/``, ``metrics/training/``, ``metrics/evaluation/``;
  its model archive (a car bundle): ``model_metadata.json`` beside ``agent/model.pb``;
- "DeepRacer on AWS" exports: logs with a timestamp folder (``sim-trace/training/<time>/training-simtrace/``)
  and models with ``model_metadata.json``, ``hyperparameters.json`` and ``training_params.yaml`` at the root.

Our own download is the deepracer-for-cloud layout with PyTorch checkpoints (``model/*.ckpt.pt``).
"""

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from simulator.spec import HYPERPARAMETERS_PATH as HYPERPARAMETERS
from simulator.spec import METADATA_PATH as METADATA
from simulator.spec import REWARD_PATH as REWARD
from simulator.spec import TRAINING_PARAMS_PATH as TRAINING_PARAMS

TRAINING_METRICS = "metrics/TrainingMetrics.json"
TRAINING_SIMTRACE = "training-simtrace"
DUPLICATES = "imported-duplicates"  # where a file goes whose place another file of the upload took
OUR_CHECKPOINT_SUFFIX = ".ckpt.pt"

# Where a model came from (RLModel.origin).
HERE, CONSOLE, DROA, DRFC = "here", "console", "droa", "drfc"
ORIGINS = {HERE: "This console", CONSOLE: "AWS DeepRacer console", DROA: "DeepRacer on AWS",
           DRFC: "deepracer-for-cloud"}

DRFC_SINGLE = "drfc-single"
DRFC_MULTI = "drfc-multi"
DRFC_UPLOAD = "drfc-model"
CONSOLE_LOGS = "console-logs"
CONSOLE_MODEL = "console-model"
DROA_LOGS = "droa-logs"
DROA_MODEL = "droa-model"
LAYOUTS = {
    DRFC_SINGLE: ("deepracer-for-cloud model folder", DRFC),
    DRFC_MULTI: ("deepracer-for-cloud model folder (several workers)", DRFC),
    DRFC_UPLOAD: ("deepracer-for-cloud model upload", DRFC),
    CONSOLE_LOGS: ("AWS DeepRacer console logs", CONSOLE),
    CONSOLE_MODEL: ("AWS DeepRacer console model archive", CONSOLE),
    DROA_LOGS: ("DeepRacer on AWS logs export", DROA),
    DROA_MODEL: ("DeepRacer on AWS model export", DROA),
}

WORKER_TRACE = re.compile(r"^(\d+)/training-simtrace/[^/]+-iteration\.csv$")
STAMP = re.compile(r"^\d{14}$")
# The files that say "this folder is the model's root" (a wrapping folder above it is stripped).
ROOT_MARKERS = ("model", "ip", "metrics", "sim-trace", "logs", TRAINING_SIMTRACE, "agent",
                "model_metadata.json", "hyperparameters.json", REWARD, TRAINING_PARAMS)


class LayoutError(ValueError):
    """The upload is no DeepRacer folder we know."""


@dataclass
class Plan:
    """Where each uploaded file goes: source path (as uploaded) -> path in our model folder."""

    layout: str
    moves: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return LAYOUTS[self.layout][0]

    @property
    def origin(self) -> str:
        return HERE if self.has_our_checkpoints else LAYOUTS[self.layout][1]

    def source_of(self, destination: str) -> str | None:
        for source, target in self.moves.items():
            if target == destination:
                return source
        return None

    @property
    def destinations(self) -> list[str]:
        return list(self.moves.values())

    @property
    def has_our_checkpoints(self) -> bool:
        return any(path.startswith("model/") and path.endswith(OUR_CHECKPOINT_SUFFIX) for path in self.destinations)

    @property
    def foreign_weights(self) -> list[str]:
        """TensorFlow checkpoints and frozen graphs (what the SimApp writes), and car-bundle models."""
        names = [PurePosixPath(path).name for path in self.destinations]
        return sorted(name for name in names
                      if ".ckpt." in name and not name.endswith(OUR_CHECKPOINT_SUFFIX)
                      or name.endswith((".pb", ".onnx")) or name == ".coach_checkpoint")


def plan_import(paths) -> Plan:
    """The layout of an upload (relative POSIX file paths) and where each file goes."""
    paths = [PurePosixPath(path).as_posix() for path in paths]
    prefix = _wrapper_prefix(paths)
    relative = {path: path[len(prefix):] for path in paths}
    layout = detect_layout(list(relative.values()))
    mapper = MAPPERS[layout]
    moves: dict[str, str] = {}
    taken: set[str] = set()
    for source, path in sorted(relative.items(), key=lambda item: item[1]):
        target = mapper(path) or path
        if target in taken:  # two files claim one place (e.g. two training rounds): the later keeps its path
            target = path if path not in taken else f"{DUPLICATES}/{path}"
        taken.add(target)
        moves[source] = target
    _add_root_files(moves)
    return Plan(layout, moves)


def _wrapper_prefix(paths) -> str:
    """Strip single wrapping folders (``my-model/model/...``, a zip's ``export/abc/...``) down to the
    folder that holds the model's files."""
    prefix = ""
    while True:
        rest = [path[len(prefix):] for path in paths]
        tops = {part.split("/", 1)[0] for part in rest}
        if tops & set(ROOT_MARKERS) or any("/" not in part for part in rest) or len(tops) != 1:
            return prefix
        top = tops.pop()
        if WORKER_TRACE.match(f"{top}/training-simtrace/0-iteration.csv") or top.startswith("evaluation-"):
            return prefix
        prefix += top + "/"


def detect_layout(paths) -> str:
    """deepracer-utils' order: console logs, DRoA logs, DRfC single, DRfC multi, then model folders."""
    paths = list(paths)
    has = set(paths)

    def any_match(pattern):
        compiled = re.compile(pattern)
        return any(compiled.match(path) for path in paths)

    if any_match(r"^sim-trace/training/training-simtrace/"):
        return CONSOLE_LOGS
    if any_match(r"^sim-trace/(training|evaluation)/[^/]+/"):
        return DROA_LOGS
    if any_match(r"^training-simtrace/[^/]+-iteration\.csv$"):
        return DRFC_SINGLE
    if any(WORKER_TRACE.match(path) for path in paths):
        return DRFC_MULTI
    if METADATA in has or any_match(r"^evaluation-\d{14}/"):
        return DRFC_UPLOAD
    if "model_metadata.json" in has and any_match(r"^agent/"):
        return CONSOLE_MODEL
    if "model_metadata.json" in has:
        return DROA_MODEL
    raise LayoutError("This is no DeepRacer model or log folder we know: it has no model/model_metadata.json "
                      "(nor model_metadata.json at its root), training-simtrace/ or sim-trace/.")


# -- per-layout mapping (None: the file keeps its path) ------------------------------------------------

def _identity(path: str) -> None:
    return None


def _drfc_multi(path: str) -> str | None:
    # Worker 0's traces go where single-worker ones live (deepracer-utils and our Analysis read them
    # there); the other workers keep their numbered folders, as deepracer-for-cloud names them.
    if path.startswith("0/training-simtrace/"):
        return path[len("0/"):]
    return None


def _console_logs(path: str) -> str | None:
    parts = path.split("/")
    if path.startswith("sim-trace/training/training-simtrace/"):
        return f"{TRAINING_SIMTRACE}/{parts[-1]}"
    if len(parts) == 5 and parts[:2] == ["sim-trace", "evaluation"] and parts[3] == "evaluation-simtrace":
        stamp = _stamp(parts[2])
        return f"evaluation-{stamp}/evaluation-simtrace/{parts[4]}" if stamp else None
    return _console_metrics(path)


def _droa_logs(path: str) -> str | None:
    parts = path.split("/")
    if len(parts) == 5 and parts[:2] == ["sim-trace", "training"] and parts[3] == TRAINING_SIMTRACE:
        return f"{TRAINING_SIMTRACE}/{parts[4]}"
    if len(parts) == 5 and parts[:2] == ["sim-trace", "evaluation"] and parts[3] == "evaluation-simtrace":
        stamp = _stamp(parts[2])
        return f"evaluation-{stamp}/evaluation-simtrace/{parts[4]}" if stamp else None
    return _console_metrics(path) or _root_files(path)


def _droa_model(path: str) -> str | None:
    return _console_metrics(path) or _root_files(path)


def _console_metrics(path: str) -> str | None:
    """The consoles keep metrics as metrics/training/<name>.json and metrics/evaluation/<name>.json."""
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "metrics" and parts[2].endswith(".json"):
        if parts[1] == "training":
            return TRAINING_METRICS
        if parts[1] == "evaluation":
            stamp = _stamp(parts[2])
            return f"metrics/EvaluationMetrics-{stamp}.json" if stamp else None
    return None


def _root_files(path: str) -> str | None:
    return {"model_metadata.json": METADATA, "hyperparameters.json": HYPERPARAMETERS}.get(path)


def _stamp(name: str) -> str | None:
    """YYYYmmddHHMMSS from a folder or file name: ``20220703172842-abc``, ``2025-01-02T03:04:05.000Z``."""
    digits = re.sub(r"\D", "", name)
    head = re.match(r"^(\d{14})", name)
    if head:
        return head.group(1)
    match = re.search(r"(\d{4})-?(\d{2})-?(\d{2})[T_ -]?(\d{2}):?-?(\d{2}):?-?(\d{2})", name)
    if match:
        return "".join(match.groups())
    return digits[:14] if len(digits) >= 14 else None


MAPPERS = {
    DRFC_SINGLE: _identity, DRFC_MULTI: _drfc_multi, DRFC_UPLOAD: _identity,
    CONSOLE_LOGS: _console_logs, CONSOLE_MODEL: _root_files, DROA_LOGS: _droa_logs, DROA_MODEL: _droa_model,
}


def _add_root_files(moves: dict[str, str]) -> None:
    """Every layout: the metadata, hyperparameters and training params where we read them, when the
    upload has them elsewhere (the AWS consoles put some at the root, and name the params per run)."""
    targets = set(moves.values())
    for source, target in list(moves.items()):
        if target in ("model_metadata.json", "hyperparameters.json") and _root_files(target) not in targets:
            moves[source] = _root_files(target)
            targets.add(moves[source])
    if TRAINING_PARAMS not in targets:
        params = sorted(source for source, target in moves.items()
                        if re.match(r"^training_params[^/]*\.ya?ml$", target))
        if params:
            moves[params[0]] = TRAINING_PARAMS
