"""A workshop room's load: `make run`'s launcher (embedded Redis, 2 training workers, the web server), two
racers' models training, a few waiting, and N simulated racers browsing and polling as their pages do: the
models list and their profile (pages), the models list's queue poll, the models API and their usage API
(API), each racer one request a second on a kept-alive connection, as a browser makes them, each at a
moment of its own within the second. One command, bounded (about 2 minutes; it gives up with a message
past --budget seconds):

    .venv/bin/python bench/room_load.py [--racers 50] [--seconds 60] [--budget 170]

It prints, each with the load average (the figures move with it on a shared machine):
  1. one racer alone, request after request (the server's own cost per request, little queueing);
  2. the room: p50 / p95 / max per endpoint, for pages and API separately (target: p95 < 200 ms), the web
     process's CPU milliseconds per request, and how far the two trainings got meanwhile.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.django_bench import load_average_line  # noqa: E402

SETUP = """
import json, django
django.setup()
from django.conf import settings
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # 50 accounts in seconds: sessions sign them in
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
SEQUENTIAL_SECONDS = 15  # what the sequential phase and the end take, at most, on a busy machine
ROOM_SEED = 14  # the racers' moments within a second: the same in every run


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class Browser:
    """One racer's browser: a kept-alive HTTP/1.1 connection (a browser keeps one between its page's polls),
    the session cookie for pages and the API token for the API, as a racer's page and scripts send them.
    asyncio, so that 50 racers cost the bench little CPU and their timings wait for no thread of ours."""

    def __init__(self, port: int, racer: dict):
        self.port, self.racer = port, racer
        self.reader = self.writer = None

    async def get(self, path: str) -> float:
        """Milliseconds until the whole response is in; OSError unless it is a 200."""
        started = time.perf_counter()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        credentials = (f"Authorization: Token {self.racer['token']}" if path.startswith("/api/")
                       else f"Cookie: sessionid={self.racer['session']}")
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{credentials}\r\n\r\n".encode())
        try:
            status, headers = await self._head()
            await self.reader.readexactly(int(headers["content-length"]))
        except (asyncio.IncompleteReadError, KeyError, ValueError) as error:
            self.close()
            raise OSError(f"a broken response ({error!r})") from None
        if headers.get("connection", "").lower() == "close":
            self.close()
        if status != 200:
            raise OSError(f"status {status}")
        return (time.perf_counter() - started) * 1000

    async def _head(self) -> tuple[int, dict]:
        status = int((await self.reader.readuntil(b"\r\n")).split()[1])
        headers = {}
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _browse(browser: Browser, offset: float, until: float, times: dict, errors: list) -> None:
    """The racer's round: each endpoint in turn, one request a second, from ``offset`` seconds on."""
    await asyncio.sleep(offset)
    while time.monotonic() < until:
        for name, path in ENDPOINTS.items():
            if time.monotonic() >= until:
                break
            try:
                elapsed = await browser.get(path)
            except OSError as error:
                errors.append(f"{path}: {error}")
                elapsed = 0.0
            else:
                times[name].append(elapsed)
            await asyncio.sleep(max(0.0, 1.0 - elapsed / 1000))
    browser.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _line(name: str, values: list[float]) -> str:
    return (f"  {name:<12} p50 {statistics.median(values):7.1f} ms   p95 {_percentile(values, 0.95):7.1f} ms   "
            f"max {max(values):7.1f} ms   ({len(values)} requests)")


async def _sequential(port: int, racer: dict, web_pid: int) -> None:
    print(f"1. one racer alone, {SEQUENTIAL_REQUESTS} requests per endpoint one after another, while 2 jobs train; "
          f"{load_average_line()}")
    browser = Browser(port, racer)
    for name, path in ENDPOINTS.items():
        await browser.get(path)  # the first of each warms the server's caches
        cpu = _cpu_seconds(web_pid)
        times = [await browser.get(path) for _ in range(SEQUENTIAL_REQUESTS)]
        print(f"{_line(name, times)}   web CPU {1000 * (_cpu_seconds(web_pid) - cpu) / SEQUENTIAL_REQUESTS:5.1f} ms "
              f"per request")
    browser.close()


async def _room(port: int, racers: list[dict], seconds: float, web_pid: int) -> tuple[dict, list, float]:
    times: dict = {name: [] for name in ENDPOINTS}
    errors: list = []
    print(f"2. {len(racers)} racers for {seconds:g} s; before: {load_average_line()}", flush=True)
    cpu_before = _cpu_seconds(web_pid)
    until = time.monotonic() + seconds
    # Each racer's second starts at a moment of its own, as 50 browsers' timers do: racers in lockstep would
    # send 50 requests in the same instant every second (a burst the server works through in half a second).
    offsets = random.Random(ROOM_SEED).random
    await asyncio.gather(*(_browse(Browser(port, racer), offsets(), until, times, errors) for racer in racers))
    return times, errors, _cpu_seconds(web_pid) - cpu_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--racers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--budget", type=float, default=170.0, help="seconds the whole bench may take: it gives up "
                        "when the console and its trainings are not ready in time for the rest")
    arguments = parser.parse_args()
    from tests.launched_console import LaunchedConsole

    started = time.monotonic()

    def left() -> float:
        """Seconds the start may still take: the budget less the phases after it and what has passed."""
        after_start = SEQUENTIAL_SECONDS + arguments.seconds
        return max(1.0, arguments.budget - after_start - (time.monotonic() - started))

    # The killed workers' env processes may still be writing checkpoints while the folder goes.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
        console = LaunchedConsole(Path(folder), training_workers=2)
        try:
            console.start(timeout=left())
            racers = json.loads(console.django(SETUP.format(racers=arguments.racers)).strip().splitlines()[-1])
            jobs = [racer["job"] for racer in racers if "job" in racer]
            console.wait_for(lambda: all(console.job(job)["status"] == "IN_PROGRESS" for job in jobs), left(),
                             "both trainings running")
            print(f"(a console, {len(racers)} racers and 2 trainings running after {time.monotonic() - started:.0f} s)")
            web = console.pid("daphne")
            asyncio.run(_sequential(console.port, racers[5], web))  # a racer with a model waiting in the queue
            times, errors, cpu = asyncio.run(_room(console.port, racers, arguments.seconds, web))
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
