"""The usage API (console.api): a racer's own usage; everyone's for admins only."""

from django.utils import timezone
from rest_framework.test import APIClient

from tests.training.jobs_fixtures import make_model
from training import quotas
from training.models import RacerQuota, WorkerHost


def test_it_gives_a_racer_their_own_usage_and_quota(owner_api, owner, stranger):
    RacerQuota.objects.create(user=owner, compute_minutes=30)
    make_model(owner)
    make_model(stranger)
    quotas.add_compute(owner.pk, 120)
    quotas.add_compute(stranger.pk, 600)
    data = owner_api.get("/api/usage/").json()
    assert {key: data[key] for key in ("username", "models", "compute_minutes_used", "compute_minutes_quota",
                                       "models_quota")} == {"username": "owner", "models": 1,
                                                            "compute_minutes_used": 2.0, "compute_minutes_quota": 30,
                                                            "models_quota": -1}
    assert data["resets_on"] == quotas.resets_on().isoformat()


def test_it_gives_admins_everyone_the_totals_and_the_workers(site_admin, owner, owner_api):
    WorkerHost.objects.create(name="training@b", hostname="b", queues="training", seen_at=timezone.now())
    quotas.add_compute(owner.pk, 60)
    assert owner_api.get("/api/admin/usage/").status_code == 403
    admin = APIClient()
    admin.force_authenticate(site_admin)
    data = admin.get("/api/admin/usage/").json()
    assert sorted(row["username"] for row in data["users"]) == ["owner", "site_admin"]
    assert data["totals"]["compute_minutes_used"] == 1.0
    assert data["workers"][0]["hostname"] == "b" and data["workers"][0]["alive"] is True
