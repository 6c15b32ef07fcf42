import functools
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest
import torch
from deepracer.logs import DeepRacerLog

from simulator.episode import STEP_SECONDS
from tests.training.conftest import CORRIDOR, TINY, Recorder, metadata, tiny_run
from tests.training.corridor_env import failing_reward_factory
from training import artifacts, engine
from training.engine import (
    DEFAULT_ENV_FACTORY,
    MAX_WORKER_RESTARTS,
    EvaluationRun,
    Finished,
    TrainingError,
    _Session,
    beats_best,
    evaluate,
    evaluation_lap_time,
    format_lap_time,
    train,
    update_threads,
)
from training.networks import build_agent
from training.ppo import PPOConfig, PPOLearner
from training.rollout_worker import WorkerPool, WorkerSpec

REPO = Path(__file__).resolve().parents[2]


def test_it_runs_iterations_and_writes_every_artifact(trained_model):
    model_dir, _, result = trained_model
    assert result.iterations == 2 and result.stop_reason == "max_iterations"
    for name in ("model/model_metadata.json", "model/deepracer_checkpoints.json", "model/model.onnx",
                 "ip/hyperparameters.json", "reward_function.py", "training_params.yaml",
                 "metrics/TrainingMetrics.json", "training-simtrace/0-iteration.csv",
                 "training-simtrace/1-iteration.csv", "logs/training/training-simulation.log", "car_bundle.tar.gz"):
        assert (model_dir / name).is_file(), name
    index = artifacts.read_checkpoints_index(model_dir)
    assert index["last_checkpoint"]["name"] == f"2_Step-{result.steps}.ckpt.pt"
    assert (model_dir / "model" / index["best_checkpoint"]["name"]).is_file()


def test_it_collects_exactly_the_configured_episodes_per_iteration(trained_model):
    model_dir, _, result = trained_model
    records = artifacts.read_metrics(model_dir / "metrics" / "TrainingMetrics.json")
    training = [r for r in records if r["phase"] == "training"]
    evaluation = [r for r in records if r["phase"] == "evaluation"]
    assert [r["episode"] for r in training] == list(range(1, 7))
    assert [r["trial"] for r in training] == [1, 2, 3, 1, 2, 3]
    assert [(r["episode"], r["trial"]) for r in evaluation] == [(3, 1), (3, 2), (6, 1), (6, 2)]
    rows = artifacts.read_simtrace(model_dir / "training-simtrace" / "1-iteration.csv")
    assert sorted({int(r["episode"]) for r in rows}) == [0, 1, 2]


def test_it_chooses_the_best_checkpoint_by_mean_evaluation_progress(trained_model):
    model_dir, recorder, _ = trained_model
    metrics = recorder.of("metrics")
    best = max(metrics, key=lambda m: (m["average_evaluation_completion"], m["iteration"]))
    index = artifacts.read_checkpoints_index(model_dir)
    assert index["best_checkpoint"]["avg_eval_metric"] == pytest.approx(best["average_evaluation_completion"])
    # Iteration i evaluates the policy that collected it (during the update): i - 1 updates done.
    assert index["best_checkpoint"]["name"].startswith(f"{best['iteration'] - 1}_Step-")
    state = artifacts.load_checkpoint(model_dir, index["best_checkpoint"]["name"])
    assert state["evaluated"] and state["counters"]["iteration"] == best["iteration"] - 1


def entry(progress, lap_time=None, training_progress=None):
    return artifacts.checkpoint_entry("1_Step-10.pt", progress, lap_time, training_progress)


