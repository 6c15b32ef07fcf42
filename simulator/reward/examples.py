"""The reward editor's examples (SPEC 1.4): snippets a racer inserts and edits. Each validates clean on
every built-in track and race type (a test holds them to it), an example that reads RACING_LINE with the
track's racing line inserted above it, as the editor inserts it."""

import json
from typing import NamedTuple

from simulator.racing_line import cached_racing_line
from simulator.tracks import Track


class RewardExample(NamedTuple):
    title: str
    description: str
    code: str
    racing_line: bool = False
    """the code reads RACING_LINE, the track's racing line, which the editor inserts above it"""


def racing_line_code(track: Track) -> str:
    """The lines the editor's "Insert racing line" puts above a reward function: the console's racing line
    of ``track`` as RACING_LINE, [[x, y], ...] as racers' racing-line reward functions expect it."""
    line = cached_racing_line(track)
    points = line.points_list()
    return (f"# The console's racing line for this track: {len(points)} [x, y] points, {line.lap_time:.2f} s at "
            f"the car's limits.\nRACING_LINE = {json.dumps(points)}\n\n")


def example_code(slug: str, track: Track | None = None) -> str:
    """An example's code as the editor inserts it: with ``track``'s racing line above it when it reads one."""
    example = EXAMPLES[slug]
    if example.racing_line and track is not None:
        return racing_line_code(track) + example.code
    return example.code


FOLLOW_CENTER_LINE = '''\
def reward_function(params):
    """Time trial: follow the centre line. The closer the car stays to it, the higher the reward."""
    track_width = params["track_width"]
    distance_from_center = params["distance_from_center"]

    # Three bands either side of the centre line, as fractions of the track width.
    if distance_from_center <= 0.1 * track_width:
        reward = 1.0
    elif distance_from_center <= 0.25 * track_width:
        reward = 0.5
    elif distance_from_center <= 0.5 * track_width:
        reward = 0.1
    else:
        reward = 1e-3  # on or past a border: about to leave the track

    return float(reward)
'''

STAY_INSIDE_BORDERS = '''\
def reward_function(params):
    """Time trial: stay inside the two borders. Any line is fine as long as all wheels stay on the road."""
    all_wheels_on_track = params["all_wheels_on_track"]
    distance_from_center = params["distance_from_center"]
    track_width = params["track_width"]

    # Keep a small margin from the border so the car does not hug the white line.
    margin = 0.05 * track_width
    if all_wheels_on_track and distance_from_center + margin <= 0.5 * track_width:
        reward = 1.0
    else:
        reward = 1e-3

    return float(reward)
'''

PREVENT_ZIG_ZAG = '''\
ABS_STEERING_THRESHOLD = 15.0  # degrees: steer harder than this only when the track demands it


def reward_function(params):
    """Time trial: follow the centre line, and penalize sharp steering that makes the car zig-zag."""
    distance_from_center = params["distance_from_center"]
    track_width = params["track_width"]
    abs_steering = abs(params["steering_angle"])

    if distance_from_center <= 0.1 * track_width:
        reward = 1.0
    elif distance_from_center <= 0.25 * track_width:
        reward = 0.5
    elif distance_from_center <= 0.5 * track_width:
        reward = 0.1
    else:
        reward = 1e-3

    if abs_steering > ABS_STEERING_THRESHOLD:
        reward *= 0.8

    return float(reward)
'''

OBJECT_AVOIDANCE = '''\
import math


def reward_function(params):
    """Object avoidance: stay on the road on one lane, and keep away from the object ahead in that lane."""
    all_wheels_on_track = params["all_wheels_on_track"]
    distance_from_center = params["distance_from_center"]
    track_width = params["track_width"]
    objects_location = params["objects_location"]
    is_left_of_center = params["is_left_of_center"]

    # Staying on the road: full reward in one lane (inside half the road), less near the border.
    if not all_wheels_on_track or distance_from_center > 0.5 * track_width:
        return 1e-3
    reward_lane = 1.0 if distance_from_center <= 0.4 * track_width else 0.5

    # Avoiding the next object: only when the race has objects (a time trial passes empty lists).
    reward_avoid = 1.0
    if objects_location:
        ahead = params["closest_objects"][1]
        object_x, object_y = objects_location[ahead]
        distance = math.hypot(params["x"] - object_x, params["y"] - object_y)
        same_lane = params["objects_left_of_center"][ahead] == is_left_of_center
        if same_lane and distance < 0.5:
            reward_avoid = 1e-3
        elif same_lane and distance < 0.8:
            reward_avoid = 0.2
        elif same_lane and distance < 1.2:
            reward_avoid = 0.5

    # Lane keeping matters less than not hitting the object.
    return float(reward_lane + 4.0 * reward_avoid)
'''

PROGRESS = '''\
def reward_function(params):
    """Minimal: reward progress made per step, so that finishing the lap fast pays the most."""
    if not params["all_wheels_on_track"]:
        return 1e-3
    # progress is 0..100 % of the lap, steps counts the steps so far (15 per second).
    return float(params["progress"] / params["steps"]) if params["steps"] > 0 else 1e-3
'''

