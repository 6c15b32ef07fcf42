"""The model's training and evaluation tabs, their JSON backfills, logs and videos. Owner only: every
lookup has the owner in the query, so anyone else gets a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common import ranges
from models_app.hyperparameters import LABELS
from models_app.models import RLModel
from models_app.reward import examples
from simulator.tracks import TrackError
from training import services
from training.analysis_api import analysis_metadata, model_logs
from training.forms import ContinueTrainingForm, EvaluationForm
from training.models import EvaluationJob, TrainingJob

MODEL_PAGE = "models:detail"
# What the video box says before a frame arrives, or for good once the job is over (the JS swaps them too).
LIVE_VIDEO_PENDING = "The video starts when the simulation is running."
NO_EVALUATION_VIDEO = "This evaluation recorded no video."
TRAINING_VIDEO_OVER = "Training has ended: the live video shows only while it runs."


def _get_model_for_user(request, model_id) -> RLModel:
    return get_object_or_404(RLModel, pk=model_id, owner=request.user)


def _get_training_job_for_user(request, job_id) -> TrainingJob:
    return get_object_or_404(TrainingJob.objects.owned_by(request.user).select_related("model"), pk=job_id)


def _get_evaluation_for_user(request, evaluation_id) -> EvaluationJob:
    return get_object_or_404(EvaluationJob.objects.owned_by(request.user).select_related("model"), pk=evaluation_id)


def _model_context(model) -> dict:
    return {"model": model, "model_url": reverse(MODEL_PAGE, args=[model.pk]), "models_url": reverse("models:list")}


# ------------------------------------------------------------------------------------------ training


@login_required
@require_GET
def model_training(request, model_id):
    model = _get_model_for_user(request, model_id)
    job = TrainingJob.objects.filter(model=model).first()
    context = {**_model_context(model), "job": job, "tab": "training", "snapshot": model.vehicle_snapshot,
               "video_placeholder": TRAINING_VIDEO_OVER if job is not None and job.is_finished else LIVE_VIDEO_PENDING,
               "video_over_text": TRAINING_VIDEO_OVER,
               "continue_minutes": _continue_minutes(job),
               "place": services.job_place(job) if job is not None else None,
               "hyperparameters": _hyperparameter_rows(model.hyperparameters),
               "action_space": _action_rows(model.vehicle_snapshot)}
    return render(request, "training/training.html", context)


def _continue_minutes(job) -> float | None:
    """The Continue training field's default: what the limit left, or the model's maximum time."""
    if job is None or not job.can_continue:
        return None
    return round(job.remaining_seconds / 60.0, 1) if job.remaining_seconds >= 60 else job.model.max_minutes


def _hyperparameter_rows(values: dict) -> list[tuple[str, object]]:
    return [(LABELS.get(name, name), value) for name, value in (values or {}).items()]


def _action_rows(snapshot: dict) -> list[dict]:
    actions = snapshot.get("action_space")
    if isinstance(actions, list):
        return [{"index": action.get("index", number), "steering_angle": action["steering_angle"],
                 "speed": action["speed"]} for number, action in enumerate(actions)]
    return []


@login_required
@require_POST
def start_training(request, model_id):
    model = _get_model_for_user(request, model_id)
    try:
        services.training_start(model)
    except services.JobError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Training is queued: it starts as soon as a training worker is free.")
    return redirect("training:model", model_id=model.pk)


@login_required
@require_POST
def stop_training(request, job_id):
    job = _get_training_job_for_user(request, job_id)
    try:
        services.training_stop(job)
    except services.JobError as error:
        messages.error(request, str(error))
    else:
        messages.info(request, "Stopping: training ends after saving a final checkpoint.")
    return redirect("training:model", model_id=job.model_id)


@login_required
@require_POST
def continue_training(request, job_id):
    """Resume a failed or stopped training from its last checkpoint, in the same job (one graph)."""
    job = _get_training_job_for_user(request, job_id)
    form = ContinueTrainingForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"More minutes: {' '.join(form.errors['minutes'])}")
        return redirect("training:model", model_id=job.model_id)
    try:
        services.training_continue(job, minutes=form.cleaned_data["minutes"])
    except services.JobError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Training continues from the last checkpoint as soon as a training worker is free.")
    return redirect("training:model", model_id=job.model_id)


@login_required
@require_GET
def training_state(request, job_id):
    """The training page's backfill (also after a reconnect): status, graph points and the log tail."""
    job = _get_training_job_for_user(request, job_id)
    return JsonResponse({**services.training_metrics(job), **_training_status(job),
                         "logs": services.training_log_tail(job)})


