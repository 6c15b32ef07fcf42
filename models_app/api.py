"""REST API for models and reward validation: /api/models/, /api/reward/validate/.

Creating and cloning call the same service as the wizard (models_app.services.model_create), so the API
and the pages refuse exactly the same things, with the same messages, keyed by field."""


from django.core.exceptions import NON_FIELD_ERRORS
from django.shortcuts import render
from django.urls import include, path
from django.views.decorators.http import require_GET
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from common.openapi import detail_response, field_errors_response
from models_app import reward
from models_app.archive import ArchiveError, car_bundle_entries, folder_entries
from models_app.forms import ModelImportForm
from models_app.hyperparameters import ALGORITHMS, DEFAULTS
from models_app.models import MAX_DESCRIPTION, RLModel
from models_app.race_types import RACE_TYPES, RaceTypeError, check_race_type
from models_app.services import ModelInvalid, clone_arguments, model_create, model_delete, model_import
from models_app.tracks import resolve_track
from models_app.views import BUSY_STATUSES, _tar_gz_response
from simulator import spec
from simulator.racing_line import cached_racing_line, track_outline
from simulator.reward.examples import racing_line_code
from simulator.reward.preview import PreviewSettings, preview
from simulator.tracks import TrackError
from training.quotas import QuotaExceeded


class RLModelSerializer(serializers.ModelSerializer):
    metadata = serializers.SerializerMethodField()

    class Meta:
        model = RLModel
        fields = ["id", "name", "description", "status", "vehicle", "vehicle_snapshot", "track", "track_reversed",
                  "race_type", "reward_code", "training_algorithm", "hyperparameters", "max_minutes", "parent",
                  "origin", "logs_only_reason", "import_details", "created_at", "metadata"]
        read_only_fields = fields

    def get_metadata(self, model) -> dict:
        return model.metadata()


