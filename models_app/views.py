from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods
from rest_framework.authtoken.models import Token

from garage.models import Vehicle
from models_app import race_types, reward
from models_app.archive import ArchiveError, car_bundle_entries, folder_entries, stream_tar_gz
from models_app.forms import DIRECTIONS, ModelImportForm, ModelWizardForm, TrackImportForm
from models_app.hyperparameters import LABELS
from models_app.models import ImportedTrack, RLModel, Status
from models_app.services import ModelInvalid, model_create, model_delete, model_import
from models_app.tracks import track_cards
from simulator.racing_line import track_svg_with_racing_line
from simulator.tracks import TrackError
from training.quotas import QuotaExceeded
from training.services import model_places

BUSY_STATUSES = (Status.TRAINING, Status.EVALUATING, Status.STOPPING)
PREVIEW_SIZE = 240


def _get_model_for_user(request, pk) -> RLModel:
    return get_object_or_404(RLModel, pk=pk, owner=request.user)


@login_required
@require_GET
def model_list(request):
    models = list(RLModel.objects.owned_by(request.user).select_related("parent").with_track_titles())
    places = model_places(request.user)
    for model in models:
        model.queue_place = places.get(model.pk)
    return render(request, "models_app/list.html", {"models": models})


@login_required
@require_GET
def model_queue(request):
    """The places of the racer's waiting models (the models list refreshes them while any waits)."""
    return JsonResponse({"models": {str(model_id): place for model_id, place in model_places(request.user).items()}})


@login_required
@require_http_methods(["GET", "POST"])
def model_create_view(request):
    return _wizard(request, source=None)


@login_required
@require_http_methods(["GET", "POST"])
def model_clone(request, pk):
    return _wizard(request, source=_get_model_for_user(request, pk))


def _wizard(request, source):
    form = ModelWizardForm(request.POST or None, owner=request.user, source=source)
    if request.method == "POST" and form.is_valid():
        try:
            model = model_create(**form.arguments())
        except ModelInvalid as invalid:
            form.add_service_errors(invalid)
        else:
            messages.success(request, f"Model {model.name} is created.")
            return redirect("models:detail", pk=model.pk)
    return render(request, "models_app/create.html", {
        "form": form,
        "source": source,
        "tracks": _track_cards(form.tracks),
        "vehicles": Vehicle.objects.filter(owner=request.user),
        "examples": reward.examples(),
        "editor_config": {
            "validate_url": "/api/reward/validate/",
            "preview_url": "/api/reward/preview/",
            "racing_line_url": "/api/reward/racing-line/",
            "default_code": reward.default_code(),
            "examples": reward.examples(),
            "ace_base": settings.STATIC_URL + "django_ace/ace/",
        },
    })


def _track_cards(tracks):
    return track_cards(tracks, PREVIEW_SIZE)


@login_required
@require_GET
def model_detail(request, pk):
    model = _get_model_for_user(request, pk)
    try:
        track = model.get_track()
    except TrackError:
        track = None
    return render(request, "models_app/detail.html", {
        "model": model,
        "track": track,
        "track_svg": mark_safe(track_svg_with_racing_line(track, PREVIEW_SIZE * 2)) if track else "",  # noqa: S308
        "direction": DIRECTIONS[track.direction] if track else "",
        "hyperparameters": [(LABELS[name], model.hyperparameters.get(name)) for name in LABELS
                            if name in model.hyperparameters],
        "has_car_bundle": model.car_bundle_source.is_file(),
        "race_type_objects": model.race_type.get("object_positions", []),
        "race_types": race_types.RACE_TYPES,
    })


@login_required
@require_http_methods(["GET", "POST"])
def model_delete_view(request, pk):
    model = _get_model_for_user(request, pk)
    busy = model.status in BUSY_STATUSES
    if request.method == "POST":
        if busy:
            messages.error(request, f"{model.name} is {model.get_status_display().lower()}: stop it first.")
            return redirect("models:detail", pk=model.pk)
        model_delete(model)
        messages.success(request, f"Model {model.name} is deleted.")
        return redirect("models:list")
    return render(request, "models_app/delete.html", {"model": model, "busy": busy})


def _tar_gz_response(entries, filename):
    response = StreamingHttpResponse(stream_tar_gz(entries), content_type="application/gzip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def model_download(request, pk):
    model = _get_model_for_user(request, pk)
    return _tar_gz_response(folder_entries(model), f"{model.name}.tar.gz")


@login_required
@require_GET
def model_car_bundle(request, pk):
    model = _get_model_for_user(request, pk)
    if not model.car_bundle_source.is_file():
        raise Http404("This model has no car bundle yet: train it first.")
    return _tar_gz_response(car_bundle_entries(model), f"{model.name}-car.tar.gz")


@login_required
@require_http_methods(["GET", "POST"])
def model_import_view(request):
    form = ModelImportForm(request.POST or None, request.FILES or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with form.open_upload() as upload:
                model = model_import(upload, owner=request.user, name=data["name"], description=data["description"])
        except ArchiveError as error:
            form.add_error(form.upload_field, str(error))
        except QuotaExceeded as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Model {model.name} is imported.")
            return redirect("models:detail", pk=model.pk)
    return render(request, "models_app/import.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request):
    """See and regenerate the token for the REST API (Authorization: Token <key>)."""
    if request.method == "POST":
        Token.objects.filter(user=request.user).delete()
        Token.objects.create(user=request.user)
        messages.success(request, "A new API token is ready; the old one no longer works.")
        return redirect("models:api_token")
    token = Token.objects.filter(user=request.user).first()
    return render(request, "models_app/api_token.html", {"token": token})


@login_required
@require_http_methods(["GET", "POST"])
def track_list(request):
    """The racer's imported tracks, and the form to import a .npy track file (SPEC 5.5)."""
    form = TrackImportForm(request.POST or None, request.FILES or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        imported = form.save()
        messages.success(request, f"Track {imported.title} is imported: pick it when you create a model.")
        return redirect("models:tracks")
    tracks = [(imported, _preview(imported)) for imported in ImportedTrack.objects.filter(owner=request.user)]
    return render(request, "models_app/tracks.html", {"form": form, "tracks": tracks})


def _preview(imported):
    try:
        return mark_safe(track_svg_with_racing_line(imported.load(), PREVIEW_SIZE))  # noqa: S308 (our drawing)
    except TrackError:
        return ""


@login_required
@require_http_methods(["POST"])
def track_delete(request, pk):
    imported = get_object_or_404(ImportedTrack, pk=pk, owner=request.user)
    users = list(RLModel.objects.owned_by(request.user).filter(track=imported.slug).values_list("name", flat=True))
    if users:
        messages.error(request, f"{imported.title} is the track of {', '.join(users)}: delete those models first.")
    else:
        imported.delete()
        messages.success(request, f"Track {imported.title} is deleted.")
    return redirect("models:tracks")
