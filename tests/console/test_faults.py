"""Fault injection with the real launcher (`make run`), workers, Redis and web server in subprocesses: the
signals a racer's machine sends, mid-training. Stopping the console is not a failure and a part that dies
is survived: the job ends with every iteration's metrics, one continuous graph, and no Failed status.
Tiny budgets (quick_loop, two episodes per iteration); each test takes a minute or two on a busy machine."""

import json
import os
import signal
import subprocess
import time

import pytest

from console.launcher import free_port, redis_argv
from tests.launched_console import LaunchedConsole, alive

ITERATION_SECONDS = 180  # generous: the machine is shared; an iteration takes ~10 s alone
RECONNECT_MS = (1000, 2000, 5000, 10000)  # the page's back-off (static/training/live_job.js)


@pytest.fixture
def console(tmp_path):
    launched = LaunchedConsole(tmp_path, training_workers=2)
    yield launched
    launched.kill()


def _iterations(job: dict) -> list[int]:
    return [record["iteration"] for record in job["metrics"]]


def _events_after_reconnects(console: LaunchedConsole, job: dict, since: float, timeout: float) -> list[str]:
    """What the training page does: (re)connect with its back-off until the socket brings events again;
    returns the kinds of events received after ``since`` (a moment before the fault)."""
    deadline = time.monotonic() + timeout
    attempt = 0
    while time.monotonic() < deadline:
        try:
            with console.page_socket(job) as socket:
                events = []
                while time.monotonic() < deadline:
                    event = json.loads(socket.recv(timeout=deadline - time.monotonic()))["event"]
                    if time.monotonic() > since:
                        events.append(event)
                    if len(events) >= 3:
                        return events
        except Exception:  # closed by the server or refused while Redis is away: try again, as the page does
            time.sleep(RECONNECT_MS[min(attempt, len(RECONNECT_MS) - 1)] / 1000)
            attempt += 1
    return []


def test_it_survives_a_dead_env_worker_a_dead_redis_and_a_stopped_training_worker(console):
    console.start()
    # Enough iterations that the job still runs when the third fault comes, however slow the reconnects are
    # (with 4 it had finished before the SIGTERM on a loaded machine).
    job = console.start_training(iterations=7)
    first = console.wait_for_job(job["job"], lambda row: row["last_iteration"] >= 1, ITERATION_SECONDS,
                                 "a first iteration")

    # 1. SIGKILL of the env worker process (what the out-of-memory killer does): new one, iteration redone.
    env_worker = console.pid("training.rollout_worker")
    os.kill(env_worker, signal.SIGKILL)
    console.wait_for_job(job["job"], lambda row: row["last_iteration"] >= first["last_iteration"] + 1,
                         ITERATION_SECONDS, "an iteration after the env worker died")
    assert "killed by SIGKILL (out of memory, or killed by hand)" in console.training_log(job)

    # 2. SIGKILL of the embedded Redis: the launcher starts it again, training goes on, the page reconnects.
    before = console.job(job["job"])["last_iteration"]
    redis = console.pid("valkey-server")
    killed_at = time.monotonic()
    os.kill(redis, signal.SIGKILL)
    console.wait_for(lambda: "redis exited with status -9: starting it again." in console.log(), 30,
                     "Redis started again")
    assert console.pid("valkey-server") != redis
    events = _events_after_reconnects(console, job, killed_at, ITERATION_SECONDS)
    assert events, f"the page's websocket brought nothing after Redis came back:\n{console.log()[-3000:]}"
    console.wait_for_job(job["job"], lambda row: row["last_iteration"] > before, ITERATION_SECONDS,
                         "an iteration after Redis came back")
    assert console.wait_for(console.health, 30, "a healthy console")

    # 3. SIGTERM to the training worker running the job (docker compose stop, a deploy): it checkpoints and
    # exits cleanly; the other worker (or this one, started again) resumes the job.
    worker = console.training_worker_running(job)
    os.kill(worker, signal.SIGTERM)
    console.wait_for(lambda: not alive(worker), 60, "the training worker to stop")
    console.wait_for(lambda: "exited with status 0: starting it again." in console.log(), 30,
                     "a clean exit of the training worker")
    done = console.wait_for_job(job["job"], lambda row: row["status"] == "COMPLETED", 3 * ITERATION_SECONDS,
                                "the job to complete")
    assert _iterations(done) == [1, 2, 3, 4, 5, 6, 7] and done["last_iteration"] == 7
    log = console.training_log(job)
    # It stopped once, cleanly (the SIGTERM), and went on from that checkpoint; it never failed.
    assert log.count("Training ended: stopped") == 1 and "ERROR" not in log
    assert "Resuming from checkpoint" in log.split("Training ended: stopped", 1)[1]
    assert done["attempts"] == 1 and done["worker"]  # claimed once since its clean pause
    assert console.ctrl_c() == 0


