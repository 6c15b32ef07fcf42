"""Head-to-model racing (issue 10): several policy-driven cars in one MuJoCo world, racing for a number of
laps under a race's rules. Plain Python, usable from a notebook or any multi-agent loop::

    from simulator.multicar import MultiCarRace

    race = MultiCarRace("quick_loop", cars=2, laps=2, sensors=[("FRONT_FACING_CAMERA",), ("LIDAR",)])
    observations, infos = race.reset(seed=0)
    while not race.over:
        actions = [policy(observation) for policy, observation in zip(policies, observations)]
        observations, rewards, terminated, truncated, infos = race.step(actions)
    print(race.result())

Each car is a `DeepRacer-v0` car: its own actuators, its own sensors (cameras and LIDAR, so each sees the
others), its own action space (env.ActionTable), its own episode rules (episode.Episode, one per lap:
off track and crashes reset the car with a penalty in continuous mode, or put it out of the race
otherwise) and its own sim-trace rows (SPEC 5.2, in ``info["trace"]``). Cars do not push each other: a
collision is a footprint overlap under the race's rule (objects.cars_crashed: the car that runs into the
other from behind crashed). Laps are timed on the sim clock, to a fraction of a step (the moment the car's
params point crossed the line); the first car to complete the race's laps wins; the others race on until
they finish too or the time limit ends the race, when the car furthest along wins. A car that finished,
or is out, is parked off the road (it takes no part in collisions and is not drawn on the maps).

All randomness (random box layouts, bot lane changes) comes from the race's seeded generator: the same
seed and the same actions give the same race.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from gymnasium import spaces
from gymnasium.utils import seeding

from simulator.car import FOOTPRINT_CENTRE_X, WHEEL_RADIUS, parse_colour
from simulator.env import ActionTable, checked_reward
from simulator.episode import Episode, Status
from simulator.objects import Obstacles, RaceConfig, car_footprint, cars_crashed
from simulator.params import BOT_CAR_SIZE, PARAMS_POINT_AHEAD, RewardParams, TrackObject, place_car
from simulator.render import Views
from simulator.sensors import IMAGE_HEIGHT, IMAGE_WIDTH, CameraRig, build_sensors, to_gray
from simulator.spec import DEFAULT_PENALTY, DEFAULT_SENSORS, DEFAULT_TRACK, STEREO_CAMERAS
from simulator.tracks import Track, track_from
from simulator.world import CONTROL_HZ, RACE_CAR_COLOURS, WALL_MARGIN, build_world

STEP_SECONDS = 1.0 / CONTROL_HZ
DEFAULT_MAX_SECONDS = 180.0
MAX_CARS = len(RACE_CAR_COLOURS)
# The grid (see _grid_pose): rows of two, side by side; a further row this far behind the one before.
GRID_ROW_SPACING = 0.6  # m: a car length and a half
# Finished or retired cars wait beyond the walls, this far apart.
PARKING_SPACING = 0.6  # m

# What an episode status that puts a car out of the race counts as.
OUT_COUNTS = {Status.CRASHED.value: "crash_count", Status.OFF_TRACK.value: "off_track_count"}
# How a race was decided (RaceResult.decided_by).
FINISH, TIME_LIMIT, ALL_OUT = "finish", "time_limit", "all_out"


@dataclass
class CarResult:
    """One car's race."""

    lap_times: list[float]
    """s on the sim clock, each lap from crossing the line to crossing it again"""
    total_time: float | None
    """s on the sim clock when it completed the race's laps (None: it did not)"""
    finished: bool
    progress: float
    """% of a lap driven in the race: 100 per lap completed plus the current lap's progress"""
    off_track_count: int
    crash_count: int
    reset_count: int
    penalty_seconds: float
    """penalty time sat out after resets (already part of the lap times: the car waited)"""
    status: str
    """"finished", "racing" (the race goes on), "time_up" (it was still racing when the time ran out) or
    the episode status that put it out ("crashed", "off_track", "reversed", "immobilized")"""


@dataclass
class RaceResult:
    winner: int | None
    """index of the winning car, or None (a dead heat, or no car ahead when nobody finished)"""
    decided_by: str
    """"finish" (first to complete the laps), "time_limit" (furthest along when time ran out) or
    "all_out" (every car out of the race before anyone finished: furthest along)"""
    sim_seconds: float
    cars: list[CarResult] = field(default_factory=list)


