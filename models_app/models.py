"""STAND-IN for the apps branch's RLModel (docs/INTERFACES.md "Django apps"), so that the training jobs can be
built and tested before it lands. Replaced wholesale by the apps branch's models_app when it is merged."""

import uuid

from django.conf import settings
from django.db import models


class RLModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rl_models")
    name = models.CharField(max_length=64)
    description = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, default="QUEUED")
    vehicle_snapshot = models.JSONField(default=dict)
    track = models.CharField(max_length=64, default="quick_loop")
    track_reversed = models.BooleanField(default=False)
    race_type = models.JSONField(default=dict)
    reward_code = models.TextField()
    training_algorithm = models.CharField(max_length=16, default="clipped_ppo")
    hyperparameters = models.JSONField(default=dict)
    max_minutes = models.PositiveIntegerField(default=60)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="clones")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name

    @property
    def folder(self):
        return settings.MODEL_STORE / str(self.owner_id) / str(self.id)

    def metadata(self) -> dict:
        snapshot = self.vehicle_snapshot
        return {"action_space": snapshot["action_space"], "action_space_type": snapshot["action_space_type"],
                "sensor": snapshot["sensor"], "neural_network": snapshot["neural_network"],
                "training_algorithm": self.training_algorithm, "version": "5"}
