"""Races fixtures: a private race organised by `owner` (the invite-link case) and helpers that put
finished entries on a board without running evaluations (tests of the ranking SQL and the pages); the
service tests run real evaluations."""

from datetime import timedelta

import pytest
from django.utils import timezone

from races.models import Participant, Race, Submission, SubmissionStatus
from tests.training.jobs_fixtures import *  # noqa: F403 (fixtures: tiny_engine, trained_rl_model, ...)


def make_race(owner, **fields) -> Race:
    now = timezone.now()
    values = {"name": "Spring Cup", "opens_at": now - timedelta(hours=1), "closes_at": now + timedelta(days=7),
              "track": "quick_loop", "race_type": {"race_type": "TIME_TRIAL"}, "max_laps": 3, "min_laps": 1}
    values.update(fields)
    return Race.objects.create(owner=owner, **values)


def make_entry(race, user, ranking_ms=None, *, submitted_at=None, laps_completed=None, best_completion=None,
               status=SubmissionStatus.COMPLETED, model_name="Quick-Model", **fields) -> Submission:
    participant, _ = Participant.objects.get_or_create(race=race, user=user)
    if laps_completed is None:
        laps_completed = 1 if ranking_ms is not None else 0
    return Submission.objects.create(
        race=race, participant=participant, model_name=model_name, status=status, ranking_ms=ranking_ms,
        best_lap_ms=ranking_ms, laps_completed=laps_completed,
        best_completion=100.0 if best_completion is None and ranking_ms else (best_completion or 0.0),
        submitted_at=submitted_at or timezone.now(), **fields)


@pytest.fixture
def race(owner):
    return make_race(owner)
