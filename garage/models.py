"""The Garage: a racer's vehicles (SPEC 2). A model keeps a snapshot, so editing a vehicle never
changes a model trained with it."""

import copy
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from garage.action_space import simple_actions
from simulator import spec

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _'.-]{0,63}$")
NAME_RULE = "1 to 64 letters, digits, spaces, and - _ ' . (starting with a letter or digit)."
SHELLS = {
    "original": "Original DeepRacer",
    "speedster": "Speedster",
    "rally": "Rally",
    "open_wheel": "Open-wheel racer",
    "truck": "Desert truck",
}
DEFAULT_COLOUR = "#0b6cd9"
COLOUR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
ORIGINAL_DEEPRACER = {
    "name": "The Original DeepRacer",
    "sensors": [spec.FRONT_FACING_CAMERA],
    "neural_network": spec.SHALLOW_CNN,
    "action_space_type": spec.DISCRETE,
    "action_space": simple_actions(30, 5, 1.0, 2),
    "shell": "original",
    "colour": "#1a1a2e",
}
# The continuous default: slow enough that a first model learns to lap quickly, and SAC can drive it.
CONTINUOUS_DEEPRACER = {
    "name": "Continuous DeepRacer",
    "sensors": [spec.FRONT_FACING_CAMERA],
    "neural_network": spec.SHALLOW_CNN,
    "action_space_type": spec.CONTINUOUS,
    "action_space": {"speed": {"low": 0.5, "high": 1.0}, "steering_angle": {"low": -30.0, "high": 30.0}},
    "shell": "speedster",
    "colour": "#d9480b",
}
DEFAULT_VEHICLES = (ORIGINAL_DEEPRACER, CONTINUOUS_DEEPRACER)


def validate_vehicle_name(name: str):
    if not NAME_PATTERN.match(name or ""):
        raise ValidationError(f"Use {NAME_RULE}")


class VehicleQuerySet(models.QuerySet):
    def create_defaults(self, owner):
        return [self.create(owner=owner, **vehicle) for vehicle in DEFAULT_VEHICLES]


class Vehicle(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="vehicles")
    name = models.CharField(max_length=64, validators=[validate_vehicle_name])
    sensors = models.JSONField()
    neural_network = models.CharField(max_length=48, choices=spec.NETWORKS.items())
    action_space_type = models.CharField(max_length=16, choices=spec.ACTION_SPACE_TYPES.items())
    action_space = models.JSONField()
    shell = models.CharField(max_length=32, choices=SHELLS.items(), default="original")
    colour = models.CharField(max_length=7, default=DEFAULT_COLOUR)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VehicleQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="unique_vehicle_name_per_owner")]

    def __str__(self):
        return self.name

    @property
    def is_continuous(self) -> bool:
        return self.action_space_type == spec.CONTINUOUS

    @property
    def camera_label(self) -> str:
        return spec.CAMERAS.get(self.sensors[0], self.sensors[0])

    @property
    def sensor_labels(self) -> list[str]:
        return [spec.CAMERAS.get(s) or spec.LIDARS.get(s, s) for s in self.sensors]

    @property
    def network_label(self) -> str:
        return spec.NETWORKS.get(self.neural_network, self.neural_network)

    @property
    def action_summary(self) -> str:
        if self.is_continuous:
            speed, steering = self.action_space["speed"], self.action_space["steering_angle"]
            return (f"Continuous: speed {speed['low']:g}–{speed['high']:g} m/s, "
                    f"steering {steering['low']:g}°–{steering['high']:g}°")
        return f"Discrete: {len(self.action_space)} actions"

    def snapshot(self) -> dict:
        """What a model keeps of this vehicle: the metadata fields plus name, shell and colour."""
        return {
            "name": self.name,
            "sensor": list(self.sensors),
            "neural_network": self.neural_network,
            "action_space_type": self.action_space_type,
            "action_space": copy.deepcopy(self.action_space),
            "shell": self.shell,
            "colour": self.colour,
        }
