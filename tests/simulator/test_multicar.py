"""Head-to-model racing in the simulator: several physical cars in one world, each with its own sensors,
action space and episode rules; collisions between cars; laps, lap times and the winner on the sim clock.

The cars are driven by a simple pure-pursuit controller that follows a lane of the centre line (no
learning), so races are reproducible and their outcomes known in advance."""

import math

import numpy as np
import pytest
from gymnasium import spaces

from simulator.multicar import FINISH, TIME_LIMIT, MultiCarRace
from simulator.objects import car_footprint, cars_crashed
from simulator.params import PARAMS_POINT_AHEAD
from simulator.world import RACE_CAR_COLOURS

TRACE_KEYS = {"steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward", "done", "all_wheels_on_track",
              "progress", "closest_waypoint", "track_len", "tstamp", "episode_status", "pause_duration",
              "obstacle_crash_counter"}
CONTINUOUS = {"action_space_type": "continuous",
              "action_space": {"steering_angle": {"low": -30.0, "high": 30.0}, "speed": {"low": 0.5, "high": 2.0}}}
INNER, CENTRE, OUTER = 1.0, 0.0, -1.0


def follow(race, car: int, lane: float, speed: float, look_ahead: float = 0.45) -> np.ndarray:
    """A continuous action that steers car ``car`` towards a point ``look_ahead`` m further along its lane
    (``lane``: +1 the inner lane, -1 the outer one, 0 the centre line) at ``speed``."""
    pose = race.world.cars[car].pose()
    track = race.track
    px, py = pose.x + PARAMS_POINT_AHEAD * math.cos(pose.yaw), pose.y + PARAMS_POINT_AHEAD * math.sin(pose.yaw)
    projection = track.project(px, py)
    inner_is_left = track.project(*track.inner[0]).is_left_of_center
    lateral = lane * projection.track_width / 4 * (1.0 if inner_is_left else -1.0)
    tx, ty, _ = track.pose_at(projection.distance + look_ahead, lateral)
    angle = math.degrees(math.remainder(math.atan2(ty - pose.y, tx - pose.x) - pose.yaw, math.tau))
    return np.array([min(max(angle, -30.0), 30.0), speed], np.float32)


def drive(race, plan, limit_steps=5000):
    """Step the race to its end with ``plan`` = [(lane, speed) per car]; returns every step's infos."""
    history = []
    while not race.over and len(history) < limit_steps:
        actions = [follow(race, car, lane, speed) for car, (lane, speed) in enumerate(plan)]
        history.append(race.step(actions))
    return history


@pytest.fixture
def race():
    made = []

    def make(**settings):
        settings = {"cars": 2, "action_spaces": CONTINUOUS, **settings}
        made.append(MultiCarRace(settings.pop("track", "quick_loop"), **settings))
        return made[-1]

    yield make
    for each in made:
        each.close()


def test_it_builds_cars_of_their_own_sensors_action_spaces_and_colours(race):
    discrete = {"action_space_type": "discrete",
                "action_space": [{"steering_angle": -20.0, "speed": 1.0}, {"steering_angle": 20.0, "speed": 1.0}]}
    two = race(sensors=[("FRONT_FACING_CAMERA",), ("STEREO_CAMERAS", "LIDAR")], action_spaces=[CONTINUOUS, discrete])
    assert len(two.world.cars) == 2 and two.world.colours == list(RACE_CAR_COLOURS[:2])
    assert two.observation_spaces[0]["FRONT_FACING_CAMERA"].shape == (1, 120, 160)
    assert set(two.observation_spaces[1]) == {"STEREO_CAMERAS", "LIDAR"}
    assert isinstance(two.action_spaces[0], spaces.Box) and two.action_spaces[1] == spaces.Discrete(2)
    observations, infos = two.reset(seed=0)
    assert [set(o) for o in observations] == [{"FRONT_FACING_CAMERA"}, {"STEREO_CAMERAS", "LIDAR"}]
    assert observations[1]["STEREO_CAMERAS"].shape == (2, 120, 160)
    for info in infos:
        assert info["episode_status"] == "prepare" and set(info["trace"]) == TRACE_KEYS
        assert info["trace"]["steps"] == 1 and info["progress"] == 0.0 and info["lap"] == 1
    assert race(cars=4, car_colours=["#ff0000", (0, 0, 1), "#00ff00", "#ffffff"]).world.colours[1] == "0.0000 0.0000 1.0000 1"


