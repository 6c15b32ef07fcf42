"""Console foundation figures: page render time and live-update latency through Redis.

    python bench/console_bench.py [--requests 200] [--messages 500]

Uses a throw-away SQLite database, and REDIS_URL or an embedded Valkey server. Prints its figures with the
machine's load average (other work on the machine skews them).
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.django_bench import django_console, load_average_line  # noqa: E402


def bench_pages(count: int) -> dict:
    from django.test import Client
    from django.test.utils import setup_test_environment

    from tests.conftest import make_racer

    setup_test_environment()
    client = Client()
    client.force_login(make_racer("bench", "Bench_Racer"))
    timings = {}
    for path in ("/", "/accounts/profile/"):
        client.get(path)  # warm the template cache
        started = time.perf_counter()
        for _ in range(count):
            assert client.get(path).status_code == 200
        timings[path] = (time.perf_counter() - started) / count * 1000
    return timings


async def _socket_round_trips(count: int) -> list[float]:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("bench.latency", channel)
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        await layer.group_send("bench.latency", {"type": "broadcast", "event": "metrics", "payload": {"x": 1}})
        await layer.receive(channel)
        latencies.append((time.perf_counter() - started) * 1000)
    await layer.group_discard("bench.latency", channel)
    return latencies


def bench_broadcast(count: int) -> dict:
    from common.broadcast import publish

    latencies = asyncio.run(_socket_round_trips(count))
    started = time.perf_counter()
    for index in range(count):
        publish("bench.nobody", "metrics", {"iteration": index})  # the sync helper workers use
    per_publish = (time.perf_counter() - started) / count * 1000
    return {"median_ms": statistics.median(latencies), "p95_ms": sorted(latencies)[int(0.95 * count) - 1],
            "publish_ms": per_publish}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--messages", type=int, default=500)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with django_console(Path(folder), sqlite_only=True):
            pages = bench_pages(options.requests)
            broadcast = bench_broadcast(options.messages)
    print(load_average_line())
    for path, milliseconds in pages.items():
        print(f"page {path:<20} {milliseconds:6.2f} ms per request (in-process, {options.requests} requests)")
    print(f"channel layer round trip (group_send -> receive, Redis): median {broadcast['median_ms']:.2f} ms, "
          f"p95 {broadcast['p95_ms']:.2f} ms over {options.messages} messages")
    print(f"publish() from sync code (a Celery worker): {broadcast['publish_ms']:.2f} ms per call")


if __name__ == "__main__":
    main()
