"""The Analysis tab's data as REST endpoints (owner only; a notebook can fetch them with an API token):
/training/api/analysis/<model id>/{summary,heatmap,exits,laps,actions,episodes,episode,evaluation,rescore}/.

Each endpoint reads the model folder's sim-traces through training.analysis (parsed CSVs cached under
model.analysis_cache) for the iterations asked (``first``/``last``, inclusive)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from models_app.models import RLModel
from models_app.reward import MAX_CODE_CHARS
from simulator.racing_line import cached_racing_line, top_speed_of
from simulator.reward.sandbox import IsolationUnavailable
from simulator.tracks import TrackError
from training import analysis, rescore
from training.artifacts import ArtifactError, read_model_metadata
from training.models import TrainingJob

RANGE = [OpenApiParameter("first", int, description="First iteration (inclusive)"),
         OpenApiParameter("last", int, description="Last iteration (inclusive)")]
ANALYSIS_RESPONSE = {200: OpenApiTypes.OBJECT}


def model_logs(model: RLModel) -> analysis.ModelLogs:
    return analysis.ModelLogs(model.folder, model.analysis_cache)


def model_track(model: RLModel):
    try:
        return model.get_track()
    except TrackError as error:
        raise NotFound(f"The model's track is gone: {error}") from None


def analysis_metadata(model: RLModel) -> dict:
    """The action space the traces were driven with: the folder's model_metadata.json, else the model's."""
    try:
        return read_model_metadata(model.folder)
    except ArtifactError:
        return model.metadata()


class RescoreSerializer(serializers.Serializer):
    code = serializers.CharField(trim_whitespace=False, max_length=MAX_CODE_CHARS)
    first = serializers.IntegerField(required=False, min_value=0)
    last = serializers.IntegerField(required=False, min_value=0)
    evaluation = serializers.RegexField(r"^\d{14}$", required=False,
                                        help_text="Re-score this evaluation's steps instead of training's.")


class ModelAnalysisViewSet(viewsets.GenericViewSet):
    """Log analysis of one of your models."""

    lookup_value_regex = "[0-9a-f-]{36}"
    serializer_class = RescoreSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RLModel.objects.none()
        return RLModel.objects.owned_by(self.request.user)

    # -- helpers --------------------------------------------------------------------------------------

    def _range(self) -> tuple[int | None, int | None]:
        values = []
        for name in ("first", "last"):
            raw = self.request.query_params.get(name, "")
            if raw == "":
                values.append(None)
                continue
            try:
                values.append(int(raw))
            except ValueError:
                raise ValidationError({name: ["An iteration number."]}) from None
        if None not in values and values[0] > values[1]:
            raise ValidationError({"first": ["The first iteration comes before the last."]})
        return values[0], values[1]

    def _training(self, model) -> analysis.Steps:
        try:
            return model_logs(model).training(*self._range())
        except analysis.AnalysisError as error:
            raise ValidationError({"detail": str(error)}) from None

    def _steps(self, model) -> analysis.Steps:
        """Training steps, or an evaluation's with ?evaluation=<stamp>."""
        stamp = self.request.query_params.get("evaluation")
        if not stamp:
            return self._training(model)
        try:
            return model_logs(model).evaluation(stamp)
        except analysis.AnalysisError as error:
            raise NotFound(str(error)) from None

    # -- endpoints ------------------------------------------------------------------------------------

    @extend_schema(responses=ANALYSIS_RESPONSE)
    @action(detail=True, methods=["get"])
    def summary(self, request, pk=None):
        """Per iteration: mean reward and progress, completion rate, quintiles, lap times, steps per
        second, the learner's losses and entropy; the evaluations; the track and its racing line."""
        model = self.get_object()
        logs = model_logs(model)
        job = TrainingJob.objects.filter(model=model).first()
        try:
            summary = analysis.iteration_summary(logs.training(), job.metrics if job else [])
        except analysis.AnalysisError as error:
            raise ValidationError({"detail": str(error)}) from None
        track = model_track(model)
        line = cached_racing_line(track, top_speed_of(analysis_metadata(model)))   # at this car's top speed
        return Response({"iterations": summary, "evaluations": logs.evaluations(),
                         "track": analysis.track_outline(track), "racing_line": line.as_dict(),
                         "job": {"id": job.pk, "status": job.status} if job else None})

    @extend_schema(parameters=[*RANGE, OpenApiParameter("kind", str, enum=list(analysis.HEATMAP_KINDS)),
                               OpenApiParameter("evaluation", str)], responses=ANALYSIS_RESPONSE)
    @action(detail=True, methods=["get"])
    def heatmap(self, request, pk=None):
        """A grid over the track of visits, mean reward, measured speed or commanded steering."""
        model = self.get_object()
        try:
            return Response(analysis.heatmap(self._steps(model), model_track(model),
                                             request.query_params.get("kind", "visits")))
        except analysis.AnalysisError as error:
            raise ValidationError({"kind": [str(error)]}) from None

    @extend_schema(parameters=RANGE, responses=ANALYSIS_RESPONSE)
    @action(detail=True, methods=["get"])
    def exits(self, request, pk=None):
        """Where episodes left the track or crashed."""
        return Response(analysis.exits(self._training(self.get_object())))

    @extend_schema(parameters=[*RANGE, OpenApiParameter("evaluation", str)], responses=ANALYSIS_RESPONSE)
    @action(detail=True, methods=["get"])
    def laps(self, request, pk=None):
        """Complete laps, fastest first, with their paths, measured speed and sector times."""
        return Response(analysis.laps(self._steps(self.get_object())))

    @extend_schema(parameters=RANGE, responses=ANALYSIS_RESPONSE)
    @action(detail=True, methods=["get"])
    def actions(self, request, pk=None):
        """Action usage overall and per track section; speed and steering per iteration."""
        model = self.get_object()
        return Response(analysis.actions(self._training(model), model_track(model), analysis_metadata(model)))

    @extend_schema(parameters=[*RANGE, OpenApiParameter("evaluation", str)], responses=ANALYSIS_RESPONSE)
    @action(detail=True, methods=["get"])
    def episodes(self, request, pk=None):
        """Every episode: iteration, number, steps, reward, progress, status, time."""
        return Response({"episodes": analysis.episode_list(self._steps(self.get_object()))})

    @extend_schema(parameters=[OpenApiParameter("iteration", int, required=True),
                               OpenApiParameter("episode", int, required=True),
                               OpenApiParameter("evaluation", str)], responses=ANALYSIS_RESPONSE)
    @action(detail=True, methods=["get"])
    def episode(self, request, pk=None):
        """One episode step by step with the params the reward function saw."""
        model = self.get_object()
        try:
            iteration, number = int(request.query_params["iteration"]), int(request.query_params["episode"])
        except (KeyError, ValueError):
            raise ValidationError({"episode": ["Give iteration and episode numbers."]}) from None
        steps = self._steps(model) if request.query_params.get("evaluation") else \
            model_logs(model).training(iteration, iteration)
        try:
            return Response(analysis.episode_steps(steps, model_track(model), iteration, number))
        except analysis.AnalysisError as error:
            raise NotFound(str(error)) from None

    @extend_schema(parameters=[OpenApiParameter("evaluation", str, required=True)], responses=ANALYSIS_RESPONSE)
    @action(detail=True, methods=["get"])
    def evaluation(self, request, pk=None):
        """All the trials of one evaluation, their paths overlaid, and its complete laps."""
        model = self.get_object()
        if not request.query_params.get("evaluation"):
            raise ValidationError({"evaluation": ["Give an evaluation stamp (YYYYmmddHHMMSS)."]})
        steps = self._steps(model)
        return Response({"trials": analysis.paths(steps), "laps": analysis.laps(steps)})

    @extend_schema(request=RescoreSerializer, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT,
                                                         503: inline_serializer("Unavailable", {
                                                             "detail": serializers.CharField()})})
    @action(detail=True, methods=["post"])
    def rescore(self, request, pk=None):
        """Run another reward function over the recorded steps (in the reward sandbox, batched): its
        reward heatmap beside the original, and each episode's total reward both ways."""
        model = self.get_object()
        serializer = RescoreSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        logs = model_logs(model)
        try:
            steps = logs.evaluation(data["evaluation"]) if data.get("evaluation") else \
                logs.training(data.get("first"), data.get("last"))
        except analysis.AnalysisError as error:
            raise ValidationError({"evaluation": [str(error)]}) from None
        if not len(steps):
            raise ValidationError({"detail": "There are no recorded steps in these iterations."})
        try:
            result = rescore.rescore(data["code"], steps, model_track(model), model.race_type)
        except IsolationUnavailable as error:
            return Response({"detail": f"This server cannot run reward functions safely: {error}"},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE)
        if "errors" in result:
            return Response({"code": result["errors"]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(result)