@pytest.mark.parametrize(("change", "message"), [
    ({"cars": 0}, "1 to 4 cars"),
    ({"laps": 0}, "laps must be"),
    ({"max_seconds": 0}, "max_seconds must be more than 0"),
    ({"sensors": [("LIDAR",)] * 3}, "one per car"),
    ({"car_colours": ["#ff0000"]}, "one colour per car"),
])
def test_it_refuses_settings_it_cannot_race(race, change, message):
    with pytest.raises(ValueError, match=message):
        race(**change)


def test_the_grid_puts_both_cars_on_the_start_line_side_by_side(race):
    two = race()
    _, infos = two.reset()
    poses = [car.pose() for car in two.world.cars]
    # The same distance to race: both params points project onto the line (progress 0)...
    for pose in poses:
        px, py = pose.x + PARAMS_POINT_AHEAD * math.cos(pose.yaw), pose.y + PARAMS_POINT_AHEAD * math.sin(pose.yaw)
        distance = two.track.project(px, py).distance
        assert min(distance, two.track.length - distance) < 0.01
    # ...in two lanes, apart (no overlap), facing the same way; car 0 on the inner lane.
    assert math.hypot(poses[0].x - poses[1].x, poses[0].y - poses[1].y) > 0.25
    assert not any(cars_crashed([(p.x, p.y, p.yaw) for p in poses], [True, True]))
    inner = two.track.inner[0]
    assert math.hypot(poses[0].x - inner[0], poses[0].y - inner[1]) < math.hypot(poses[1].x - inner[0], poses[1].y - inner[1])
    assert two.gap() == 0.0


def test_both_cars_drive_on_their_own_actions(race):
    two = race()
    two.reset(seed=0)
    start = [car.pose() for car in two.world.cars]
    for _ in range(15):
        two.step([np.array([0.0, 1.5], np.float32), np.array([0.0, 0.6], np.float32)])
    moved = [math.hypot(car.pose().x - s.x, car.pose().y - s.y) for car, s in zip(two.world.cars, start, strict=True)]
    assert moved[0] > 0.7 and 0.2 < moved[1] < moved[0] - 0.3


def _only_other_car_ahead(two, distance=0.8):
    """Car 1 stands on the road ``distance`` m ahead of car 0's camera; or (distance None) parked away."""
    two.reset()
    track = two.track
    two.world.cars[0].place(*track.pose_at(0.0))
    if distance is None:
        two.world.cars[1].park(-50.0, -50.0)
    else:
        two.world.cars[1].place(*track.pose_at(distance))
    two.world.forward()


