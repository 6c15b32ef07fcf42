"""REST API for the Garage: /api/vehicles/ (token or session auth; a racer only ever sees their own)."""

from django.urls import include, path
from rest_framework import serializers, viewsets
from rest_framework.routers import SimpleRouter

from garage.models import COLOUR_PATTERN, SHELLS, Vehicle, validate_vehicle_name
from simulator import spec


class VehicleSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=64, validators=[validate_vehicle_name])
    sensors = serializers.JSONField(help_text="SPEC 2 sensor names, camera first, e.g. [\"FRONT_FACING_CAMERA\", \"LIDAR\"].")
    action_space = serializers.JSONField(
        help_text="Discrete: [{steering_angle, speed}, ...] (2-30). Continuous: {speed: {low, high}, "
                  "steering_angle: {low, high}}.")
    shell = serializers.ChoiceField(choices=list(SHELLS.items()), default="original")
    colour = serializers.RegexField(COLOUR_PATTERN, default="#0b6cd9")

    class Meta:
        model = Vehicle
        fields = ["id", "name", "sensors", "neural_network", "action_space_type", "action_space", "shell", "colour",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_name(self, name):
        others = Vehicle.objects.filter(owner=self.context["request"].user, name=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("You already have a vehicle with this name.")
        return name

    def validate(self, attrs):
        merged = {field: attrs.get(field, getattr(self.instance, field, None))
                  for field in ("sensors", "neural_network", "action_space_type", "action_space")}
        try:
            attrs["sensors"] = spec.check_sensors(merged["sensors"])
            attrs["neural_network"] = spec.check_network(merged["neural_network"])
            attrs["action_space"] = spec.check_action_space(merged["action_space_type"],
                                                                    merged["action_space"])
        except spec.ActionSpaceError as error:
            raise serializers.ValidationError(_api_fields(error.errors)) from None
        return attrs


def _api_fields(errors: dict) -> dict:
    """action_space.py names form fields (speed_low, max_speed ...): under the API they belong to action_space."""
    known = {"sensors", "neural_network", "action_space_type", "action_space"}
    grouped: dict[str, list[str]] = {}
    for field, message in errors.items():
        grouped.setdefault(field if field in known else "action_space",
                           []).append(message if field in known else f"{field}: {message}")
    return grouped


class VehicleViewSet(viewsets.ModelViewSet):
    serializer_class = VehicleSerializer
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular builds the schema without a user
            return Vehicle.objects.none()
        return Vehicle.objects.filter(owner=self.request.user)

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)


router = SimpleRouter()
router.register("vehicles", VehicleViewSet, basename="vehicle")
urlpatterns = [path("", include(router.urls))]
