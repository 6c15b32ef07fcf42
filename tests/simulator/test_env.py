"""The env's contract (INTERFACES.md "The env"): spaces, info, reward function, starts, pictures, seeding."""

from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import simulator  # noqa: F401  (registers DeepRacer-v0)
from simulator.env import DEFAULT_ACTION_SPACE, DeepRacerEnv, follow_center_line
from simulator.episode import START_HEADING_NOISE, START_LATERAL_NOISE
from simulator.tracks import TrackError, load_npy

SHARED_TRACKS = next(
    (folder / "shared" / "tracks" for folder in Path(__file__).resolve().parents[2:]
     if (folder / "shared" / "tracks").is_dir()),
    Path(__file__).resolve().parents[2] / ".." / "shared" / "tracks",
)
CONTINUOUS = {"action_space_type": "continuous",
              "action_space": {"steering_angle": {"low": -20, "high": 20}, "speed": {"low": 0.5, "high": 2}}}
TRACE_KEYS = {"steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward", "done", "all_wheels_on_track",
              "progress", "closest_waypoint", "track_len", "tstamp", "episode_status", "pause_duration",
              "obstacle_crash_counter"}
PARAMS_KEYS = {"all_wheels_on_track", "x", "y", "heading", "steering_angle", "speed", "progress", "steps",
               "distance_from_center", "is_left_of_center", "track_width", "track_length", "waypoints",
               "closest_waypoints", "is_reversed", "is_offtrack", "is_crashed", "projection_distance",
               "closest_objects", "objects_location", "objects_distance", "objects_distance_from_center",
               "objects_left_of_center", "objects_heading", "objects_speed", "object_in_camera", "sim_time"}


@pytest.fixture
def make():
    envs = []

    def factory(**kwargs):
        kwargs.setdefault("track", "oval")
        env = DeepRacerEnv(**kwargs)
        envs.append(env)
        return env

    yield factory
    for env in envs:
        env.close()


def test_it_is_registered_and_made_with_defaults():
    env = gymnasium.make("DeepRacer-v0", render_mode="rgb_array")
    obs, info = env.reset(seed=1)
    assert env.unwrapped.track.slug == "quick_loop"
    assert env.action_space == gymnasium.spaces.Discrete(10)
    assert obs["FRONT_FACING_CAMERA"].shape == (1, 120, 160)
    assert env.render().shape == (360, 480, 3)
    env.close()


@pytest.mark.parametrize("form", [str, Path], ids=["str", "Path"])
def test_it_is_made_from_a_track_files_path(form):
    # What a notebook user tries first: gymnasium.make with the path of a .npy track file.
    path = SHARED_TRACKS / "reinvent_base.npy"
    env = gymnasium.make("DeepRacer-v0", track=form(path), sensors=("LIDAR",), mode="evaluation")
    env.reset(seed=0)
    track = env.unwrapped.track
    assert track.slug == "reinvent_base" and track.length == pytest.approx(17.7, abs=0.2)
    _, _, _, _, info = env.step(5)
    assert info["params"]["track_length"] == pytest.approx(track.length)
    env.close()
    reversed_env = gymnasium.make("DeepRacer-v0", track=str(path), reverse=True, sensors=("LIDAR",))
    assert reversed_env.unwrapped.track.is_reversed
    reversed_env.close()


@pytest.mark.parametrize(("track", "message"), [("no/such/track.npy", "no such track file"),
                                                ("nowhere.npy", "no such track file"),
                                                ("not_a_slug", "unknown track"), (42, "not a int")])
def test_a_track_that_is_neither_a_slug_nor_a_file_is_refused(track, message, tmp_path):
    with pytest.raises(TrackError, match=message):
        DeepRacerEnv(track=track, sensors=())
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy")
    with pytest.raises(TrackError, match="not a NumPy"):
        DeepRacerEnv(track=str(bad), sensors=())


