"""REST API for training and evaluation jobs: start, stop, list, detail and metrics, owner only."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from common.openapi import detail_response, field_errors_response
from models_app.models import RLModel
from simulator import spec
from training import services
from training.analysis_api import ModelAnalysisViewSet
from training.models import WAITING_STATUSES, EvaluationJob, TrainingJob

JOB_FIELDS = ["id", "model", "status", "stop_requested", "created_at", "started_at", "finished_at",
              "heartbeat_at", "failure_reason", "worker", "attempts"]


class QueuePlaceSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="1 = the next job a free worker takes")
    estimated_start = serializers.DateTimeField()


class QueuePlaceMixin(serializers.Serializer):
    queue = serializers.SerializerMethodField(help_text="a waiting job's place in the fair queue; null otherwise")

    @extend_schema_field(QueuePlaceSerializer(allow_null=True))
    def get_queue(self, job):
        if job.status not in WAITING_STATUSES:
            return None
        # One computation of the queue per response, however many jobs it lists.
        places = self.context.setdefault("queue_places", services.job_places()) if self.context is not None \
            else services.job_places()
        return places.get(("training" if isinstance(job, TrainingJob) else "evaluation", job.pk))


class TrainingJobSerializer(QueuePlaceMixin, serializers.ModelSerializer):
    # Plain strings: the job statuses would collide with the model statuses' enum name in the schema.
    status = serializers.CharField(read_only=True)
    remaining_seconds = serializers.FloatField(read_only=True)

    class Meta:
        model = TrainingJob
        fields = [*JOB_FIELDS, "max_minutes", "max_iterations", "last_iteration", "best_iteration",
                  "elapsed_seconds", "remaining_seconds", "stop_reason", "queue"]
        read_only_fields = fields


class TrainingStartSerializer(serializers.Serializer):
    model = serializers.UUIDField()
    max_minutes = serializers.FloatField(required=False, min_value=0.01, max_value=spec.MAX_TRAINING_MINUTES)
    max_iterations = serializers.IntegerField(required=False, min_value=1)


class TrainingContinueSerializer(serializers.Serializer):
    minutes = serializers.FloatField(required=False, min_value=0.1, max_value=services.MAX_CONTINUE_MINUTES,
                                     help_text="more minutes of training (default: what the limit left)")


class EvaluationJobSerializer(QueuePlaceMixin, serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)

    class Meta:
        model = EvaluationJob
        fields = [*JOB_FIELDS, "track", "track_reversed", "race_type", "trials", "continuous",
                  "off_track_penalty", "collision_penalty", "results", "video", "live", "queue"]
        read_only_fields = fields


class RaceTypeSerializer(serializers.Serializer):
    """The env's race_type dict (docs/INTERFACES.md); left out, the evaluation uses the model's own."""

    race_type = serializers.ChoiceField(choices=list(spec.RACE_TYPES))
    object_count = serializers.IntegerField(min_value=spec.MIN_OBJECTS, max_value=spec.MAX_OBJECTS, required=False)
    randomize_objects = serializers.BooleanField(required=False)
    bot_count = serializers.IntegerField(min_value=spec.MIN_OBJECTS, max_value=spec.MAX_OBJECTS, required=False)
    bot_speed = serializers.FloatField(min_value=spec.MIN_BOT_SPEED, max_value=spec.MAX_BOT_SPEED, required=False)
    bot_lane_changes = serializers.BooleanField(required=False)


class EvaluationStartSerializer(serializers.Serializer):
    model = serializers.UUIDField()
    # A slug's characters, in the schema too: a generated track is then one the server only refuses as unknown.
    track = serializers.RegexField(r"^[A-Za-z0-9_-]+$", required=False, min_length=1, max_length=64,
                                   help_text="A built-in track's slug, or user-<id> for one of your imported tracks.")
    reversed = serializers.BooleanField(required=False, default=False)
    race_type = RaceTypeSerializer(required=False, default=dict)
    trials = serializers.IntegerField(min_value=spec.MIN_TRIALS, max_value=spec.MAX_TRIALS,
                                    default=spec.DEFAULT_TRIALS)
    continuous = serializers.BooleanField(required=False, default=False)
    off_track_penalty = serializers.FloatField(min_value=0, max_value=services.MAX_PENALTY_SECONDS,
                                               default=spec.DEFAULT_PENALTY)
    collision_penalty = serializers.FloatField(min_value=0, max_value=services.MAX_PENALTY_SECONDS,
                                               default=spec.DEFAULT_PENALTY)

    def validate_race_type(self, value):
        return dict(value)


def _owned_model(request, model_id) -> RLModel:
    return get_object_or_404(RLModel, pk=model_id, owner=request.user)


def _job_error(error: services.JobError):
    return ValidationError({"detail": str(error)})


class _JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    job_class = None
    start_serializer_class = None

    def get_queryset(self):
        return self.job_class.objects.owned_by(self.request.user).select_related("model")

    def create(self, request):
        start = self.start_serializer_class(data=request.data)
        start.is_valid(raise_exception=True)
        arguments = dict(start.validated_data)
        model = _owned_model(request, arguments.pop("model"))
        try:
            job = self.start(model, arguments)
        except services.JobError as error:
            raise _job_error(error) from None
        return Response(self.get_serializer(job).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        """Stop the job: a queued one is canceled, a running one ends after a final checkpoint."""
        job = self.get_object()
        try:
            job = self.stop_job(job)
        except services.JobError as error:
            raise _job_error(error) from None
        return Response(self.get_serializer(job).data)


STOP_REFUSED = field_errors_response("The job cannot be stopped (it is over): {\"detail\": [reason]}.")
NO_MODEL = detail_response("The model is not one of yours.")


@extend_schema_view(
    create=extend_schema(request=TrainingStartSerializer, responses={201: TrainingJobSerializer, 404: NO_MODEL}),
    stop=extend_schema(request=None, responses={200: TrainingJobSerializer, 400: STOP_REFUSED}),
)
class TrainingJobViewSet(_JobViewSet):
    job_class = TrainingJob
    queryset = TrainingJob.objects.all()  # for the schema; requests see get_queryset (owner only)
    serializer_class = TrainingJobSerializer
    start_serializer_class = TrainingStartSerializer

    def start(self, model, arguments):
        return services.training_start(model, **arguments)

    def stop_job(self, job):
        return services.training_stop(job)

    @action(detail=True, methods=["post"], url_path="continue", url_name="continue")
    def continue_training(self, request, pk=None):
        """Continue a failed or stopped training from its last checkpoint, in the same job."""
        job = self.get_object()
        arguments = TrainingContinueSerializer(data=request.data)
        arguments.is_valid(raise_exception=True)
        try:
            job = services.training_continue(job, minutes=arguments.validated_data.get("minutes"))
        except services.JobError as error:
            raise _job_error(error) from None
        return Response(self.get_serializer(job).data)

    @action(detail=True, methods=["get"])
    def metrics(self, request, pk=None):
        """The reward graph's data: one record per iteration, and the latest episodes."""
        return Response(services.training_metrics(self.get_object()))


@extend_schema_view(
    create=extend_schema(request=EvaluationStartSerializer,
                         responses={201: EvaluationJobSerializer, 404: NO_MODEL}),
    stop=extend_schema(request=None, responses={200: EvaluationJobSerializer, 400: STOP_REFUSED}),
)
class EvaluationJobViewSet(_JobViewSet):
    job_class = EvaluationJob
    queryset = EvaluationJob.objects.all()  # for the schema; requests see get_queryset (owner only)
    serializer_class = EvaluationJobSerializer
    start_serializer_class = EvaluationStartSerializer

    def start(self, model, arguments):
        arguments.setdefault("track", model.track)
        return services.evaluation_start(model, **arguments)

    def stop_job(self, job):
        return services.evaluation_stop(job)


router = SimpleRouter()
router.register("training-jobs", TrainingJobViewSet, basename="training-job")
router.register("evaluation-jobs", EvaluationJobViewSet, basename="evaluation-job")
router.register("analysis", ModelAnalysisViewSet, basename="analysis")
