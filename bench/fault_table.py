"""What a racer loses when a part of the console fails mid-training: a fault table.

One real console (`make run`'s launcher, embedded Redis, two training workers, the web server) trains a
model on quick_loop (two episodes per iteration, one evaluation lap); after a few clean iterations each
fault is injected in turn, one iteration apart:

    env worker SIGKILL      the env process of the running job (what the out-of-memory killer does)
    Redis SIGKILL           the embedded Redis server
    worker SIGTERM          the Celery training worker running the job (docker compose stop, a deploy)
    Ctrl-C, start again     the whole console, then `make run` again at once

For each: what the racer sees (the job statuses seen from the fault to two checkpoints later, the log
warning, the live page's websocket) and the work lost in seconds: how much longer the iteration hit by the
fault and the next took than two clean ones (the median of the clean iterations), the console's own
downtime excluded for Ctrl-C. That is the training time thrown away (episodes collected since the last checkpoint) plus the
time to get going again (new env process, new worker, resume from the checkpoint). Run:

    python bench/fault_table.py [--clean-iterations 3]

Prints the load average before and after: on a busy machine every figure grows.
"""

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.launched_console import LaunchedConsole, alive  # noqa: E402

STATUS_LABELS = {"QUEUED": "Queued", "INITIALIZING": "Initializing", "IN_PROGRESS": "In progress",
                 "STOPPING": "Stopping", "INTERRUPTED": "Stopped by the system", "COMPLETED": "Completed",
                 "FAILED": "Failed", "CANCELED": "Canceled"}
ITERATION_SECONDS = 300


class JobWatch:
    """Polls the job row every 0.2 s: when each iteration's checkpoint landed, and every status seen."""

    def __init__(self, console: LaunchedConsole, job_id: int):
        self.console, self.job_id = console, job_id
        self.checkpoints: dict[int, float] = {}
        self.statuses: list[tuple[float, str]] = []
        self.paused = threading.Event()
        threading.Thread(target=self._poll, daemon=True).start()

    def _poll(self) -> None:
        while True:
            if not self.paused.is_set():
                try:
                    row = self.console.job(self.job_id)
                except Exception:  # the database is busy for a moment: try again
                    row = None
                if row is not None:
                    now = time.monotonic()
                    self.checkpoints.setdefault(row["last_iteration"], now)
                    if not self.statuses or self.statuses[-1][1] != row["status"]:
                        self.statuses.append((now, row["status"]))
            time.sleep(0.2)

    def last_iteration(self) -> int:
        return max(self.checkpoints, default=0)

    def wait_for_iteration(self, iteration: int) -> float:
        deadline = time.monotonic() + ITERATION_SECONDS
        while iteration not in self.checkpoints:
            assert time.monotonic() < deadline, f"no iteration {iteration}:\n{self.console.log()[-3000:]}"
            assert "FAILED" not in [status for _, status in self.statuses], self.console.job(self.job_id)
            time.sleep(0.1)
        return self.checkpoints[iteration]

    def seen_between(self, start: float, end: float) -> list[str]:
        before = [status for moment, status in self.statuses if moment <= start][-1:]
        during = [status for moment, status in self.statuses if start < moment <= end]
        return [STATUS_LABELS[status] for status in before + during]