def test_ctrl_c_mid_training_then_a_new_start_resumes_and_completes_the_job(console):
    console.start()
    job = console.start_training(iterations=3)
    console.wait_for_job(job["job"], lambda row: row["last_iteration"] >= 1, ITERATION_SECONDS, "a first iteration")
    env_workers = list(console.pids("training.rollout_worker"))

    assert console.ctrl_c() == 0
    assert not any(alive(pid) for pid in env_workers)
    stopped = console.job(job["job"])
    assert stopped["status"] == "INTERRUPTED", stopped
    assert stopped["failure_reason"].startswith("The console stopped while this job ran (SIGTERM). Nothing is lost")
    assert "ERROR" not in console.training_log(job)

    console.start()  # the next morning
    done = console.wait_for_job(job["job"], lambda row: row["status"] == "COMPLETED", 3 * ITERATION_SECONDS,
                                "the resumed job to complete")
    assert _iterations(done) == [1, 2, 3]  # every iteration's metrics: one continuous graph
    assert done["failure_reason"] == "" and done["elapsed_seconds"] >= stopped["elapsed_seconds"]
    assert f"Resuming from checkpoint {stopped['last_iteration']}_" in console.training_log(job)
    assert console.ctrl_c() == 0


def test_a_restart_of_an_external_redis_without_its_data_loses_no_job(tmp_path):
    import redis

    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"

    def start_redis() -> subprocess.Popen:
        server = subprocess.Popen(redis_argv(port, durable=False), stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(url, socket_timeout=1).ping()
                return server
            except redis.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("the external Redis did not start")

    server = start_redis()
    console = LaunchedConsole(tmp_path, training_workers=1, redis_url=url)
    try:
        console.start()
        running = console.start_training(iterations=30, name="Running-Model")  # still running once the next job is made
        console.wait_for_job(running["job"], lambda row: row["status"] == "IN_PROGRESS", ITERATION_SECONDS,
                             "the first job to run")
        waiting = console.start_training(iterations=1, name="Waiting-Model")  # its message waits in Redis
        assert console.job(waiting["job"])["status"] == "QUEUED"
        server.kill()
        server.wait()
        server = start_redis()  # empty: the waiting job's message is gone
        for job in (running, waiting):
            done = console.wait_for_job(job["job"], lambda row: row["status"] == "COMPLETED", 3 * ITERATION_SECONDS,
                                        "every job to complete")
            assert done["last_iteration"] == len(done["metrics"]) >= 1
        assert console.ctrl_c() == 0
    finally:
        console.kill()
        server.kill()
        server.wait()


RUNNING_ITERATIONS = 8


def test_a_redis_restart_while_jobs_wait_in_the_fair_queue_loses_no_job_and_no_metric(tmp_path):
    console = LaunchedConsole(tmp_path, training_workers=1)  # one worker: the other jobs wait their turn
    try:
        console.start()
        # Enough iterations to be still running after the first (a quiet machine runs one in 2-3 s).
        running = console.start_training(iterations=RUNNING_ITERATIONS, name="Running-Model")
        second = console.start_training(iterations=1, name="Second-Model")
        other = console.start_training(iterations=1, name="Other-Model", racer="other")
        console.wait_for_job(running["job"], lambda row: row["last_iteration"] >= 1, ITERATION_SECONDS,
                             "a first iteration")
        assert [console.job(job["job"])["status"] for job in (running, second, other)] == [
            "IN_PROGRESS", "QUEUED", "QUEUED"]

        # The embedded Redis dies mid-training, the queued jobs' messages maybe not yet on disk (fsync
        # every second); the launcher starts it again on its port and the workers reconnect.
        redis = console.pid("valkey-server")
        os.kill(redis, signal.SIGKILL)
        console.wait_for(lambda: "redis exited with status -9: starting it again." in console.log(), 30,
                         "Redis started again")
        assert console.pid("valkey-server") != redis

        done = {}
        for job, iterations in ((running, RUNNING_ITERATIONS), (second, 1), (other, 1)):
            done[job["job"]] = console.wait_for_job(job["job"], lambda row: row["status"] == "COMPLETED",
                                                    3 * ITERATION_SECONDS, "every job to complete")
            assert _iterations(done[job["job"]]) == list(range(1, iterations + 1)), "an iteration's metrics are lost"
            assert done[job["job"]]["failure_reason"] == ""
        # The queue stayed fair across the restart: the other racer went before the first racer's second job.
        assert done[other["job"]]["claimed_at"] < done[second["job"]]["claimed_at"]
        assert console.ctrl_c() == 0
    finally:
        console.kill()
