"""Quotas (SPEC 4): compute minutes per month and the number of models, each with the instance's default
(QuotaSettings), a racer's override (RacerQuota), and -1 for unlimited. Compute time is what the racer's
jobs ran (the workers add it as they beat); each month (UTC) has its own row, so quotas reset on the 1st.

A job that cannot run within the quota is refused with ``QuotaExceeded`` (the message names the quota and
when it resets); a training that reaches the quota while it runs stops with a final checkpoint, as the
racer's stop would (training.worker)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import F, Sum
from django.utils import timezone

from training.models import (
    ACTIVE_STATUSES,
    UNLIMITED,
    ComputeUsage,
    JobError,
    QuotaSettings,
    RacerQuota,
    TrainingJob,
)


class QuotaExceeded(JobError):
    """A job or a model the racer's quota does not allow; the message says which quota and when it resets."""


def month_of(moment: datetime | None = None) -> date:
    moment = (moment or timezone.now()).astimezone(timezone.get_fixed_timezone(0))
    return moment.date().replace(day=1)


def resets_on(moment: datetime | None = None) -> date:
    """The first day of the next month (UTC), when the compute quota starts again."""
    month = month_of(moment)
    return month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(month=month.month + 1)


def _resets_text() -> str:
    return resets_on().strftime("%-d %B %Y") + " (UTC)"


@dataclass(frozen=True)
class Limits:
    compute_minutes: int
    models_count: int


def limits_of(user) -> Limits:
    """The racer's quotas: their override where they have one, else the instance's default."""
    defaults = QuotaSettings.current()
    override = RacerQuota.objects.filter(user=user).first()
    minutes = override.compute_minutes if override and override.compute_minutes is not None else defaults.compute_minutes
    count = override.models_count if override and override.models_count is not None else defaults.models_count
    return Limits(compute_minutes=minutes, models_count=count)


def quota_for_new_racer(user) -> None:
    """A new racer starts with the instance's new-racer quotas as their override (none when unset)."""
    defaults = QuotaSettings.current()
    if defaults.new_racer_compute_minutes is None and defaults.new_racer_models_count is None:
        return
    RacerQuota.objects.update_or_create(user=user, defaults={
        "compute_minutes": defaults.new_racer_compute_minutes, "models_count": defaults.new_racer_models_count})


def set_override(user, *, compute_minutes: int | None, models_count: int | None) -> RacerQuota:
    for name, value in (("compute minutes", compute_minutes), ("models", models_count)):
        if value is not None and value < UNLIMITED:
            raise ValueError(f"The {name} quota is a number of 0 or more, or -1 for unlimited.")
    quota, _ = RacerQuota.objects.update_or_create(
        user=user, defaults={"compute_minutes": compute_minutes, "models_count": models_count})
    return quota


def used_minutes(user, month: date | None = None) -> float:
    seconds = (ComputeUsage.objects.filter(user=user, month=month or month_of())
               .values_list("seconds", flat=True).first())
    return (seconds or 0.0) / 60.0


def queued_minutes(user) -> float:
    """Training minutes the racer's waiting and running jobs may still use (evaluations are short)."""
    jobs = TrainingJob.objects.owned_by(user).filter(status__in=ACTIVE_STATUSES)
    return sum(job.remaining_seconds for job in jobs.only("max_minutes", "elapsed_seconds")) / 60.0


def add_compute(user_id: int, seconds: float, moment: datetime | None = None) -> None:
    """Count ``seconds`` of a job's run to the racer's month (one UPDATE; the first of a month inserts)."""
    if seconds <= 0:
        return
    month = month_of(moment)
    if not ComputeUsage.objects.filter(user_id=user_id, month=month).update(seconds=F("seconds") + seconds):
        ComputeUsage.objects.get_or_create(user_id=user_id, month=month)
        ComputeUsage.objects.filter(user_id=user_id, month=month).update(seconds=F("seconds") + seconds)


def compute_left_minutes(user) -> float | None:
    """Minutes of compute left this month, or None when unlimited."""
    limit = limits_of(user).compute_minutes
    if limit == UNLIMITED:
        return None
    return max(0.0, limit - used_minutes(user))


def check_compute(user, *, queued: bool = True) -> None:
    """Refuse a new job when the racer's month is used up (by what ran, and, with ``queued``, by the
    training time their other jobs may still use)."""
    limit = limits_of(user).compute_minutes
    if limit == UNLIMITED:
        return
    used = used_minutes(user) + (queued_minutes(user) if queued else 0.0)
    if used >= limit:
        raise QuotaExceeded(
            f"Your compute quota of {limit} minutes a month is used up ({used:.0f} minutes used or taken by "
            f"queued jobs). It resets on {_resets_text()}.")


def check_models(user, owned: int) -> None:
    """Refuse a new model when the racer already has their quota of models."""
    limit = limits_of(user).models_count
    if limit != UNLIMITED and owned >= limit:
        raise QuotaExceeded(f"Your model quota is {limit} model{'s' if limit != 1 else ''}: delete a model to "
                            f"create another. (The model quota does not reset; the compute quota resets on "
                            f"{_resets_text()}.)")


def compute_exhausted(user_id: int) -> bool:
    """While a job runs: has the racer's month reached the quota? (The worker stops training there.)"""
    from django.contrib.auth import get_user_model

    user = get_user_model()(pk=user_id)
    limit = limits_of(user).compute_minutes
    return limit != UNLIMITED and used_minutes(user) >= limit


def instance_minutes(month: date | None = None) -> float:
    seconds = ComputeUsage.objects.filter(month=month or month_of()).aggregate(total=Sum("seconds"))["total"]
    return (seconds or 0.0) / 60.0
