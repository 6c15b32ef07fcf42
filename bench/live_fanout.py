"""Race day's live-view fan-out, end to end: a live race run (the facilitator's launch of a racer's submission,
its evaluation by the worker code with the real engine, env worker, renderer and reward sandbox) streams to N
websocket viewers of the broadcast (the projector link's socket) through the real channel layer and ASGI
server. Prints the frames/s each viewer got against the 15 the run streams, and the latency p95.

    python bench/live_fanout.py [--viewers 20] [--seconds 20]

Starts a throw-away SQLite database, REDIS_URL or an embedded Valkey server (use a throw-away one: the launch
sends its Celery message there, and no worker of this bench consumes it) and daphne, as in production; trains
a tiny model (one iteration, as tests/training/jobs_fixtures.py), enters it in a live race and launches it.
The run is evaluated in a child process (as a worker would: training.worker.evaluation_run) in continuous
mode, so the car keeps driving, and stopped after --seconds. Latency = from the worker's reporter handing a
chase frame to its publisher to that frame's arrival at a viewer (one machine, one clock). Prints the figures
with the machine's load (`uptime`).
"""

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.request import urlopen

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.django_bench import django_console, load_average_line  # noqa: E402

TARGET_FPS = 15  # one frame per sim step (simulator.episode.STEP_SECONDS)
RECONNECT_SECONDS = 2.0  # as static/races/broadcast.js


def _key(jpeg_base64: str) -> str:
    """Which frame a viewer got: the digest of its JPEG as sent."""
    return hashlib.blake2b(jpeg_base64.encode(), digest_size=12).hexdigest()


# -- the worker side (a child process) ---------------------------------------------------------------------


def run_evaluation(job_id: int, times_path: Path) -> None:
    """Evaluate the run as a worker does, noting when each chase frame went to the publisher."""
    import base64

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    django.setup()
    from training import worker

    with open(times_path, "w", buffering=1) as out:
        def note(progress):
            if progress.kind == "frame" and progress.data["view"] == "chase":
                out.write(f"{_key(base64.b64encode(progress.data['jpeg']).decode())} {time.time():.6f}\n")

        job = worker.evaluation_run(job_id, worker="bench-worker", observer=note)
    print(f"evaluation {job_id}: {job.status} {job.failure_reason}".strip())


# -- the console side ------------------------------------------------------------------------------------------


def _tiny_trained_model(owner):
    """A model after one real training iteration (what tests/training/jobs_fixtures.py trains)."""
    from tests.training.jobs_fixtures import (
        FOLLOW_CENTRE_LINE,
        ORIGINAL_DEEPRACER,
        TINY_HYPERPARAMETERS,
        make_model,
    )
    from training import engine

    model = make_model(owner, name="Bench-Model")
    run = engine.TrainingRun(
        model_dir=Path(model.folder), hyperparameters=TINY_HYPERPARAMETERS, env_kwargs={"track": "quick_loop"},
        metadata={key: ORIGINAL_DEEPRACER[key] for key in ("sensor", "neural_network", "action_space_type",
                                                            "action_space")} | {"training_algorithm": "clipped_ppo"},
        reward_code=FOLLOW_CENTRE_LINE, max_iterations=1, eval_episodes=1, num_workers=1, stream_frames=False,
        update_threads=1)
    engine.train(run, lambda progress: True)
    return model


def _launched_live_run():
    """A live race (continuous mode: the car keeps driving) whose facilitator launched a racer's run."""
    from django.utils import timezone

    from races import services
    from races.models import Race
    from tests.conftest import make_racer

    organiser = make_racer("organiser", "Organiser")
    racer = make_racer("racer", "Racer")
    now = timezone.now()
    race = Race.objects.create(owner=organiser, name="Bench Day", opens_at=now - timedelta(hours=1),
                               closes_at=now + timedelta(hours=1), track="quick_loop", is_live=True, event_at=now,
                               race_type={"race_type": "TIME_TRIAL"}, max_laps=3, min_laps=1, continuous=True,
                               max_resets=1000)
    services.submission_create(race, racer, _tiny_trained_model(racer))
    run = services.live_launch(race)
    return race, run.evaluation


def _answers(url: str) -> bool:
    try:
        with urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


async def _viewer(url: str, arrivals: list, opened: list, closed: list, stop: asyncio.Event) -> None:
    """A broadcast page's socket: it notes each chase frame and, as the page does, reconnects when closed."""
    import websockets

    first = True
    while not stop.is_set():
        try:
            async with websockets.connect(url, origin="http://127.0.0.1", max_size=2**24) as socket:
                if first:
                    opened.append(1)
                    first = False
                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(socket.recv(), timeout=0.5)
                    except TimeoutError:
                        continue
                    received = time.time()
                    message = json.loads(raw)
                    if message["event"] == "frame" and message["payload"]["view"] == "chase":
                        arrivals.append((received, _key(message["payload"]["jpeg"])))
        except websockets.ConnectionClosed:
            closed.append(time.time())
            await asyncio.sleep(RECONNECT_SECONDS)


