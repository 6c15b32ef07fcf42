"""A racer's training through the console itself, as the Train button runs it: `make run`'s launcher (web
server, embedded Redis, one training worker), one model with the console's defaults (The Original DeepRacer,
follow the centre line, the default hyperparameters) trained for ``--minutes`` on a built-in track through
the console's service. One command, bounded (the minutes plus about 2 minutes of start and end):

    .venv/bin/python bench/console_training.py [--track flow_cup] [--minutes 3]
                                               [--env-workers N] [--threads N]

``--env-workers`` and ``--threads`` set TRAINING_ENV_WORKERS and WORKER_THREADS; left out, the console
chooses (a job's share of the cores: those of the machine divided by TRAINING_WORKERS). ``--env-workers 1
--threads 1`` is how the console ran every job before it sized jobs to the cores.

Prints how far the training got (iterations, env steps, env steps per second of training, the best
evaluation's progress and lap time) and the response time of the racer's models page, asked once a second
meanwhile (the training is niced below the web server: TRAINING_NICE), with the load average.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.django_bench import load_average_line  # noqa: E402
from bench.time_to_lap import CONSOLE_DEFAULTS  # noqa: E402
from tests.launched_console import LaunchedConsole  # noqa: E402

SETUP = """
import json, django
django.setup()
from django.test import Client
from tests.conftest import make_racer
from tests.training.jobs_fixtures import make_model
from training import services
user = make_racer("bench", "Bench_Racer")
model = make_model(user, name="Console-Bench", track={track!r}, hyperparameters={hyperparameters!r},
                   max_minutes={minutes!r})
job = services.training_start(model, max_minutes={minutes!r})
client = Client()
client.force_login(user)
print(json.dumps({{"job": job.pk, "session": client.cookies["sessionid"].value}}))
"""
# What the launched console is told; the rest is left to the console's own defaults unless asked.
KNOBS = {"env_workers": "TRAINING_ENV_WORKERS", "threads": "WORKER_THREADS"}
START_SECONDS = 120


def page_seconds(port: int, session: str) -> float:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/models/", headers={"Cookie": f"sessionid={session}"})
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="flow_cup", help="a built-in track")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--env-workers", type=int, help="TRAINING_ENV_WORKERS (default: the console's choice)")
    parser.add_argument("--threads", type=int, help="WORKER_THREADS (default: the console's choice)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
        console = LaunchedConsole(Path(folder), training_workers=1)
        for option, variable in KNOBS.items():
            console.env.pop(variable, None)
            if getattr(args, option) is not None:
                console.env[variable] = str(getattr(args, option))
        console.env.pop("TRAINING_EVAL_EPISODES", None)  # the console's 5
        settings = {variable: console.env.get(variable, "(the console's choice)") for variable in KNOBS.values()}
        print(f"console training on {args.track}, {args.minutes:g} min, {settings}; {load_average_line()}",
              flush=True)
        try:
            console.start(timeout=START_SECONDS)
            racer = json.loads(console.django(SETUP.format(
                track=args.track, hyperparameters=CONSOLE_DEFAULTS, minutes=args.minutes)).strip().splitlines()[-1])
            pages = []
            deadline = time.monotonic() + args.minutes * 60 + START_SECONDS
            while console.job(racer["job"])["status"] not in ("COMPLETED", "FAILED", "CANCELED"):
                assert time.monotonic() < deadline, f"the job did not end in time:\n{console.log()[-3000:]}"
                pages.append(page_seconds(console.port, racer["session"]))
                time.sleep(max(0.0, 1.0 - pages[-1]))
            job = console.job(racer["job"])
        finally:
            console.kill()
    assert job["status"] == "COMPLETED", f"the job ended {job['status']}: {job['failure_reason']}"
    metrics = job["metrics"]
    last = metrics[-1] if metrics else {}
    best = next((m for m in metrics if m["iteration"] == job["best_iteration"]), None)
    steps, seconds = last.get("steps", 0), job["elapsed_seconds"]
    print(f"  {job['last_iteration']} iterations, {steps} env steps in {seconds:.0f} s of training: "
          f"{steps / max(seconds, 1e-9):.0f} env steps/s end to end")
    for m in metrics:
        print(f"    iteration {m['iteration']:3d}: {m['steps']:6d} steps, collect {m['timing/collect_seconds']:5.1f} s "
              f"({m['charts/env_steps_per_second']:4.0f} env steps/s), update {m['timing/update_seconds']:5.1f} s "
              f"({m['losses/epochs']} epochs, {m['charts/update_samples_per_second']:4.0f} samples/s), "
              f"evaluation {m['timing/evaluate_seconds']:5.1f} s, other {m['timing/other_seconds']:4.1f} s")
    if best:
        lap = f", {best['evaluation_laps_complete']}/{best['evaluation_episodes']} laps"
        print(f"  best checkpoint: iteration {best['iteration']}, evaluation "
              f"{best['average_evaluation_completion']:.1f}%{lap}")
    if pages:
        ordered = sorted(pages)
        print(f"  models page meanwhile: {len(pages)} requests, p50 {1000 * statistics.median(pages):.0f} ms, "
              f"p95 {1000 * ordered[int(0.95 * (len(ordered) - 1))]:.0f} ms, max {1000 * ordered[-1]:.0f} ms")
    print(f"  after: {load_average_line()}", flush=True)


if __name__ == "__main__":
    main()