@pytest.mark.parametrize(("progress", "lap_time", "training", "best", "wins"), [
    (40.0, None, 10.0, None, True),  # the first evaluation
    (60.0, None, 10.0, entry(50.0), True),  # further round wins, as in DeepRacer
    (50.0, None, 90.0, entry(60.0), False),
    (50.0, None, 10.0, entry(50.0), True),  # equal progress short of a lap: the newer has trained longer
    (100.0, 8.1, 90.0, entry(100.0, 9.4, 90.0), True),  # every lap complete, as steady: the faster wins
    (100.0, 9.4, 90.0, entry(100.0, 8.1, 90.0), False),
    (100.0, 8.1, 90.0, entry(100.0, 8.1, 90.0), True),  # as fast: the newer
    (100.0, 9.4, 97.0, entry(100.0, 8.1, 12.0), True),  # laps by luck (12% in training): the steadier wins
    (100.0, 8.1, 50.0, entry(100.0, 9.4, 90.0), False),  # 8.1 / 0.5 = 16.2 against 9.4 / 0.9 = 10.4
    (100.0, 8.1, 90.0, entry(100.0, 9.4), True),  # a best saved before training progress was kept: lap times
    (100.0, 9.4, 90.0, entry(100.0), True),  # a best saved before lap times were kept
    (100.0, 12.0, 5.0, entry(80.0), True),  # a slow full lap still beats a fast partial one
])
def test_the_best_checkpoint_goes_furthest_then_laps_fastest_and_steadiest(progress, lap_time, training, best, wins):
    assert beats_best(progress, lap_time, best, training) is wins


def test_an_evaluations_lap_time_counts_only_when_every_lap_is_complete():
    def done(status, seconds):
        return Finished(episode=None, traces=[], info={"episode_status": status, "trace": {"tstamp": seconds}},
                        start_time=0.0, end_time=0.0)

    assert evaluation_lap_time([done("lap_complete", 8.0), done("lap_complete", 9.0)]) == pytest.approx(8.5)
    assert evaluation_lap_time([done("lap_complete", 8.0), done("off_track", 3.0)]) is None
    assert evaluation_lap_time([]) is None
    assert "avg_eval_lap_time" not in entry(50.0) and entry(100.0, 8.5)["avg_eval_lap_time"] == 8.5
    assert "avg_training_progress" not in entry(50.0) and entry(100.0, 8.5, 97.25)["avg_training_progress"] == 97.25


def test_it_reports_metrics_episodes_frames_logs_and_heartbeats(trained_model):
    _, recorder, _ = trained_model
    metrics = recorder.of("metrics")
    assert [m["iteration"] for m in metrics] == [1, 2]
    for key in ("average_reward", "average_training_completion", "average_evaluation_completion", "best",
                "losses/policy_loss", "losses/value_loss"):
        assert key in metrics[0]
    episodes = recorder.of("episode")
    assert [e["phase"] for e in episodes].count("training") == 6
    assert {"reward", "progress", "status", "steps"} <= set(episodes[0])
    frames = recorder.of("frame")
    assert {f["view"] for f in frames} == {"chase", "camera"}
    assert all(f["jpeg"][:2] == b"\xff\xd8" for f in frames)
    lines = [line for log in recorder.of("log") for line in log["lines"]]
    assert any(line.startswith("starting at x=") for line in lines)  # the reward function's prints
    phases = [s["phase"] for s in recorder.of("status")]
    assert phases[0] == "collecting" and "updating" in phases
    assert any(s.get("evaluating") for s in recorder.of("status"))  # the evaluation runs during the update


def test_it_reports_the_cpu_seconds_of_each_phase_learner_and_env_workers_together(trained_model):
    _, recorder, _ = trained_model
    for metrics in recorder.of("metrics"):
        cpu = {phase: metrics[f"cpu/{phase}_seconds"] for phase in ("collect", "update", "evaluate", "other")}
        assert all(seconds >= 0 for seconds in cpu.values())
        # collecting steps the env workers and runs the policy: both cost CPU, the update some more
        assert cpu["collect"] > 0 and cpu["update"] > 0 and cpu["evaluate"] > 0


def test_it_reports_a_tick_beside_each_frame_of_worker_0(trained_model):
    _, recorder, _ = trained_model
    ticks = recorder.of("tick")
    assert len(ticks) == len(recorder.of("frame")) // 2  # one per chase + camera pair
    assert set(ticks[0]) == {"phase", "episode", "sim_time", "progress", "x", "y", "reset_count",
                             "off_track_count"}
    assert all(0 <= tick["progress"] <= 100 and tick["sim_time"] > 0 for tick in ticks)


def test_it_throttles_frames_to_a_few_per_second(trained_model):
    _, recorder, result = trained_model
    chase = recorder.of("frame")[::2]
    assert len(chase) <= result.elapsed_seconds * 4 + 2


