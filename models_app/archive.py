"""Model folders: streamed .tar.gz downloads (the whole folder, the car bundle) and safe import of any
DeepRacer model or log folder as .tar.gz, .zip or a folder of files (models_app/layouts.py says which
layouts and where their files go).

An upload is hostile until proven otherwise: only plain files and folders, no absolute paths, no `..`,
no links or devices (tarfile's data filter agrees, and zip entries get the same checks), bounded size and
member count, and a model_metadata.json that our readers (SPEC 5.1) accept.
"""

import gzip
import io
import json
import shutil
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml
from django.db import transaction

from garage.models import DEFAULT_COLOUR, Vehicle
from models_app import layouts, race_types
from models_app.hyperparameters import DEFAULTS, HyperparameterError, check_hyperparameters
from models_app.models import ImportedTrack, RLModel, Status
from simulator import spec
from simulator.spec import HYPERPARAMETERS_PATH, METADATA_PATH, TRAINING_PARAMS_PATH
from simulator.tracks import BUILTIN_TRACKS
from training import artifacts

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


# -- reading an upload ------------------------------------------------------------------------------

@dataclass
class Entry:
    """One file of an upload: its size and how to open it for reading."""

    size: int
    open: object  # () -> binary file


class Upload:
    """The files of an upload by relative path, after every safety check passed."""

    def __init__(self, entries: dict[str, Entry], closer=None):
        self.entries = entries
        self._closer = closer

    def close(self):
        if self._closer is not None:
            self._closer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def paths(self) -> list[str]:
        return list(self.entries)

    def read(self, path: str, limit: int = 1024 * 1024) -> bytes:
        entry = self.entries[path]
        if entry.size > limit:
            raise ArchiveError(f"{path} is too large ({entry.size:,} bytes).")
        with entry.open() as handle:
            return handle.read(limit + 1)[:limit]

    def copy(self, path: str, target: Path):
        """Into the model folder through its owner (training.artifacts), atomically."""
        with self.entries[path].open() as source:
            artifacts.copy_atomically(source, target, CHUNK)


def _checked_path(name: str) -> str:
    """A member name as a safe relative POSIX path, or ArchiveError."""
    if "\\" in name or "\x00" in name:
        raise ArchiveError(f"The entry {name!r} has a path this console refuses.")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ArchiveError(f"The entry {name!r} points outside the model folder.")
    if not path.parts or path.as_posix() == ".":
        raise ArchiveError(f"The entry {name!r} has no file name.")
    return path.as_posix()


