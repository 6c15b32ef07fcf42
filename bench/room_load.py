"""A workshop room's load: `make run`'s launcher (embedded Redis, 2 training workers, the web server), two
racers' models training, and N simulated racers (threads) browsing and polling as their pages do: the
models list and their profile (pages), the models list's queue poll, the models API and their usage API
(API), each racer one request a second. One command, bounded (about 2 minutes; it gives up with a message
past --budget seconds):

    .venv/bin/python bench/room_load.py [--racers 50] [--seconds 60] [--budget 170]

It prints, each with the load average (the figures move with it on a shared machine):
  1. one racer alone, request after request (the server's own cost per request, little queueing);
  2. the room: p50 / p95 / max per endpoint, for pages and API separately (target: p95 < 200 ms), the web
     process's CPU milliseconds per request, and how far the two trainings got meanwhile.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.request import Request, urlopen

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.django_bench import load_average_line  # noqa: E402

SETUP = """
import json, django
django.setup()
from django.test import Client
from rest_framework.authtoken.models import Token
from tests.conftest import make_racer
from tests.training.jobs_fixtures import make_model
from training import services
racers = []
for number in range({racers}):
    user = make_racer(f"room{{number}}", f"Room_{{number}}")
    client = Client()
    client.force_login(user)
    racers.append({{"session": client.cookies["sessionid"].value, "token": Token.objects.create(user=user).key}})
    model = make_model(user, name="Room-Model")
    if number < 2:
        racers[-1]["job"] = services.training_start(model, max_minutes=30).pk
    elif number % 10 == 5:  # a few racers wait in the queue behind them: their lists show a place
        services.training_start(model, max_minutes=30)
print(json.dumps(racers))
"""
PAGES = {"models list": "/models/", "profile": "/accounts/profile/"}
API = {"queue poll": "/models/queue/", "models API": "/api/models/", "usage API": "/api/usage/"}
ENDPOINTS = {**PAGES, **API}
SEQUENTIAL_REQUESTS = 20  # per endpoint, by one racer alone


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _get(base: str, racer: dict, path: str) -> float:
    """One request as the racer's browser (session cookie) or script (API token) makes it: milliseconds."""
    headers = ({"Authorization": f"Token {racer['token']}"} if path.startswith("/api/")
               else {"Cookie": f"sessionid={racer['session']}"})
    started = time.perf_counter()
    with urlopen(Request(base + path, headers=headers), timeout=30) as response:
        response.read()
        if response.status != 200:
            raise OSError(f"status {response.status}")
    return (time.perf_counter() - started) * 1000


def _browse(base: str, racer: dict, until: float, times: dict, errors: list, lock: threading.Lock) -> None:
    while time.monotonic() < until:
        for name, path in ENDPOINTS.items():
            if time.monotonic() >= until:
                return
            try:
                elapsed = _get(base, racer, path)
            except OSError as error:
                with lock:
                    errors.append(f"{path}: {error}")
                elapsed = 0.0
            else:
                with lock:
                    times[name].append(elapsed)
            time.sleep(max(0.0, 1.0 - elapsed / 1000))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _line(name: str, values: list[float]) -> str:
    return (f"  {name:<12} p50 {statistics.median(values):7.1f} ms   p95 {_percentile(values, 0.95):7.1f} ms   "
            f"max {max(values):7.1f} ms   ({len(values)} requests)")


def _sequential(base: str, racer: dict) -> None:
    print(f"1. one racer alone, {SEQUENTIAL_REQUESTS} requests per endpoint one after another, while 2 jobs train; "
          f"{load_average_line()}")
    for name, path in ENDPOINTS.items():
        _get(base, racer, path)  # the first of each warms the server's caches
        print(_line(name, [_get(base, racer, path) for _ in range(SEQUENTIAL_REQUESTS)]))


def _room(base: str, racers: list[dict], seconds: float, web_pid: int) -> tuple[dict, list, float]:
    times: dict = {name: [] for name in ENDPOINTS}
    errors: list = []
    lock = threading.Lock()
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=_browse, args=(base, racer, until, times, errors, lock)) for racer in racers]
    print(f"2. {len(racers)} racers for {seconds:g} s; before: {load_average_line()}", flush=True)
    cpu_before = _cpu_seconds(web_pid)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, errors, _cpu_seconds(web_pid) - cpu_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--racers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--budget", type=float, default=170.0, help="give up when the console is not ready by "
                        "then (seconds from the start, the room's own seconds excluded)")
    arguments = parser.parse_args()
    from tests.launched_console import LaunchedConsole

    started = time.monotonic()

    def left() -> float:
        return max(1.0, arguments.budget - arguments.seconds - (time.monotonic() - started))

    # The killed workers' env processes may still be writing checkpoints while the folder goes.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
        console = LaunchedConsole(Path(folder), training_workers=2)
        try:
            console.start()
            racers = json.loads(console.django(SETUP.format(racers=arguments.racers)).strip().splitlines()[-1])
            jobs = [racer["job"] for racer in racers if "job" in racer]
            console.wait_for(lambda: all(console.job(job)["status"] == "IN_PROGRESS" for job in jobs), left(),
                             "both trainings running")
            base = f"http://127.0.0.1:{console.port}"
            _sequential(base, racers[5])  # a racer with a model waiting in the queue
            times, errors, cpu = _room(base, racers, arguments.seconds, console.pid("daphne"))
            load_after = load_average_line()
            iterations = [console.job(job)["last_iteration"] for job in jobs]
        finally:
            console.kill()
    everything = [value for values in times.values() for value in values]
    print(f"  after: {load_after}; the trainings reached iterations {iterations}; {len(everything)} requests, "
          f"{len(errors)} errors; web process CPU {1000 * cpu / max(1, len(everything)):.1f} ms per request")
    for group, endpoints in (("pages", PAGES), ("API", API)):
        print(f" {group}:")
        for name in endpoints:
            if times[name]:
                print(_line(name, times[name]))
        values = [value for name in endpoints for value in times[name]]
        if values:
            print(_line(f"all {group}", values))
    for error in errors[:5]:
        print("  error:", error)
    print(f"(total {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