class ModelCreateSerializer(serializers.Serializer):
    """What the create-model wizard asks for, as JSON."""

    name = serializers.CharField(max_length=64, help_text="^[A-Za-z0-9-]{1,64}$, unique among your models.")
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_DESCRIPTION)
    track = serializers.CharField(default=spec.DEFAULT_TRACK, max_length=64, help_text="A built-in track's slug.")
    track_reversed = serializers.BooleanField(default=False)
    race_type = serializers.JSONField(required=False, help_text="The env's race_type dict (docs/INTERFACES.md).")
    vehicle = serializers.IntegerField(help_text="The id of one of your Garage vehicles.")
    reward_code = serializers.CharField(required=False, trim_whitespace=False)
    training_algorithm = serializers.ChoiceField(choices=list(ALGORITHMS.items()), default=spec.PPO)
    hyperparameters = serializers.JSONField(required=False)
    max_minutes = serializers.IntegerField(default=spec.DEFAULT_TRAINING_MINUTES)

    def validate_race_type(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Give the race type as an object, e.g. {\"race_type\": \"TIME_TRIAL\"}.")
        return value

    def validate_hyperparameters(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Give the hyperparameters as an object.")
        unknown = sorted(set(value) - set(DEFAULTS))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown hyperparameter."] for name in unknown})
        return value


class ModelCloneSerializer(serializers.Serializer):
    """Anything to change in the clone; the rest is the parent's. The vehicle stays the parent's."""

    name = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    track = serializers.CharField(required=False)
    track_reversed = serializers.BooleanField(required=False)
    race_type = serializers.JSONField(required=False)
    action_space = serializers.JSONField(required=False, help_text="New action values; the count stays the parent's.")
    reward_code = serializers.CharField(required=False, trim_whitespace=False)
    training_algorithm = serializers.ChoiceField(choices=list(ALGORITHMS.items()), required=False)
    hyperparameters = serializers.JSONField(required=False)
    max_minutes = serializers.IntegerField(required=False)

    validate_race_type = ModelCreateSerializer.validate_race_type
    validate_hyperparameters = ModelCreateSerializer.validate_hyperparameters


def _create(request, arguments: dict):
    """model_create over the API's JSON: 201 with the model, 400 with the errors by field, 503 when no
    reward code can run on this server."""
    try:
        model = model_create(owner=request.user, **arguments)
    except ModelInvalid as invalid:
        if invalid.sandbox_unavailable:
            return Response({"detail": invalid.sandbox_unavailable}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(invalid.errors, status=status.HTTP_400_BAD_REQUEST)
    return Response(RLModelSerializer(model).data, status=status.HTTP_201_CREATED)


NO_SANDBOX = detail_response("This server cannot run reward functions safely, so it can neither test nor "
                             "train one (the reward sandbox is unavailable).")
BUSY = field_errors_response("The model is training or evaluating: stop it first.")


class RLModelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                     viewsets.GenericViewSet):
    serializer_class = RLModelSerializer
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular builds the schema without a user
            return RLModel.objects.none()
        return RLModel.objects.owned_by(self.request.user)

    @extend_schema(request=ModelCreateSerializer, responses={201: RLModelSerializer, 503: NO_SANDBOX})
    def create(self, request):
        serializer = ModelCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _create(request, {"reward_code": reward.default_code(), **serializer.validated_data})

    @extend_schema(responses={204: None, 409: BUSY})
    def destroy(self, request, pk=None):
        model = self.get_object()
        if model.status in BUSY_STATUSES:
            return Response({"status": [f"The model is {model.get_status_display().lower()}: stop it first."]},
                            status=status.HTTP_409_CONFLICT)
        model_delete(model)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ModelCloneSerializer, responses={201: RLModelSerializer, 503: NO_SANDBOX})
    @action(detail=True, methods=["post"])
    def clone(self, request, pk=None):
        """A new model from this one: same vehicle (values editable, action count fixed), parent recorded."""
        source = self.get_object()
        serializer = ModelCloneSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        arguments = {**clone_arguments(source), **serializer.validated_data, "source": source}
        # Hyperparameters change one by one: the ones not named keep the parent's values.
        arguments["hyperparameters"] = {**source.hyperparameters, **serializer.validated_data.get("hyperparameters", {})}
        return _create(request, arguments)

    @extend_schema(responses={(200, "application/gzip"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The model folder as .tar.gz (deepracer-for-cloud layout, SPEC 5.4), streamed."""
        model = self.get_object()
        return _tar_gz_response(folder_entries(model), f"{model.name}.tar.gz")

    @extend_schema(responses={(200, "application/gzip"): bytes})
    @action(detail=True, methods=["get"], url_path="car-bundle")
    def car_bundle(self, request, pk=None):
        """model_metadata.json + agent/model.onnx, once training exported the best checkpoint."""
        model = self.get_object()
        if not model.car_bundle_source.is_file():
            raise NotFound("This model has no car bundle yet: train it first.")
        return _tar_gz_response(car_bundle_entries(model), f"{model.name}-car.tar.gz")

    @extend_schema(
        request={"multipart/form-data": inline_serializer("ModelImport", {
            "name": serializers.CharField(), "description": serializers.CharField(required=False),
            "archive": serializers.FileField(required=False, help_text=".tar.gz or .zip"),
            "folder": serializers.ListField(child=serializers.FileField(), required=False,
                                            help_text="a folder's files (instead of an archive)"),
            "paths": serializers.CharField(required=False, help_text="JSON list: each folder file's relative path")})},
        responses={201: RLModelSerializer})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_archive(self, request):
        """Import a DeepRacer model or log folder (.tar.gz, .zip, or a folder's files with their paths): a full
        model with our checkpoints, otherwise a logs model (settings, reward, graphs; not runnable)."""
        form = ModelImportForm(request.data, request.FILES, owner=request.user)
        if not form.is_valid():
            return Response(form.errors, status=status.HTTP_400_BAD_REQUEST)
        data = form.cleaned_data
        try:
            with form.open_upload() as upload:
                model = model_import(upload, owner=request.user, name=data["name"], description=data["description"])
        except ArchiveError as error:
            return Response({form.upload_field: [str(error)]}, status=status.HTTP_400_BAD_REQUEST)
        except QuotaExceeded as error:  # as model_create answers it: the model quota is no one field's
            return Response({NON_FIELD_ERRORS: [str(error)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(RLModelSerializer(model).data, status=status.HTTP_201_CREATED)


class ValidationRequestSerializer(serializers.Serializer):
    code = serializers.CharField(trim_whitespace=False, max_length=reward.MAX_CODE_CHARS)
    track = serializers.CharField(default="quick_loop", help_text="A built-in track's slug or user-<id> of yours.")
    track_reversed = serializers.BooleanField(default=False)
    race_type = serializers.JSONField(required=False)


@extend_schema(
    request=ValidationRequestSerializer,
    responses={200: inline_serializer("ValidationError", {
        "type": serializers.ChoiceField(choices=["SYNTAX_ERROR", "IMPORT_ERROR", "TEST_FAILURE"]),
        "message": serializers.CharField(), "line": serializers.IntegerField(allow_null=True)}, many=True),
        503: NO_SANDBOX})
@api_view(["POST"])
def validate_reward(request):
    """Validate a reward function (SPEC 1.3): the list of errors, empty when it passes. With ?warnings=1:
    {"errors": [...], "warnings": [...]} (style findings, never failures)."""
    serializer = ValidationRequestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    try:
        race_type = check_race_type(data.get("race_type"))
    except RaceTypeError as error:
        return Response({"race_type": error.errors}, status=status.HTTP_400_BAD_REQUEST)
    try:
        track = resolve_track(request.user.pk, data["track"], data["track_reversed"])
    except TrackError as error:
        return Response({"track": [str(error)]}, status=status.HTTP_400_BAD_REQUEST)
    try:
        errors, warnings = reward.validate_with_warnings(data["code"], track, race_type)
    except reward.ValidationUnavailable as error:
        return Response({"detail": str(error)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    if request.query_params.get("warnings"):
        return Response({"errors": errors, "warnings": warnings})
    return Response(errors)


class PreviewRequestSerializer(ValidationRequestSerializer):
    points = serializers.IntegerField(default=2000, min_value=50, max_value=5000)
    heading_offset = serializers.FloatField(default=0.0, min_value=-180, max_value=180,
                                            help_text="Degrees added to the track's direction (left positive).")
    speed = serializers.FloatField(default=1.0, min_value=0.1, max_value=4.0)
    steering_angle = serializers.FloatField(default=0.0, min_value=-30, max_value=30)


def _track_and_race_type(request, data):
    """(track, race_type) of a reward-editor request, or a 400 Response naming the field."""
    try:
        race_type = check_race_type(data.get("race_type"))
    except RaceTypeError as error:
        return None, Response({"race_type": error.errors}, status=status.HTTP_400_BAD_REQUEST)
    try:
        return (resolve_track(request.user.pk, data["track"], data["track_reversed"]), race_type), None
    except TrackError as error:
        return None, Response({"track": [str(error)]}, status=status.HTTP_400_BAD_REQUEST)


@extend_schema(request=PreviewRequestSerializer, responses={200: inline_serializer("RewardPreview", {
    "x": serializers.ListField(child=serializers.FloatField()), "y": serializers.ListField(child=serializers.FloatField()),
    "reward": serializers.ListField(child=serializers.FloatField()), "points": serializers.IntegerField(),
    "track": serializers.DictField(), "racing_line": serializers.DictField()})})
@api_view(["POST"])
def preview_reward(request):
    """Preview a reward function: the reward it gives a car at each point of a grid across the road of the
    track (heading along the track plus heading_offset, the chosen speed and steering, progress and steps
    consistent with the position), computed in the reward sandbox. A failing function answers 400
    {"code": [{type, message, line}]}."""

    serializer = PreviewRequestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    found, refusal = _track_and_race_type(request, data)
    if refusal:
        return refusal
    track, race_type = found
    settings_ = PreviewSettings(points=data["points"], heading_offset=data["heading_offset"], speed=data["speed"],
                                steering_angle=data["steering_angle"])
    try:
        result = preview(data["code"], track, settings_, race_type)
    except reward.IsolationUnavailable as error:
        return Response({"detail": f"This server cannot run reward functions safely: {error}"},
                        status=status.HTTP_503_SERVICE_UNAVAILABLE)
    if "errors" in result:
        return Response({"code": result["errors"]}, status=status.HTTP_400_BAD_REQUEST)
    return Response({**result, "track": track_outline(track), "racing_line": cached_racing_line(track).as_dict()})


class RacingLineRequestSerializer(serializers.Serializer):
    track = serializers.CharField(default="quick_loop", help_text="A built-in track's slug or user-<id> of yours.")
    track_reversed = serializers.BooleanField(default=False)


@extend_schema(parameters=[RacingLineRequestSerializer], responses={200: inline_serializer("RacingLine", {
    "points": serializers.ListField(child=serializers.ListField(child=serializers.FloatField())),
    "speeds": serializers.ListField(child=serializers.FloatField()), "lap_time": serializers.FloatField(),
    "code": serializers.CharField(help_text="RACING_LINE = [[x, y], ...] as the editor inserts it above a reward "
                                            "function")})})
@api_view(["GET"])
def track_racing_line(request):
    """A fast line round the track (minimum curvature within the road) and the speed the car can hold on it
    (top speed, grip, acceleration and braking limits): points [[x, y], ...] as racing-line reward functions
    expect them, speeds in m/s, the lap time of that profile, and the code the editor inserts."""

    serializer = RacingLineRequestSerializer(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    try:
        track = resolve_track(request.user.pk, serializer.validated_data["track"],
                              serializer.validated_data["track_reversed"])
    except TrackError as error:
        return Response({"track": [str(error)]}, status=status.HTTP_400_BAD_REQUEST)
    return Response({**cached_racing_line(track).as_dict(decimals=4), "code": racing_line_code(track)})


# What DRF's generic list/create/retrieve/update/delete do, for operations without a docstring of their own.
CRUD_SUMMARIES = {
    ("get", False): "Your {things}.", ("post", False): "Create a {thing}.", ("get", True): "One of your {things}.",
    ("put", True): "Replace a {thing}.", ("patch", True): "Change some fields of a {thing}.",
    ("delete", True): "Delete a {thing}.",
}


def _crud_summary(method: str, route: str) -> str:
    """E.g. GET /api/vehicles/{id}/ → "One of your vehicles."; "" for anything else."""
    parts = [part for part in route.split("/") if part]
    one = parts[-1] == "{id}"
    things = (parts[-2] if one else parts[-1]).replace("-", " ")
    template = CRUD_SUMMARIES.get((method, one), "")
    return template.format(things=things, thing=things.removesuffix("s"))


@require_GET
def api_docs(request):
    """A readable, offline page of the OpenAPI schema (no Swagger/Redoc assets from a CDN). Public, like the
    schema itself: it describes the API and holds nothing of anyone's."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = []
    for route, methods in schema.get("paths", {}).items():
        for method, operation in methods.items():
            first_paragraph = operation.get("description", "").strip().split("\n\n")[0]
            operations.append({"route": route, "method": method.upper(),
                               "summary": " ".join(first_paragraph.split()) or _crud_summary(method, route),
                               "id": operation.get("operationId", "")})
    return render(request, "models_app/api_docs.html", {"operations": operations, "race_types": RACE_TYPES})


router = SimpleRouter()
router.register("models", RLModelViewSet, basename="rlmodel")
urlpatterns = [
    path("reward/validate/", validate_reward, name="api-validate-reward"),
    path("reward/preview/", preview_reward, name="api-preview-reward"),
    path("reward/racing-line/", track_racing_line, name="api-racing-line"),
    path("docs/", api_docs, name="api-docs"),
    path("", include(router.urls)),
]