def test_it_logs_sim_trace_lines_and_the_reward_prints(trained_model):
    model_dir, _, _ = trained_model
    log = (model_dir / "logs" / "training" / "training-simulation.log").read_text().splitlines()
    trace_lines = [line for line in log if line.startswith("SIM_TRACE_LOG:")]
    rows = artifacts.read_simtrace(model_dir / "training-simtrace" / "0-iteration.csv")
    assert trace_lines[0] == "SIM_TRACE_LOG:" + ",".join(rows[0].values())
    assert any(line.startswith("starting at x=") for line in log)
    assert "Using the following hyper-parameters" in log


def test_it_stops_cleanly_with_a_final_checkpoint_when_report_says_so(tmp_path):
    recorder = Recorder(stop_when=lambda p: p.kind == "episode")
    result = train(tiny_run(tmp_path / "m", max_iterations=5, num_workers=1), recorder)
    assert result.stop_reason == "stopped" and result.iterations == 0
    index = artifacts.read_checkpoints_index(tmp_path / "m")
    assert index["last_checkpoint"]["name"] == "0_Step-0.ckpt.pt"
    assert (tmp_path / "m" / "model" / "0_Step-0.ckpt.pt").is_file()


def test_it_stops_at_the_time_limit(tmp_path):
    result = train(tiny_run(tmp_path / "m", max_minutes=0.0, max_iterations=None, num_workers=1), Recorder())
    assert result.stop_reason == "max_time"


def _train_forever(model_dir):
    torch.set_num_threads(1)
    train(tiny_run(Path(model_dir), max_iterations=None, num_workers=1, stream_frames=False), lambda p: True)


def test_it_resumes_a_killed_run_from_its_last_checkpoint(tmp_path):
    model_dir = tmp_path / "m"
    process = multiprocessing.get_context("spawn").Process(target=_train_forever, args=(str(model_dir),))
    process.start()
    index_path = model_dir / "model" / "deepracer_checkpoints.json"
    deadline = time.monotonic() + 240
    while not index_path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    before = artifacts.read_checkpoints_index(model_dir)["last_checkpoint"]["name"]
    done = int(before.split("_")[0])
    result = train(tiny_run(model_dir, max_iterations=done + 1, num_workers=1), Recorder())
    assert result.iterations == done + 1
    records = artifacts.read_metrics(model_dir / "metrics" / "TrainingMetrics.json")
    training = [r["episode"] for r in records if r["phase"] == "training"]
    assert training == list(range(1, result.episodes + 1))  # nothing lost, nothing counted twice
    log = (model_dir / "logs" / "training" / "training-simulation.log").read_text()
    assert f"Resuming from checkpoint {before}" in log


def test_it_clones_a_parent_with_the_same_action_count(trained_model, tmp_path):
    parent, _, _ = trained_model
    parent_agent, _ = artifacts.load_policy(parent)
    result = train(tiny_run(tmp_path / "clone", parent_model_dir=parent, max_iterations=0, num_workers=1),
                   Recorder())
    assert result.iterations == 0
    clone_agent, _ = artifacts.load_policy(tmp_path / "clone", "last")
    for ours, theirs in zip(clone_agent.state_dict().values(), parent_agent.state_dict().values(), strict=True):
        assert torch.equal(ours, theirs)


def _saved_model(folder, model_metadata):
    """A model folder with one checkpoint of a freshly built learner, without training it."""
    model_metadata = artifacts.write_model_metadata(folder, model_metadata)
    agent = build_agent(model_metadata, artifacts.observation_space(model_metadata["sensor"]),
                        artifacts.action_space(model_metadata))
    learner = PPOLearner(agent, PPOConfig()) if model_metadata["training_algorithm"] == "clipped_ppo" else None
    name = artifacts.checkpoint_name(1, 10)
    artifacts.save_checkpoint(folder, name, {"learner": learner.state_dict()})
    entry = artifacts.checkpoint_entry(name, 50.0)
    artifacts.write_checkpoints_index(folder, entry, entry)
    return agent