def _evaluate_in_child(job_id: int, times_path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--run-evaluation", str(job_id), "--times", str(times_path)],
                            cwd=REPO)


async def _run(url: str, job, viewers: int, seconds: float, times_path: Path) -> dict:
    from training import services as training

    arrivals: list[list] = [[] for _ in range(viewers)]
    stop, opened, closed = asyncio.Event(), [], []
    tasks = [asyncio.create_task(_viewer(url, arrivals[n], opened, closed, stop)) for n in range(viewers)]
    while len(opened) < viewers:
        await asyncio.sleep(0.1)
    child = _evaluate_in_child(job.pk, times_path)
    # The window: from the run's first frame, --seconds of streaming.
    while not times_path.exists() or not times_path.read_text():
        if child.poll() is not None:
            raise RuntimeError("the evaluation ended before its first frame")
        await asyncio.sleep(0.2)
    await asyncio.sleep(seconds)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    await asyncio.to_thread(training.evaluation_stop, job)
    await asyncio.to_thread(child.wait)
    await asyncio.sleep(2.0)  # what is in flight arrives
    stop.set()
    await asyncio.gather(*tasks)
    return {**_figures(arrivals, times_path, uptime), "closed": len(closed)}


def _figures(arrivals: list[list], times_path: Path, uptime: str) -> dict:
    sent: dict[str, list[float]] = {}
    for line in times_path.read_text().splitlines():
        key, moment = line.split()
        sent.setdefault(key, []).append(float(moment))
    moments = sorted(moment for times in sent.values() for moment in times)
    window = moments[-1] - moments[0] + 1.0 / TARGET_FPS
    latencies, rates, gaps = [], [], []
    for viewer in arrivals:
        seen: dict[str, int] = {}
        for received, key in viewer:
            index = seen.get(key, 0)
            seen[key] = index + 1
            if key in sent and index < len(sent[key]):
                latencies.append(received - sent[key][index])
        rates.append(len(viewer) / window)
        gaps += [later[0] - earlier[0] for earlier, later in zip(viewer, viewer[1:], strict=False)]
    latencies.sort()
    gaps.sort()

    def percentile(values, fraction):
        return 1000 * values[int(fraction * (len(values) - 1))] if values else float("nan")

    return {"published": len(moments), "window": window, "published_fps": len(moments) / window,
            "delivered": [len(viewer) for viewer in arrivals], "rate_min": min(rates),
            "rate_median": statistics.median(rates), "p50_ms": percentile(latencies, 0.5),
            "p95_ms": percentile(latencies, 0.95), "gap_p95_ms": percentile(gaps, 0.95), "uptime": uptime}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0, help="of streaming, from the run's first frame")
    parser.add_argument("--run-evaluation", type=int, help=argparse.SUPPRESS)  # the child: the worker's side
    parser.add_argument("--times", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.run_evaluation:
        run_evaluation(options.run_evaluation, options.times)
        return
    folder = Path(tempfile.mkdtemp(prefix="live-fanout-"))
    os.environ["MODEL_STORE"] = str(folder / "models")
    try:
        with django_console(folder):
            print("training a tiny model (one iteration)...", flush=True)
            race, job = _launched_live_run()
            from console.launcher import free_port
            from tests.processes import asgi_server, subprocess_env

            port = free_port()
            env = subprocess_env(os.environ["DATABASE_URL"], os.environ["REDIS_URL"], os.environ["REDIS_PREFIX"])
            env.update(DEBUG="false", ALLOWED_HOSTS="127.0.0.1", MODEL_STORE=os.environ["MODEL_STORE"])
            env.setdefault("SECRET_KEY", "bench-only-secret-key-bench-only-secret-key")
            server = asgi_server(env, port)
            try:
                server.wait_until(lambda: _answers(f"http://127.0.0.1:{port}/health/"), 90, "answer on /health/")
                url = f"ws://127.0.0.1:{port}/ws/races/projector/{race.broadcast_token}/"
                figures = asyncio.run(_run(url, job, options.viewers, options.seconds, folder / "sent.txt"))
            finally:
                server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(figures["uptime"])
    print(load_average_line())
    print(f"{options.viewers} viewers of a live run (tiny model, quick_loop, chase view with the top-down inset) "
          f"for {figures['window']:.1f} s through daphne + Redis; target {TARGET_FPS} frames/s to every viewer")
    print(f"chase frames streamed by the run: {figures['published']} ({figures['published_fps']:.1f}/s); "
          f"delivered per viewer min {min(figures['delivered'])} max {max(figures['delivered'])}")
    print(f"frames/s per viewer: min {figures['rate_min']:.1f}  median {figures['rate_median']:.1f}; "
          f"gap between frames p95 {figures['gap_p95_ms']:.0f} ms")
    print(f"latency worker->viewer: p50 {figures['p50_ms']:.1f} ms  p95 {figures['p95_ms']:.1f} ms; "
          f"sockets closed by the server (and reopened): {figures['closed']}")


if __name__ == "__main__":
    main()
