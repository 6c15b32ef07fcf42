"""Scripted drives: a pure-pursuit driver laps every built-in track both ways, and each episode status,
crash and continuous-evaluation reset is reached the way a car would reach it."""

import math

import numpy as np
import pytest

from simulator.env import DeepRacerEnv
from simulator.tracks import BUILTIN_TRACKS

CONTINUOUS = {"action_space_type": "continuous",
              "action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.1, "high": 4}}}
LOOKAHEAD = 0.45  # m
WHEELBASE = 0.164


class PurePursuit:
    """Steers the rear axle towards a point on the centre line (or a lane) a little way ahead."""

    def __init__(self, env: DeepRacerEnv, speed: float = 1.2, lateral: float = 0.0, track=None):
        self.env, self.speed, self.lateral = env, speed, lateral
        self.track = track or env.track

    def action(self) -> np.ndarray:
        pose = self.env.world.car.pose()
        here = self.track.project(pose.x, pose.y).distance
        tx, ty, _ = self.track.pose_at(here + LOOKAHEAD, self.lateral)
        alpha = math.atan2(ty - pose.y, tx - pose.x) - pose.yaw
        steering = math.degrees(math.atan2(2 * WHEELBASE * math.sin(alpha), LOOKAHEAD))
        return np.array([np.clip(steering, -30, 30), self.speed], np.float32)


def run(env, driver, steps=3000):
    """Drive (a PurePursuit or one fixed action) until the episode ends; the last info and all infos."""
    infos = []
    for _ in range(steps):
        action = driver.action() if isinstance(driver, PurePursuit) else driver
        env.last_observation, _, terminated, truncated, info = env.step(action)
        infos.append(info)
        if terminated or truncated:
            break
    return infos[-1], infos


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reversed"])
@pytest.mark.parametrize("slug", list(BUILTIN_TRACKS))
def test_a_pure_pursuit_driver_laps_every_builtin_track_without_leaving_it(slug, reverse):
    env = DeepRacerEnv(track=slug, reverse=reverse, sensors=(), action_space=CONTINUOUS, mode="evaluation")
    env.reset(seed=0)
    last, infos = run(env, PurePursuit(env))
    assert last["episode_status"] == "lap_complete"
    assert last["progress"] == 100.0
    assert all(info["params"]["all_wheels_on_track"] for info in infos)
    assert last["params"]["is_reversed"] is reverse


def test_steering_hard_off_the_road_ends_off_track():
    env = DeepRacerEnv(track="quick_loop", sensors=(), action_space=CONTINUOUS)
    env.reset(seed=0)
    last, infos = run(env, np.array([-30.0, 1.0], np.float32))
    assert last["episode_status"] == "off_track"
    assert last["params"]["is_offtrack"] and not last["params"]["all_wheels_on_track"]
    assert not any(info["params"]["is_offtrack"] for info in infos[:-1])


def test_turning_round_and_driving_backwards_ends_reversed():
    env = DeepRacerEnv(track="oval", sensors=(), action_space=CONTINUOUS, mode="evaluation")
    env.reset(seed=0)
    x, y, yaw = env.track.pose_at(0.3 * env.track.length)
    # Face the wrong way on the centre line (the physics accessor), then follow the road backwards.
    env.world.car.place(x, y, yaw + math.pi)
    env.world.forward()
    last, infos = run(env, PurePursuit(env, speed=1.0, track=env.track.reversed()), steps=60)
    assert last["episode_status"] == "reversed"
    # 15 falling steps after the first (which has no previous progress to fall from).
    assert len(infos) == 16 and all(info["params"]["all_wheels_on_track"] for info in infos)


def test_a_car_that_cannot_move_ends_immobilized():
    env = DeepRacerEnv(track="oval", sensors=(), action_space=CONTINUOUS)
    env.reset(seed=0)
    # A dead motor: the drivetrain has no torque, so the car stands still whatever it is told.
    drive = [env.world.model.actuator(f"car_drive_{side}").id for side in ("rl", "rr", "fl", "fr")]
    env.world.model.actuator_forcerange[drive] = 0.0
    last, infos = run(env, np.array([0.0, 2.0], np.float32), steps=40)
    assert last["episode_status"] == "immobilized"
    assert len(infos) == 16   # 15 still steps after the first (which has no previous position)


def test_driving_into_a_box_crashes_and_the_other_lane_passes_it():
    race = {"race_type": "OBJECT_AVOIDANCE", "randomize_objects": False, "object_positions": [[0.15, "inner"]]}
    env = DeepRacerEnv(track="oval", sensors=("SECTOR_LIDAR",), action_space=CONTINUOUS, race_type=race,
                       mode="evaluation")
    env.reset(seed=0)
    width = env.track.width
    # Counter-clockwise loop: the inner lane is on the left (positive lateral).
    last, _ = run(env, PurePursuit(env, lateral=width / 4), steps=300)
    assert last["episode_status"] == "crashed"
    assert last["params"]["is_crashed"] and last["trace"]["obstacle_crash_counter"] == 1
    assert 10 < last["progress"] < 16

    env.reset(seed=0)
    last, infos = run(env, PurePursuit(env, lateral=-width / 4), steps=3000)
    assert last["episode_status"] == "lap_complete"
    assert any(info["params"]["object_in_camera"] for info in infos)


def test_running_into_a_slow_bot_ahead_crashes():
    race = {"race_type": "HEAD_TO_BOT", "bot_count": 1, "bot_speed": 0.3}
    env = DeepRacerEnv(track="oval", sensors=("LIDAR",), action_space=CONTINUOUS, race_type=race, mode="evaluation")
    env.reset(seed=0)
    lane = env.obstacles.u[0] * env.track.width / 4   # the bot's lane: +1 inner (left here)
    last, infos = run(env, PurePursuit(env, speed=1.5, lateral=lane), steps=600)
    assert last["episode_status"] == "crashed"
    assert last["params"]["objects_speed"] == [0.3]
    # The LIDAR sees the bot just ahead, and nothing that close before the chase began.
    ranges = env.last_observation["LIDAR"]
    assert ranges[31:33].min() < 0.3
    assert len(infos) > 30


def test_continuous_evaluation_resets_the_car_and_adds_the_penalty():
    env = DeepRacerEnv(track="quick_loop", sensors=(), action_space=CONTINUOUS, mode="evaluation",
                       continuous=True, off_track_penalty=1.0)
    env.reset(seed=0)
    last, infos = run(env, np.array([-30.0, 1.0], np.float32), steps=80)
    statuses = [info["episode_status"] for info in infos]
    assert "off_track" in statuses and "pause" in statuses
    first = statuses.index("off_track")
    assert infos[first]["off_track_count"] == 1 and infos[first]["penalty_time"] == 1.0
    assert infos[first]["reset_count"] == 1
    # The penalty: 1 s at 15 Hz in the pause status, the car held on the centre line.
    assert statuses[first + 1:first + 16] == ["pause"] * 15
    held = infos[first + 1]["params"]
    assert held["distance_from_center"] < 0.01 + 0.14 * math.sin(math.radians(30))
    assert not last["trace"]["done"] or last["episode_status"] == "lap_complete"


def test_a_long_wander_is_truncated_at_the_step_cap():
    env = DeepRacerEnv(track="oval", sensors=(), action_space=CONTINUOUS, max_episode_steps=20)
    env.reset(seed=0)
    for _ in range(20):
        _, _, terminated, truncated, info = env.step(np.array([0.0, 0.5], np.float32))
        assert not terminated
    assert truncated and info["trace"]["done"]


@pytest.mark.parametrize(("action_space", "slowest"), [
    ({"action_space_type": "discrete", "action_space": [{"steering_angle": 0, "speed": 2.0},
                                                        {"steering_angle": 30, "speed": 0.8}]}, 0.8),
    (CONTINUOUS, CONTINUOUS["action_space"]["speed"]["low"]),
])
def test_by_default_an_episode_is_cut_off_after_three_laps_at_the_slowest_speed(action_space, slowest):
    env = DeepRacerEnv(track="oval", sensors=(), action_space=action_space)
    assert env.max_episode_steps == math.ceil(3 * env.track.length / slowest * 15)


def test_continuous_evaluation_resets_a_crashed_car_clear_of_the_box():
    race = {"race_type": "OBJECT_AVOIDANCE", "randomize_objects": False, "object_positions": [[0.15, "inner"]]}
    env = DeepRacerEnv(track="oval", sensors=(), action_space=CONTINUOUS, race_type=race, mode="evaluation",
                       continuous=True, collision_penalty=0.5)
    env.reset(seed=0)
    driver = PurePursuit(env, lateral=env.track.width / 4)
    statuses = []
    for _ in range(400):
        # Into the box once, then round it on the outer lane.
        if "crashed" in statuses:
            driver.lateral = -env.track.width / 4
        _, _, terminated, _, info = env.step(driver.action())
        statuses.append(info["episode_status"])
        if terminated:
            break
    assert statuses.count("crashed") == 1 and info["crash_count"] == 1 and info["penalty_time"] == 0.5
    assert info["episode_status"] == "lap_complete" and info["reset_count"] == 1