@pytest.mark.parametrize(
    "kwargs",
    [{"sensors": ("FRONT_FACING_CAMERA",), "render_mode": "rgb_array"},
     {"sensors": ("STEREO_CAMERAS", "LIDAR"), "action_space": CONTINUOUS,
      "race_type": {"race_type": "HEAD_TO_BOT", "bot_count": 2, "bot_lane_changes": True}},
     {"sensors": ("FRONT_FACING_CAMERA", "SECTOR_LIDAR"),
      "race_type": {"race_type": "OBJECT_AVOIDANCE", "object_count": 3}}],
    ids=["camera", "stereo-lidar-bots", "camera-sectors-boxes"],
)
# DeepRacer's continuous action space is in degrees and m/s by contract (SPEC 2: model_metadata's ranges), so
# the checker's advice to normalize a Box to [-1, 1] does not apply; learners scale actions themselves.
@pytest.mark.filterwarnings("ignore:.*we recommend using a symmetric and normalized space:UserWarning")
def test_it_passes_gymnasiums_env_checker(kwargs):
    env = gymnasium.make("DeepRacer-v0", track="oval", **kwargs)
    check_env(env.unwrapped, skip_render_check=False)
    env.close()


def test_observations_are_keyed_by_sensor_with_the_agreed_shapes(make):
    env = make(sensors=("STEREO_CAMERAS", "LIDAR"))
    obs, _ = env.reset(seed=0)
    assert list(obs) == ["STEREO_CAMERAS", "LIDAR"]
    assert obs["STEREO_CAMERAS"].shape == (2, 120, 160) and obs["STEREO_CAMERAS"].dtype == np.uint8
    assert obs["LIDAR"].shape == (64,) and obs["LIDAR"].dtype == np.float32
    assert env.observation_space.contains(obs)
    physics_only = make(sensors=())
    assert physics_only.reset(seed=0)[0] == {}


def test_the_default_vehicle_is_the_original_deepracer(make):
    env = make(sensors=())
    assert env.action_space.n == 10
    assert env.actions.actions == [(s, v) for s in (-30.0, -15.0, 0.0, 15.0, 30.0) for v in (0.5, 1.0)]
    assert DEFAULT_ACTION_SPACE["action_space_type"] == "discrete"


def test_a_continuous_action_space_is_a_box_of_steering_and_speed(make):
    env = make(sensors=(), action_space=CONTINUOUS)
    assert env.action_space.low.tolist() == [-20, 0.5] and env.action_space.high.tolist() == [20, 2]
    env.reset(seed=0)
    # Out-of-range actions are clipped into the vehicle's box.
    _, _, _, _, info = env.step(np.array([45.0, 9.0], np.float32))
    assert (info["params"]["steering_angle"], info["params"]["speed"]) == (20.0, 2.0)
    assert info["trace"]["action"] == "[20.0000 2.0000]"


def test_step_reports_params_status_progress_and_the_sim_trace_row(make):
    env = make(sensors=())
    _, info = env.reset(seed=0)
    assert info["episode_status"] == "prepare" and info["trace"]["episode_status"] == "prepare"
    _, reward, terminated, truncated, info = env.step(5)   # straight ahead at 1 m/s
    assert set(info["params"]) == PARAMS_KEYS
    assert set(info["trace"]) == TRACE_KEYS
    params, trace = info["params"], info["trace"]
    assert params["steps"] == 1 and trace["steps"] == 2  # the prepare row is the first
    assert (params["steering_angle"], params["speed"]) == (0.0, 1.0)
    assert trace["action"] == 5 and trace["reward"] == reward == 1.0
    assert trace["tstamp"] == pytest.approx(1 / 15) and params["sim_time"] == pytest.approx(1 / 15)
    assert 0 < info["progress"] < 1 and info["episode_status"] == "in_progress"
    assert isinstance(params["waypoints"], list) and isinstance(params["waypoints"][0], tuple)
    assert not terminated and not truncated


def test_the_reward_function_sees_params_and_its_errors_propagate(make):
    seen = []

    def reward_fn(params):
        seen.append(params)
        return 2.5

    env = make(sensors=(), reward_fn=reward_fn)
    env.reset(seed=0)
    assert env.step(1)[1] == 2.5 and seen[0]["steps"] == 1

    def broken(params):
        raise ZeroDivisionError("racer bug")

    env = make(sensors=(), reward_fn=broken)
    env.reset(seed=0)
    with pytest.raises(ZeroDivisionError, match="racer bug"):
        env.step(1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1e6])
def test_a_reward_that_is_not_finite_or_too_big_is_an_error(make, bad):
    env = make(sensors=(), reward_fn=lambda params: bad)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="finite and within"):
        env.step(1)