def _per_car(value, count: int, is_one) -> list:
    """A per-car setting given once for all cars or as one value per car."""
    if is_one(value):
        return [value] * count
    values = list(value)
    if len(values) != count:
        raise ValueError(f"give one setting for all cars or one per car ({count}), not {len(values)}")
    return values


def _is_sensor_list(value) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and all(isinstance(v, str) for v in value)


class _Racer:
    """One car of the race: its sensors, action table and lap-by-lap state."""

    def __init__(self, race: MultiCarRace, index: int, sensors, action_space: dict | None, reward_fn):
        self.index = index
        self.car = race.world.cars[index]
        self.sensors = build_sensors(sensors, race.world, race.camera_rig, car=index)
        self.actions = ActionTable(action_space)
        self.reward_fn = reward_fn
        self.race = race

    def reset(self) -> None:
        race = self.race
        self.episode = race.new_episode()
        self.laps_done = 0
        self.lap_times: list[float] = []
        self.lap_started = 0.0
        self.finished_at: float | None = None
        self.out_status: str | None = None   # the status that put it out of the race (not continuous)
        self.counts = {"off_track_count": 0, "crash_count": 0, "reset_count": 0, "penalty_time": 0.0}
        self.ghost = False
        self.hold_pose = (0.0, 0.0, 0.0)
        self.observation: dict = {}
        # The race distance (% of a lap, never falling) against the sim clock: the gap between cars.
        self.times, self.distances = [0.0], [0.0]

    @property
    def done(self) -> bool:
        return self.finished_at is not None or self.out_status is not None

    @property
    def in_play(self) -> bool:
        """Takes part in collisions: racing, and not a car just put back on the road (see MultiCarRace)."""
        return not self.done and not self.ghost

    @property
    def race_progress(self) -> float:
        return 100.0 * self.laps_done + (0.0 if self.finished_at is not None else self.episode.progress)

    def total(self, name: str):
        """A count over the race: the laps before, the one in progress, and what put the car out (outside
        continuous mode an episode ends without counting it)."""
        ended = self.out_status is not None and OUT_COUNTS.get(self.out_status) == name
        return self.counts[name] + getattr(self.episode, name) + int(ended)

    def observe(self) -> dict:
        if not self.done:
            self.observation = {name: sensor.read() for name, sensor in self.sensors.items()}
        return self.observation

    def record_distance(self, sim_time: float) -> None:
        self.times.append(sim_time)
        self.distances.append(max(self.distances[-1], self.race_progress))

    def passed(self, distance: float) -> float:
        """When (sim clock) this car's race distance last reached ``distance`` or less: between two steps,
        interpolated."""
        distances = self.distances
        last = int(np.searchsorted(distances, distance, side="right")) - 1
        if last < 0:
            return 0.0
        if last + 1 >= len(distances) or distances[last + 1] == distances[last]:
            return self.times[last]
        fraction = (distance - distances[last]) / (distances[last + 1] - distances[last])
        return self.times[last] + fraction * (self.times[last + 1] - self.times[last])

    def next_lap(self, crossing: float) -> None:
        """The lap is complete at ``crossing`` (sim clock): its time, then the next lap or the finish."""
        self.lap_times.append(crossing - self.lap_started)
        self.lap_started = crossing
        self.laps_done += 1
        for name in self.counts:
            self.counts[name] += getattr(self.episode, name)
        # The next lap's rules (a finished car's is never stepped: its counts stay 0).
        self.episode = self.race.new_episode()
        if self.laps_done >= self.race.laps:
            self.finished_at = crossing

    def result(self, ended: str | None) -> CarResult:
        """``ended``: how the race ended (None while it goes on)."""
        if self.finished_at is not None:
            status = "finished"
        else:
            status = self.out_status or ("time_up" if ended == TIME_LIMIT else "racing")
        return CarResult(
            lap_times=[round(t, 3) for t in self.lap_times],
            total_time=None if self.finished_at is None else round(self.finished_at, 3),
            finished=self.finished_at is not None, progress=round(self.race_progress, 2),
            off_track_count=int(self.total("off_track_count")), crash_count=int(self.total("crash_count")),
            reset_count=int(self.total("reset_count")), penalty_seconds=round(float(self.total("penalty_time")), 3),
            status=status)


