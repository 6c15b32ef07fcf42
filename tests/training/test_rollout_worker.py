import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import CORRIDOR
from training.rollout_worker import (
    WorkerError,
    WorkerPool,
    WorkerSpec,
    describe_exit,
    process_tree_cpu_seconds,
)


def _spec(**overrides):
    return WorkerSpec(**{"env_factory": CORRIDOR, "env_kwargs": {}, **overrides})


def test_it_steps_envs_in_separate_processes():
    with WorkerPool([_spec(), _spec(start_offset=0.125)]) as pool:
        first, _ = pool.call(0, "reset", "training")
        second, _ = pool.call(1, "reset", "training")
        assert first["FRONT_FACING_CAMERA"].shape == (1, 120, 160)
        assert not np.array_equal(first["FRONT_FACING_CAMERA"], second["FRONT_FACING_CAMERA"])  # staggered starts
        obs, reward, terminated, truncated, info, frames, prints = pool.call(0, "step", 4, True)
        assert set(info) >= {"trace", "episode_status", "progress"} and "params" not in info
        assert frames["chase"][:2] == b"\xff\xd8"


def test_it_raises_the_workers_error_with_its_type_and_message():
    with WorkerPool([_spec(env_kwargs={"sensors": ("SONAR",)})]) as pool:
        with pytest.raises(WorkerError, match="ValueError: unknown sensor 'SONAR'"):
            pool.call(0, "reset", "training")


def test_it_refuses_an_env_factory_that_does_not_exist():
    with pytest.raises(WorkerError, match="ModuleNotFoundError"):
        WorkerPool([WorkerSpec(env_factory="nowhere.env:Env", env_kwargs={})])


def _reset_in_a_daemon(queue):
    with WorkerPool([_spec()]) as pool:
        obs, _ = pool.call(0, "reset", "evaluation")
        queue.put(obs["FRONT_FACING_CAMERA"].shape)


def test_it_starts_workers_from_a_daemonic_process_like_a_celery_prefork_child():
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    daemon = context.Process(target=_reset_in_a_daemon, args=(queue,), daemon=True)
    daemon.start()
    assert queue.get(timeout=120) == (1, 120, 160)
    daemon.join(timeout=30)


def test_it_says_what_killed_a_worker_and_starts_new_ones():
    with WorkerPool([_spec(), _spec()]) as pool:
        pool.call(0, "reset", "training")
        victim = pool.processes[1]
        os.kill(victim.pid, signal.SIGKILL)
        with pytest.raises(WorkerError) as raised:
            pool.call(1, "reset", "training")
        assert raised.value.died
        assert f"process {victim.pid} was killed by SIGKILL (out of memory, or killed by hand)" in str(raised.value)
        pool.restart()
        assert victim.pid not in [process.pid for process in pool.processes]
        obs, _ = pool.call(1, "reset", "training")
        assert obs["FRONT_FACING_CAMERA"].shape == (1, 120, 160)


def test_a_reported_error_is_not_a_death():
    with WorkerPool([_spec(env_kwargs={"sensors": ("SONAR",)})]) as pool:
        with pytest.raises(WorkerError) as raised:
            pool.call(0, "reset", "training")
        assert not raised.value.died


def test_it_names_exit_statuses_and_signals():
    assert describe_exit(7, 3) == "process 7 exited with status 3"
    assert describe_exit(7, -signal.SIGSEGV) == ("process 7 was killed by SIGSEGV (it crashed in native code: "
                                                  "MuJoCo, rendering or a library)")


def _pool_in_a_child(queue):
    pool = WorkerPool([_spec()])
    queue.put(pool.processes[0].pid)
    time.sleep(600)


def test_its_workers_miss_the_terminals_ctrl_c_but_die_with_the_learner():
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    learner = context.Process(target=_pool_in_a_child, args=(queue,))
    learner.start()
    worker = queue.get(timeout=120)
    # Ctrl-C goes to the terminal's whole process group; the env worker is in a session of its own.
    assert os.getsid(worker) != os.getsid(learner.pid) and os.getpgid(worker) != os.getpgid(learner.pid)
    os.kill(learner.pid, signal.SIGKILL)
    learner.join()
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


BUSY_CHILD = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time\\nend = time.process_time() + 0.5\\nwhile time.process_time() < end: pass\\nprint('done', flush=True)\\ntime.sleep(60)"], stdout=sys.stdout)
time.sleep(60)
"""


def test_it_counts_the_cpu_of_a_worker_and_of_its_live_children_like_a_reward_sandbox():
    parent = subprocess.Popen([sys.executable, "-c", BUSY_CHILD], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        assert parent.stdout.readline().strip() == "done"  # the child spent 0.5 CPU s and lives on
        assert process_tree_cpu_seconds(parent.pid) >= 0.5
    finally:
        os.killpg(parent.pid, signal.SIGKILL)  # both: the child is in the parent's new session
        parent.wait()
    assert process_tree_cpu_seconds(parent.pid) == 0.0  # gone: nothing to read
