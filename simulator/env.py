"""`DeepRacer-v0`: the Gymnasium env of a DeepRacer car on a track (INTERFACES.md "The env").

The physics (world.py, car.py), the sensors and the pictures are MuJoCo; the task is plain Python: the
reward params (params.py), the episode rules (episode.py) and the obstacles (objects.py). One step:
clamp the action into a command, integrate 1/15 s of physics, move the bots, measure the car against the
track, let the episode rules decide the status, build the params, call the reward function, read the
sensors. All randomness (object layouts, bot lane changes, the small
perturbation of every start) comes from `self.np_random`.
"""

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from simulator.car import MAX_SPEED, MAX_STEERING_DEG, MIN_SPEED, WHEEL_RADIUS, clamp_command, parse_colour
from simulator.default_reward import follow_center_line
from simulator.episode import (
    START_HEADING_NOISE,
    START_LATERAL_NOISE,
    Episode,
    StartPositions,
    Status,
    step_cap,
)
from simulator.objects import Obstacles, RaceConfig
from simulator.params import RewardParams, place_car
from simulator.render import Views
from simulator.sensors import (
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    CameraRig,
    build_sensors,
    to_gray,
)
from simulator.spec import (
    DEFAULT_ACTION_SPACE,
    DEFAULT_SENSORS,
    DEFAULT_TRACK,
    MAX_ACTIONS,
    MIN_ACTIONS,
    REWARD_LIMIT,
)
from simulator.tracks import Track, track_from
from simulator.world import CONTROL_HZ, build_world

MODES = ("training", "evaluation")
# start_noise scales episode.py's start perturbation; beyond this the car could start on a narrow road's edge.
MAX_START_NOISE = 4.0


def checked_reward(reward_fn, params: dict) -> float:
    """The reward function's value for params, as a float; raises ValueError when it is not finite or
    beyond ±1e5 (SPEC 1.2). The function's own exceptions are the caller's to see: they propagate."""
    reward = float(reward_fn(params))
    if not math.isfinite(reward) or abs(reward) > REWARD_LIMIT:
        raise ValueError(f"the reward function returned {reward!r}: a reward must be finite and within ±1e5")
    return reward


class ActionTable:
    """The vehicle's action space, from a model_metadata-shaped dict: the Gymnasium space and the
    (steering degrees, speed m/s) command of an action."""

    def __init__(self, config: dict | None):
        config = DEFAULT_ACTION_SPACE if config is None else config
        if not isinstance(config, dict):
            raise ValueError("action_space must be a model_metadata-shaped dict or None")
        kind = config.get("action_space_type", "discrete")
        self.discrete = kind == "discrete"
        if kind == "discrete":
            self.actions = self._discrete(config.get("action_space"))
            self.space = spaces.Discrete(len(self.actions))
        elif kind == "continuous":
            low, high = self._continuous(config.get("action_space"))
            self.space = spaces.Box(np.array(low, np.float32), np.array(high, np.float32), dtype=np.float32)
        else:
            raise ValueError(f"action_space_type must be 'discrete' or 'continuous', not {kind!r}")

    @staticmethod
    def _discrete(actions) -> list[tuple[float, float]]:
        if not isinstance(actions, list) or not MIN_ACTIONS <= len(actions) <= MAX_ACTIONS:
            raise ValueError(f"a discrete action space is a list of {MIN_ACTIONS}–{MAX_ACTIONS} actions")
        table = []
        for index, action in enumerate(actions):
            try:
                steering, speed = float(action["steering_angle"]), float(action["speed"])
            except (TypeError, KeyError, ValueError):
                raise ValueError(f"action {index} needs numeric steering_angle and speed: {action!r}") from None
            if not -MAX_STEERING_DEG <= steering <= MAX_STEERING_DEG or not MIN_SPEED <= speed <= MAX_SPEED:
                raise ValueError(
                    f"action {index}: steering_angle must be within ±{MAX_STEERING_DEG:g}° and speed within "
                    f"{MIN_SPEED:g}–{MAX_SPEED:g} m/s, not {steering:g}° at {speed:g} m/s"
                )
            table.append((steering, speed))
        return table

    @staticmethod
    def _continuous(ranges) -> tuple[list[float], list[float]]:
        try:
            steer, speed = ranges["steering_angle"], ranges["speed"]
            bounds = [float(steer["low"]), float(speed["low"])], [float(steer["high"]), float(speed["high"])]
        except (TypeError, KeyError, ValueError):
            raise ValueError(
                "a continuous action space is {'steering_angle': {'low', 'high'}, 'speed': {'low', 'high'}}"
            ) from None
        (steer_low, speed_low), (steer_high, speed_high) = bounds
        if not (-MAX_STEERING_DEG <= steer_low < steer_high <= MAX_STEERING_DEG):
            raise ValueError(f"steering_angle needs -30 <= low < high <= 30, not {steer_low:g}..{steer_high:g}")
        if not (MIN_SPEED <= speed_low < speed_high <= MAX_SPEED):
            raise ValueError(f"speed needs {MIN_SPEED:g} <= low < high <= {MAX_SPEED:g}, not {speed_low:g}..{speed_high:g}")
        return bounds

    @property
    def slowest_speed(self) -> float:
        """m/s: the slowest speed an action asks for."""
        return min(speed for _, speed in self.actions) if self.discrete else float(self.space.low[1])

    def _index(self, action) -> int:
        # Plain ints are the common case: the NumPy checks only run for anything else.
        if isinstance(action, int | np.integer) and not isinstance(action, bool):
            index = int(action)
        else:
            values = np.asarray(action)
            index = int(values.item()) if values.size == 1 and values.item() == int(values.item()) else -1
        if not 0 <= index < len(self.actions):
            raise ValueError(f"action must be an integer in [0, {len(self.actions)}), not {action!r}")
        return index

    def command(self, action) -> tuple[tuple[float, float], int | str]:
        """The clamped (steering, speed) of an action and its sim-trace `action` column."""
        if self.discrete:
            index = self._index(action)
            return clamp_command(*self.actions[index]), index
        values = np.asarray(action, dtype=np.float64).reshape(-1)
        if values.shape != (2,) or not np.isfinite(values).all():
            raise ValueError(f"a continuous action is [steering_angle, speed] (finite), not {action!r}")
        steering, speed = np.clip(values, self.space.low, self.space.high)
        steering, speed = clamp_command(steering, speed)
        return (steering, speed), f"[{steering:.4f} {speed:.4f}]"


