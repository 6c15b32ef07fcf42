"""The admins' usage and quotas page (console.user_views.usage, quota_defaults, user_quota) and a racer's
own usage on the profile."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from tests.training.jobs_fixtures import make_model
from training import quotas
from training.models import QuotaSettings, RacerQuota, WorkerHost

URL = reverse("console:usage")


def test_it_shows_every_user_with_models_storage_compute_and_the_instance_totals(site_admin_client, owner, settings,
                                                                                 tmp_path):
    settings.MODEL_STORE = tmp_path
    model = make_model(owner)
    model.folder.mkdir(parents=True)
    (model.folder / "model.pth").write_bytes(b"x" * 2048)
    quotas.add_compute(owner.pk, 90)
    response = site_admin_client.get(URL)
    assert response.status_code == 200
    row = response.context["rows"][[row.user for row in response.context["rows"]].index(owner)]
    assert (row.models, row.storage_bytes, row.used_minutes, row.roles) == (1, 2048, 1.5, ["racer"])
    totals = response.context["totals"]
    assert (totals.models, totals.storage_bytes, totals.used_minutes) == (1, 2048, 1.5)
    assert b"2.0\xc2\xa0KB" in response.content


def test_it_lists_the_workers_where_they_run_and_what_they_run(site_admin_client):
    WorkerHost.objects.create(name="training@gpu-box", hostname="gpu-box", queues="default,training",
                              seen_at=timezone.now(), running="training 7")
    WorkerHost.objects.create(name="training@gone", hostname="gone", seen_at=timezone.now() - timedelta(hours=1),
                              running="training 3")
    WorkerHost.objects.create(name="training@idle-gone", hostname="idle-gone",
                              seen_at=timezone.now() - timedelta(hours=1))
    content = site_admin_client.get(URL).content.decode()
    assert "training@gpu-box" in content and "training 7" in content and "default,training" in content
    assert "not responding: training 3 is requeued from its last checkpoint" in content
    assert content.count("not responding") == 2


def test_it_is_for_admins_only(owner_client, owner):
    assert owner_client.get(URL).status_code == 403
    assert owner_client.post(reverse("console:user_quota", args=[owner.pk]), {"compute_minutes": "-1"}).status_code == 403
    assert owner_client.post(reverse("console:quota_defaults"), {"compute_minutes": "5"}).status_code == 403
    assert not RacerQuota.objects.exists()


def test_it_changes_a_racers_quota_and_the_defaults(site_admin_client, owner):
    response = site_admin_client.post(reverse("console:user_quota", args=[owner.pk]),
                                      {"compute_minutes": "120", "models_count": ""})
    assert response["Location"] == URL
    assert quotas.limits_of(owner) == quotas.Limits(compute_minutes=120, models_count=-1)
    site_admin_client.post(reverse("console:quota_defaults"), {
        "compute_minutes": "60", "models_count": "3", "new_racer_compute_minutes": "", "new_racer_models_count": "",
        "concurrent_jobs": "2"})
    defaults = QuotaSettings.current()
    assert (defaults.compute_minutes, defaults.models_count, defaults.concurrent_jobs) == (60, 3, 2)
    assert quotas.limits_of(owner) == quotas.Limits(compute_minutes=120, models_count=3)


def test_it_refuses_a_quota_below_minus_one(site_admin_client, owner):
    site_admin_client.post(reverse("console:user_quota", args=[owner.pk]), {"compute_minutes": "-5"})
    assert not RacerQuota.objects.exists()
    assert b"Ensure this value is greater than or equal to -1" in site_admin_client.get(URL).content
    site_admin_client.post(reverse("console:quota_defaults"), {"compute_minutes": "-3", "models_count": "-1",
                                                                "concurrent_jobs": "1"})
    assert QuotaSettings.current().compute_minutes == -1
    assert b"Enter 0 or more, or -1 for unlimited." in site_admin_client.get(URL).content


def test_it_shows_racers_their_own_usage_on_their_profile(owner_client, owner):
    RacerQuota.objects.create(user=owner, compute_minutes=30, models_count=2)
    make_model(owner)
    quotas.add_compute(owner.pk, 600)
    response = owner_client.get(reverse("accounts:profile"))
    assert response.context["usage"].used_minutes == 10.0
    content = response.content.decode()
    assert "10.0 of 30" in content and "1 of 2" in content
    assert f"{quotas.resets_on():%-d %B %Y} (UTC)" in content