class MultiCarRace:
    """A race of ``cars`` cars on one track (see the module's docstring).

    ``sensors`` and ``action_spaces``: one setting for every car or one per car (each car may have its
    own; model_metadata-shaped action space dicts, None for the default). ``reward_fns``: one callable
    per car (or one for all) to get rewards and ``info["params"]`` (SPEC 1.1, the other cars among the
    objects, as bot cars are); None (default): no params are built and every reward is 0.0 (a race needs
    none). ``continuous``: off track and crashes reset the car onto the centre line where it left it,
    and it sits out the penalty; otherwise they put the car out of the race. ``max_seconds``: the race
    ends on the sim clock after this long (None: never; in continuous mode a car may then never finish).
    ``car_colours``: shells ("#rrggbb" or (r, g, b)), default red, yellow, green, purple.
    """

    def __init__(
        self,
        track: str | Path | Track = DEFAULT_TRACK,
        cars: int = 2,
        *,
        reverse: bool = False,
        sensors=DEFAULT_SENSORS,
        action_spaces=None,
        race_type: dict | None = None,
        laps: int = 1,
        continuous: bool = True,
        off_track_penalty: float = DEFAULT_PENALTY,
        collision_penalty: float = DEFAULT_PENALTY,
        max_seconds: float | None = DEFAULT_MAX_SECONDS,
        reward_fns=None,
        car_colours=None,
    ):
        if isinstance(cars, bool) or not isinstance(cars, int) or not 1 <= cars <= MAX_CARS:
            raise ValueError(f"a race has 1 to {MAX_CARS} cars, not {cars!r}")
        if isinstance(laps, bool) or not isinstance(laps, int) or laps < 1:
            raise ValueError(f"laps must be a whole number of at least 1, not {laps!r}")
        if max_seconds is not None and not max_seconds > 0:
            raise ValueError(f"max_seconds must be more than 0 (or None), not {max_seconds!r}")
        track = track_from(track)
        self.track = track.reversed() if reverse else track
        self.race = RaceConfig.from_dict(race_type)
        self.laps, self.continuous = laps, bool(continuous)
        self.penalties = (float(off_track_penalty), float(collision_penalty))
        self.max_seconds = None if max_seconds is None else float(max_seconds)
        colours = RACE_CAR_COLOURS[:cars] if car_colours is None else [parse_colour(c) for c in car_colours]
        if len(colours) != cars:
            raise ValueError(f"give one colour per car ({cars}), not {len(colours)}")
        sensors = _per_car(sensors, cars, _is_sensor_list)
        action_spaces = _per_car(action_spaces, cars, lambda value: value is None or isinstance(value, dict))
        reward_fns = _per_car(reward_fns, cars, lambda value: value is None or callable(value))

        self.world = build_world(self.track, boxes=self.race.object_count, bots=self.race.bot_count,
                                 car_colours=list(colours))
        self.camera_rig = CameraRig(self.world.model, IMAGE_WIDTH, IMAGE_HEIGHT)
        self.views = Views(self.world)
        self.obstacles = Obstacles(self.race, self.track)
        self.reward_params = RewardParams(self.track)
        self.racers = [_Racer(self, i, sensors[i], action_spaces[i], reward_fns[i]) for i in range(cars)]
        self.observation_spaces = [_observation_space(racer) for racer in self.racers]
        self.action_spaces = [racer.actions.space for racer in self.racers]
        self.np_random, _ = seeding.np_random()
        self._started = self._decided = False
        self._winner: int | None = None

    # -- the API -----------------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None) -> tuple[list[dict], list[dict]]:
        """Every car on the grid at rest; the sim clock at 0. Returns each car's observation and info."""
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        world = self.world
        world.reset()
        self.obstacles.reset(self.np_random, 0.0)
        self._place_obstacles(boxes=True)
        for racer in self.racers:
            racer.reset()
            racer.car.place(*self._grid_pose(racer.index))
        world.forward()
        self._started, self._decided, self._winner = True, False, None
        infos = []
        for racer in self.racers:
            placement = self._placement(racer)
            trace = racer.episode.trace(placement, (0.0, 0.0), 0, 0.0, Status.PREPARE.value, 0.0, False, 0.0)
            infos.append(self._info(racer, Status.PREPARE.value, trace))
        return [racer.observe() for racer in self.racers], infos

    def step(self, actions) -> tuple[list[dict], list[float], list[bool], list[bool], list[dict]]:
        """One control step (1/15 s) for every car: ``actions[i]`` for car i (ignored once it is done).
        Returns each car's observation, reward, terminated (finished or out), truncated (the time limit)
        and info."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if self.over:
            raise RuntimeError("the race is over; reset() to race again")
        if len(actions) != len(self.racers):
            raise ValueError(f"give one action per car ({len(self.racers)}), not {len(actions)}")
        world = self.world
        commands = [None if racer.done else racer.actions.command(action)
                    for racer, action in zip(self.racers, actions, strict=True)]
        for racer, command in zip(self.racers, commands, strict=True):
            if command is not None:
                racer.car.command(*command[0])
        before = [None if racer.done else racer.episode.progress for racer in self.racers]
        world.step()
        self.obstacles.advance(self.np_random)
        self._place_obstacles()
        sim_time = float(world.data.time)
        placements = [None if racer.done else self._placement(racer) for racer in self.racers]
        hits = self._car_hits(placements)
        rewards, infos = [], []
        for racer, command, placement, hit, progress_before in zip(
                self.racers, commands, placements, hits, before, strict=True):
            if command is None:
                rewards.append(0.0)
                infos.append(self._info(racer, "finished" if racer.finished_at is not None else racer.out_status))
                continue
            reward, info = self._advance(racer, command, placement, hit, progress_before, sim_time)
            rewards.append(reward)
            infos.append(info)
        self._decide_winner()
        self._settle_cars()
        world.forward()
        for racer in self.racers:
            racer.record_distance(sim_time)
        time_up = self._time_up(sim_time)
        terminated = [racer.done for racer in self.racers]
        truncated = [time_up and not racer.done for racer in self.racers]
        return [racer.observe() for racer in self.racers], rewards, terminated, truncated, infos

    @property
    def sim_time(self) -> float:
        return float(self.world.data.time)

    @property
    def over(self) -> bool:
        """Every car finished or is out, or the time limit is reached."""
        return self._started and (all(racer.done for racer in self.racers) or self._time_up(self.sim_time))

    @property
    def winner(self) -> int | None:
        """The first car to complete the race's laps, as soon as it has (None before, or a dead heat)."""
        return self._winner

    def result(self) -> RaceResult:
        """The race so far; final once ``over``."""
        ended = (TIME_LIMIT if self._time_up(self.sim_time) else ALL_OUT) if self.over else None
        cars = [racer.result(ended) for racer in self.racers]
        if self._decided:
            return RaceResult(self._winner, FINISH, round(self.sim_time, 3), cars)
        decided_by = ended or TIME_LIMIT
        furthest = max(car.progress for car in cars)
        leaders = [i for i, car in enumerate(cars) if car.progress == furthest]
        winner = leaders[0] if len(leaders) == 1 and self.over else None
        return RaceResult(winner, decided_by, round(self.sim_time, 3), cars)

    def gap(self, first: int = 0, second: int = 1) -> float:
        """Seconds car ``second`` trails car ``first`` at the same race distance: how long ago the car in
        front was where the other car is now (positive: ``first`` is ahead; negative: ``second`` is).
        Between two cars that both finished, the difference of their finishing times."""
        a, b = self.racers[first], self.racers[second]
        if a.finished_at is not None and b.finished_at is not None:
            return b.finished_at - a.finished_at
        now = self.sim_time
        if a.distances[-1] >= b.distances[-1]:
            return now - a.passed(b.distances[-1])
        return -(now - b.passed(a.distances[-1]))

    def render_chase(self, car: int = 0) -> np.ndarray:
        """(360, 480, 3) RGB: behind car ``car``, the whole track inset top right with every car marked."""
        return self.views.chase(car)

    def render_camera(self, car: int = 0) -> np.ndarray:
        """What car ``car``'s camera sees, as RGB: its front camera, or its stereo pair side by side."""
        racer = self.racers[car]
        lenses = ("stereo_left", "stereo_right") if STEREO_CAMERAS in racer.sensors else ("front",)
        frames = [to_gray(self.camera_rig.rgb(self.world.data, self.world.sensor_name(lens, car)))
                  for lens in lenses]
        gray = np.hstack(frames)
        return np.repeat(gray[:, :, None], 3, axis=2)

    def render_top_down(self) -> np.ndarray:
        """(360, 480, 3) RGB: the whole track from above, as rendered."""
        return self.views.top_down()

    def render_map(self, width: int = 480, height: int = 360) -> np.ndarray:
        """The whole track from above with every car (in its colour), box and bot marked larger than life."""
        return np.asarray(self.views.track_map(width, height))

    def close(self) -> None:
        self.camera_rig.close()
        self.views.close()

    # -- the race's rules ----------------------------------------------------------------------------------

    def new_episode(self) -> Episode:
        """A lap's episode rules: from the start line (progress 0), under the race's penalties."""
        return Episode(self.track, 0.0, continuous=self.continuous, off_track_penalty=self.penalties[0],
                       collision_penalty=self.penalties[1])

    def _grid_pose(self, index: int) -> tuple[float, float, float]:
        """Car ``index``'s rear-axle pose on the grid.

        Fair for two: side by side ON the start line, so both have the same distance to race (their
        params points project onto the line itself: progress 0) and both start in clean air; a staggered
        grid would give one car a head start of a car length, or make the other start in its camera's way.
        Car 0 (the pole: the higher seed, as in motor racing) takes the inner lane, the shorter way round
        the loop; car 1 the outer. Further cars line up in rows of two behind, a row every
        GRID_ROW_SPACING (their extra distance is the price of a lower grid place)."""
        row, lane = divmod(index, 2)
        start = self.track.pose_at(0.0)
        width = self.track.project(start[0], start[1]).track_width
        inner_is_left = self.track.project(*self.track.inner[0]).is_left_of_center
        lateral = width / 4 * (1.0 if inner_is_left else -1.0) * (1.0 if lane == 0 else -1.0)
        x, y, heading = self.track.pose_at(-row * GRID_ROW_SPACING, lateral)
        # The params point, ahead of the rear axle, stands on the line.
        return x - PARAMS_POINT_AHEAD * math.cos(heading), y - PARAMS_POINT_AHEAD * math.sin(heading), heading

    def _placement(self, racer: _Racer):
        pose = racer.car.pose()
        return place_car(self.track, pose.x, pose.y, pose.yaw)

    def _car_hits(self, placements) -> list[bool]:
        poses = [(0.0, 0.0, 0.0) if p is None else (*p.origin, p.heading) for p in placements]
        return cars_crashed(poses, [racer.in_play for racer in self.racers])

    def _advance(self, racer: _Racer, command, placement, car_hit: bool, progress_before: float,
                 sim_time: float) -> tuple[float, dict]:
        """Car ``racer``'s episode rules for this step: status, lap, reset and its trace row."""
        (steering, speed), trace_action = command
        episode = racer.episode
        hit = car_hit or self.obstacles.hit(*placement.origin, placement.heading)
        outcome = episode.step(placement, crashed=hit)
        status = outcome.status
        reward = 0.0
        params = None
        if racer.reward_fn is not None:
            params = self.reward_params.build(
                placement, steering_angle=steering, speed=speed, progress=outcome.progress, steps=episode.steps,
                is_offtrack=status == Status.OFF_TRACK, is_crashed=status == Status.CRASHED, sim_time=sim_time,
                objects=self._objects_seen_by(racer))
            reward = checked_reward(racer.reward_fn, params)
        if outcome.reset_pose is not None:
            # Back on the centre line where it left the road, clear of boxes, to sit out the penalty. It
            # is a ghost until it is clear of the other cars: put down where another car drives, it must
            # neither crash into it nor be crashed into.
            racer.hold_pose = self.obstacles.clear_reset_pose(self.track, outcome.reset_pose)
            racer.ghost = True
        if status == Status.PAUSE or outcome.reset_pose is not None:
            racer.car.place(*racer.hold_pose)
        trace = episode.trace(placement, (steering, speed), trace_action, reward, status.value,
                              outcome.pause_duration, outcome.done, sim_time)
        lap = racer.laps_done + 1
        if status == Status.LAP_COMPLETE:
            racer.next_lap(self._crossing_time(placement, progress_before, sim_time))
        elif outcome.done:
            racer.out_status = status.value
        info = self._info(racer, status.value, trace, params)
        info["lap"] = lap
        return reward, info

    def _crossing_time(self, placement, progress_before: float, sim_time: float) -> float:
        """When, within the step that completed the lap, the params point crossed the line (the progress
        is linear in time within a step): lap times finer than the 1/15 s step, and no tie between two
        cars that complete it in the same step."""
        past_line = placement.projection.distance / self.track.length
        progress_after = 100.0 + (100.0 * past_line if past_line < 0.5 else 0.0)
        if progress_after <= progress_before:
            return sim_time
        fraction = (100.0 - progress_before) / (progress_after - progress_before)
        return sim_time - STEP_SECONDS * (1.0 - min(max(fraction, 0.0), 1.0))

    def _decide_winner(self) -> None:
        """At the step the first cars complete the race: the earliest crossing wins (an exact dead heat:
        nobody). Later finishers finished later."""
        if self._decided:
            return
        finishers = [racer for racer in self.racers if racer.finished_at is not None]
        if not finishers:
            return
        self._decided = True
        first = min(racer.finished_at for racer in finishers)
        tied = [racer.index for racer in finishers if racer.finished_at == first]
        self._winner = tied[0] if len(tied) == 1 else None

    def _settle_cars(self) -> None:
        """After the rules: park the cars that are done; a ghost that sat out its penalty and stands clear
        of every other car races (and collides) again."""
        for racer in self.racers:
            if racer.done:
                if not racer.car.parked:
                    racer.car.park(*self._parking_spot(racer.index))
            elif racer.ghost and racer.episode.status != Status.PAUSE and not self._overlaps_another(racer):
                racer.ghost = False

    def _parking_spot(self, index: int) -> tuple[float, float]:
        x0, y0, _, _ = self.world.bounds
        return x0 - WALL_MARGIN - 1.0 - index * PARKING_SPACING, y0 - WALL_MARGIN - 1.0

    def _overlaps_another(self, racer: _Racer) -> bool:
        pose = racer.car.pose()
        mine = shapely.polygons(car_footprint(pose.x, pose.y, pose.yaw))
        for other in self.racers:
            if other is racer or other.done:
                continue
            theirs = other.car.pose()
            if shapely.intersects(mine, shapely.polygons(car_footprint(theirs.x, theirs.y, theirs.yaw))):
                return True
        return False

    def _objects_seen_by(self, racer: _Racer) -> tuple:
        """The reward params' objects for one car: the boxes or bots, then the other cars still racing."""
        cars = []
        for other in self.racers:
            if other is racer or other.done:
                continue
            pose = other.car.pose()
            cars.append(TrackObject(pose.x + FOOTPRINT_CENTRE_X * math.cos(pose.yaw),
                                    pose.y + FOOTPRINT_CENTRE_X * math.sin(pose.yaw), pose.yaw,
                                    max(0.0, other.car.forward_speed()), BOT_CAR_SIZE))
        return self.obstacles.track_objects() + tuple(cars)

    def _time_up(self, sim_time: float) -> bool:
        return self.max_seconds is not None and sim_time >= self.max_seconds - 1e-9

    def _place_obstacles(self, boxes: bool = False) -> None:
        obstacles = self.obstacles
        if not obstacles.count or (not boxes and not obstacles.is_bots):
            return
        if obstacles.is_bots:
            indices, poses, z = self.world.bot_mocap, obstacles.rear_axle_poses(), WHEEL_RADIUS
        else:
            indices, z = self.world.box_mocap, 0.0
            poses = np.column_stack([obstacles.positions(), obstacles.heading])
        for index, (x, y, yaw) in zip(indices, poses, strict=True):
            self.world.set_mocap(index, x, y, yaw, z)

    def _info(self, racer: _Racer, status: str, trace: dict | None = None, params: dict | None = None) -> dict:
        """What a car's step says: its status, lap and times on the sim clock, race-wide counts, and its
        sim-trace row (none once it is done)."""
        info = {
            "episode_status": status,
            "progress": 100.0 if racer.finished_at is not None else racer.episode.progress,
            "lap": min(racer.laps_done + 1, self.laps),
            "laps_done": racer.laps_done,
            "lap_time": 0.0 if racer.done else self.sim_time - racer.lap_started,
            "last_lap": racer.lap_times[-1] if racer.lap_times else None,
            "lap_times": list(racer.lap_times),
            "race_progress": racer.race_progress,
            "finished": racer.finished_at is not None,
            "total_time": racer.finished_at,
            "off_track_count": int(racer.total("off_track_count")),
            "crash_count": int(racer.total("crash_count")),
            "reset_count": int(racer.total("reset_count")),
            "penalty_time": float(racer.total("penalty_time")),
        }
        if trace is not None:
            info["trace"] = trace
        if params is not None:
            info["params"] = params
        return info


def _observation_space(racer: _Racer) -> spaces.Dict:
    return spaces.Dict({name: sensor.space for name, sensor in racer.sensors.items()})
