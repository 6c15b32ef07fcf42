"""Usage, for the admins' page and a racer's profile: per user their role, models, storage, compute minutes
used this month and still queued, their quotas; the instance's totals; and the training workers, wherever
they run. Read-only: the quotas themselves are training.quotas."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db.models import Count

from common import roles
from models_app.models import RLModel
from training import quotas
from training.models import UNLIMITED, WorkerHost


@dataclass(frozen=True)
class Usage:
    user: object
    roles: list[str]
    models: int
    storage_bytes: int
    used_minutes: float
    queued_minutes: float
    limits: quotas.Limits

    @property
    def compute_left(self) -> float | None:
        if self.limits.compute_minutes == UNLIMITED:
            return None
        return max(0.0, self.limits.compute_minutes - self.used_minutes)


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under a model folder (on the shared model store)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # written or removed meanwhile by a worker
    return total


def usage_of(user, models: int | None = None) -> Usage:
    owned = list(RLModel.objects.filter(owner=user).only("id", "owner_id"))
    return Usage(user=user, roles=roles.roles_of(user), models=len(owned) if models is None else models,
                 storage_bytes=sum(folder_bytes(model.folder) for model in owned),
                 used_minutes=quotas.used_minutes(user), queued_minutes=quotas.queued_minutes(user),
                 limits=quotas.limits_of(user))


def usage_of_everyone() -> list[Usage]:
    people = (get_user_model().objects.select_related("racer").prefetch_related("groups")
              .annotate(model_count=Count("rl_models", distinct=True)).order_by("date_joined"))
    return [usage_of(person, person.model_count) for person in people]


@dataclass(frozen=True)
class Totals:
    users: int
    models: int
    storage_bytes: int
    used_minutes: float
    queued_minutes: float


def totals(rows: list[Usage]) -> Totals:
    return Totals(users=len(rows), models=sum(row.models for row in rows),
                  storage_bytes=sum(row.storage_bytes for row in rows),
                  used_minutes=quotas.instance_minutes(), queued_minutes=sum(row.queued_minutes for row in rows))


def workers() -> list[WorkerHost]:
    return list(WorkerHost.objects.all())
