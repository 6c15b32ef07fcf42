"""What the console costs a training run: time per engine report turned into database progress and a
broadcast (worker._TrainingReporter), against a real database and the real Redis channel layer.

Reports are queued to a publisher thread (training/live.py); its send rate is printed too.
The engine reports one `episode` per episode, a `frame` pair (chase + camera JPEG) at most 4 times a second,
`log` lines at episode ends, `metrics` once per iteration and `status` heartbeats. Target: the console's
share of a training second stays under 5% (< 50 ms of reporting per second of training at 10 episodes/s and
8 frames/s). Prints ms per report kind and that share. Run (a throwaway SQLite database is migrated first):

    REDIS_URL=redis://127.0.0.1:6379/0 python bench/job_progress.py [--reports 300]
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
EPISODES_PER_SECOND = 10  # ~50-step episodes at ~500 env steps/s
FRAMES_PER_SECOND = 8  # FRAME_INTERVAL 0.25 s x two views


def _setup(folder: str) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder}/bench.sqlite3")
    os.environ.setdefault("MODEL_STORE", f"{folder}/models")
    os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _jpeg(size=(480, 360)) -> bytes:
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 255, (*size[::-1], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def _time_reports(reporter, make, count: int) -> float:
    times = []
    for number in range(1, count + 1):
        progress = make(number)
        start = time.perf_counter()
        reporter(progress)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        _setup(folder)
        from django.contrib.auth import get_user_model

        from tests.training.jobs_fixtures import make_model
        from training import services, worker
        from training.engine import Progress
        from training.live import LivePublisher

        owner = get_user_model().objects.create_user("bench", password="unused-bench-password")
        job = services.training_start(make_model(owner), enqueue=False)
        reporter = worker._TrainingReporter(job)
        reporter(Progress("status", {"phase": "collecting"}))  # the first report moves the job to IN_PROGRESS
        jpeg = _jpeg()
        kinds = {
            "episode": lambda n: Progress("episode", {"phase": "training", "iteration": 1, "episode": n,
                                                      "reward": 12.5, "progress": 33.0, "status": "off_track",
                                                      "steps": 50}),
            "frame": lambda n: Progress("frame", {"view": "chase", "phase": "training", "jpeg": jpeg}),
            "log": lambda n: Progress("log", {"lines": [f"distance 0.{n:03d}"] * 5}),
            "status": lambda n: Progress("status", {"phase": "updating", "iteration": 1, "elapsed_seconds": n}),
            "metrics": lambda n: Progress("metrics", {"iteration": n, "average_reward": 1.0,
                                                      "average_training_completion": 20.0,
                                                      "average_evaluation_completion": 25.0, "best": n % 3 == 0,
                                                      "elapsed_seconds": float(n)}),
        }
        load = os.getloadavg()
        print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores); "
              f"{args.reports} reports per kind; JPEG {len(jpeg) / 1024:.0f} KiB")
        median = {}
        for kind, make in kinds.items():
            count = args.reports if kind != "metrics" else max(10, args.reports // 10)
            median[kind] = _time_reports(reporter, make, count)
            print(f"{kind:8s} {median[kind]:7.2f} ms per report (median)")
        reporter.close()
        print(f"events dropped while reports came faster than Redis took them: {reporter.live.dropped}")
        sender = LivePublisher(max_pending=args.reports)
        start = time.perf_counter()
        for _ in range(args.reports):
            sender.publish("bench.drain", "frame", {"view": "chase", "jpeg": "x" * 20_000})
        sender.close()
        print(f"publisher thread: {args.reports / (time.perf_counter() - start):.0f} frame events/s sent "
              f"(20 KB each; {sender.dropped} dropped)")
        share = (EPISODES_PER_SECOND * (median["episode"] + median["log"]) + FRAMES_PER_SECOND * median["frame"]
                 + median["status"]) / 1000
        print(f"console share of a training second at {EPISODES_PER_SECOND} episodes/s and {FRAMES_PER_SECOND} "
              f"frames/s: {share * 100:.1f}% (target < 5%)")


if __name__ == "__main__":
    main()