def test_it_clones_the_cnn_into_another_algorithm(tmp_path):
    parent = _saved_model(tmp_path / "ppo", metadata("clipped_ppo", continuous=True))
    run = tiny_run(tmp_path / "sac", metadata=metadata("sac", continuous=True), parent_model_dir=tmp_path / "ppo",
                   max_iterations=0, num_workers=1)
    train(run, Recorder())
    clone, _ = artifacts.load_policy(tmp_path / "sac", "last")
    for ours, theirs in zip(clone.torso.state_dict().values(), parent.torso.state_dict().values(), strict=True):
        assert torch.equal(ours, theirs)
    assert "Cloned the CNN of ppo" in (tmp_path / "sac" / "logs" / "training" / "training-simulation.log").read_text()


def test_it_refuses_a_clone_that_changes_the_action_count(trained_model, tmp_path):
    parent, _, _ = trained_model
    fewer = metadata()
    fewer["action_space"] = fewer["action_space"][:4]
    with pytest.raises(TrainingError, match="action count"):
        train(tiny_run(tmp_path / "clone", metadata=fewer, parent_model_dir=parent, num_workers=1), Recorder())


def test_it_fails_with_the_reward_functions_error(tmp_path):
    with pytest.raises(TrainingError, match="ZeroDivisionError: division by zero in reward_function"):
        train(tiny_run(tmp_path / "m", reward_factory=failing_reward_factory, num_workers=1), Recorder())


def test_it_refuses_bad_hyperparameters_before_starting_anything(tmp_path):
    with pytest.raises(TrainingError, match="batch_size"):
        train(tiny_run(tmp_path / "m", hyperparameters={**TINY, "batch_size": -3}), Recorder())
    assert not (tmp_path / "m").exists()


def test_it_trains_sac_on_a_continuous_action_space(tmp_path):
    run = tiny_run(tmp_path / "sac", metadata=metadata("sac", continuous=True), max_iterations=2, eval_episodes=1,
                   hyperparameters={"num_episodes_between_training": 2, "num_epochs": 1, "batch_size": 32})
    result = train(run, Recorder())
    assert result.iterations == 2
    rows = artifacts.read_simtrace(tmp_path / "sac" / "training-simtrace" / "0-iteration.csv")
    assert rows[0]["action"].startswith("[") and rows[0]["action"].endswith("]")
    assert artifacts.read_model_metadata(tmp_path / "sac")["training_algorithm"] == "sac"
    assert (tmp_path / "sac" / "model" / "model.onnx").is_file()


def test_it_trains_evaluates_and_exports_the_simapps_deep_network(tmp_path):
    model_dir = tmp_path / "deep"
    run = tiny_run(model_dir, metadata=metadata(network="DEEP_CONVOLUTIONAL_NETWORK_DEEP"), max_iterations=1,
                   eval_episodes=1)
    assert train(run, Recorder()).iterations == 1
    assert artifacts.read_model_metadata(model_dir)["neural_network"] == "DEEP_CONVOLUTIONAL_NETWORK_DEEP"
    assert (model_dir / "model" / "model.onnx").is_file()
    result = evaluate(EvaluationRun(model_dir=model_dir, env_factory=CORRIDOR, trials=1), Recorder())
    assert [trial.trial for trial in result.trials] == [1]
    bundle = artifacts.write_car_bundle(model_dir, tmp_path / "car.tar.gz")
    assert bundle.stat().st_size > 1_000_000  # dense 512 x 512 and the rest: the real network went out


def test_it_evaluates_trials_with_metrics_trace_and_a_playable_video(trained_model):
    model_dir, _, _ = trained_model
    recorder = Recorder()
    result = evaluate(EvaluationRun(model_dir=model_dir, env_factory=CORRIDOR, trials=2, continuous=True,
                                    off_track_penalty=3.0), recorder)
    assert [t.trial for t in result.trials] == [1, 2]
    for trial in result.trials:
        assert trial.off_track_penalty == 3.0 * trial.off_track_count
        assert trial.time == format_lap_time(trial.time_seconds)
    records = artifacts.read_metrics(result.metrics_path)
    assert {"off_track_count", "crash_count", "reset_count", "reversed_count", "immobilized_count"} <= set(records[0])
    assert len({r["episode"] for r in artifacts.read_simtrace(result.simtrace_path)}) == 2
    with av.open(str(result.video_path)) as video:
        stream = video.streams.video[0]
        assert stream.codec_context.name in ("h264", "mpeg4")
        frames = sum(1 for _ in video.decode(stream))
    assert frames == sum(t.steps for t in result.trials) + 2  # every step, plus each start
    assert [e["trial"] for e in recorder.of("episode")] == [1, 2]
    log = DeepRacerLog(str(model_dir))  # racers' notebooks find the evaluation too
    log.load_evaluation_trace()
    assert set(log.dataframe()["stream"]) == {result.timestamp}