def _page_reconnect_seconds(console: LaunchedConsole, job: dict, since: float) -> float | None:
    """The training page's way back: reconnect (1, 2, 5, 10 s back-off) until the socket brings an event."""
    waits, attempt = (1, 2, 5, 10), 0
    deadline = since + 120
    while time.monotonic() < deadline:
        try:
            with console.page_socket(job) as socket:
                json.loads(socket.recv(timeout=30))
                return time.monotonic() - since
        except Exception:
            time.sleep(waits[min(attempt, len(waits) - 1)])
            attempt += 1
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean-iterations", type=int, default=3, help="iterations before the first fault")
    parser.add_argument("--verbose", action="store_true", help="print the log lines about stops and resumes")
    options = parser.parse_args()
    os.environ.pop("REDIS_URL", None)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        console = LaunchedConsole(Path(folder), training_workers=2)
        try:
            console.start()
            faults = 4
            job = console.start_training(iterations=options.clean_iterations + 2 * faults + 1)
            watch = JobWatch(console, job["job"])
            watch.wait_for_iteration(options.clean_iterations)
            clean = [watch.checkpoints[i + 1] - watch.checkpoints[i] for i in range(1, options.clean_iterations)]
            clean_seconds = statistics.median(clean)

            def inject(name, fault, sees):
                # Mid-iteration: half a clean iteration after a checkpoint.
                last = watch.last_iteration()
                start = watch.wait_for_iteration(last)
                time.sleep(max(0.0, start + clean_seconds / 2 - time.monotonic()))
                moment = time.monotonic()
                downtime, extra = fault()
                # Two iterations: a fault at the very end of one shows in the next.
                end = watch.wait_for_iteration(last + 2)
                lost = (end - start) - downtime - 2 * clean_seconds
                seen = " → ".join(watch.seen_between(moment, end))
                rows.append((name, f"{seen}; {sees(moment, extra)}", lost))

            def kill_env_worker():
                os.kill(console.pid("training.rollout_worker"), signal.SIGKILL)
                return 0.0, None

            inject("env worker SIGKILL", kill_env_worker,
                   lambda moment, extra: "the log says which process died and why; the iteration is collected again"
                   if "was killed by SIGKILL" in console.training_log(job) else "no log line (unexpected)")

            def kill_redis():
                os.kill(console.pid("valkey-server"), signal.SIGKILL)
                moment = time.monotonic()
                return 0.0, _page_reconnect_seconds(console, job, moment)

            inject("Redis SIGKILL", kill_redis,
                   lambda moment, back: f"live page reconnected after {back:.1f} s" if back is not None
                   else "live page did not reconnect (unexpected)")

            def stop_worker():
                worker = console.training_worker_running(job)
                os.kill(worker, signal.SIGTERM)
                return 0.0, worker

            def worker_sees(moment, worker):
                deadline = time.monotonic() + 60
                while alive(worker) and time.monotonic() < deadline:
                    time.sleep(0.1)
                exited = (f"the worker exited cleanly after {time.monotonic() - moment:.1f} s" if not alive(worker)
                          else "the worker did not stop (unexpected)")
                resumed = console.training_log(job).count("Resuming from checkpoint")
                return f"{exited}; the job resumed from its checkpoint on the other worker ({resumed} resumes so far)"

            inject("training worker SIGTERM", stop_worker, worker_sees)

            def ctrl_c_and_start():
                moment = time.monotonic()
                watch.paused.set()
                console.ctrl_c()
                stopped = console.job(job["job"])
                console.start()
                watch.paused.clear()
                return time.monotonic() - moment, stopped["status"]

            inject("Ctrl-C, start again", ctrl_c_and_start,
                   lambda moment, status: f"at the stop: {STATUS_LABELS[status]}; resumed by itself at the start")
            done = console.wait_for_job(job["job"], lambda row: row["status"] == "COMPLETED", ITERATION_SECONDS,
                                        "the job to complete")
            iterations = [record["iteration"] for record in done["metrics"]]
            if options.verbose:
                print("".join(line + "\n" for line in console.training_log(job).splitlines()
                              if line.startswith(("Training ended", "Resuming", "WARNING"))))
            assert iterations == list(range(1, len(iterations) + 1)), iterations
            console.ctrl_c()
        finally:
            console.kill()
    print(f"clean iteration: {clean_seconds:.1f} s (median of {len(clean)}); the job completed with every "
          f"iteration's metrics ({len(iterations)}), never Failed\n")
    print(f"| {'fault':<24} | {'what the racer sees':<110} | work lost (s) |")
    print(f"|{'-' * 26}|{'-' * 112}|{'-' * 15}|")
    for name, sees, lost in rows:
        print(f"| {name:<24} | {sees:<110} | {max(0.0, lost):13.1f} |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
