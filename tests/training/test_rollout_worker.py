import multiprocessing

import numpy as np
import pytest

from tests.training.conftest import CORRIDOR
from training.rollout_worker import WorkerError, WorkerPool, WorkerSpec


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
