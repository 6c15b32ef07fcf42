import json
import tarfile

import gymnasium as gym
import numpy as np
import onnxruntime
import pytest
import torch
from deepracer.logs import DeepRacerLog

from training import artifacts
from training.networks import DEEP_CNN, DEEPEST_CNN, build_agent

BOX = gym.spaces.Box(np.array([-30.0, 0.5], np.float32), np.array([30.0, 2.0], np.float32))


def test_it_reads_metadata_leniently_as_spec_5_1_asks():
    metadata = artifacts.normalize_metadata({
        "action_space": [{"steering_angle": -30, "speed": 0.5}, {"steering_angle": 30, "speed": 1}],
        "sensor": ["FRONT_FACING_CAMERA"], "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "version": 4})
    assert metadata["action_space_type"] == "discrete" and metadata["version"] == "4"
    assert [a["index"] for a in metadata["action_space"]] == [0, 1]
    assert metadata["action_space"][1] == {"steering_angle": 30.0, "speed": 1.0, "index": 1}


@pytest.mark.parametrize("raw, message", [
    ({}, "needs an action_space"),
    ({"action_space": []}, "non-empty list"),
    ({"action_space": [{"speed": 1}]}, "action 0 needs numeric steering_angle"),
    ({"action_space_type": "continuous", "action_space": {"speed": {"low": 1, "high": 0.5},
                                                          "steering_angle": {"low": -1, "high": 1}}}, "low must be below"),
    ({"action_space_type": "hybrid", "action_space": []}, "action_space_type"),
    ({"action_space": [{"steering_angle": 0, "speed": 1}], "sensor": ["LIDAR"]}, "camera"),
])
def test_it_refuses_malformed_metadata_with_a_clear_message(raw, message):
    with pytest.raises(artifacts.ArtifactError, match=message):
        artifacts.normalize_metadata(raw)


def test_it_maps_metadata_to_the_envs_spaces():
    continuous = artifacts.normalize_metadata({"action_space_type": "continuous", "action_space": {
        "speed": {"low": 0.5, "high": 2}, "steering_angle": {"low": -30, "high": 30}}})
    box = artifacts.action_space(continuous)
    assert box.low.tolist() == [-30.0, 0.5] and box.high.tolist() == [30.0, 2.0]
    space = artifacts.observation_space(["STEREO_CAMERAS", "LIDAR"])
    assert space["STEREO_CAMERAS"].shape == (2, 120, 160) and space["LIDAR"].shape == (64,)


def test_it_writes_the_sim_trace_header_exactly_and_formats_values_as_deepracer_does(tmp_path):
    trace = {"steps": 1, "X": 1.23456, "Y": 2.0, "yaw": 90.0, "steer": -15.0, "throttle": 1.0,
             "action": [-15.0, 1.0], "reward": 1.0, "done": False, "all_wheels_on_track": True, "progress": 0.5,
             "closest_waypoint": 3, "track_len": 17.7, "tstamp": 0.067, "episode_status": "in_progress",
             "pause_duration": 0.0, "obstacle_crash_counter": 0}
    row = artifacts.trace_row(0, trace, wall_clock=1700000000.5)
    path = tmp_path / "0-iteration.csv"
    artifacts.write_simtrace(path, [row])
    header, line = path.read_text().splitlines()
    assert header == ("episode,steps,X,Y,yaw,steer,throttle,action,reward,done,all_wheels_on_track,progress,"
                      "closest_waypoint,track_len,tstamp,episode_status,pause_duration,obstacle_crash_counter,wall_clock")
    assert line == "0,1,1.2346,2.0,90.0,-15.0,1.0,[-15.0 1.0],1.0,False,True,0.5,3,17.7,0.067,in_progress,0.0,0,1700000000.5"
    assert artifacts.read_simtrace(path)[0]["episode_status"] == "in_progress"
    with pytest.raises(artifacts.ArtifactError, match="steps"):
        artifacts.trace_row(0, {k: v for k, v in trace.items() if k != "steps"})


def test_it_writes_metrics_records_with_spec_5_3_fields(tmp_path):
    record = artifacts.metrics_record(episode=4, trial=2, phase="training", reward=12.6, progress=55.9,
                                      status="off_track", start_time=100.0, end_time=103.25)
    assert record == {"reward_score": 13, "metric_time": 103250, "start_time": 100000,
                      "elapsed_time_in_milliseconds": 3250, "episode": 4, "trial": 2, "phase": "training",
                      "completion_percentage": 55, "episode_status": "Off track"}
    metrics = artifacts.MetricsFile(tmp_path / "metrics" / "TrainingMetrics.json")
    metrics.append([record])
    data = json.loads((tmp_path / "metrics" / "TrainingMetrics.json").read_text())
    assert data["version"] == 2.0 and data["best_model_metric"] == "progress" and data["metrics"] == [record]
    assert artifacts.MetricsFile(tmp_path / "metrics" / "TrainingMetrics.json").records == [record]


def test_it_keeps_the_newest_checkpoints_and_the_best(tmp_path):
    for iteration in range(1, 8):
        artifacts.save_checkpoint(tmp_path, artifacts.checkpoint_name(iteration, iteration * 10), {"i": iteration})
    artifacts.prune_checkpoints(tmp_path, keep_names={"2_Step-20.ckpt.pt"})
    left = sorted(p.name for p in (tmp_path / "model").glob("*.ckpt.pt"))
    assert left == ["2_Step-20.ckpt.pt", "4_Step-40.ckpt.pt", "5_Step-50.ckpt.pt", "6_Step-60.ckpt.pt",
                    "7_Step-70.ckpt.pt"]


def test_deepracer_utils_loads_the_model_folder(trained_model):
    model_dir, _, result = trained_model
    log = DeepRacerLog(str(model_dir))
    log.load()
    frame = log.dataframe()
    assert len(frame) > 0 and frame["iteration"].nunique() == 2
    assert frame["unique_episode"].nunique() == result.episodes
    assert {"x", "y", "steering_angle", "speed", "progress", "episode_status"} <= set(frame.columns)
    assert log.hyperparameters()["batch_size"] == 64
    assert log.agent_and_network()["network"] == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    assert len(log.action_space()) == 10


def _onnx_matches_torch(agent, sensors, tmp_path):
    path = artifacts.export_onnx(agent, sensors, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    space = artifacts.observation_space(sensors)
    batch = {name: np.stack([space[name].sample() for _ in range(4)]) for name in sensors}
    (onnx_out,) = session.run(None, batch)
    tensors = {name: torch.as_tensor(value) for name, value in batch.items()}
    with torch.no_grad():
        if agent.discrete:
            expected = torch.softmax(agent.policy(agent.torso(tensors)), -1).numpy()
        else:
            expected = agent.scaler.to_env(agent.deterministic(tensors)).numpy()
    np.testing.assert_allclose(onnx_out, expected, rtol=1e-4, atol=1e-5)
    return session


@pytest.mark.parametrize("metadata, sensors, action_space", [
    ({}, ["FRONT_FACING_CAMERA"], gym.spaces.Discrete(10)),
    ({"neural_network": DEEP_CNN}, ["STEREO_CAMERAS", "LIDAR"], gym.spaces.Discrete(4)),
    ({"neural_network": DEEPEST_CNN}, ["FRONT_FACING_CAMERA", "LIDAR"], gym.spaces.Discrete(14)),
    ({}, ["FRONT_FACING_CAMERA"], BOX),
    ({"training_algorithm": "sac"}, ["FRONT_FACING_CAMERA", "SECTOR_LIDAR"], BOX),
])
def test_it_exports_onnx_that_matches_pytorch(metadata, sensors, action_space, tmp_path):
    torch.manual_seed(0)
    agent = build_agent({**metadata, "sensor": sensors}, artifacts.observation_space(sensors), action_space).eval()
    session = _onnx_matches_torch(agent, sensors, tmp_path)
    assert [i.name for i in session.get_inputs()] == sensors
    assert session.get_inputs()[0].type == "tensor(uint8)"


def test_it_bundles_the_best_checkpoint_for_the_car(trained_model, tmp_path):
    model_dir, _, _ = trained_model
    bundle = artifacts.write_car_bundle(model_dir, tmp_path / "car.tar.gz")
    with tarfile.open(bundle) as archive:
        assert sorted(archive.getnames()) == ["agent/model.onnx", "model_metadata.json"]
        metadata = json.loads(archive.extractfile("model_metadata.json").read())
        (tmp_path / "model.onnx").write_bytes(archive.extractfile("agent/model.onnx").read())
    assert metadata == artifacts.read_model_metadata(model_dir)
    agent, _ = artifacts.load_policy(model_dir, "best")
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    frame = np.random.default_rng(0).integers(0, 256, (1, 1, 120, 160), dtype=np.uint8)
    (probabilities,) = session.run(None, {"FRONT_FACING_CAMERA": frame})
    with torch.no_grad():
        expected = torch.softmax(agent.policy(agent.torso({"FRONT_FACING_CAMERA": torch.as_tensor(frame)})), -1)
    np.testing.assert_allclose(probabilities, expected.numpy(), rtol=1e-4, atol=1e-6)


def test_it_explains_a_model_without_checkpoints(tmp_path):
    artifacts.write_model_metadata(tmp_path, {"action_space": [{"steering_angle": 0, "speed": 1}] * 2})
    with pytest.raises(artifacts.ArtifactError, match="no checkpoint yet"):
        artifacts.load_policy(tmp_path)
