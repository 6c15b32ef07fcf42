"""Quotas (SPEC 4; training.quotas): the default, a new racer's, per-racer overrides, -1 = unlimited; a
refused job names the quota and when it resets; a training that reaches the quota stops with a final
checkpoint (real engine, tiny budget); a new month starts from zero."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import NON_FIELD_ERRORS

from models_app.services import model_validate
from tests.training.jobs_fixtures import *  # noqa: F403 (fixtures)
from tests.training.jobs_fixtures import make_model
from training import artifacts, quotas, services, worker
from training.models import UNLIMITED, ComputeUsage, JobStatus, QuotaSettings, RacerQuota

pytestmark = pytest.mark.django_db


def _defaults(**fields) -> None:
    QuotaSettings.objects.update_or_create(pk=1, defaults=fields)


def _resets() -> str:
    return f"{quotas.resets_on():%-d %B %Y} (UTC)"


def test_it_refuses_a_job_when_the_month_is_used_up_and_says_when_it_resets(owner):
    _defaults(compute_minutes=10)
    quotas.add_compute(owner.pk, 10 * 60)
    with pytest.raises(quotas.QuotaExceeded) as refused:
        services.training_start(make_model(owner), enqueue=False)
    assert "compute quota of 10 minutes a month" in str(refused.value)
    assert f"It resets on {_resets()}." in str(refused.value)


def test_it_counts_what_queued_trainings_may_still_use(owner):
    _defaults(compute_minutes=10)
    services.training_start(make_model(owner, name="First"), max_minutes=10, enqueue=False)
    with pytest.raises(quotas.QuotaExceeded, match="taken by queued jobs"):
        services.training_start(make_model(owner, name="Second"), max_minutes=1, enqueue=False)


def test_it_lets_an_override_win_over_the_default_and_minus_one_mean_unlimited(owner, stranger):
    _defaults(compute_minutes=1, models_count=1)
    quotas.set_override(owner, compute_minutes=UNLIMITED, models_count=None)
    for user in (owner, stranger):
        quotas.add_compute(user.pk, 600)
    services.training_start(make_model(owner), enqueue=False)
    with pytest.raises(quotas.QuotaExceeded):
        services.training_start(make_model(stranger), enqueue=False)
    assert quotas.limits_of(owner) == quotas.Limits(compute_minutes=UNLIMITED, models_count=1)
    with pytest.raises(ValueError, match="-1 for unlimited"):
        quotas.set_override(owner, compute_minutes=-2, models_count=None)


def test_it_gives_a_new_racer_the_new_racer_quotas():
    from console import accounts

    _defaults(compute_minutes=100, new_racer_compute_minutes=30)
    user = accounts.sign_up("newcomer", "new@example.com", "a long pass phrase 42")
    assert RacerQuota.objects.get(user=user).compute_minutes == 30
    assert quotas.limits_of(user).compute_minutes == 30


def test_it_starts_every_month_from_zero(owner):
    _defaults(compute_minutes=10)
    quotas.add_compute(owner.pk, 3600, moment=datetime(2026, 1, 31, 23, 59, tzinfo=UTC))
    assert quotas.used_minutes(owner) == 0.0
    assert ComputeUsage.objects.get(user=owner).month.isoformat() == "2026-01-01"
    quotas.check_compute(owner)
    assert quotas.resets_on(datetime(2026, 12, 15, tzinfo=UTC)).isoformat() == "2027-01-01"


def test_it_refuses_a_model_over_the_model_quota(owner):
    _defaults(models_count=1)
    make_model(owner)
    _, errors = model_validate(owner=owner, name="Another", reward_code="def reward_function(params):\n    return 1.0\n")
    assert errors[NON_FIELD_ERRORS] == [f"Your model quota is 1 model: delete a model to create another. (The model "
                                        f"quota does not reset; the compute quota resets on {_resets()}.)"]


def test_it_stops_a_training_at_the_quota_with_a_final_checkpoint(rl_model):
    _defaults(compute_minutes=1)
    job = services.training_start(rl_model, max_minutes=5, enqueue=False)
    quotas.add_compute(rl_model.owner_id, 50)  # ten seconds left
    job = worker.training_run(job.pk, worker="test-quota")
    rl_model.refresh_from_db()
    assert (job.status, job.stop_reason, rl_model.status) == (JobStatus.COMPLETED, "quota", "READY")
    assert artifacts.read_checkpoints_index(rl_model.folder) is not None
    assert quotas.used_minutes(rl_model.owner) >= 1.0
    assert job.failure_message == (f"Your monthly compute quota is used up: training stopped with a final "
                                   f"checkpoint. The quota resets on {_resets()}.")
