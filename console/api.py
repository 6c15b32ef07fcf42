"""REST API of usage and quotas: /api/usage/ (the signed-in racer's own) and /api/admin/usage/ (admins:
every user, the instance's totals and the workers), with the same rules as the pages."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from common import roles
from common.openapi import detail_response
from console import usage
from training import quotas


class IsAdmin(permissions.BasePermission):
    message = "Only admins see everyone's usage."

    def has_permission(self, request, view):
        return roles.is_admin(request.user)


class UsageSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    roles = serializers.ListField(child=serializers.CharField())
    models = serializers.IntegerField()
    storage_bytes = serializers.IntegerField()
    compute_minutes_used = serializers.FloatField(source="used_minutes", help_text="this month (UTC)")
    compute_minutes_queued = serializers.FloatField(source="queued_minutes",
                                                    help_text="training time the racer's active jobs may still use")
    compute_minutes_quota = serializers.IntegerField(source="limits.compute_minutes", help_text="-1: unlimited")
    models_quota = serializers.IntegerField(source="limits.models_count", help_text="-1: unlimited")


class OwnUsageSerializer(UsageSerializer):
    resets_on = serializers.DateField(help_text="when the compute quota starts again (UTC)")


class TotalsSerializer(serializers.Serializer):
    users = serializers.IntegerField()
    models = serializers.IntegerField()
    storage_bytes = serializers.IntegerField()
    compute_minutes_used = serializers.FloatField(source="used_minutes")
    compute_minutes_queued = serializers.FloatField(source="queued_minutes")


class WorkerSerializer(serializers.Serializer):
    name = serializers.CharField()
    hostname = serializers.CharField()
    queues = serializers.CharField()
    running = serializers.CharField()
    seen_at = serializers.DateTimeField()
    alive = serializers.BooleanField(source="is_alive")


class InstanceUsageSerializer(serializers.Serializer):
    users = UsageSerializer(many=True)
    totals = TotalsSerializer()
    workers = WorkerSerializer(many=True)


@extend_schema(responses={200: OwnUsageSerializer})
@api_view(["GET"])
def own_usage(request):
    row = usage.usage_of(request.user)
    data = UsageSerializer(row).data
    return Response({**data, "resets_on": quotas.resets_on().isoformat()})


@extend_schema(responses={200: InstanceUsageSerializer, 403: detail_response("Only admins see everyone's usage.")})
@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated, IsAdmin])
def instance_usage(request):
    rows = usage.usage_of_everyone()
    return Response(InstanceUsageSerializer({"users": rows, "totals": usage.totals(rows),
                                             "workers": usage.workers()}).data)


urlpatterns = [
    path("usage/", own_usage, name="api-usage"),
    path("admin/usage/", instance_usage, name="api-admin-usage"),
]
