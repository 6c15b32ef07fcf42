"""The head-to-model heat engine (training/heat.py) on real model folders: two models' best checkpoints race
in one world, each from its own sensors and action space; the result, the replay, the sim traces and the
live reports. No Django: the worker side is in test_heat_worker.py."""

import math

import av
import numpy as np
import pytest
import torch

from simulator.tracks import Track
from tests.training.jobs_fixtures import *  # noqa: F403 (fixtures)
from training import artifacts, heat
from training.networks import build_agent

LIDAR_SAC = {"sensor": ["STEREO_CAMERAS", "LIDAR"], "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
             "action_space_type": "continuous", "training_algorithm": "sac",
             "action_space": {"steering_angle": {"low": -30.0, "high": 30.0}, "speed": {"low": 0.5, "high": 1.5}}}


def fresh_model_folder(folder, metadata):
    """A model folder whose best checkpoint is a newly initialised agent of ``metadata`` (any sensors and
    action space, without the cost of training one)."""
    metadata = artifacts.write_model_metadata(folder, metadata)
    torch.manual_seed(0)
    agent = build_agent(metadata, artifacts.observation_space(metadata["sensor"]), artifacts.action_space(metadata))
    name = artifacts.checkpoint_name(0, 0)
    artifacts.save_checkpoint(folder, name, {"learner": {"agent": agent.state_dict()}})
    entry = artifacts.checkpoint_entry(name, 0.0)
    artifacts.write_checkpoints_index(folder, entry, entry)
    return folder


def ring(radius=1.1, width=1.0, points=72) -> Track:
    """A small round track (a lap of 6.9 m): even a barely trained car gets round it in continuous mode."""
    angles = np.linspace(0.0, 2 * math.pi, points + 1)
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    circle[-1] = circle[0]  # exactly closed
    return Track("ring", "Ring", circle * radius, circle * (radius - width / 2), circle * (radius + width / 2))


class Recorder:
    def __init__(self, stop_after_frames=None):
        self.progress = []
        self.stop_after_frames = stop_after_frames

    def __call__(self, progress):
        self.progress.append(progress)
        frames = len(self.of("frame"))
        return self.stop_after_frames is None or frames < self.stop_after_frames

    def of(self, kind):
        return [p.data for p in self.progress if p.kind == kind]


def _run(cars, tmp_path, **settings):
    settings = {"env_kwargs": {"track": "quick_loop"}, "max_seconds": 2.0, "folder": tmp_path / "heat",
                "realtime": False, **settings}
    return heat.HeatRun(cars=cars, **settings)


def test_it_races_two_models_to_the_time_limit_with_replay_traces_and_live_frames(trained_model_folder, tmp_path):
    cars = [heat.HeatCar(trained_model_folder, "11", "Red-One"),
            heat.HeatCar(fresh_model_folder(tmp_path / "other", LIDAR_SAC), "12", "Yellow-Two")]
    recorder = Recorder()
    result = heat.race(_run(cars, tmp_path), recorder)
    assert not result.stopped and result.decided_by == "time_limit" and result.sim_seconds == 2.0
    record = result.as_dict()
    assert [car["model_id"] for car in record["cars"]] == ["11", "12"]
    assert [car["colour"] for car in record["cars"]] == ["#db1a1f", "#facc0d"]
    first, second = record["cars"]
    assert record["winner"] == (None if first["progress"] == second["progress"]
                                else int(second["progress"] > first["progress"]))
    for car in record["cars"]:
        assert car["status"] in ("time_up", "crashed", "off_track") or car["reset_count"] >= 0
        assert car["lap_times"] == [] and car["total_time"] is None and not car["finished"]
    # Each car's sim trace: SPEC 5.2 rows, the prepare row then one per step, lap 1 is episode 0.
    for car in (0, 1):
        rows = artifacts.read_simtrace(tmp_path / "heat" / artifacts.heat_simtrace_name(car))
        assert len(rows) == 31 and rows[0]["episode_status"] == "prepare" and {r["episode"] for r in rows} == {"0"}
        assert rows[-1]["tstamp"] == "2.0"
    actions = {row["action"] for row in artifacts.read_simtrace(tmp_path / "heat" / artifacts.heat_simtrace_name(1))}
    assert any(action.startswith("[") for action in actions)  # the SAC car drives its continuous actions
    # The replay: both chase views under the caption, one frame per step (sim real time at 15 frames/s).
    assert result.video_path == tmp_path / "heat" / artifacts.HEAT_VIDEO
    with av.open(str(result.video_path)) as replay:
        frames = list(replay.decode(video=0))
    assert len(frames) == 30 and (frames[0].width, frames[0].height) == (960, 404)
    # Live: each car's chase view and the track map, with ticks of both cars and the gap.
    frames = recorder.of("frame")
    assert {(frame["car"], frame["view"]) for frame in frames} == {(0, "chase"), (1, "chase")}
    assert all(frame["jpeg"][:2] == b"\xff\xd8" for frame in frames)
    tick = recorder.of("tick")[-1]
    assert len(tick["cars"]) == 2 and tick["sim_time"] > 0 and isinstance(tick["gap"], float)
    assert {"progress", "lap", "lap_time", "last_lap", "x", "y", "reset_count", "off_track_count"} <= set(tick["cars"][0])
    assert "Red-One v Yellow-Two" in recorder.of("log")[0]["lines"][0]


def test_the_first_car_to_complete_the_laps_wins(trained_model_folder, tmp_path):
    # No penalties: every reset puts the car back where it left the road, so even a barely trained car
    # gets round the small ring; the race goes on until both have finished.
    cars = [heat.HeatCar(trained_model_folder, "1", "A"), heat.HeatCar(trained_model_folder, "2", "B")]
    result = heat.race(_run(cars, tmp_path, env_kwargs={"track": ring()}, max_seconds=120.0, off_track_penalty=0.0,
                            collision_penalty=0.0, video=False, stream_frames=False), Recorder())
    assert result.decided_by == "finish" and result.video_path is None, result
    finished = [car for car in result.cars if car.finished]
    assert finished, result
    winner = result.cars[result.winner]
    assert winner.finished and winner.total_time == min(car.total_time for car in finished)
    assert winner.lap_times == [winner.total_time] and winner.progress == 100.0
    loser = result.cars[1 - result.winner]
    assert loser.total_time is None or loser.total_time >= winner.total_time


def test_a_stop_ends_the_heat_without_a_winner_or_a_replay(trained_model_folder, tmp_path):
    cars = [heat.HeatCar(trained_model_folder, "1", "A"), heat.HeatCar(trained_model_folder, "2", "B")]
    result = heat.race(_run(cars, tmp_path, max_seconds=60.0), Recorder(stop_after_frames=3))
    assert result.stopped and result.winner is None and result.video_path is None
    assert result.sim_seconds < 5 and not (tmp_path / "heat" / artifacts.HEAT_VIDEO).exists()


def test_it_says_which_car_cannot_race(trained_model_folder, tmp_path):
    empty = tmp_path / "empty"
    artifacts.write_model_metadata(empty, LIDAR_SAC)
    cars = [heat.HeatCar(trained_model_folder, "1", "A"), heat.HeatCar(empty, "2", "Never-Trained")]
    with pytest.raises(heat.HeatError, match="Never-Trained: the model has no checkpoint"):
        heat.race(_run(cars, tmp_path), Recorder())
    with pytest.raises(heat.HeatError, match="unknown track 'atlantis'"):
        heat.race(_run(cars[:1] * 2, tmp_path, env_kwargs={"track": "atlantis"}), Recorder())
