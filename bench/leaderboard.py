"""Leaderboard figures: the race page and the leaderboard API with 1,000 entries (target < 50 ms server time).

    python bench/leaderboard.py [--entries 1000] [--racers 500] [--requests 50]

Uses a throw-away SQLite database (or DATABASE_URL, e.g. PostgreSQL) and REDIS_URL or an embedded Valkey
server. The entries belong to `--racers` racers (two submissions each by default: the board ranks each racer's
best). Server time = the Django test client's request to response, in-process (no network), with DEBUG off
as in production (no query log). Prints its figures with the machine's load average (other work on the
machine skews them).
"""

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.django_bench import django_console, load_average_line  # noqa: E402


def _fill(entries: int, racers: int):
    """A race with `entries` completed submissions from `racers` racers, written in bulk."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from console.models import RacerProfile
    from races.models import Participant, Race, Submission, SubmissionStatus
    from tests.conftest import make_racer

    organiser = make_racer("organiser", "Organiser")
    now = timezone.now()
    race = Race.objects.create(owner=organiser, name="Bench Cup", opens_at=now - timedelta(days=1),
                               closes_at=now + timedelta(days=1), track="quick_loop",
                               race_type={"race_type": "TIME_TRIAL"}, is_open=True)
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"racer{n}", email=f"racer{n}@example.com") for n in range(racers)])
    RacerProfile.objects.bulk_create([RacerProfile(user=user, racer_name=f"Racer_{n:04d}")
                                      for n, user in enumerate(users)])
    participants = Participant.objects.bulk_create([Participant(race=race, user=user) for user in users])
    Submission.objects.bulk_create([
        Submission(race=race, participant=participants[n % racers], model_name=f"Model-{n}",
                   status=SubmissionStatus.COMPLETED, ranking_ms=10_000 + (n * 7919) % 20_000 if n % 10 else None,
                   laps_completed=3 if n % 10 else 1, best_completion=100.0, submitted_at=now - timedelta(seconds=n))
        for n in range(entries)])
    return race, organiser, users[racers // 2]


def _time(client, path: str, count: int) -> dict:
    assert client.get(path).status_code == 200  # warm the template cache
    samples, cpu = [], []
    for _ in range(count):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200
    samples.sort()
    # CPU time is what the request costs the server; wall time also holds the wait for a core on a busy machine.
    return {"median": statistics.median(samples), "p95": samples[max(0, int(0.95 * count) - 1)],
            "cpu": statistics.median(cpu)}


def bench(entries: int, racers: int, count: int) -> dict:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.DEBUG = False  # as in production: no query log (CaptureQueriesContext counts queries anyway)
    race, organiser, racer = _fill(entries, racers)
    client = Client()
    client.force_login(racer)  # a racer in the middle of the board: their row is pinned below page 1
    figures = {}
    for label, path in (("race page", f"/races/{race.pk}/"), ("board refresh", f"/races/{race.pk}/board/"),
                        ("API leaderboard (100)", f"/api/races/{race.pk}/leaderboard/"),
                        ("API leaderboard (1000)", f"/api/races/{race.pk}/leaderboard/?page_size=1000"),
                        ("Leaderboards list", "/races/leaderboards/")):
        figures[label] = _time(client, path, count)
        with CaptureQueriesContext(connection) as queries:
            client.get(path)
        figures[label]["queries"] = len(queries)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--racers", type=int, default=500)
    parser.add_argument("--requests", type=int, default=50)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with django_console(Path(folder)):
            figures = bench(options.entries, options.racers, options.requests)
            from django.db import connection

            database = connection.vendor
    print(load_average_line())
    print(f"{options.entries} entries from {options.racers} racers, {database}, {options.requests} requests each; "
          f"target < 50 ms server time")
    for label, figure in figures.items():
        print(f"{label:<24} wall median {figure['median']:6.1f} ms  p95 {figure['p95']:6.1f} ms  "
              f"CPU median {figure['cpu']:6.1f} ms  ({figure['queries']} queries)")


if __name__ == "__main__":
    main()
