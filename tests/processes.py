"""Server subprocesses for tests: the ASGI web server and Celery workers, against the test database."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from console.launcher import THREAD_ENV_VARS, die_with_parent, signal_group

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
STOP_GRACE_SECONDS = 10


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL naming the database Django is connected to (after set-up: the test database)."""
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqlite:///" + str(Path(settings_dict["NAME"]).resolve())
    if engine.endswith("postgresql"):
        credentials = quote(settings_dict.get("USER") or "", safe="")
        if settings_dict.get("PASSWORD"):
            credentials += ":" + quote(settings_dict["PASSWORD"], safe="")
        host = settings_dict.get("HOST") or "localhost"
        port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
        at = "@" if credentials else ""
        return f"postgres://{credentials}{at}{host}{port}/{quote(settings_dict['NAME'], safe='')}"
    raise NotImplementedError(f"No DATABASE_URL spelling for {engine}.")


# Set in the test process only (see tests/e2e/conftest.py); servers must keep Django's async safety.
TEST_PROCESS_ONLY_VARS = ("DJANGO_ALLOW_ASYNC_UNSAFE",)


def clean_environ(**overrides) -> dict:
    """os.environ for a subprocess, without the variables that only the test process may have."""
    env = {key: value for key, value in os.environ.items() if key not in TEST_PROCESS_ONLY_VARS}
    env.update(overrides)
    return env


def subprocess_env(database: str, redis_url: str, redis_prefix: str) -> dict:
    env = clean_environ(
        DATABASE_URL=database,
        REDIS_URL=redis_url,
        REDIS_PREFIX=redis_prefix,
        DEBUG="true",
        DJANGO_SETTINGS_MODULE="console.settings",
        PYTHONUNBUFFERED="1",
        # One simulator and one update thread per job: the tests' trainings are tiny, and they share the 2
        # cores with the browser and the web server (the console's own choice is tested in test_worker).
        TRAINING_ENV_WORKERS="1",
        WORKER_THREADS="1",
    )
    for name in THREAD_ENV_VARS:
        env[name] = "1"
    return env


class ManagedProcess:
    """A subprocess in its own process group, logging to test-artifacts/logs/<name>.log."""

    def __init__(self, name: str, argv: list[str], env: dict):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = ARTIFACTS / "logs" / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "ManagedProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.argv, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent,
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}) before {what}:\n{self.log()[-3000:]}")
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: no {what} within {timeout} s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        signal_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        signal_group(self.process, signal.SIGKILL)
        self.process.wait()


_session_workers: list[ManagedProcess] = []  # the workers celery_worker() started, for session_workers_paused()


def celery_worker(env: dict, queues: str = "default,training", name: str = "test") -> ManagedProcess:
    """One worker for both queues; solo pool like the training workers (one job at a time). Another worker
    beside the session's needs its own ``name``."""
    argv = [sys.executable, "-m", "celery", "-A", "console", "worker", "-Q", queues, "-P", "solo",
            "-n", f"{name}-{os.getpid()}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--purge", "-l", "INFO"]
    worker = ManagedProcess(f"celery-worker-{name}", argv, env)
    _start_worker(worker)
    _session_workers.append(worker)
    return worker


def _start_worker(worker: ManagedProcess) -> None:
    worker.start()
    worker.wait_until(lambda: " ready." in worker.log(), timeout=90, what="'ready' in its log")


@contextmanager
def session_workers_paused():
    """Stops the session's own workers while a test runs workers of its own: a worker runs the fairest
    waiting job of the shared database, whichever worker its message reached, so they would take jobs too."""
    running = [worker for worker in _session_workers if worker.process is not None and worker.process.poll() is None]
    for worker in running:
        worker.stop()
    try:
        yield
    finally:
        for worker in running:
            _start_worker(worker)


def asgi_server(env: dict, port: int) -> ManagedProcess:
    argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "console.asgi:application"]
    return ManagedProcess("web", argv, env).start()