def test_a_live_evaluation_streams_a_frame_of_each_view_every_step_in_real_time(trained_model):
    # A live race run is watched by a room: the sim's 15 Hz on the wall clock, one chase and one camera
    # frame per step (the broadcast's 15 frames a second), whatever the machine could do faster.
    model_dir, _, _ = trained_model
    steps = 20
    arrivals = []

    def enough(progress):
        if progress.kind == "tick":
            arrivals.append((time.monotonic(), progress.data["sim_time"]))
        return len(arrivals) >= steps

    recorder = Recorder(stop_when=enough)
    result = evaluate(EvaluationRun(model_dir=model_dir, env_factory=CORRIDOR, trials=1, video=False, live=True),
                      recorder)
    assert result.stopped and len(arrivals) == steps
    kinds = [p.kind for p in recorder.progress if p.kind in ("frame", "tick")]
    assert kinds == ["frame", "frame", "tick"] * steps
    assert [f["view"] for f in recorder.of("frame")] == ["chase", "camera"] * steps
    wall = arrivals[-1][0] - arrivals[0][0]
    simulated = arrivals[-1][1] - arrivals[0][1]
    assert simulated == pytest.approx((steps - 1) * STEP_SECONDS, abs=0.002)
    # Unpaced, the corridor runs 20 steps in a few milliseconds; paced, only a slow first step (the steps
    # wait for the clock before acting) makes the ticks' span shorter than the sim's.
    assert wall >= simulated - 0.2


def test_it_formats_lap_times_as_the_console_shows_them():
    assert format_lap_time(75.5) == "01:15.500"
    assert format_lap_time(9.0421) == "00:09.042"


