"""The create-model wizard (and its clone variant), an adapter over models_app.services (which checks
and creates the model), plus model import and track import."""

import json

from django import forms
from django.conf import settings

from garage.models import Vehicle
from models_app import race_types, reward
from models_app.archive import folder_upload, open_upload
from models_app.hyperparameters import (
    ALGORITHMS,
    BATCH_SIZES,
    DEFAULTS,
    LABELS,
    LOSS_TYPES,
    PPO,
)
from models_app.models import (
    DEFAULT_MINUTES,
    DIRECTION_LABELS,
    MAX_DESCRIPTION,
    MAX_MINUTES,
    MIN_MINUTES,
    NAME_RULE,
    ImportedTrack,
    RLModel,
    name_is_taken,
    validate_model_name,
)
from models_app.services import ModelInvalid, clone_name
from models_app.tracks import resolve_track, track_options
from simulator import spec
from simulator.tracks import TrackError, load_npy

DIRECTIONS = DIRECTION_LABELS
PLACEMENTS = {"random": "Randomize object locations", "fixed": "Fixed locations"}
HYPERPARAMETER_FIELDS = tuple(DEFAULTS)


class ModelWizardForm(forms.Form):
    name = forms.CharField(max_length=64, validators=[validate_model_name], label="Model name", help_text=NAME_RULE)
    description = forms.CharField(max_length=MAX_DESCRIPTION, required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                  label="Training job description - optional",
                                  help_text=f"Up to {MAX_DESCRIPTION} characters.")
    track = forms.ChoiceField(widget=forms.RadioSelect, initial=spec.DEFAULT_TRACK)
    direction = forms.ChoiceField(choices=DIRECTIONS.items(), widget=forms.RadioSelect, initial="counterclockwise",
                                  label="Direction")
    race_type = forms.ChoiceField(choices=race_types.RACE_TYPES.items(), widget=forms.RadioSelect,
                                  initial=race_types.TIME_TRIAL, label="Race type")
    object_count = forms.IntegerField(min_value=1, max_value=6, initial=3, required=False,
                                      label="Number of objects", help_text="1 to 6 boxes.")
    object_placement = forms.ChoiceField(choices=PLACEMENTS.items(), widget=forms.RadioSelect, initial="random",
                                         required=False, label="Object locations")
    object_positions = forms.CharField(widget=forms.HiddenInput, required=False)
    bot_count = forms.IntegerField(min_value=1, max_value=6, initial=3, required=False,
                                   label="Number of bot cars", help_text="1 to 6.")
    bot_speed = forms.FloatField(min_value=0.2, max_value=6.0, initial=0.5, required=False,
                                 label="Bot car speed (m/s)", help_text="0.2 to 6 m/s.")
    bot_lane_changes = forms.BooleanField(required=False, label="Bot cars change lanes (every 3–5 s)")
    vehicle = forms.ModelChoiceField(queryset=Vehicle.objects.none(), widget=forms.RadioSelect, required=False,
                                     empty_label=None)
    action_space = forms.CharField(widget=forms.HiddenInput, required=False)
    reward_code = forms.CharField(widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false"}),
                                  max_length=reward.MAX_CODE_CHARS, strip=False, label="Reward function")
    training_algorithm = forms.ChoiceField(choices=ALGORITHMS.items(), widget=forms.RadioSelect, initial=PPO,
                                           label="Training algorithm")
    batch_size = forms.TypedChoiceField(choices=[(n, n) for n in BATCH_SIZES], coerce=int,
                                        initial=DEFAULTS["batch_size"], label=LABELS["batch_size"])
    num_epochs = forms.IntegerField(initial=DEFAULTS["num_epochs"], label=LABELS["num_epochs"], help_text="3 to 10.")
    lr = forms.FloatField(initial=DEFAULTS["lr"], label=LABELS["lr"], help_text="0.00000001 to 0.001.",
                          widget=forms.NumberInput(attrs={"step": "any"}))
    beta_entropy = forms.FloatField(initial=DEFAULTS["beta_entropy"], label=LABELS["beta_entropy"],
                                    help_text="0 to 1.", widget=forms.NumberInput(attrs={"step": "any"}))
    discount_factor = forms.FloatField(initial=DEFAULTS["discount_factor"], label=LABELS["discount_factor"],
                                       help_text="0 to 1.", widget=forms.NumberInput(attrs={"step": "any"}))
    loss_type = forms.ChoiceField(choices=[(t, t.capitalize()) for t in LOSS_TYPES], initial=DEFAULTS["loss_type"],
                                  label=LABELS["loss_type"])
    num_episodes_between_training = forms.IntegerField(
        initial=DEFAULTS["num_episodes_between_training"], label=LABELS["num_episodes_between_training"],
        help_text="5 to 100 (SAC updates after every episode).")
    sac_alpha = forms.FloatField(initial=DEFAULTS["sac_alpha"], label=LABELS["sac_alpha"], help_text="0 to 1 (SAC only).",
                                 widget=forms.NumberInput(attrs={"step": "any"}))
    max_minutes = forms.IntegerField(min_value=MIN_MINUTES, max_value=MAX_MINUTES, initial=DEFAULT_MINUTES,
                                     label="Maximum time (minutes)", help_text=f"{MIN_MINUTES} to {MAX_MINUTES} minutes.")

    def __init__(self, *args, owner, source: RLModel | None = None, **kwargs):
        """`source`: the model being cloned (its vehicle snapshot replaces the Garage picker)."""
        kwargs.setdefault("initial", initial_for(source) if source else {"reward_code": reward.default_code()})
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.source = source
        self.sandbox_unavailable: str | None = None  # why no reward code can run here (the API answers 503)
        self.tracks = track_options(owner)
        self.fields["track"].choices = [(slug, track.title) for slug, track in self.tracks.items()]
        vehicles = Vehicle.objects.filter(owner=owner)
        self.fields["vehicle"].queryset = vehicles
        self.fields["vehicle"].required = source is None
        if source is None and vehicles:
            self.fields["vehicle"].initial = vehicles[0].pk

    # -- the adapter over models_app.services ---------------------------------------------------------
    def arguments(self) -> dict:
        """The cleaned fields as model_create's keyword arguments (services.model_validate checks them)."""
        data = self.cleaned_data
        track = self.tracks[data["track"]]
        arguments = {
            "owner": self.owner, "name": data["name"], "description": data["description"], "track": data["track"],
            "track_reversed": data["direction"] != track.direction, "race_type": self._race_type(data),
            "reward_code": data["reward_code"], "training_algorithm": data["training_algorithm"],
            "hyperparameters": {name: data[name] for name in HYPERPARAMETER_FIELDS if data.get(name) is not None},
            "max_minutes": data["max_minutes"],
        }
        if self.source is None:
            return {**arguments, "vehicle": data.get("vehicle")}
        return {**arguments, "source": self.source, "action_space": _json_or_none(data.get("action_space"))}

    @staticmethod
    def _race_type(data) -> dict:
        kind = data.get("race_type")
        if kind == race_types.OBJECT_AVOIDANCE:
            return {"race_type": kind, "object_count": data.get("object_count"),
                    "randomize_objects": data.get("object_placement") != "fixed",
                    "object_positions": _json_or_none(data.get("object_positions"))}
        if kind == race_types.HEAD_TO_BOT:
            return {"race_type": kind, "bot_count": data.get("bot_count"), "bot_speed": data.get("bot_speed"),
                    "bot_lane_changes": bool(data.get("bot_lane_changes"))}
        return {"race_type": race_types.TIME_TRIAL}

    def add_service_errors(self, invalid: ModelInvalid) -> None:
        """model_validate's errors onto the wizard's fields: race-type and hyperparameter errors onto their
        own fields, track_reversed onto the direction."""
        self.sandbox_unavailable = invalid.sandbox_unavailable
        for field, messages in invalid.errors.items():
            if isinstance(messages, dict):
                for inner, inner_messages in messages.items():
                    for message in inner_messages:
                        self.add_error(inner if inner in self.fields else field, message)
                continue
            for message in messages:
                self.add_error("direction" if field == "track_reversed" else field, message)