def test_each_camera_and_lidar_sees_the_other_car(race):
    two = race(sensors=("FRONT_FACING_CAMERA", "LIDAR"))
    _only_other_car_ahead(two, None)
    empty_road = two.render_camera(0)
    ranges_empty = two.racers[0].observe()["LIDAR"]
    _only_other_car_ahead(two, 0.8)
    with_car = two.render_camera(0)
    ranges_car = two.racers[0].observe()["LIDAR"]
    changed = np.abs(with_car.astype(int) - empty_road.astype(int)).max(axis=2) > 40
    assert changed.sum() > 300, "car 0's camera does not see car 1 ahead"
    # The LIDAR hits car 1's footprint straight ahead (~0.8 m less the sensor's offset), not its own car.
    ahead = slice(len(ranges_car) // 2 - 1, len(ranges_car) // 2 + 1)
    assert ranges_car[ahead].max() < 0.8 and ranges_empty[ahead].min() > 1.5  # the walls, without car 1
    # The other car's own sensors are its own: car 1 looks away from car 0 and sees an empty road ahead.
    assert two.render_camera(1).shape == (120, 160, 3)
    assert not np.array_equal(two.render_camera(1), with_car)


def test_the_car_that_runs_into_the_other_from_behind_crashed(race):
    for continuous in (True, False):
        two = race(continuous=continuous, max_seconds=30)
        two.reset()
        # Car 0 ahead on the centre line at walking pace, car 1 behind it in the same line, faster.
        two.world.cars[0].place(*two.track.pose_at(1.2))
        two.world.cars[1].place(*two.track.pose_at(0.4))
        two.world.forward()
        crash = None
        while not two.over and crash is None:
            _, _, terminated, _, infos = two.step([follow(two, 0, CENTRE, 0.5), follow(two, 1, CENTRE, 1.8)])
            if infos[1]["episode_status"] == "crashed":
                crash = (infos, terminated)
        infos, terminated = crash
        assert infos[0]["episode_status"] == "in_progress" and infos[0]["crash_count"] == 0
        assert infos[1]["crash_count"] == 1 and infos[1]["trace"]["obstacle_crash_counter"] == 1
        if continuous:
            # Reset onto the centre line to sit out the penalty: a ghost until it is clear of car 0.
            assert infos[1]["reset_count"] == 1 and infos[1]["penalty_time"] == 5.0 and terminated == [False, False]
            assert infos[1]["trace"]["pause_duration"] == 5.0 and two.racers[1].ghost
            _, _, _, _, after = two.step([follow(two, 0, CENTRE, 0.5), follow(two, 1, CENTRE, 1.8)])
            assert after[1]["episode_status"] == "pause"
        else:
            # Out of the race: parked off the road, while car 0 races on.
            assert terminated == [False, True] and two.world.cars[1].parked
            _, _, terminated, _, after = two.step([follow(two, 0, CENTRE, 0.5), None])
            assert terminated == [False, True] and after[1]["episode_status"] == "crashed" and "trace" not in after[1]


def test_cars_crashed_blames_the_car_behind_and_both_head_on():
    assert cars_crashed([(0.0, 0.0, 0.0), (0.25, 0.0, 0.0)], [True, True]) == [True, False]
    assert cars_crashed([(0.25, 0.0, 0.0), (0.0, 0.0, 0.0)], [True, True]) == [False, True]
    assert cars_crashed([(0.0, 0.0, 0.0), (0.4, 0.0, math.pi)], [True, True]) == [True, True]
    assert cars_crashed([(0.0, 0.0, 0.0), (0.25, 0.0, 0.0)], [True, False]) == [False, False]
    assert cars_crashed([(0.0, 0.0, 0.0), (1.0, 0.0, 0.0)], [True, True]) == [False, False]
    assert car_footprint(0.0, 0.0, 0.0).shape == (4, 2)


def test_the_first_across_the_line_after_the_laps_wins_with_lap_times_on_the_sim_clock(race):
    two = race(laps=2, max_seconds=90)
    two.reset(seed=3)
    history = drive(two, [(INNER, 1.6), (OUTER, 1.1)])
    assert two.over
    result = two.result()
    assert (result.winner, result.decided_by) == (0, FINISH)
    fast, slow = result.cars
    assert fast.finished and slow.finished and len(fast.lap_times) == len(slow.lap_times) == 2
    assert fast.total_time == pytest.approx(sum(fast.lap_times), abs=0.002)
    # A lap of quick_loop at 1.6 m/s takes about its length / speed (the inner lane is shorter), plus the
    # standing start.
    assert 0.85 * two.track.length / 1.6 < fast.lap_times[0] < two.track.length / 1.6 + 2.0
    assert fast.lap_times[1] < fast.lap_times[0]  # a flying lap beats the standing start
    assert slow.total_time > fast.total_time + 5
    # Timed to the crossing, within the step: not a multiple of the 1/15 s control step.
    assert min(abs(fast.total_time * 15 - round(fast.total_time * 15)), 0.5) > 1e-3
    assert (fast.progress, fast.crash_count, fast.reset_count, fast.penalty_seconds) == (200.0, 0, 0, 0.0)
    # The winner is known from the step it crosses the line; the race goes on until the other finishes.
    winning_step = next(n for n, step in enumerate(history) if step[2][0])
    assert history[winning_step][4][0]["last_lap"] == pytest.approx(fast.lap_times[1], abs=5e-4) and history[winning_step][4][0]["finished"]
    assert not history[winning_step][2][1] and two.winner == 0
    assert two.gap() == pytest.approx(slow.total_time - fast.total_time, abs=1e-3)
    assert result.sim_seconds >= slow.total_time


def test_the_gap_is_how_long_ago_the_leader_was_where_the_other_car_is(race):
    two = race(max_seconds=6)
    two.reset()
    gaps = [two.gap() for _ in drive(two, [(INNER, 1.5), (OUTER, 0.75)])]
    assert gaps[-1] > 2.0 and all(b >= a - 0.07 for a, b in zip(gaps, gaps[1:], strict=False))
    assert two.gap(1, 0) == pytest.approx(-gaps[-1])


def test_when_time_runs_out_the_car_furthest_along_wins(race):
    two = race(laps=3, max_seconds=4)
    two.reset()
    history = drive(two, [(INNER, 0.8), (OUTER, 1.4)])
    assert len(history) == 60 and history[-1][3] == [True, True]
    result = two.result()
    assert (result.winner, result.decided_by, result.sim_seconds) == (1, TIME_LIMIT, 4.0)
    assert result.cars[1].progress > result.cars[0].progress > 0 and not result.cars[0].finished
    assert result.cars[0].status == "time_up" and result.cars[1].lap_times == []
    with pytest.raises(RuntimeError, match="over"):
        two.step([None, None])


def test_the_same_seed_races_the_same_race(race):
    def trace_of(seed):
        one = race(race_type={"race_type": "OBJECT_AVOIDANCE", "object_count": 2}, max_seconds=3)
        one.reset(seed=seed)
        rows = [tuple(info["trace"].values()) for step in drive(one, [(INNER, 1.0), (OUTER, 1.2)]) for info in step[4]]
        return rows, one.obstacles.positions().round(4).tolist()

    first, again, other = trace_of(7), trace_of(7), trace_of(8)
    assert first == again
    assert first[1] != other[1]  # another seed lays the boxes out elsewhere


def test_reward_functions_see_the_other_car_as_an_object(race):
    seen = []

    def reward(params):
        seen.append(params)
        return 1.0

    two = race(reward_fns=reward)
    two.reset()
    _, rewards, _, _, infos = two.step([np.array([0.0, 1.0], np.float32)] * 2)
    assert rewards == [1.0, 1.0] and len(seen) == 2
    assert len(infos[0]["params"]["objects_location"]) == 1
    other = two.world.cars[1].pose()
    ox, oy = infos[0]["params"]["objects_location"][0]
    assert math.hypot(ox - other.x, oy - other.y) < 0.2
    quiet = race()
    quiet.reset()
    _, rewards, _, _, infos = quiet.step([np.array([0.0, 1.0], np.float32)] * 2)
    assert rewards == [0.0, 0.0] and "params" not in infos[0]


def test_the_views_show_both_cars(race):
    two = race()
    two.reset()
    chase = [two.render_chase(0), two.render_chase(1)]
    assert chase[0].shape == (360, 480, 3) and not np.array_equal(chase[0], chase[1])
    assert two.render_top_down().shape == (360, 480, 3)
    track_map = two.render_map()
    # Both cars are marked in their shells' colours: red and yellow.
    red = (track_map[..., 0] > 180) & (track_map[..., 1] < 80) & (track_map[..., 2] < 80)
    yellow = (track_map[..., 0] > 200) & (track_map[..., 1] > 160) & (track_map[..., 2] < 60)
    assert red.sum() > 20 and yellow.sum() > 20
