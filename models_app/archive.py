"""Model folders as .tar.gz: streamed downloads (the whole folder, the car bundle) and safe import.

An imported archive is hostile until proven otherwise: only plain files and folders, no absolute paths,
no `..`, no links or devices, bounded size and member count, and a model_metadata.json that our
readers (SPEC 5.1) accept.
"""

import gzip
import io
import json
import shutil
import tarfile
from pathlib import Path, PurePosixPath

import yaml

from models_app.hyperparameters import DEFAULTS, HyperparameterError, check_hyperparameters
from models_app.models import RLModel, Status
from simulator import spec
from simulator.spec import HYPERPARAMETERS_PATH, METADATA_PATH, REWARD_PATH, TRAINING_PARAMS_PATH
from simulator.tracks import BUILTIN_TRACKS

MAX_MEMBERS = 20_000
# A gzip bomb guard: the unpacked folder may be at most this many times the upload limit.
MAX_EXPANSION = 4
CHUNK = 256 * 1024
GZIP_LEVEL = 1


class ArchiveError(ValueError):
    """A model archive we refuse, with a message for the racer."""


# -- streaming out -----------------------------------------------------------------------------------

class _Spool(io.RawIOBase):
    """A write-only file that hands back what was written since the last drain (for streaming tar)."""

    def __init__(self):
        self.buffer = bytearray()

    def writable(self):
        return True

    def write(self, data):
        self.buffer += data
        return len(data)

    def drain(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def stream_tar_gz(entries):
    """Yield a .tar.gz of `entries` ((archive name, Path or bytes)) chunk by chunk, never whole in memory."""
    spool = _Spool()
    # gzip level 1, not tarfile's stream default of 9: sim-trace CSVs pack ~9x faster for 30% instead of 25%
    # of their size, and checkpoints (float weights) barely compress at any level (bench/model_archive.py).
    with gzip.GzipFile(fileobj=spool, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as packed, \
            tarfile.open(fileobj=packed, mode="w|") as tar:
        for name, source in entries:
            if isinstance(source, bytes):
                info = tarfile.TarInfo(name)
                info.size = len(source)
                tar.addfile(info, io.BytesIO(source))
            else:
                info = tar.gettarinfo(str(source), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(source, "rb") as handle:
                    tar.addfile(info, handle)
            yield spool.drain()
        tar.close()
        yield spool.drain()
    yield spool.drain()


def folder_entries(model: RLModel):
    """Every plain file of the model folder, under a top folder named after the model."""
    folder = model.folder
    if not (folder / METADATA_PATH).is_file():
        model.write_folder()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield f"{model.name}/{path.relative_to(folder).as_posix()}", path


def car_bundle_entries(model: RLModel):
    """SPEC 5.4: model_metadata.json + agent/model.onnx of the best checkpoint."""
    yield "model_metadata.json", json.dumps(model.metadata(), indent=2).encode()
    yield "agent/model.onnx", model.car_bundle_source


# -- importing ---------------------------------------------------------------------------------------

def _safe_members(tar: tarfile.TarFile, max_bytes: int):
    """(relative path, member) for every file, after refusing anything unsafe."""
    members, total = [], 0
    for member in tar:
        if len(members) >= MAX_MEMBERS:
            raise ArchiveError(f"The archive holds more than {MAX_MEMBERS:,} entries.")
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts:
            raise ArchiveError(f"The archive entry {member.name!r} points outside the model folder.")
        if member.issym() or member.islnk():
            raise ArchiveError(f"The archive entry {member.name!r} is a link; only plain files are accepted.")
        if not (member.isfile() or member.isdir()):
            raise ArchiveError(f"The archive entry {member.name!r} is a device or special file.")
        if member.isfile():
            total += member.size
            if total > max_bytes:
                raise ArchiveError("The archive unpacks to more than the upload limit allows.")
            members.append((path, member))
    return members


def _strip_top_folder(members):
    """Accept both `model/...` at the root and a single wrapping folder (`my-model/model/...`)."""
    if any(path.as_posix() == METADATA_PATH for path, _ in members):
        return members
    tops = {path.parts[0] for path, _ in members if len(path.parts) > 1}
    if len(tops) == 1 and all(len(path.parts) > 1 for path, _ in members):
        return [(PurePosixPath(*path.parts[1:]), member) for path, member in members]
    return members


def parse_metadata(raw: bytes) -> dict:
    """A SPEC 5.1 model_metadata.json, checked by spec.read_model_metadata (the one reader): missing index,
    numeric version and missing action_space_type (= discrete) are accepted, as DeepRacer's readers do."""
    try:
        metadata = json.loads(raw)
    except ValueError as error:
        raise ArchiveError(f"{METADATA_PATH} is not valid JSON ({error}).") from None
    if not isinstance(metadata, dict):
        raise ArchiveError(f"{METADATA_PATH} must hold an object.")
    try:
        return spec.read_model_metadata(metadata)
    except spec.MetadataError as error:
        raise ArchiveError(f"{METADATA_PATH}: {error}") from None


def _read(tar, member, limit=1024 * 1024) -> bytes:
    if member.size > limit:
        raise ArchiveError(f"{member.name} is too large ({member.size:,} bytes).")
    return tar.extractfile(member).read()


def import_model(upload, *, owner, name: str, description: str, max_bytes: int) -> RLModel:
    """Create a READY model from an uploaded .tar.gz of a model folder; nothing is kept if it fails."""
    try:
        tar = tarfile.open(fileobj=upload, mode="r:gz")
    except (tarfile.TarError, OSError, EOFError):
        raise ArchiveError("The file is not a .tar.gz archive.") from None
    with tar:
        try:
            members = _strip_top_folder(_safe_members(tar, max_bytes * MAX_EXPANSION))
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ArchiveError(f"The archive is damaged ({error}).") from None
        by_path = {path.as_posix(): member for path, member in members}
        if METADATA_PATH not in by_path:
            raise ArchiveError(f"The archive has no {METADATA_PATH}: is it a model folder?")
        metadata = parse_metadata(_read(tar, by_path[METADATA_PATH]))
        reward_code = _text(tar, by_path.get(REWARD_PATH)) or ""
        hyperparameters = _hyperparameters(tar, by_path.get(HYPERPARAMETERS_PATH), metadata["training_algorithm"])
        track = _track(tar, by_path.get(TRAINING_PARAMS_PATH), BUILTIN_TRACKS) or spec.DEFAULT_TRACK
        model = RLModel.objects.create(
            owner=owner, name=name, description=description, status=Status.READY,
            vehicle_snapshot={"name": f"Imported with {name}", "sensor": metadata["sensor"],
                              "neural_network": metadata["neural_network"],
                              "action_space_type": metadata["action_space_type"],
                              "action_space": metadata["action_space"], "shell": "original", "colour": "#545b64"},
            track=track, race_type={"race_type": spec.TIME_TRIAL}, reward_code=reward_code,
            training_algorithm=metadata["training_algorithm"], hyperparameters=hyperparameters,
        )
        try:
            _extract(tar, members, model.folder)
        except BaseException:
            shutil.rmtree(model.folder, ignore_errors=True)
            model.delete()
            raise
    return model


def _text(tar, member) -> str | None:
    if member is None:
        return None
    try:
        return _read(tar, member, limit=200_000).decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveError(f"{member.name} is not UTF-8 text.") from None


def _hyperparameters(tar, member, algorithm) -> dict:
    if member is None:
        return check_hyperparameters({}, algorithm)
    try:
        values = json.loads(_read(tar, member))
    except ValueError:
        raise ArchiveError(f"{HYPERPARAMETERS_PATH} is not valid JSON.") from None
    if not isinstance(values, dict):
        raise ArchiveError(f"{HYPERPARAMETERS_PATH} must hold an object.")
    # DeepRacer writes a few more keys (e.g. e_greedy_value, term_cond_max_episodes): keep ours only.
    try:
        return check_hyperparameters({k: v for k, v in values.items() if k in DEFAULTS}, algorithm)
    except HyperparameterError as error:
        raise ArchiveError(f"{HYPERPARAMETERS_PATH}: " + "; ".join(f"{k}: {v}" for k, v in error.errors.items())) from None


def _track(tar, member, tracks) -> str | None:
    """The training track, when training_params.yaml names one of our built-ins."""
    if member is None:
        return None
    try:
        params = yaml.safe_load(_read(tar, member))
    except yaml.YAMLError:
        raise ArchiveError(f"{TRAINING_PARAMS_PATH} is not valid YAML.") from None
    world = params.get("WORLD_NAME") if isinstance(params, dict) else None
    return world if world in tracks else None


def _extract(tar, members, folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    for path, member in members:
        target = (root / Path(*path.parts)).resolve()
        if root not in target.parents:
            raise ArchiveError(f"The archive entry {member.name!r} points outside the model folder.")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tar.extractfile(member) as source, open(target, "wb") as destination:
            shutil.copyfileobj(source, destination, CHUNK)