def test_the_default_reward_follows_the_centre_line():
    params = {"track_width": 1.0, "distance_from_center": 0.05}
    assert follow_center_line(params) == 1.0
    assert follow_center_line({**params, "distance_from_center": 0.2}) == 0.5
    assert follow_center_line({**params, "distance_from_center": 0.4}) == 0.1
    assert follow_center_line({**params, "distance_from_center": 0.6}) == 1e-3


def test_training_starts_advance_round_robin_and_evaluation_starts_at_zero(make):
    training = make(sensors=(), start_offset=0.25)
    starts = []
    for _ in range(3):
        training.reset()
        starts.append(training.episode.start)
    assert starts == pytest.approx([0.25, 0.30, 0.35])
    evaluation = make(sensors=(), mode="evaluation", start_noise=0)
    for _ in range(2):
        evaluation.reset()
        assert evaluation.episode.start == 0.0
    pose = evaluation.world.car.pose()
    projection = evaluation.track.project(pose.x + 0.14 * np.cos(pose.yaw), pose.y + 0.14 * np.sin(pose.yaw))
    assert projection.distance_from_center < 1e-6
    assert pose.yaw == pytest.approx(evaluation.track.pose_at(0.0)[2])


def test_every_start_strays_a_little_from_the_centre_line(make):
    env = make(sensors=(), mode="evaluation")
    env.reset(seed=7)
    starts = []
    for _ in range(5):
        _, info = env.reset()
        trace = info["trace"]
        projection = env.track.project(trace["X"], trace["Y"])
        road = np.degrees(env.track.pose_at(projection.distance)[2])
        turn = (trace["yaw"] - road + 180.0) % 360.0 - 180.0
        assert 0.0 < projection.distance_from_center <= START_LATERAL_NOISE + 1e-9
        assert 0.0 < abs(turn) <= np.degrees(START_HEADING_NOISE) + 1e-9
        # Straight across the road from the start line (within a millimetre where the road bends there).
        assert min(projection.distance, env.track.length - projection.distance) < 1e-3, "still at progress 0"
        assert trace["progress"] == 0.0 and trace["all_wheels_on_track"]
        _, _, _, _, info = env.step(5)
        assert 0.0 < info["progress"] < 1.0
        starts.append((trace["X"], trace["Y"], trace["yaw"]))
    assert len(set(starts)) == 5, "no two starts alike"


def test_the_trace_rows_of_an_episode_count_from_1(make):
    env = make(sensors=())
    _, info = env.reset(seed=0)
    rows = [info["trace"]]
    params_steps = []
    for _ in range(4):
        _, _, _, _, info = env.step(5)
        rows.append(info["trace"])
        params_steps.append(info["params"]["steps"])
    assert [row["steps"] for row in rows] == [1, 2, 3, 4, 5]
    assert (rows[0]["episode_status"], rows[0]["reward"]) == ("prepare", 0.0)
    assert params_steps == [1, 2, 3, 4]
    env.reset()
    assert env.step(5)[4]["trace"]["steps"] == 2, "each episode counts afresh"


def test_reverse_drives_the_track_the_other_way(make):
    env = make(sensors=(), reverse=True)
    env.reset(seed=0)
    _, _, _, _, info = env.step(5)
    assert info["params"]["is_reversed"] is True and info["progress"] > 0


def test_the_same_seed_gives_the_same_episode(make):
    race = {"race_type": "HEAD_TO_BOT", "bot_count": 3, "bot_lane_changes": True}
    runs = []
    for _ in range(2):
        env = make(sensors=("FRONT_FACING_CAMERA", "LIDAR"), race_type=race, action_space=CONTINUOUS)
        obs, _ = env.reset(seed=42)
        env.action_space.seed(42)
        frames = [obs]
        traces = []
        for _ in range(60):
            obs, _, terminated, truncated, info = env.step(env.action_space.sample())
            frames.append(obs)
            traces.append(info["trace"])
            if terminated or truncated:
                break
        runs.append((frames, traces, env.obstacles.positions().copy()))
    (frames_a, traces_a, bots_a), (frames_b, traces_b, bots_b) = runs
    assert traces_a == traces_b and np.array_equal(bots_a, bots_b)
    for a, b in zip(frames_a, frames_b, strict=True):
        assert np.array_equal(a["FRONT_FACING_CAMERA"], b["FRONT_FACING_CAMERA"])
        assert np.array_equal(a["LIDAR"], b["LIDAR"])