class DeepRacerEnv(gym.Env):
    """A DeepRacer car on a track: observations from its sensors, reward from a reward function."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_HZ}

    def __init__(
        self,
        track: str | Path | Track = DEFAULT_TRACK,
        reverse: bool = False,
        sensors=DEFAULT_SENSORS,
        action_space: dict | None = None,
        race_type: dict | None = None,
        reward_fn=None,
        mode: str = "training",
        start_offset: float = 0.0,
        continuous: bool = False,
        off_track_penalty: float = 5.0,
        collision_penalty: float = 5.0,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
        car_colour=None,
        start_noise: float = 1.0,
    ):
        """``start_noise``: how far every episode start strays from the centre line, as a multiple of
        episode.py's START_LATERAL_NOISE and START_HEADING_NOISE (drawn uniformly from ``np_random``, so the
        same seed gives the same starts); 0 puts the car exactly on the centre line, facing the road.
        ``max_episode_steps``: truncate an episode after this many steps; None = episode.step_cap, three laps
        of the centre line at the action space's slowest speed."""
        if mode not in MODES:
            raise ValueError(f"mode must be 'training' or 'evaluation', not {mode!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'rgb_array', not {render_mode!r}")
        if reward_fn is not None and not callable(reward_fn):
            raise ValueError("reward_fn must be a callable taking the params dict")
        if not isinstance(start_noise, int | float) or not 0.0 <= start_noise <= MAX_START_NOISE:
            raise ValueError(f"start_noise must be a number from 0 to {MAX_START_NOISE:g}, not {start_noise!r}")
        track = track_from(track)
        self.track = track.reversed() if reverse else track
        self.race = RaceConfig.from_dict(race_type)
        self.actions = ActionTable(action_space)
        self.reward_fn = reward_fn or follow_center_line
        self.mode, self.continuous = mode, continuous
        self.penalties = (off_track_penalty, collision_penalty)
        self.render_mode = render_mode
        self.max_episode_steps = (int(max_episode_steps) if max_episode_steps is not None
                                  else step_cap(self.track.length, self.actions.slowest_speed))
        self.start_noise = float(start_noise)

        # Physics and pictures.
        self.world = build_world(
            self.track, boxes=self.race.object_count, bots=self.race.bot_count, car_colour=parse_colour(car_colour)
        )
        self.camera_rig = CameraRig(self.world.model, IMAGE_WIDTH, IMAGE_HEIGHT)
        self.sensors = build_sensors(sensors, self.world, self.camera_rig)
        self.views = Views(self.world)
        # The task.
        self.obstacles = Obstacles(self.race, self.track)
        self.reward_params = RewardParams(self.track)
        self.starts = StartPositions(mode, start_offset)
        self.episode: Episode | None = None
        self._steps_taken = 0
        self._hold_pose = (0.0, 0.0, 0.0)     # where continuous evaluation holds the car during a penalty

        self.observation_space = spaces.Dict({name: sensor.space for name, sensor in self.sensors.items()})
        self.action_space = self.actions.space

    # -- Gymnasium API ---------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            # A seeded reset restarts the episode sequence too: same seed, same episodes.
            self.starts.episodes = 0
        start = self.starts.next_start()
        world = self.world
        world.reset()
        self.obstacles.reset(self.np_random, start * self.track.length)
        self.episode = Episode(
            self.track, start, continuous=self.continuous,
            off_track_penalty=self.penalties[0], collision_penalty=self.penalties[1],
            start_perturbation=self._start_perturbation(),
        )
        world.car.place(*self.episode.start_pose)
        self._place_obstacles(boxes=True)
        world.forward()
        self._steps_taken = 0
        placement = self._placement()
        info = {
            "episode_status": Status.PREPARE.value,
            "progress": 0.0,
            "trace": self._trace(placement, (0.0, 0.0), 0, 0.0, Status.PREPARE.value, 0.0, done=False),
        }
        return self._observe(), info

    def step(self, action):
        if self.episode is None:
            raise RuntimeError("call reset() before step()")
        (steering, speed), trace_action = self.actions.command(action)
        world = self.world
        world.car.command(steering, speed)
        world.step()
        self.obstacles.advance(self.np_random)
        self._place_obstacles()
        placement = self._placement()
        hit = self.obstacles.hit(*placement.origin, placement.heading)
        outcome = self.episode.step(placement, crashed=hit)
        self._steps_taken += 1

        status = outcome.status
        params = self.reward_params.build(
            placement,
            steering_angle=steering,
            speed=speed,
            progress=outcome.progress,
            steps=self.episode.steps,
            is_offtrack=status == Status.OFF_TRACK,
            is_crashed=status == Status.CRASHED,
            sim_time=float(world.data.time),
            objects=self.obstacles.track_objects(),
        )
        reward = checked_reward(self.reward_fn, params)
        if outcome.reset_pose is not None:
            # Continuous evaluation: back on the centre line, to sit out the penalty.
            self._hold_pose = self.obstacles.clear_reset_pose(self.track, outcome.reset_pose)
        if status == Status.PAUSE or outcome.reset_pose is not None:
            world.car.place(*self._hold_pose)
            world.forward()
        terminated = outcome.done
        truncated = not terminated and self._steps_taken >= self.max_episode_steps
        info = {
            "params": params,
            "episode_status": status.value,
            "progress": outcome.progress,
            "trace": self._trace(placement, (steering, speed), trace_action, reward, status.value,
                                 outcome.pause_duration, done=terminated or truncated),
        }
        if self.continuous:
            episode = self.episode
            info.update(off_track_count=episode.off_track_count, crash_count=episode.crash_count,
                        reset_count=episode.reset_count, penalty_time=episode.penalty_time)
        return self._observe(), reward, terminated, truncated, info

    def render(self):
        if self.render_mode == "rgb_array":
            return self.views.chase()
        return None

    def render_camera(self) -> np.ndarray:
        """What the car sees, as an RGB image: the front camera, or the stereo pair side by side."""
        stereo = "STEREO_CAMERAS" in self.sensors
        cameras = ("stereo_left", "stereo_right") if stereo else ("front",)
        frames = [to_gray(self.camera_rig.rgb(self.world.data, camera)) for camera in cameras]
        gray = np.hstack(frames)
        return np.repeat(gray[:, :, None], 3, axis=2)

    def render_top_down(self) -> np.ndarray:
        """The whole track from above, with the car, boxes and bots."""
        return self.views.top_down()

    def close(self):
        self.camera_rig.close()
        self.views.close()
        super().close()

    # -- the task --------------------------------------------------------------------------------------

    def _start_perturbation(self) -> tuple[float, float]:
        """(m left of the centre line, rad left of the road) of this episode's start."""
        if not self.start_noise:
            return 0.0, 0.0
        lateral, turn = self.np_random.uniform(-1.0, 1.0, size=2) * self.start_noise
        return float(lateral * START_LATERAL_NOISE), float(turn * START_HEADING_NOISE)

    def _placement(self):
        pose = self.world.car.pose()
        return place_car(self.track, pose.x, pose.y, pose.yaw)

    def _place_obstacles(self, boxes: bool = False) -> None:
        if not self.obstacles.count or (not boxes and not self.obstacles.is_bots):
            return
        indices = self.world.bot_mocap if self.obstacles.is_bots else self.world.box_mocap
        if self.obstacles.is_bots:
            poses = self.obstacles.rear_axle_poses()
        else:
            centres = self.obstacles.positions()
            poses = np.column_stack([centres, self.obstacles.heading])
        # Bot bodies, like the agent's, have their origin at axle height; boxes stand on the ground.
        z = WHEEL_RADIUS if self.obstacles.is_bots else 0.0
        for index, (x, y, yaw) in zip(indices, poses, strict=True):
            self.world.set_mocap(index, x, y, yaw, z)

    def _observe(self) -> dict:
        return {name: sensor.read() for name, sensor in self.sensors.items()}

    def _trace(self, placement, command, action, reward, status, pause, done) -> dict:
        return self.episode.trace(placement, command, action, reward, status, pause, done, self.world.data.time)
