"""A workshop room's load: `make run`'s launcher (embedded Redis, 2 training workers, the web server), two
racers' models training, and N simulated racers (threads) browsing and polling as their pages do: the
models list, its queue poll, their profile, the models API and their usage API, each racer one request a
second. Prints p50 / p95 / max per page and overall (target: p95 < 200 ms) with the load average, and how
far the two trainings got meanwhile. Bounded: it stops after --seconds.

    python bench/room_load.py [--racers 50] [--seconds 60]
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
print(json.dumps(racers))
"""
PAGES = {"models list": "/models/", "queue poll": "/models/queue/", "profile": "/accounts/profile/",
         "models API": "/api/models/", "usage API": "/api/usage/"}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _browse(base: str, racer: dict, until: float, times: dict, errors: list, lock: threading.Lock) -> None:
    while time.monotonic() < until:
        for name, path in PAGES.items():
            if time.monotonic() >= until:
                return
            headers = ({"Authorization": f"Token {racer['token']}"} if path.startswith("/api/")
                       else {"Cookie": f"sessionid={racer['session']}"})
            started = time.perf_counter()
            try:
                with urlopen(Request(base + path, headers=headers), timeout=30) as response:
                    response.read()
                    ok = response.status == 200
            except OSError as error:
                ok = False
                with lock:
                    errors.append(f"{path}: {error}")
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                if ok:
                    times[name].append(elapsed)
            time.sleep(max(0.0, 1.0 - elapsed / 1000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--racers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    arguments = parser.parse_args()
    from tests.launched_console import LaunchedConsole

    # The killed workers' env processes may still be writing checkpoints while the folder goes.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
        console = LaunchedConsole(Path(folder), training_workers=2)
        try:
            console.start()
            racers = json.loads(console.django(SETUP.format(racers=arguments.racers)).strip().splitlines()[-1])
            jobs = [racer["job"] for racer in racers if "job" in racer]
            console.wait_for(lambda: all(console.job(job)["status"] == "IN_PROGRESS" for job in jobs), 300,
                             "both trainings running")
            base = f"http://127.0.0.1:{console.port}"
            times: dict = {name: [] for name in PAGES}
            errors: list = []
            lock = threading.Lock()
            until = time.monotonic() + arguments.seconds
            threads = [threading.Thread(target=_browse, args=(base, racer, until, times, errors, lock))
                       for racer in racers]
            load_before = os.getloadavg()[0]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            iterations = [console.job(job)["last_iteration"] for job in jobs]
        finally:
            console.kill()
    everything = [value for values in times.values() for value in values]
    print(f"{arguments.racers} racers for {arguments.seconds:g} s while 2 jobs train (they reached iterations "
          f"{iterations}); {len(everything)} requests, {len(errors)} errors; load average "
          f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    for name, values in [*times.items(), ("all", everything)]:
        if values:
            print(f"  {name:<12} p50 {statistics.median(values):7.1f} ms   p95 {_percentile(values, 0.95):7.1f} ms   "
                  f"max {max(values):7.1f} ms   ({len(values)} requests)")
    for error in errors[:5]:
        print("  error:", error)


if __name__ == "__main__":
    main()