def _json_or_none(text):
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return "not json"

def initial_for(source: RLModel) -> dict:
    """The wizard pre-filled from a model to clone."""
    try:
        track = resolve_track(source.owner_id, source.track)
    except TrackError:
        track = None
    direction = track.direction if track else "counterclockwise"
    if source.track_reversed:
        direction = "clockwise" if direction == "counterclockwise" else "counterclockwise"
    race_type = source.race_type or {}
    initial = {
        "name": clone_name(source),
        "description": source.description,
        "track": source.track if track else spec.DEFAULT_TRACK,
        "direction": direction,
        "race_type": race_type.get("race_type", race_types.TIME_TRIAL),
        "action_space": json.dumps(source.vehicle_snapshot["action_space"]),
        "reward_code": source.reward_code,
        "training_algorithm": source.training_algorithm,
        "max_minutes": source.max_minutes,
        **{name: value for name, value in source.hyperparameters.items() if name in HYPERPARAMETER_FIELDS},
    }
    if race_type.get("race_type") == race_types.OBJECT_AVOIDANCE:
        initial.update(object_count=race_type["object_count"],
                       object_placement="random" if race_type.get("randomize_objects", True) else "fixed",
                       object_positions=json.dumps(race_type.get("object_positions", [])))
    if race_type.get("race_type") == race_types.HEAD_TO_BOT:
        initial.update(bot_count=race_type["bot_count"], bot_speed=race_type["bot_speed"],
                       bot_lane_changes=race_type.get("bot_lane_changes", False))
    return initial