class _Budget:
    """Counts members and unpacked bytes against the limits."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.count, self.total = max_bytes, 0, 0

    def add(self, entries: dict, path: str, size: int):
        self.count += 1
        if self.count > MAX_MEMBERS:
            raise ArchiveError(f"The upload holds more than {MAX_MEMBERS:,} entries.")
        self.total += size
        if self.total > self.max_bytes:
            raise ArchiveError("The upload unpacks to more than the upload limit allows.")
        if path in entries:
            raise ArchiveError(f"The entry {path!r} appears twice.")


ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"


def open_upload(upload, max_bytes: int) -> Upload:
    """A .tar.gz or .zip archive (told apart by their first bytes, not their names)."""
    upload.seek(0)
    head = upload.read(4)
    upload.seek(0)
    if head.startswith(ZIP_MAGIC) or head == b"PK\x05\x06":
        return _zip_upload(upload, max_bytes * MAX_EXPANSION)
    if head.startswith(GZIP_MAGIC):
        return _tar_upload(upload, max_bytes * MAX_EXPANSION)
    raise ArchiveError("The file is not a .tar.gz or .zip archive.")


def _tar_upload(upload, max_bytes: int) -> Upload:
    try:
        tar = tarfile.open(fileobj=upload, mode="r:gz")
    except (tarfile.TarError, OSError, EOFError):
        raise ArchiveError("The file is not a .tar.gz archive.") from None
    entries, budget = {}, _Budget(max_bytes)
    try:
        for member in tar:
            name = member.name
            if member.issym() or member.islnk():
                raise ArchiveError(f"The entry {name!r} is a link; only plain files are accepted.")
            if not (member.isfile() or member.isdir()):
                raise ArchiveError(f"The entry {name!r} is a device or special file.")
            path = _checked_path(name)
            try:  # the standard library's verdict too (absolute, outside, links, special files)
                tarfile.data_filter(member, "/import")
            except tarfile.FilterError as error:
                raise ArchiveError(f"The entry {name!r} is refused ({error}).") from None
            if member.isdir():
                continue
            budget.add(entries, path, member.size)
            entries[path] = Entry(member.size, lambda member=member: tar.extractfile(member))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        tar.close()
        raise ArchiveError(f"The archive is damaged ({error}).") from None
    except ArchiveError:
        tar.close()
        raise
    return Upload(entries, tar.close)


def _zip_upload(upload, max_bytes: int) -> Upload:
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise ArchiveError("The file is not a .zip archive.") from None
    entries, budget = {}, _Budget(max_bytes)
    try:
        for info in archive.infolist():
            name = info.filename
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ArchiveError(f"The entry {name!r} is a link; only plain files are accepted.")
            # Many zip writers leave the file-type bits at 0 (a plain file); any other type is refused.
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise ArchiveError(f"The entry {name!r} is a device or special file.")
            if info.flag_bits & 0x1:
                raise ArchiveError(f"The entry {name!r} is encrypted.")
            path = _checked_path(name)
            if info.is_dir():
                continue
            # ZipExtFile never yields more than file_size bytes, so the declared sizes bound the unpacking.
            budget.add(entries, path, info.file_size)
            entries[path] = Entry(info.file_size, lambda info=info: archive.open(info))
    except ArchiveError:
        archive.close()
        raise
    return Upload(entries, archive.close)


def folder_upload(files, paths, max_bytes: int) -> Upload:
    """Files dropped as a folder: each with its relative path (the browser's webkitRelativePath, sent
    beside the files because a multipart upload keeps only base names)."""
    if not files:
        raise ArchiveError("Choose a folder with the model's files.")
    if paths and len(paths) != len(files):
        raise ArchiveError("Each file of the folder needs its relative path.")
    entries, budget = {}, _Budget(max_bytes)
    for index, upload in enumerate(files):
        path = _checked_path(paths[index] if paths else upload.name)
        budget.add(entries, path, upload.size)
        entries[path] = Entry(upload.size, lambda upload=upload: _reopened(upload))
    return Upload(entries)


class _reopened:
    """An uploaded file read from its start, closed by nobody but Django."""

    def __init__(self, upload):
        self.upload = upload

    def __enter__(self):
        self.upload.seek(0)
        return self.upload

    def __exit__(self, *exc):
        return False


# -- importing ---------------------------------------------------------------------------------------

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


NO_WEIGHTS = ("It was imported without weights (only its settings and logs), so it cannot be evaluated or "
              "raced. Clone it to train a new model here from the same vehicle, reward function and "
              "hyperparameters.")
FOREIGN_WEIGHTS = ("Its weights are {names}, which this console's PyTorch learner cannot run, so it cannot be "
                   "evaluated or raced. Clone it to train a new model here from the same vehicle, reward "
                   "function and hyperparameters.")


def logs_only_reason(plan: layouts.Plan) -> str:
    """Why an imported model cannot run here, or "" when it holds our PyTorch checkpoints."""
    if plan.has_our_checkpoints:
        return ""
    foreign = plan.foreign_weights
    if not foreign:
        return NO_WEIGHTS
    shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    kind = "TensorFlow checkpoints" if any(".ckpt" in name or name.endswith(".pb") for name in foreign) \
        else "a car bundle's exported network"
    return FOREIGN_WEIGHTS.format(names=f"{kind} ({shown})")


def import_model(upload: Upload, *, owner, name: str, description: str) -> RLModel:
    """Create a READY model (a full one, or a logs model) and its Garage vehicle from an upload, with its
    files in the model folder; nothing is kept if it fails (models_app.services.model_import adds its past)."""
    try:
        plan = layouts.plan_import(upload.paths)
    except layouts.LayoutError as error:
        raise ArchiveError(str(error)) from None
    source = plan.source_of(layouts.METADATA)
    if source is None:
        raise ArchiveError(f"The upload ({plan.label}) has no model_metadata.json: add the one from the "
                           "model's folder or download, beside the logs.")
    metadata = parse_metadata(upload.read(source))
    reward_code = _text(upload, plan.source_of(layouts.REWARD)) or ""
    hyperparameters = _hyperparameters(upload, plan.source_of(layouts.HYPERPARAMETERS), metadata["training_algorithm"])
    params = _training_params(upload, plan.source_of(layouts.TRAINING_PARAMS))
    world = str(params.get("WORLD_NAME") or "")[:100]
    track = _track_for(owner, world)
    with transaction.atomic():
        vehicle = _garage_vehicle(owner, name, metadata)
        model = RLModel.objects.create(
            owner=owner, name=name, description=description, status=Status.READY,
            vehicle=vehicle, vehicle_snapshot=vehicle.snapshot(),
            track=track or spec.DEFAULT_TRACK, track_reversed=bool(track and params.get("REVERSE_DIR")),
            race_type=_race_type(params),
            reward_code=reward_code, training_algorithm=metadata["training_algorithm"],
            hyperparameters=hyperparameters, origin=plan.origin, logs_only_reason=logs_only_reason(plan),
            import_details={"layout": plan.label, "world_name": world, "files": len(plan.moves)},
        )
    try:
        _extract(upload, plan, model.folder)
    except BaseException:
        discard_import(model)
        raise
    return model


def discard_import(model: RLModel):
    """Undo an import that failed half-way: its folder, the model and the vehicle it brought."""
    shutil.rmtree(model.folder, ignore_errors=True)
    vehicle = model.vehicle
    model.delete()
    if vehicle is not None:
        vehicle.delete()


def _garage_vehicle(owner, model_name: str, metadata: dict):
    """The imported model's vehicle, in the Garage as one of the racer's own (a free name)."""
    base = f"{model_name} vehicle"[:56]
    name, number = base, 2
    while Vehicle.objects.filter(owner=owner, name=name).exists():
        name, number = f"{base} {number}", number + 1
    return Vehicle.objects.create(owner=owner, name=name, sensors=metadata["sensor"],
                                  neural_network=metadata["neural_network"],
                                  action_space_type=metadata["action_space_type"],
                                  action_space=metadata["action_space"], shell="original", colour=DEFAULT_COLOUR)


def _text(upload: Upload, path) -> str | None:
    if path is None:
        return None
    try:
        # Windows line ends (racers edit on Windows) become the editor's; the file keeps its own bytes.
        return upload.read(path, limit=200_000).decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        raise ArchiveError(f"{path} is not UTF-8 text.") from None


def _hyperparameters(upload: Upload, path, algorithm) -> dict:
    if path is None:
        return check_hyperparameters({}, algorithm)
    try:
        values = json.loads(upload.read(path))
    except ValueError:
        raise ArchiveError(f"{HYPERPARAMETERS_PATH} is not valid JSON.") from None
    if not isinstance(values, dict):
        raise ArchiveError(f"{HYPERPARAMETERS_PATH} must hold an object.")
    # DeepRacer writes a few more keys (e.g. e_greedy_value, term_cond_max_episodes): keep ours only.
    try:
        return check_hyperparameters({k: v for k, v in values.items() if k in DEFAULTS}, algorithm)
    except HyperparameterError as error:
        raise ArchiveError(f"{HYPERPARAMETERS_PATH}: " + "; ".join(f"{k}: {v}" for k, v in error.errors.items())) from None


def _training_params(upload: Upload, path) -> dict:
    """training_params.yaml (deepracer-for-cloud's upper-case keys), or {} when the upload has none."""
    if path is None:
        return {}
    try:
        params = yaml.safe_load(upload.read(path))
    except yaml.YAMLError:
        raise ArchiveError(f"{TRAINING_PARAMS_PATH} is not valid YAML.") from None
    return params if isinstance(params, dict) else {}


def _track_for(owner, world: str) -> str | None:
    """The track this console knows by the upload's WORLD_NAME: a built-in (our own downloads name their
    slug), or one of the racer's imported tracks titled so (the real DeepRacer tracks are theirs to import)."""
    if not world:
        return None
    if world in BUILTIN_TRACKS:
        return world
    imported = ImportedTrack.objects.filter(owner=owner, title=world).first()
    return imported.slug if imported is not None else None


def _race_type(params: dict) -> dict:
    """The race type training_params.yaml describes; time trial when it names none we can rebuild. Boxes are
    randomized: the SimApp's fixed OBJECT_POSITIONS use a lane convention of its own that we do not map."""
    def number(key, kind):
        try:
            return kind(params.get(key, 0))
        except (TypeError, ValueError):
            return kind(0)

    wanted = {"race_type": params.get("RACE_TYPE", spec.TIME_TRIAL),
              "object_count": number("NUMBER_OF_OBSTACLES", int),
              "randomize_objects": True,
              "bot_count": number("NUMBER_OF_BOT_CARS", int), "bot_speed": number("BOT_CAR_SPEED", float),
              "bot_lane_changes": bool(params.get("IS_LANE_CHANGE", False))}
    try:
        return race_types.check_race_type(wanted)
    except race_types.RaceTypeError:
        return {"race_type": spec.TIME_TRIAL}


def _extract(upload: Upload, plan: layouts.Plan, folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    for source in upload.paths:  # in the archive's own order: a .tar.gz is read forwards only once
        destination = plan.moves[source]
        target = (root / Path(*PurePosixPath(destination).parts)).resolve()
        if root not in target.parents:
            raise ArchiveError(f"The entry {source!r} points outside the model folder.")
        target.parent.mkdir(parents=True, exist_ok=True)
        upload.copy(source, target)
