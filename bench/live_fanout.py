"""Race day's live-view fan-out: frames/s delivered and latency p95 with N websocket viewers on the
broadcast (the projector link's socket), the run's frames published at 15 frames a second as the worker
does (training.live.LivePublisher on the evaluation's group).

    python bench/live_fanout.py [--viewers 20] [--fps 15] [--seconds 20] [--frame-kb 24]

Starts a throw-away SQLite database, REDIS_URL or an embedded Valkey server and a real ASGI server (daphne,
as in production), opens the viewers with the `websockets` client, then publishes `--seconds` of frames of
`--frame-kb` KB of JPEG (base64 in the payload, as a chase frame). Latency = the frame's publish time to its
arrival at a viewer (one machine, one clock). Prints its figures with the machine's load average.
"""

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.request import urlopen

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.django_bench import django_console, load_average_line  # noqa: E402


def _race_with_a_run_on_track():
    """A live race whose run is on track (its evaluation job's group is what the viewers follow)."""
    from django.utils import timezone

    from races.models import Participant, Race, Submission, SubmissionStatus
    from tests.conftest import make_racer
    from tests.training.jobs_fixtures import make_model
    from training.models import EvaluationJob

    organiser = make_racer("organiser", "Organiser")
    now = timezone.now()
    race = Race.objects.create(owner=organiser, name="Bench Day", opens_at=now - timedelta(hours=1),
                               closes_at=now + timedelta(hours=1), track="quick_loop", is_live=True, event_at=now,
                               race_type={"race_type": "TIME_TRIAL"})
    model = make_model(organiser, name="Bench-Model")
    job = EvaluationJob.objects.create(model=model, track="quick_loop", trials=3)
    participant = Participant.objects.create(race=race, user=organiser)
    Submission.objects.create(race=race, participant=participant, model=model, model_name=model.name,
                              evaluation=job, status=SubmissionStatus.RUNNING)
    return race, job


def _answers(url: str) -> bool:
    try:
        with urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


async def _viewer(url: str, arrivals: list, ready: asyncio.Event, opened: list, stop: asyncio.Event) -> None:
    import websockets

    async with websockets.connect(url, origin="http://127.0.0.1", max_size=2**24) as socket:
        opened.append(1)
        ready.set()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(socket.recv(), timeout=0.5)
            except TimeoutError:
                continue
            received = time.time()
            message = json.loads(raw)
            if message["event"] == "frame":
                arrivals.append((received, received - message["payload"]["sent_at"]))


async def _run(url: str, group: str, viewers: int, fps: float, seconds: float, frame_kb: int) -> dict:
    from training.live import LivePublisher

    arrivals: list[list] = [[] for _ in range(viewers)]
    stop, opened = asyncio.Event(), []
    tasks = [asyncio.create_task(_viewer(url, arrivals[n], asyncio.Event(), opened, stop)) for n in range(viewers)]
    while len(opened) < viewers:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # every consumer has joined the run's group
    jpeg = base64.b64encode(os.urandom(frame_kb * 1024)).decode()
    publisher = LivePublisher()
    frames = int(seconds * fps)
    started = time.time()
    for number in range(frames):
        target = started + number / fps
        await asyncio.sleep(max(0.0, target - time.time()))
        publisher.publish(group, "frame", {"view": "chase", "phase": "evaluation", "jpeg": jpeg,
                                           "sent_at": time.time()})
    await asyncio.to_thread(publisher.close)
    await asyncio.sleep(2.0)
    stop.set()
    await asyncio.gather(*tasks)
    latencies = sorted(latency for viewer in arrivals for _, latency in viewer)
    rates = [len(viewer) / seconds for viewer in arrivals]
    return {"sent": frames, "dropped_at_publisher": publisher.dropped,
            "delivered": [len(viewer) for viewer in arrivals], "rate_min": min(rates),
            "rate_median": statistics.median(rates),
            "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
            "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--frame-kb", type=int, default=24)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, django_console(Path(folder)):
        race, job = _race_with_a_run_on_track()
        from console.launcher import free_port
        from tests.processes import asgi_server, subprocess_env

        port = free_port()
        env = subprocess_env(os.environ["DATABASE_URL"], os.environ["REDIS_URL"], os.environ["REDIS_PREFIX"])
        env["DEBUG"] = "false"
        env.setdefault("SECRET_KEY", "bench-only-secret-key-bench-only-secret-key")
        env["ALLOWED_HOSTS"] = "127.0.0.1"
        server = asgi_server(env, port)
        try:
            server.wait_until(lambda: _answers(f"http://127.0.0.1:{port}/health/"), 90, "answer on /health/")
            url = f"ws://127.0.0.1:{port}/ws/races/projector/{race.broadcast_token}/"
            figures = asyncio.run(_run(url, job.group, options.viewers, options.fps, options.seconds,
                                       options.frame_kb))
        finally:
            server.stop()
    print(load_average_line())
    print(f"{options.viewers} viewers, {options.fps:g} frames/s of {options.frame_kb} KB for {options.seconds:g} s "
          f"through daphne + Redis; target: {options.fps:g} frames/s to every viewer")
    print(f"frames sent {figures['sent']} (dropped at the publisher: {figures['dropped_at_publisher']}); "
          f"delivered per viewer min {min(figures['delivered'])} max {max(figures['delivered'])}")
    print(f"frames/s per viewer: min {figures['rate_min']:.1f}  median {figures['rate_median']:.1f}")
    print(f"latency publish->viewer: p50 {figures['p50_ms']:.1f} ms  p95 {figures['p95_ms']:.1f} ms")


if __name__ == "__main__":
    main()