class FolderInput(forms.ClearableFileInput):
    """<input type=file webkitdirectory multiple>: a whole folder, picked or dropped."""

    allow_multiple_selected = True


class FolderField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", FolderInput(attrs={"webkitdirectory": True, "multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data if item] or None
        return [single(data, initial)] if data else None


class ModelImportForm(forms.Form):
    name = forms.CharField(max_length=64, validators=[validate_model_name], label="Model name", help_text=NAME_RULE)
    description = forms.CharField(max_length=MAX_DESCRIPTION, required=False, label="Description - optional")
    archive = forms.FileField(label="Model or logs archive (.tar.gz or .zip)", required=False,
                              help_text="A model folder or logs download from the AWS DeepRacer console, DeepRacer "
                                        "on AWS or deepracer-for-cloud, or a model downloaded from this console.")
    folder = FolderField(label="… or a folder", required=False,
                         help_text="Pick or drop the unpacked folder itself.")
    paths = forms.CharField(widget=forms.HiddenInput, required=False,
                            help_text="The folder's files' relative paths as a JSON list, in the files' order.")

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_name(self):
        name = self.cleaned_data["name"]
        if name_is_taken(self.owner, name):
            raise forms.ValidationError("You already have a model with this name.")
        return name

    def clean_archive(self):
        archive = self.cleaned_data["archive"]
        if archive and archive.size > settings.MAX_UPLOAD_MODEL_BYTES:
            raise forms.ValidationError(f"The archive is {archive.size:,} bytes; the limit is "
                                        f"{settings.MAX_UPLOAD_MODEL_BYTES:,}.")
        return archive

    def clean_folder(self):
        files = self.cleaned_data["folder"] or []
        total = sum(upload.size for upload in files)
        if total > settings.MAX_UPLOAD_MODEL_BYTES:
            raise forms.ValidationError(f"The folder holds {total:,} bytes; the limit is "
                                        f"{settings.MAX_UPLOAD_MODEL_BYTES:,}.")
        return files

    def clean_paths(self):
        raw = self.cleaned_data["paths"]
        if not raw:
            return []
        try:
            paths = json.loads(raw)
        except ValueError:
            raise forms.ValidationError("Send the paths as a JSON list of strings.") from None
        if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
            raise forms.ValidationError("Send the paths as a JSON list of strings.")
        return paths

    def clean(self):
        data = super().clean()
        if not self.errors and bool(data.get("archive")) == bool(data.get("folder")):
            self.add_error("archive", "Choose an archive or a folder (one of them).")
        return data

    @property
    def upload_field(self) -> str:
        """The field an import error belongs to."""
        return "archive" if self.cleaned_data.get("archive") else "folder"

    def open_upload(self):
        """The chosen archive or folder as an archive.Upload (ArchiveError when it is refused)."""
        data, limit = self.cleaned_data, settings.MAX_UPLOAD_MODEL_BYTES
        if data.get("archive"):
            return open_upload(data["archive"], limit)
        return folder_upload(data["folder"], data["paths"], limit)


class TrackImportForm(forms.Form):
    title = forms.CharField(max_length=64, label="Track name")
    npy = forms.FileField(label="Track file (.npy)",
                          help_text="An N x 6 array of rows [centre_x, centre_y, inner_x, inner_y, outer_x, outer_y] "
                                    "in metres, as DeepRacer's track files.")

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        if ImportedTrack.objects.filter(owner=self.owner, title=title).exists():
            raise forms.ValidationError("You already have a track with this name.")
        return title

    def clean_npy(self):
        upload = self.cleaned_data["npy"]
        if upload.size > settings.MAX_UPLOAD_TRACK_BYTES:
            raise forms.ValidationError(f"The file is {upload.size:,} bytes; the limit is "
                                        f"{settings.MAX_UPLOAD_TRACK_BYTES:,}.")
        data = upload.read()
        try:
            self.track = load_npy(data, "upload", title="upload")
        except TrackError as error:
            raise forms.ValidationError(f"This track file cannot be used: {error}.") from None
        return data

    def save(self) -> ImportedTrack:
        return ImportedTrack.objects.create(owner=self.owner, title=self.cleaned_data["title"],
                                            npy=self.cleaned_data["npy"], length=self.track.length,
                                            width=self.track.width)