def _training_status(job: TrainingJob) -> dict:
    return {"status": job.status, "model_status": job.model.status, "failure_reason": job.failure_message,
            "stop_requested": job.stop_requested, "stop_reason": job.stop_reason,
            "last_iteration": job.last_iteration, "elapsed_seconds": job.elapsed_seconds,
            "remaining_seconds": job.remaining_seconds, "max_minutes": job.max_minutes,
            "queue": services.job_place(job)}


@login_required
@require_GET
def training_logs(request, job_id):
    job = _get_training_job_for_user(request, job_id)
    path = services.training_log_path(job)
    if not path.is_file():
        raise Http404("This job has no log yet.")
    return FileResponse(open(path, "rb"), as_attachment=True, content_type="text/plain; charset=utf-8",
                        filename=f"{job.model.name}-training-{job.pk}.log")


# ------------------------------------------------------------------------------------------ analysis


@login_required
@require_GET
def model_analysis(request, model_id):
    """The Analysis tab: the page; its figures come from the analysis endpoints (training/analysis_api.py)."""
    model = _get_model_for_user(request, model_id)
    logs = model_logs(model)
    job = TrainingJob.objects.filter(model=model).first()
    metadata = analysis_metadata(model)
    context = {**_model_context(model), "tab": "analysis", "has_logs": logs.has_logs(), "job": job,
               "live": job is not None and job.is_active, "evaluations": logs.evaluations(),
               "iterations": list(logs.training_files()), "discrete": metadata["action_space_type"] == "discrete",
               "examples": examples(_track_or_none(model))}
    return render(request, "training/analysis.html", context)


def _track_or_none(model: RLModel):
    """The model's track, or None when it is gone (an imported track deleted): the page still opens."""
    try:
        return model.get_track()
    except TrackError:
        return None


# ---------------------------------------------------------------------------------------- evaluation


@login_required
@require_http_methods(["GET", "POST"])
def model_evaluation(request, model_id):
    model = _get_model_for_user(request, model_id)
    form = EvaluationForm(request.POST or None, model=model)
    if request.method == "POST" and form.is_valid():
        try:
            evaluation = services.evaluation_start(model, **form.start_arguments())
        except services.JobError as error:
            form.add_error(None, str(error))
        else:
            return redirect("training:evaluation", evaluation_id=evaluation.pk)
    evaluations = model.evaluation_jobs.with_track_titles()  # each row knows its model: no query per row
    status = 400 if request.method == "POST" else 200
    return render(request, "training/evaluation.html",
                  {**_model_context(model), "form": form, "evaluations": evaluations, "tab": "evaluation"},
                  status=status)


@login_required
@require_GET
def evaluation_detail(request, evaluation_id):
    evaluation = _get_evaluation_for_user(request, evaluation_id)
    return render(request, "training/evaluation_detail.html",
                  {**_model_context(evaluation.model), "evaluation": evaluation, "tab": "evaluation",
                   "place": services.job_place(evaluation),
                   "video_url": evaluation_payload(evaluation)["video_url"],
                   "video_placeholder": NO_EVALUATION_VIDEO if evaluation.is_finished else LIVE_VIDEO_PENDING,
                   "video_over_text": NO_EVALUATION_VIDEO})


@login_required
@require_GET
def evaluation_state(request, evaluation_id):
    evaluation = _get_evaluation_for_user(request, evaluation_id)
    return JsonResponse(evaluation_payload(evaluation))


def evaluation_payload(evaluation: EvaluationJob) -> dict:
    video = services.evaluation_video_path(evaluation)
    return {"id": evaluation.pk, "status": evaluation.status, "failure_reason": evaluation.failure_message,
            "results": sorted(evaluation.results, key=lambda trial: trial["trial"]), "trials": evaluation.trials,
            "queue": services.job_place(evaluation),
            "video_url": reverse("training:evaluation_video", args=[evaluation.pk]) if video else None}


@login_required
@require_POST
def stop_evaluation(request, evaluation_id):
    evaluation = _get_evaluation_for_user(request, evaluation_id)
    try:
        services.evaluation_stop(evaluation)
    except services.JobError as error:
        messages.error(request, str(error))
    return redirect("training:evaluation", evaluation_id=evaluation.pk)


@login_required
@require_GET
def evaluation_video(request, evaluation_id):
    evaluation = _get_evaluation_for_user(request, evaluation_id)
    path = services.evaluation_video_path(evaluation)
    if path is None:
        raise Http404("This evaluation has no video.")
    return ranges.file_response(request, path, "video/mp4")  # ranges: the browser's player seeks
