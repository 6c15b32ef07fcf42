"""RLModel: what a racer trains. It keeps snapshots (vehicle, race type, reward code, hyperparameters) so
that nothing edited later in the Garage changes a model (SPEC 2)."""

import re
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat

from models_app import layouts, race_types
from models_app.hyperparameters import ALGORITHMS
from simulator import spec
from simulator.tracks import BUILTIN_TRACKS, Track, TrackError, get_track, load_npy
from training import artifacts

DIRECTION_LABELS = {"counterclockwise": "Counter-clockwise", "clockwise": "Clockwise"}

NAME_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,64}$")
NAME_RULE = "1 to 64 characters: letters, digits and hyphens (-)."
MAX_DESCRIPTION = 255
MIN_MINUTES, MAX_MINUTES, DEFAULT_MINUTES = spec.MIN_TRAINING_MINUTES, spec.MAX_TRAINING_MINUTES, spec.DEFAULT_TRAINING_MINUTES


def name_is_taken(owner, name) -> bool:
    return RLModel.objects.filter(owner=owner, name=name).exists()


def validate_model_name(name: str):
    if not NAME_PATTERN.match(name or ""):
        raise ValidationError(f"Use {NAME_RULE}")


class Status(models.TextChoices):
    QUEUED = "QUEUED", "Queued"
    TRAINING = "TRAINING", "Training"
    EVALUATING = "EVALUATING", "Evaluating"
    STOPPING = "STOPPING", "Stopping"
    READY = "READY", "Ready"
    ERROR = "ERROR", "Error"


IMPORTED_TRACK_PREFIX = "user-"
UNKNOWN_TITLE = object()  # track_title(): no annotated title, ask the database


class ImportedTrack(models.Model):
    """A racer's own track file (.npy, SPEC 5.5). The file lives in the database so that workers on other
    machines read it the same way; it is small (MAX_UPLOAD_TRACK_BYTES)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="imported_tracks")
    title = models.CharField(max_length=64)
    npy = models.BinaryField()
    length = models.FloatField()
    width = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "title"], name="unique_track_title_per_owner")]

    def __str__(self):
        return self.title

    @property
    def slug(self) -> str:
        return f"{IMPORTED_TRACK_PREFIX}{self.pk}"

    def load(self, reverse: bool = False):
        """The simulator's Track (raises simulator.tracks.TrackError if the stored file no longer loads)."""
        track = load_npy(bytes(self.npy), self.slug, title=self.title, description="Imported track")
        return track.reversed() if reverse else track


def _imported_id(slug: str) -> int | None:
    if not slug.startswith(IMPORTED_TRACK_PREFIX):
        return None
    number = slug[len(IMPORTED_TRACK_PREFIX):]
    return int(number) if number.isdigit() else None


def resolve_track(owner_id, slug: str, reverse: bool = False) -> Track:
    """A built-in by slug, or the owner's imported track; TrackError for anything else (a stranger's
    track included: the message is the same as for a track that does not exist)."""
    number = _imported_id(slug)
    if number is None:
        return get_track(slug, reverse=reverse)
    imported = ImportedTrack.objects.filter(owner_id=owner_id, pk=number).first()
    if imported is None:
        raise TrackError(f"unknown track {slug!r}")
    return imported.load(reverse)


def track_title(owner_id, slug: str, imported_title=UNKNOWN_TITLE) -> str:
    """A built-in's title, the owner's imported track's title, or the slug itself. `imported_title` is the
    title a list query annotated (with_track_titles(): None when there is none); without it, one query."""
    if slug in BUILTIN_TRACKS:
        return BUILTIN_TRACKS[slug].title
    if imported_title is UNKNOWN_TITLE:
        number = _imported_id(slug)
        imported_title = ImportedTrack.objects.filter(owner_id=owner_id, pk=number).values_list(
            "title", flat=True).first() if number is not None else None
    return imported_title or slug


def imported_track_title(owner, slug) -> Subquery:
    """The title of `owner`'s imported track named `slug` (`user-<id>`), as a subquery (expressions such as
    OuterRef("owner"), OuterRef("track")): list pages annotate it instead of asking once per row."""
    slugs = ImportedTrack.objects.annotate(slug=Concat(Value(IMPORTED_TRACK_PREFIX), Cast("pk", CharField())))
    return Subquery(slugs.filter(owner=owner, slug=slug).values("title")[:1])


class RLModelQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(owner=user)

    def with_track_titles(self):
        return self.annotate(imported_track_title=imported_track_title(OuterRef("owner"), OuterRef("track")))


class RLModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rl_models")
    name = models.CharField(max_length=64, validators=[validate_model_name])
    description = models.CharField(max_length=MAX_DESCRIPTION, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    vehicle = models.ForeignKey("garage.Vehicle", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="rl_models", help_text="Informational: training uses the snapshot.")
    vehicle_snapshot = models.JSONField()
    track = models.CharField(max_length=64, help_text="A built-in track's slug, or user-<id> for an imported one.")
    track_reversed = models.BooleanField(default=False)
    race_type = models.JSONField(default=dict)
    reward_code = models.TextField()
    training_algorithm = models.CharField(max_length=16, choices=ALGORITHMS.items(), default="clipped_ppo")
    hyperparameters = models.JSONField(default=dict)
    max_minutes = models.PositiveIntegerField(default=DEFAULT_MINUTES)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="clones")
    origin = models.CharField(max_length=16, choices=layouts.ORIGINS.items(), default=layouts.HERE,
                              help_text="Where the model was trained: here, or the service it was imported from.")
    logs_only_reason = models.TextField(blank=True, help_text="Set on an imported model whose weights this "
                                        "console cannot run: why it cannot be trained on, evaluated or raced.")
    import_details = models.JSONField(default=dict, blank=True,
                                      help_text="An imported model's layout, original track and training figures.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RLModelQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="unique_model_name_per_owner")]
        verbose_name = "model"

    def __str__(self):
        return self.name

    @property
    def folder(self) -> Path:
        return Path(settings.MODEL_STORE) / str(self.owner_id) / str(self.id)

    @property
    def is_logs_model(self) -> bool:
        """Imported with weights we cannot run (TensorFlow, or none): its settings, reward and logs only."""
        return bool(self.logs_only_reason)

    @property
    def is_imported(self) -> bool:
        return bool(self.import_details)

    @property
    def original_figures(self) -> dict:
        return self.import_details.get("figures", {})

    @property
    def analysis_cache(self) -> Path:
        """Where the Analysis tab keeps its parsed sim-traces: outside the model folder, so downloads
        stay DeepRacer's layout; rebuilt from the folder whenever it is missing."""
        return Path(settings.VAR_DIR) / "cache" / "analysis" / str(self.id)

    @property
    def is_continuous(self) -> bool:
        return self.vehicle_snapshot.get("action_space_type") == "continuous"

    @property
    def sensor_labels(self) -> list[str]:
        names = {**spec.CAMERAS, **spec.LIDARS}
        return [names.get(sensor, sensor) for sensor in self.vehicle_snapshot.get("sensor", [])]

    @property
    def network_label(self) -> str:
        network = self.vehicle_snapshot.get("neural_network")
        return spec.NETWORKS.get(network, network)

    @property
    def track_title(self) -> str:
        return track_title(self.owner_id, self.track, getattr(self, "imported_track_title", UNKNOWN_TITLE))

    def get_track(self):
        """The Track this model trains on (built-in or imported), reversed when track_reversed."""
        return resolve_track(self.owner_id, self.track, self.track_reversed)

    @property
    def direction_label(self) -> str:
        """Which way the car drives round its track, or "" when the (imported) track is gone."""
        try:
            return DIRECTION_LABELS[self.get_track().direction]
        except TrackError:
            return ""

    @property
    def race_type_label(self) -> str:
        return race_types.describe(self.race_type or {})

    @property
    def car_bundle_source(self) -> Path:
        """The ONNX export of the best checkpoint, when the engine has written one (SPEC 5.4)."""
        return self.folder / "agent" / "model.onnx"

    def write_folder(self, hyperparameters: dict | None = None) -> None:
        """The files the model folder starts with (SPEC 5.4), written by the folder's owner
        (training.artifacts): metadata, hyperparameters (the model's own unless given) and reward code."""
        artifacts.write_model_files(self.folder, metadata=self.metadata(), reward_code=self.reward_code,
                                    hyperparameters=self.hyperparameters if hyperparameters is None else hyperparameters)

    def metadata(self) -> dict:
        """model_metadata.json (SPEC 5.1)."""
        snapshot = self.vehicle_snapshot
        return {
            "action_space": snapshot["action_space"],
            "action_space_type": snapshot["action_space_type"],
            "sensor": list(snapshot["sensor"]),
            "neural_network": snapshot["neural_network"],
            "training_algorithm": self.training_algorithm,
            "version": spec.METADATA_VERSION,
        }