def test_different_seeds_lay_out_random_objects_differently(make):
    env = make(sensors=(), race_type={"race_type": "OBJECT_AVOIDANCE", "object_count": 3})
    env.reset(seed=1)
    first = env.obstacles.positions().copy()
    env.reset(seed=2)
    assert not np.allclose(first, env.obstacles.positions())


def test_objects_show_up_in_params(make):
    race = {"race_type": "OBJECT_AVOIDANCE", "randomize_objects": False,
            "object_positions": [[0.2, "inner"], [0.6, "outer"]]}
    env = make(sensors=(), race_type=race, mode="evaluation")
    env.reset(seed=0)
    params = env.step(5)[4]["params"]
    assert len(params["objects_location"]) == 2 and params["objects_speed"] == [0.0, 0.0]
    assert params["objects_distance"] == pytest.approx([0.2 * env.track.length, 0.6 * env.track.length], abs=0.05)
    assert params["objects_left_of_center"] == [True, False]
    assert params["closest_objects"] == [1, 0]


def test_pictures_have_the_agreed_sizes(make):
    env = make(sensors=("STEREO_CAMERAS",), render_mode="rgb_array",
               race_type={"race_type": "HEAD_TO_BOT", "bot_count": 1})
    env.reset(seed=0)
    chase = env.render()
    assert chase.shape == (360, 480, 3) and chase.dtype == np.uint8
    assert env.render_camera().shape == (120, 320, 3)
    top = env.render_top_down()
    assert top.shape == (360, 480, 3)
    # The picture-in-picture (top right) shows the grass and the road, not the chase camera's sky.
    assert not np.array_equal(chase[10:130, 310:470], env.views.rig.rgb(env.world.data, "chase")[10:130, 310:470])
    assert make(sensors=()).render() is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"sensors": ("SONAR",)}, "unknown sensor"),
     ({"mode": "racing"}, "mode"),
     ({"render_mode": "human"}, "render_mode"),
     ({"track": "nowhere"}, "unknown track"),
     ({"reward_fn": "return 1"}, "callable"),
     ({"action_space": {"action_space_type": "discrete", "action_space": [{"steering_angle": 0, "speed": 1}]}},
      "2–30 actions"),
     ({"action_space": {"action_space_type": "discrete",
                        "action_space": [{"steering_angle": 40, "speed": 1}, {"steering_angle": 0, "speed": 1}]}},
      "action 0"),
     ({"action_space": {"action_space_type": "continuous", "action_space": {"speed": {"low": 1, "high": 2}}}},
      "continuous action space"),
     ({"action_space": {"action_space_type": "continuous",
                        "action_space": {"steering_angle": {"low": 10, "high": -10}, "speed": {"low": 1, "high": 2}}}},
      "low < high"),
     ({"action_space": {"action_space_type": "mixed"}}, "action_space_type"),
     ({"race_type": {"race_type": "HEAD_TO_BOT", "bot_count": 9}}, "bot_count"),
     ({"start_noise": -1}, "start_noise"), ({"start_noise": 50}, "start_noise"), ({"start_noise": "a"}, "start_noise")],
)
def test_bad_settings_are_refused_with_a_clear_error(kwargs, message):
    kwargs.setdefault("track", "oval")
    with pytest.raises(ValueError, match=message):
        DeepRacerEnv(**kwargs)


def test_bad_actions_are_refused(make):
    env = make(sensors=())
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    for bad in (10, -1, 2.5):
        with pytest.raises(ValueError, match="integer"):
            env.step(bad)
    continuous = make(sensors=(), action_space=CONTINUOUS)
    continuous.reset(seed=0)
    with pytest.raises(ValueError, match="finite"):
        continuous.step(np.array([np.nan, 1.0]))


@pytest.mark.parametrize("path", sorted(SHARED_TRACKS.glob("*.npy")), ids=lambda p: p.stem)
def test_every_real_deepracer_track_runs_in_the_env(path):
    env = DeepRacerEnv(track=load_npy(path, slug=path.stem), sensors=("LIDAR",), mode="evaluation")
    env.reset(seed=0)
    for _ in range(10):
        _, _, terminated, _, info = env.step(5)
    assert not terminated and info["progress"] > 0
    env.close()
