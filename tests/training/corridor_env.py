"""A tiny stand-in for DeepRacer-v0 with the same spaces and info, for fast learner and engine tests.

A car drives down a winding corridor whose centre line it sees in a synthetic 160x120 camera image; a
"lap" is the corridor's length. Same constructor arguments as DeepRacerEnv (INTERFACES.md), same
observation Dict, action spaces, statuses, info["trace"], params and reward_fn contract, at ~10k steps/s.
"""

import math
import os
import signal

import gymnasium as gym
import numpy as np

from simulator.default_reward import follow_center_line

LAP_LENGTH = 12.0  # m
HALF_WIDTH = 0.45  # m
WIGGLE_AMPLITUDE = 0.25  # m, lateral swing of the centre line
WIGGLE_PERIOD = 6.0  # m (LAP_LENGTH is a multiple, so every lap is the same road)
STEERING_RESPONSE = 0.5  # m: a forgiving "wheelbase" for the heading rate
DT = 1.0 / 15.0
MAX_STEPS = 1000
HALF_FOV = math.radians(32.5)
ROWS = np.arange(62, 120)
ROW_DISTANCE = 12.0 / (ROWS - 58.0)  # m ahead seen by each image row below the horizon
ORIGINAL_DEEPRACER = {
    "action_space_type": "discrete",
    "action_space": [{"steering_angle": s, "speed": v} for s in (-30, -15, 0, 15, 30) for v in (0.5, 1.0)],
}


def centre_y(s):
    return WIGGLE_AMPLITUDE * np.sin(2 * np.pi * np.asarray(s) / WIGGLE_PERIOD)


class CorridorEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, track="corridor", reverse=False, sensors=("FRONT_FACING_CAMERA",), action_space=None,
                 race_type=None, reward_fn=None, mode="training", start_offset=0.0, continuous=False,
                 off_track_penalty=5.0, collision_penalty=5.0, render_mode=None):
        if mode not in ("training", "evaluation"):
            raise ValueError(f"mode must be training or evaluation, got {mode!r}")
        self.sensors = tuple(sensors)
        self.reward_fn = reward_fn or follow_center_line
        self.mode, self.start_offset, self.reverse = mode, start_offset, reverse
        self.continuous, self.off_track_penalty = continuous, off_track_penalty
        self.render_mode = render_mode
        spec = action_space or ORIGINAL_DEEPRACER
        if spec["action_space_type"] == "discrete":
            self.actions = [(float(a["steering_angle"]), float(a["speed"])) for a in spec["action_space"]]
            self.action_space = gym.spaces.Discrete(len(self.actions))
        else:
            box = spec["action_space"]
            self.actions = None
            self.action_space = gym.spaces.Box(
                np.array([box["steering_angle"]["low"], box["speed"]["low"]], np.float32),
                np.array([box["steering_angle"]["high"], box["speed"]["high"]], np.float32))
        spaces = {}
        for name in self.sensors:
            if name == "FRONT_FACING_CAMERA":
                spaces[name] = gym.spaces.Box(0, 255, (1, 120, 160), np.uint8)
            elif name == "STEREO_CAMERAS":
                spaces[name] = gym.spaces.Box(0, 255, (2, 120, 160), np.uint8)
            elif name == "LIDAR":
                spaces[name] = gym.spaces.Box(0.15, 12.0, (64,), np.float32)
            elif name == "SECTOR_LIDAR":
                spaces[name] = gym.spaces.Box(0.0, 1.0, (8,), np.float32)
            else:
                raise ValueError(f"unknown sensor {name!r}")
        self.observation_space = gym.spaces.Dict(spaces)
        self.episodes = 0

    # ------------------------------------------------------------------------------------ gym API

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if self.mode == "training":
            self.start = ((self.start_offset + 0.05 * self.episodes) % 1.0) * LAP_LENGTH
        else:
            self.start = 0.0
        self.episodes += 1
        self.x = self.start
        self.y = float(centre_y(self.x)) + self.np_random.uniform(-0.05, 0.05)
        self.heading = self.np_random.uniform(-0.1, 0.1)
        self.steps, self.progress, self.falling = 0, 0.0, 0
        self.off_track_count = self.reset_count = 0
        self.penalty_time = 0.0
        return self._observation(), {"episode_status": "prepare", "progress": 0.0}

    def step(self, action):
        steering, speed = self._command(action)
        self.heading += speed * math.tan(math.radians(steering)) / STEERING_RESPONSE * DT
        self.x += speed * math.cos(self.heading) * DT
        self.y += speed * math.sin(self.heading) * DT
        self.steps += 1
        last_progress = self.progress
        self.progress = min(100.0, max(0.0, (self.x - self.start) / LAP_LENGTH * 100.0))
        self.falling = self.falling + 1 if self.progress < last_progress else 0
        offset = self.y - float(centre_y(self.x))
        on_track = abs(offset) <= HALF_WIDTH
        status = "in_progress"
        if self.progress >= 100.0:
            status = "lap_complete"
        elif not on_track:
            status = "off_track"
        elif self.falling >= 15:
            status = "reversed"
        params = self._params(steering, speed, offset, on_track, status)
        reward = float(self.reward_fn(params))
        terminated = status != "in_progress"
        if status == "off_track" and self.continuous:
            terminated = False
            self.off_track_count += 1
            self.reset_count += 1
            self.penalty_time += self.off_track_penalty
            self.y, self.heading = float(centre_y(self.x)), 0.0
        truncated = not terminated and self.steps >= MAX_STEPS
        info = {"params": params, "episode_status": status, "progress": self.progress,
                "trace": self._trace(action, steering, speed, reward, terminated or truncated, on_track, status)}
        if self.continuous:
            info.update(off_track_count=self.off_track_count, crash_count=0, reset_count=self.reset_count,
                        penalty_time=self.penalty_time)
        return self._observation(), reward, terminated, truncated, info

    def render(self):
        picture = np.repeat(self._camera()[:, :, None], 3, axis=2)
        picture[4:20, 4:40] = (255, 0, 0)  # the "picture-in-picture" corner
        return picture

    def render_camera(self):
        return self._camera()[None]

    # ------------------------------------------------------------------------------------ helpers

    def _command(self, action):
        if self.actions is not None:
            return self.actions[int(action)]
        action = np.clip(np.asarray(action, np.float32), self.action_space.low, self.action_space.high)
        return float(action[0]), float(action[1])

    def _camera(self) -> np.ndarray:
        image = np.full((120, 160), 60, np.uint8)
        image[:60] = 140
        ahead = self.x + ROW_DISTANCE
        lateral = (centre_y(ahead) - self.y) - ROW_DISTANCE * math.tan(self.heading)
        scale = 80.0 / (ROW_DISTANCE * math.tan(HALF_FOV))
        for shift, value in ((0.0, 255), (HALF_WIDTH, 190), (-HALF_WIDTH, 190)):
            columns = np.round(80.0 - (lateral + shift) * scale).astype(int)
            for width in (0, 1):
                visible = (columns + width >= 0) & (columns + width < 160)
                image[ROWS[visible], columns[visible] + width] = value
        return image

    def _observation(self) -> dict:
        obs = {}
        camera = self._camera()
        offset = self.y - float(centre_y(self.x))
        for name in self.sensors:
            if name == "FRONT_FACING_CAMERA":
                obs[name] = camera[None]
            elif name == "STEREO_CAMERAS":
                obs[name] = np.stack([camera, camera])
            elif name == "LIDAR":
                angles = np.radians(np.linspace(-150, 150, 64)) + self.heading
                sine = np.sin(angles)
                wall = np.where(sine > 0, HALF_WIDTH - offset, HALF_WIDTH + offset)
                ranges = np.where(np.abs(sine) > 1e-3, wall / np.maximum(np.abs(sine), 1e-3), 12.0)
                obs[name] = np.clip(ranges, 0.15, 12.0).astype(np.float32)
            elif name == "SECTOR_LIDAR":
                obs[name] = np.zeros(8, np.float32)
                obs[name][0 if offset > 0.3 else 7 if offset < -0.3 else 3] = 1.0
        return obs

    def _params(self, steering, speed, offset, on_track, status) -> dict:
        waypoints = [(float(s), float(centre_y(s))) for s in np.linspace(0, LAP_LENGTH, 25)]
        index = int(self.x % LAP_LENGTH / (LAP_LENGTH / 24))
        return {
            "all_wheels_on_track": on_track, "x": self.x, "y": self.y,
            "heading": math.degrees(self.heading), "steering_angle": steering, "speed": speed,
            "progress": self.progress, "steps": self.steps, "distance_from_center": abs(offset),
            "is_left_of_center": offset > 0, "track_width": 2 * HALF_WIDTH, "track_length": LAP_LENGTH,
            "waypoints": waypoints, "closest_waypoints": [index, index + 1], "is_reversed": self.reverse,
            "is_offtrack": status == "off_track", "is_crashed": False, "projection_distance": self.x % LAP_LENGTH,
            "closest_objects": [0, 0], "objects_location": [], "objects_distance": [],
            "objects_distance_from_center": [], "objects_left_of_center": [], "objects_heading": [],
            "objects_speed": [], "object_in_camera": False, "sim_time": self.steps * DT,
        }

    def _trace(self, action, steering, speed, reward, done, on_track, status) -> dict:
        return {
            "steps": self.steps, "X": self.x, "Y": self.y, "yaw": math.degrees(self.heading),
            "steer": steering, "throttle": speed,
            "action": int(action) if self.actions is not None else [steering, speed],
            "reward": reward, "done": done, "all_wheels_on_track": on_track, "progress": self.progress,
            "closest_waypoint": int(self.x % LAP_LENGTH / (LAP_LENGTH / 24)), "track_len": LAP_LENGTH,
            "tstamp": self.steps * DT, "episode_status": status, "pause_duration": 0.0,
            "obstacle_crash_counter": 0,
        }


class PrintingReward:
    """A reward callable with the sandbox's drain_prints(): the engine must carry its prints to the log."""

    def __init__(self):
        self.prints = []

    def __call__(self, params):
        if params["steps"] == 1:
            self.prints.append(f"starting at x={params['x']:.2f}")
        return follow_center_line(params)

    def drain_prints(self):
        drained, self.prints = self.prints, []
        return drained


def failing_reward(params):
    if params["steps"] >= 3:
        raise ZeroDivisionError("division by zero in reward_function line 7")
    return 1.0


def failing_reward_factory():
    return failing_reward


class DyingCorridorEnv(CorridorEnv):
    """A corridor whose env worker process dies (SIGKILL, as the kernel's out-of-memory killer does) at
    step ``die_at_step`` of a training episode: once, when ``death_file`` exists (the first to die removes
    it), or every time when ``death_file`` is None."""

    def __init__(self, *args, die_at_step=5, death_file=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.die_at_step, self.death_file = die_at_step, death_file

    def step(self, action):
        result = super().step(action)
        if self.mode == "training" and self.steps == self.die_at_step and self._death_is_due():
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    def _death_is_due(self) -> bool:
        if self.death_file is None:
            return True
        try:
            os.unlink(self.death_file)  # atomic: of two workers only one dies
        except FileNotFoundError:
            return False
        return True