PROGRESS_PER_STEP = '''\
TIME_COST = 0.15  # % of the lap per step (15 steps a second): a car slower than ~0.4 m/s loses reward

last = {"steps": 0, "progress": 0.0}  # the previous step, kept between calls


def reward_function(params):
    """Speed: the share of the lap gained since the last step, less a small cost per step.

    A lap pays 100 less the cost of its steps, so the same lap in fewer steps pays more; leaving the
    track ends the episode and its gains."""
    steps, progress = params["steps"], params["progress"]
    if steps <= last["steps"]:  # a new episode has started
        last["progress"] = 0.0
    gained = progress - last["progress"]
    last["steps"], last["progress"] = steps, progress
    return float(gained - TIME_COST)
'''

PROGRESS_TIMES_SPEED = '''\
TOP_SPEED = 4.0  # m/s: the fastest a DeepRacer action may ask for

last = {"steps": 0, "progress": 0.0}  # the previous step, kept between calls


def reward_function(params):
    """Speed: the share of the lap gained since the last step, times the square of the speed asked for.

    A lap pays 100 x the mean of (speed / 4)^2 over its ground: the same lap driven faster pays more, and
    leaving the track ends the episode and its gains. Nothing is ever taken away, so a slow car is never
    paid to end its episode early."""
    steps, progress = params["steps"], params["progress"]
    if steps <= last["steps"]:  # a new episode has started
        last["progress"] = 0.0
    gained = max(progress - last["progress"], 0.0)
    last["steps"], last["progress"] = steps, progress
    return float(gained * (params["speed"] / TOP_SPEED) ** 2)
'''

SPEED_ON_RACING_LINE = '''\
TOP_SPEED = 4.0  # m/s: the fastest a DeepRacer action may ask for

last = {"steps": 0, "progress": 0.0}  # the previous step, kept between calls


def reward_function(params):
    """Speed on the racing line: the share of the lap gained since the last step, times the square of the
    speed asked for, paid in full on the racing line and less the farther the car is from it (nothing half
    a track width away). RACING_LINE is the track's racing line, inserted above by "Insert racing line"."""
    steps, progress = params["steps"], params["progress"]
    if steps <= last["steps"]:  # a new episode has started
        last["progress"] = 0.0
    gained = max(progress - last["progress"], 0.0)
    last["steps"], last["progress"] = steps, progress

    x, y = params["x"], params["y"]
    distance = min((px - x) ** 2 + (py - y) ** 2 for px, py in RACING_LINE) ** 0.5
    on_line = max(0.0, 1.0 - distance / (0.5 * params["track_width"]))
    return float(gained * (params["speed"] / TOP_SPEED) ** 2 * on_line)
'''

FOLLOW_TRACK_DIRECTION = '''\
import math

DIRECTION_THRESHOLD = 10.0  # degrees between the car's heading and the track's direction


def reward_function(params):
    """Time trial: point the car along the track, measured between the two closest waypoints."""
    waypoints = params["waypoints"]
    behind, ahead = params["closest_waypoints"]
    heading = params["heading"]

    track_direction = math.degrees(math.atan2(waypoints[ahead][1] - waypoints[behind][1],
                                              waypoints[ahead][0] - waypoints[behind][0]))
    direction_diff = abs(track_direction - heading)
    if direction_diff > 180.0:
        direction_diff = 360.0 - direction_diff

    reward = 1.0
    if direction_diff > DIRECTION_THRESHOLD:
        reward *= 0.5
    if not params["all_wheels_on_track"]:
        reward = 1e-3

    return float(reward)
'''

EXAMPLES: dict[str, RewardExample] = {
    "follow_center_line": RewardExample(
        "Time trial – follow the centre line (default)",
        "Rewards staying close to the centre line, in three bands.", FOLLOW_CENTER_LINE),
    "stay_inside_borders": RewardExample(
        "Time trial – stay inside the two borders",
        "Rewards keeping all four wheels on the road, whatever the line.", STAY_INSIDE_BORDERS),
    "prevent_zig_zag": RewardExample(
        "Time trial – prevent zig-zag",
        "Follows the centre line and penalizes steering beyond 15 degrees.", PREVENT_ZIG_ZAG),
    "object_avoidance": RewardExample(
        "Object avoidance – stay on one lane, keep away from the object ahead",
        "Rewards lane keeping, and distance from the next object when it is in the car's lane.",
        OBJECT_AVOIDANCE),
    "follow_track_direction": RewardExample(
        "Time trial – follow the track's direction",
        "Rewards heading the way the track goes between the two closest waypoints.", FOLLOW_TRACK_DIRECTION),
    "progress": RewardExample(
        "Minimal – progress per step",
        "Rewards the share of the lap gained per step: fast, complete laps pay the most.", PROGRESS),
    "progress_per_step": RewardExample(
        "Speed – progress per step, less a time cost",
        "Rewards the lap gained each step, less a small cost per step: the fewer steps a lap takes, the "
        "more it pays.", PROGRESS_PER_STEP),
    "progress_times_speed": RewardExample(
        "Speed – progress per step times speed squared",
        "Rewards the lap gained each step, weighted by the square of the speed: the faster a lap, the more "
        "it pays, and nothing is taken away.", PROGRESS_TIMES_SPEED),
    "speed_on_racing_line": RewardExample(
        "Speed – progress per step times speed squared, on the racing line",
        "The speed example, paid in full on the track's racing line (inserted with the example) and less "
        "away from it.", SPEED_ON_RACING_LINE, racing_line=True),
}
DEFAULT_EXAMPLE = "follow_center_line"
