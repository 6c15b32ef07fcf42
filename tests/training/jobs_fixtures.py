"""Fixtures for the console side of training (jobs, services, views, sockets). Test modules import the
fixtures with `from tests.training.jobs_fixtures import *`; the real engine, env and reward sandbox run with
tiny budgets. (Fixture names differ from the learner tests' conftest: `rl_model`, `trained_rl_model`.)"""

import shutil
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from training import engine, worker

TINY_HYPERPARAMETERS = {"num_episodes_between_training": 2, "batch_size": 32, "num_epochs": 1}
FOLLOW_CENTRE_LINE = '''
def reward_function(params):
    print("distance", round(params["distance_from_center"], 3))
    if params["distance_from_center"] <= 0.25 * params["track_width"]:
        return 1.0
    return 1e-3
'''
ORIGINAL_DEEPRACER = {
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "action_space_type": "discrete",
    "action_space": [{"steering_angle": steering, "speed": speed, "index": 2 * n + m}
                     for n, steering in enumerate((-30.0, -15.0, 0.0, 15.0, 30.0))
                     for m, speed in enumerate((0.5, 1.0))],
    "name": "The Original DeepRacer", "shell": "deepracer", "colour": "black",
}


def make_model(owner, name="Quick-Model", **fields):
    from models_app.models import RLModel

    values = {"vehicle_snapshot": ORIGINAL_DEEPRACER, "track": "quick_loop", "track_reversed": False,
              "race_type": {"race_type": "TIME_TRIAL"}, "reward_code": FOLLOW_CENTRE_LINE,
              "training_algorithm": "clipped_ppo", "hyperparameters": TINY_HYPERPARAMETERS,
              "max_minutes": 10, "status": "READY"}
    values.update(fields)
    return RLModel.objects.create(owner=owner, name=name, **values)


__all__ = ["fixture_tiny_engine", "fixture_trained_model_folder", "fixture_rl_model", "fixture_trained_rl_model",
           "shutdown_when"]


@pytest.fixture(name="tiny_engine", autouse=True)
def fixture_tiny_engine(monkeypatch, settings, tmp_path):
    """One env worker and one update thread, one evaluation episode per iteration, model folders in a
    temporary store."""
    monkeypatch.setenv("TRAINING_ENV_WORKERS", "1")
    monkeypatch.setenv("WORKER_THREADS", "1")
    monkeypatch.setenv("TRAINING_EVAL_EPISODES", "1")
    settings.MODEL_STORE = tmp_path / "models"


@pytest.fixture(name="trained_model_folder", scope="session")
def fixture_trained_model_folder(tmp_path_factory):
    """A model folder after one real training iteration on quick_loop (made once, copied per test)."""
    folder = tmp_path_factory.mktemp("trained") / "model"
    run = engine.TrainingRun(model_dir=folder, metadata={k: ORIGINAL_DEEPRACER[k] for k in
                             ("sensor", "neural_network", "action_space_type", "action_space")} |
                             {"training_algorithm": "clipped_ppo"},
                             hyperparameters=TINY_HYPERPARAMETERS, env_kwargs={"track": "quick_loop"},
                             reward_code=FOLLOW_CENTRE_LINE, max_iterations=1, eval_episodes=1, num_workers=1,
                             stream_frames=False, update_threads=1)
    engine.train(run, lambda progress: True)
    return folder


@pytest.fixture(name="rl_model")
def fixture_rl_model(owner):
    return make_model(owner)


@pytest.fixture(name="trained_rl_model")
def fixture_trained_rl_model(owner, trained_model_folder):
    model = make_model(owner, name="Trained-Model")
    shutil.copytree(trained_model_folder, model.folder)
    return model


# -- shared by the web-side (test_services) and worker-side (test_worker) tests ------------------------

# Real DeepRacer track files live in the folder `shared` beside the repository checkout (tests only; a
# worktree's checkout sits one level deeper, so look upwards).
SHARED_TRACKS = next((folder / "shared" / "tracks" for folder in Path(__file__).resolve().parents[2:]
                      if (folder / "shared" / "tracks").is_dir()),
                     Path(__file__).resolve().parents[2] / ".." / "shared" / "tracks")
BROKEN_REWARD = "def reward_function(params):\n    return params['no_such_key']\n"


def _imported_track(owner, title="re:Invent 2018"):
    from models_app.models import ImportedTrack

    track = ImportedTrack(owner=owner, title=title, npy=(SHARED_TRACKS / "reinvent_base.npy").read_bytes(),
                          length=17.7, width=0.76)
    track.save()
    return track


def _listen(group: str):
    """A channel in the job's group on the real Redis layer; returns a function draining its events."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)

    async def _drain():
        import asyncio

        events = []
        while True:
            try:
                events.append(await asyncio.wait_for(layer.receive(channel), timeout=0.5))
            except TimeoutError:
                await layer.group_discard(group, channel)  # job ids repeat in every test database
                return events

    return lambda: async_to_sync(_drain)()


@pytest.fixture
def shutdown_when():
    """shutdown_when(condition) -> an observer that makes this process a worker told to shut down (as
    Celery's worker_shutting_down does) at the first report meeting condition; undone after the test."""
    yield lambda condition: (lambda progress: condition(progress) and worker.worker_shutdown_requested("SIGINT"))
    worker._WorkerShutdown.signal_name = None
