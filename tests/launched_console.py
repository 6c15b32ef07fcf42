"""`make run`'s launcher in a subprocess, for fault-injection tests and the fault bench: start it, find its
processes (Redis, workers, env workers), send them signals, read the jobs from its database, talk to its
websocket as the training page does.

Everything is real: the launcher starts the embedded Redis, the Celery workers and the web server; a racer,
a model and its training job are made through the console's own code in a separate process against the
launcher's SQLite database (Django is not set up in the caller). Keep budgets tiny: quick_loop, two
episodes per iteration, one evaluation episode.
"""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.request import urlopen

from console.launcher import free_port
from tests.processes import clean_environ

REPO = Path(__file__).resolve().parents[1]
START_SECONDS = 180
STOP_SECONDS = 90  # the launcher's grace for the workers (30 s) and then some
SETUP_TRAINING = """
import json, django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from tests.conftest import make_racer
from tests.training.jobs_fixtures import make_model
from training import services
user = get_user_model().objects.filter(username="{racer}").first() or make_racer("{racer}", "{racer}_Racer")
model = make_model(user, name="{name}")
job = services.training_start(model, max_iterations={iterations})
client = Client()
client.force_login(user)
print(json.dumps({{"job": job.pk, "model": str(model.pk), "folder": str(model.folder),
                  "session": client.cookies["sessionid"].value}}))
"""


def descendants(pid: int) -> dict[int, str]:
    """pid -> command line of every process below ``pid``."""
    children: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children[int(entry.name)] = parent
    found, frontier = {}, {pid}
    while frontier:
        frontier = {child for child, parent in children.items() if parent in frontier and child not in found}
        for child in frontier:
            try:
                found[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                pass
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class LaunchedConsole:
    """One console: its folder (database, model store, Redis data) survives stop() and start() again."""

    def __init__(self, folder: Path, training_workers: int = 1, redis_url: str | None = None):
        self.folder = Path(folder)
        self.port = free_port()
        self.env = clean_environ(
            PORT=str(self.port), DATABASE_URL=f"sqlite:///{self.folder / 'console.sqlite3'}",
            MODEL_STORE=str(self.folder / "models"), REDIS_DATA_DIR=str(self.folder / "redis"),
            REDIS_PREFIX=f"faults-{os.getpid()}-{self.port}", TRAINING_WORKERS=str(training_workers),
            WORKER_CONCURRENCY="1", TRAINING_ENV_WORKERS="1", TRAINING_EVAL_EPISODES="1", WORKER_THREADS="1")
        self.env.pop("REDIS_URL", None)  # the embedded server, supervised by the launcher ...
        if redis_url:
            self.env["REDIS_URL"] = redis_url  # ... or an external one
        self.process: subprocess.Popen | None = None
        self.output: list[str] = []
        self.redis_url = redis_url

    # ------------------------------------------------------------------------------ the launcher

    def start(self, timeout: float = START_SECONDS) -> "LaunchedConsole":
        """Start the launcher; AssertionError unless its URL and its training workers are up within ``timeout``
        seconds each."""
        self.output = []
        self.process = subprocess.Popen([sys.executable, "-m", "console.launcher", "run"], cwd=REPO, env=self.env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read_output, args=(self.process,), daemon=True).start()
        self.wait_for(lambda: "press Ctrl-C to stop everything" in self.log(), timeout, "the console's URL")
        self.redis_url = re.search(r"\(Redis (redis://\S+);", self.log()).group(1)
        self.wait_for(lambda: self.worker_ready(), timeout, "the training workers")
        return self

    def _read_output(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.output.append(line)

    def log(self) -> str:
        return "".join(self.output)

    def worker_ready(self) -> bool:
        # The launcher does not wait for Celery; a job enqueued earlier waits in Redis, but tests that
        # signal a worker need it to be up.
        return len(self.pids("-Q training")) >= int(self.env["TRAINING_WORKERS"]) and all(
            "celery" in command for command in self.pids("-Q training").values())

    def ctrl_c(self) -> int:
        """What the terminal sends on Ctrl-C; returns the launcher's exit status once it has stopped."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=STOP_SECONDS)
        return self.process.returncode

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # its children die with it (PR_SET_PDEATHSIG)
            self.process.wait()

    def wait_for(self, condition, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the launcher exited ({self.process.returncode}) before {what}:\n"
                                     f"{self.log()[-4000:]}")
            value = condition()
            if value:
                return value
            time.sleep(0.25)
        raise AssertionError(f"no {what} within {timeout:.0f} s; launcher output:\n{self.log()[-4000:]}")

    # ------------------------------------------------------------------------------- its processes

    def pids(self, pattern: str) -> dict[int, str]:
        """The launcher's descendants whose command line contains ``pattern``."""
        return {pid: command for pid, command in descendants(self.process.pid).items() if pattern in command}

    def pid(self, pattern: str) -> int:
        found = self.pids(pattern)
        assert len(found) == 1, f"{len(found)} processes match {pattern!r}: {found}"
        return next(iter(found))

    def training_worker_running(self, job: dict) -> int:
        """The Celery training worker whose env processes run now (the job's)."""
        env_worker = self.pid("training.rollout_worker")
        for pid in self.pids("-Q training"):
            if env_worker in descendants(pid):
                return pid
        raise AssertionError("no training worker runs an env process")

    # --------------------------------------------------------------------------- its database

    def django(self, code: str) -> str:
        env = dict(self.env, REDIS_URL=self.redis_url, DJANGO_SETTINGS_MODULE="console.settings")
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def start_training(self, iterations: int, name: str = "Faulty-Model", racer: str = "faulty") -> dict:
        """A racer (made once per name), a model and its training job (queued through the console's service):
        their ids, the model's folder and the racer's session cookie."""
        output = self.django(SETUP_TRAINING.format(iterations=iterations, name=name, racer=racer))
        return json.loads(output.strip().splitlines()[-1])

    def job(self, job_id: int) -> dict:
        with sqlite3.connect(f"file:{self.folder / 'console.sqlite3'}?mode=ro", uri=True, timeout=30) as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM training_trainingjob WHERE id = ?", (job_id,)).fetchone()
        job = dict(row)
        job["metrics"] = json.loads(job["metrics"])
        return job

    def wait_for_job(self, job_id: int, condition, timeout: float, what: str) -> dict:
        def check():
            job = self.job(job_id)
            assert job["status"] != "FAILED", f"the job failed: {job['failure_reason']}\n{self.log()[-3000:]}"
            return job if condition(job) else None

        return self.wait_for(check, timeout, what)

    @staticmethod
    def training_log(job: dict) -> str:
        return (Path(job["folder"]) / "logs" / "training" / "training-simulation.log").read_text()

    # ------------------------------------------------------------------------------ its websocket

    def page_socket(self, job: dict):
        """The training page's websocket for the job, signed in as its racer."""
        from websockets.sync.client import connect

        return connect(f"ws://127.0.0.1:{self.port}/ws/training/{job['job']}/", open_timeout=10,
                       additional_headers={"Cookie": f"sessionid={job['session']}",
                                           "Origin": f"http://127.0.0.1:{self.port}"})

    def health(self) -> bool:
        try:
            with urlopen(f"http://127.0.0.1:{self.port}/health/", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False