def test_the_learners_import_no_django_celery_or_channels():
    code = ("import sys, training.engine, training.ppo, training.sac, training.networks, training.artifacts;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'celery', 'channels')];"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


SANDBOXED_REWARD = '''
import math

def reward_function(params):
    if params["steps"] == 1:
        print("sandbox says hello at step", params["steps"])
    return float(math.exp(-params["distance_from_center"]))
'''
BROKEN_REWARD = '''
def reward_function(params):
    if params["steps"] > 2:
        return params["speed"] / 0
    return 1.0
'''


def test_it_runs_the_racers_reward_function_in_a_sandbox_per_worker(tmp_path):
    sandbox = pytest.importorskip("simulator.reward.sandbox")
    recorder = Recorder()
    factory = functools.partial(sandbox.RewardSandbox, SANDBOXED_REWARD)
    result = train(tiny_run(tmp_path / "m", reward_code=SANDBOXED_REWARD, reward_factory=factory, max_iterations=1),
                   recorder)
    assert result.iterations == 1
    lines = [line for log in recorder.of("log") for line in log["lines"]]
    assert lines.count("sandbox says hello at step 1") == 3 + 2  # each training and evaluation episode
    assert (tmp_path / "m" / "reward_function.py").read_text() == SANDBOXED_REWARD
    rewards = {row["reward"] for row in artifacts.read_simtrace(tmp_path / "m" / "training-simtrace" / "0-iteration.csv")}
    assert all(0.0 < float(r) <= 1.0 for r in rewards)


def test_it_fails_with_the_sandboxed_reward_functions_error_and_line(tmp_path):
    sandbox = pytest.importorskip("simulator.reward.sandbox")
    factory = functools.partial(sandbox.RewardSandbox, BROKEN_REWARD)
    with pytest.raises(TrainingError, match="line 4: ZeroDivisionError"):
        train(tiny_run(tmp_path / "m", reward_factory=factory, num_workers=1), Recorder())


@pytest.mark.parametrize("algorithm, continuous", [("clipped_ppo", False), ("sac", True)])
def test_it_trains_on_the_real_simulator(algorithm, continuous, tmp_path):
    pytest.importorskip("simulator.env")
    recorder = Recorder()
    run = tiny_run(tmp_path / "m", metadata=metadata(algorithm, continuous=continuous), env_factory=DEFAULT_ENV_FACTORY,
                   env_kwargs={"track": "oval"}, max_iterations=1, eval_episodes=1,
                   hyperparameters={"num_episodes_between_training": 2, "num_epochs": 1, "batch_size": 32})
    result = train(run, recorder)
    assert result.iterations == 1
    rows = artifacts.read_simtrace(tmp_path / "m" / "training-simtrace" / "0-iteration.csv")
    assert {int(r["episode"]) for r in rows} == {0, 1}
    assert rows[-1]["done"] == "True"
    for episode in (0, 1):  # SPEC 5.2: each episode's rows count from 1, the first is `prepare`
        own = [r for r in rows if int(r["episode"]) == episode]
        assert [int(r["steps"]) for r in own] == list(range(1, len(own) + 1))
        assert (own[0]["episode_status"], float(own[0]["reward"])) == ("prepare", 0.0)
    assert artifacts.read_training_params(tmp_path / "m")["WORLD_NAME"] == "oval"
    chase = [f["jpeg"] for f in recorder.of("frame") if f["view"] == "chase"]
    assert chase and all(jpeg[:2] == b"\xff\xd8" for jpeg in chase)


def test_two_evaluations_in_the_same_second_get_their_own_folders(tmp_path):
    from training.engine import _new_evaluation_folder

    first, second = _new_evaluation_folder(tmp_path), _new_evaluation_folder(tmp_path)
    assert first[0] != second[0] and first[1].is_dir() and second[1].is_dir()
    assert len(first[0]) == 14 and first[0].isdigit()


def test_it_refuses_to_resume_a_folder_with_another_model(trained_model, tmp_path):
    model_dir, _, _ = trained_model
    with pytest.raises(TrainingError, match="another training_algorithm"):
        train(tiny_run(model_dir, metadata=metadata("sac", continuous=True)), Recorder())


def test_it_explains_a_missing_last_checkpoint(tmp_path):
    _saved_model(tmp_path / "m", metadata())
    (tmp_path / "m" / "model" / "1_Step-10.ckpt.pt").unlink()
    with pytest.raises(TrainingError, match="cannot resume from checkpoint 1_Step-10.ckpt.pt: .*missing"):
        train(tiny_run(tmp_path / "m"), Recorder())


def _real_evaluation(model_dir, seed):
    run = EvaluationRun(model_dir=model_dir, env_kwargs={"track": "oval"}, trials=2, video=False,
                        stream_frames=False, seed=seed)
    result = evaluate(run, Recorder())
    episodes = {}
    for row in artifacts.read_simtrace(result.simtrace_path):
        episodes.setdefault(row["episode"], []).append({k: v for k, v in row.items() if k != "wall_clock"})
    return list(episodes.values())


def test_its_evaluation_trials_differ_and_the_same_seed_reproduces_them(trained_model):
    pytest.importorskip("simulator.env")
    model_dir, _, _ = trained_model
    first, second = _real_evaluation(model_dir, seed=3)
    assert (first[0]["X"], first[0]["Y"], first[0]["yaw"]) != (second[0]["X"], second[0]["Y"], second[0]["yaw"])
    assert [r["steps"] for r in first] == [str(n) for n in range(1, len(first) + 1)]
    assert [first, second] == _real_evaluation(model_dir, seed=3)
    assert _real_evaluation(model_dir, seed=4)[0][0] != first[0]


class _WatchedPool(WorkerPool):
    """The real worker pool, noting each command sent (which worker, which command, which phase)."""

    def __init__(self, specs):
        self.sent = []
        super().__init__(specs)

    def send(self, index, command, *args):
        self.sent.append((index, command, args[0] if command == "reset" else None))
        super().send(index, command, *args)


def test_an_evaluation_drives_preview_laps_on_worker_0_until_the_update_ends():
    # While the learner updates, the evaluation runs its episodes, then worker 0 drives preview laps (the
    # live video) that count nowhere; when the update ends the lap in flight is dropped.
    session = _Session(Recorder(), deadline=None)
    session.stream_frames = False
    agent = build_agent(metadata(), artifacts.observation_space(["FRONT_FACING_CAMERA"]),
                        artifacts.action_space(metadata()))
    learner = PPOLearner(agent, PPOConfig(), bfloat16=False)
    answers = iter([True] * 400)  # the update runs for 400 of collect's questions, then ends
    finished_numbers = []
    specs = [WorkerSpec(env_factory=CORRIDOR, env_kwargs={}, seed=index) for index in range(2)]
    with _WatchedPool(specs) as pool:
        episodes = session.collect(pool, learner, "evaluation", 3, on_finish=lambda done, n: finished_numbers.append(n),
                                   more=lambda: next(answers, False))
        resets = [(worker, phase) for worker, command, phase in pool.sent if command == "reset"]
        assert [phase for _, phase in resets].count("evaluation") == 3
        assert (0, "preview") in resets and (1, "preview") not in resets
        # The pool is usable afterwards: a training collection starts from fresh resets.
        training = session.collect(pool, learner, "training", 2)
    assert len(episodes) == 3 and finished_numbers == [1, 2, 3]
    assert all(done.info["episode_status"] != "in_progress" for done in episodes)
    assert len(training) == 2


@pytest.mark.parametrize("stream_frames", [True, False])
def test_the_background_evaluation_asks_for_preview_laps_only_when_the_run_streams_frames(stream_frames):
    asked = {}

    class Watched(_Session):
        def collect_surviving(self, pool, learner, phase, count, on_finish=None, before=None, more=None):
            asked["more"] = more and more()  # preview laps while the update runs, for the live video only
            return []

    session = Watched(Recorder(), deadline=None)
    session.stream_frames = stream_frames
    engine._BackgroundEvaluation(session, pool=None, acting=None, count=2).finish()
    assert asked["more"] is (True if stream_frames else None)


def test_the_evaluation_leaves_the_cores_to_the_update_once_its_own_episodes_are_done():
    # Its preview laps afterwards (the live video) step at the sim's pace: the update takes every core back.
    steps = {name: threading.Event() for name in ("episodes", "checked_episodes", "preview", "checked_preview")}

    class Watched(_Session):
        def _on_evaluation_episode(self, done, number):
            pass

        def collect_surviving(self, pool, learner, phase, count, on_finish=None, before=None, more=None):
            steps["episodes"].set()
            steps["checked_episodes"].wait(10)
            for number in range(1, count + 1):
                on_finish(None, number)
            steps["preview"].set()
            steps["checked_preview"].wait(10)
            return []

    session = Watched(Recorder(), deadline=None)
    session.stream_frames = True
    evaluation = engine._BackgroundEvaluation(session, pool=None, acting=None, count=2)
    steps["episodes"].wait(10)
    during_episodes = evaluation.evaluating
    steps["checked_episodes"].set()
    steps["preview"].wait(10)
    during_preview = evaluation.evaluating
    steps["checked_preview"].set()
    evaluation.finish()
    assert (during_episodes, during_preview, evaluation.evaluating) == (True, False, False)


@pytest.mark.parametrize(("requested", "evaluating", "cores", "threads"), [
    (None, True, 2, 1),  # the evaluation's thread and env workers have the other core
    (None, False, 2, 2),  # the evaluation is over: the update takes every core
    (None, True, 1, 1),
    (None, True, 8, 4),
    (1, False, 2, 1),  # a deployment that shares its cores asks for one thread throughout
    (3, True, 2, 3),
])
def test_the_update_takes_the_cores_the_evaluation_leaves_then_all_of_them(requested, evaluating, cores, threads):
    assert update_threads(requested, evaluating, cores) == threads


def test_reports_made_by_another_thread_wait_for_the_engines_thread():
    recorder = Recorder()
    session = _Session(recorder, deadline=None)
    thread = threading.Thread(target=lambda: session.report("frame", view="chase"))
    thread.start()
    thread.join()
    assert recorder.progress == []  # not delivered on the evaluation thread
    session.heartbeat(phase="updating")
    assert [p.kind for p in recorder.progress][:1] == ["frame"]


DYING_CORRIDOR = "tests.training.corridor_env:DyingCorridorEnv"


def test_it_replaces_a_dead_env_worker_and_collects_the_iteration_again(tmp_path):
    death = tmp_path / "die-once"
    death.touch()
    recorder = Recorder()
    result = train(tiny_run(tmp_path / "m", env_factory=DYING_CORRIDOR, max_iterations=2, stream_frames=False,
                            env_kwargs={"die_at_step": 5, "death_file": str(death)}), recorder)
    assert not death.exists()  # a worker did die
    assert (result.iterations, result.stop_reason) == (2, "max_iterations")
    assert [m["iteration"] for m in recorder.of("metrics")] == [1, 2]
    records = artifacts.read_metrics(tmp_path / "m" / "metrics" / "TrainingMetrics.json")
    assert [r["episode"] for r in records if r["phase"] == "training"] == list(range(1, result.episodes + 1))
    warnings = [line for log in recorder.of("log") for line in log["lines"] if line.startswith("WARNING: env worker")]
    assert len(warnings) == 1 and "was killed by SIGKILL" in warnings[0] and "(restart 1 of 3)" in warnings[0]


def test_it_fails_when_env_workers_keep_dying_and_says_what_died_and_why(tmp_path):
    run = tiny_run(tmp_path / "m", env_factory=DYING_CORRIDOR, max_iterations=1, num_workers=1,
                   stream_frames=False, env_kwargs={"die_at_step": 2})
    with pytest.raises(TrainingError) as raised:
        train(run, Recorder())
    message = str(raised.value)
    assert message.startswith(f"An env worker process died {MAX_WORKER_RESTARTS + 1} times in this run")
    assert "env worker 0: process" in message and "was killed by SIGKILL (out of memory" in message


def test_a_stop_during_the_evaluation_ends_at_the_last_reported_iteration(tmp_path):
    recorder = Recorder(stop_when=lambda p: p.kind == "episode" and p.data["phase"] == "evaluation"
                        and p.data["iteration"] == 2)
    result = train(tiny_run(tmp_path / "m", max_iterations=3, num_workers=1, stream_frames=False), recorder)
    assert (result.stop_reason, result.iterations) == ("stopped", 1)
    assert [m["iteration"] for m in recorder.of("metrics")] == [1]
    assert artifacts.read_checkpoints_index(tmp_path / "m")["last_checkpoint"]["name"].startswith("1_")
    records = artifacts.read_metrics(tmp_path / "m" / "metrics" / "TrainingMetrics.json")
    assert max(r["episode"] for r in records) == result.episodes  # the discarded iteration's records went
    resumed = Recorder()
    train(tiny_run(tmp_path / "m", max_iterations=2, num_workers=1, stream_frames=False), resumed)
    assert [m["iteration"] for m in resumed.of("metrics")] == [2]  # no hole in the graph


PAGE_FAULTS = """
import resource, sys, torch
from training.engine import reuse_freed_memory
if sys.argv[1] == "reuse":
    reuse_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):  # an update's minibatches: megabytes of activations allocated, written and freed
    activations = [torch.empty(2 * 1024 * 1024).fill_(1.0) for layer in range(4)]
    del activations
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_the_learner_keeps_freed_tensor_memory_instead_of_faulting_it_in_again():
    def page_faults(mode):
        # glibc's starting threshold, pinned: left alone it moves with what the process freed before
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "MALLOC_MMAP_THRESHOLD_": "131072"}
        result = subprocess.run([sys.executable, "-c", PAGE_FAULTS, mode], capture_output=True, text=True,
                                check=True, env=environment)
        return int(result.stdout)

    pages = 4 * 8 * 1024 * 1024 // 4096  # one minibatch's four 8 MB tensors
    assert page_faults("default") > 10 * pages  # glibc gave them back to the kernel every time
    assert page_faults("reuse") < 2 * pages  # faulted in once, then reused
