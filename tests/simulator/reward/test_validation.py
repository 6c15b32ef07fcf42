"""Validate (SPEC 1.3): the error types and lines racers see, warnings kept apart, states from the track."""

import re
import sys
import textwrap
from pathlib import Path

import pytest

from simulator.reward.validation import (
    IMPORT_ERROR,
    MAX_CODE_CHARS,
    SYNTAX_ERROR,
    TEST_FAILURE,
    synthetic_states,
    validate_reward_function,
    validate_with_warnings,
)
from simulator.tracks import get_track, load_npy

SHARED_TRACKS = Path(__file__).resolve().parents[3] / ".." / "shared" / "tracks"
OBJECT_AVOIDANCE = {"race_type": "OBJECT_AVOIDANCE", "object_count": 3, "randomize_objects": False,
                    "object_positions": [[0.2, "inner"], [0.5, "outer"], [0.8, "inner"]]}
HEAD_TO_BOT = {"race_type": "HEAD_TO_BOT", "bot_count": 2, "bot_speed": 1.5, "bot_lane_changes": True}


@pytest.fixture(scope="module")
def track():
    return get_track("quick_loop")


def validate(code, track, race_type=None, **options):
    return validate_with_warnings(textwrap.dedent(code), track, race_type, **options)


def kinds_and_lines(findings):
    return [(finding["type"], finding["line"]) for finding in findings]


# --- static checks ---------------------------------------------------------------------------------

def test_it_reports_a_syntax_error_with_its_line(track):
    errors, warnings = validate("""
        def reward_function(params):
            if params["speed"] > 1
                return 1.0
            return 0.0
    """, track)
    assert kinds_and_lines(errors) == [(SYNTAX_ERROR, 3)]
    assert "SyntaxError" in errors[0]["message"] and warnings == []


def test_it_reports_what_only_the_compiler_sees(track):
    errors, _ = validate("return 1.0\ndef reward_function(params):\n    return 1.0\n", track)
    assert kinds_and_lines(errors) == [(SYNTAX_ERROR, 1)]
    assert "outside function" in errors[0]["message"]


def test_it_fails_undefined_names_but_only_warns_unused_names_and_style(track):
    errors, warnings = validate("""
        import math
        import random
        def reward_function( params ):
            unused = 3    #no space after the hash, odd spacing, a very long line -------------------------------------------------------
            return float(progres)
    """, track)
    assert errors == [{"type": SYNTAX_ERROR, "message": "Undefined name 'progres'", "line": 6}]
    assert kinds_and_lines(warnings) == [("WARNING", 2), ("WARNING", 3), ("WARNING", 5)]
    assert "'math' imported but unused" in warnings[0]["message"]


def test_it_reports_calls_with_the_wrong_number_of_arguments(track):
    errors, _ = validate("""
        def score(distance, width, scale=1.0, *, floor):
            return max(floor, 1 - distance / width) * scale

        def reward_function(params):
            a = score(params["distance_from_center"], floor=0.0)
            b = score(1, 2, 3, 4, floor=0.0)
            c = score(1, 2, floor=0.0, ceiling=1.0)
            d = score(1, 2, distance=1, floor=0.0)
            e = score(1, 2)
            return float(a + b + c + d + e)
    """, track)
    assert errors == [
        {"type": SYNTAX_ERROR, "message": "TypeError: score() missing 1 required argument: 'width'", "line": 6},
        {"type": SYNTAX_ERROR, "message": "TypeError: score() takes 3 positional arguments but 4 were given",
         "line": 7},
        {"type": SYNTAX_ERROR, "message": "TypeError: score() got an unexpected keyword argument 'ceiling'",
         "line": 8},
        {"type": SYNTAX_ERROR, "message": "TypeError: score() got multiple values for argument 'distance'",
         "line": 9},
        {"type": SYNTAX_ERROR, "message": "TypeError: score() missing 1 required argument: 'floor'", "line": 10},
    ]


def test_it_checks_arity_only_where_the_signature_is_certain(track):
    errors, _ = validate("""
        import functools

        def flexible(*args, **kwargs):
            return float(len(args) + len(kwargs))

        def replaced(a):
            return a

        replaced = flexible

        @functools.lru_cache
        def cached(a, b):
            return a + b

        def reward_function(params):
            values = [1, 2, 3]
            return flexible(1, 2, x=3) + replaced(1, 2) + cached(1, 2) + flexible(*values) + 0.0
    """, track)
    assert errors == []


@pytest.mark.parametrize("statement", [
    "import os", "import sys", "import subprocess", "import socket", "import ctypes", "import importlib",
    "import pickle", "from os import path", "import numpy, os.path", "from . import settings",
])
def test_it_refuses_imports_outside_the_allowed_list(track, statement):
    errors, _ = validate(f"import math\n{statement}\ndef reward_function(params):\n    return 1.0\n", track)
    assert (IMPORT_ERROR, 2) in kinds_and_lines(errors)


def test_it_accepts_every_allowed_import(track):
    errors, _ = validate("""
        import math, random, bisect, collections, functools, itertools, heapq, statistics, copy, time, json, re
        import typing, dataclasses, enum
        import numpy as np
        import scipy
        from scipy.spatial import distance
        from shapely.geometry import Point, Polygon
        def reward_function(params):
            return float(math.pi + np.sqrt(4.0) + distance.euclidean([0, 0], [3, 4]) + Point(0, 0).x)
    """, track)
    assert errors == []


@pytest.mark.parametrize("call", [
    "open('/etc/passwd')", "exec('x = 1')", "eval('1')", "compile('1', 'f', 'eval')", "input()",
    "__import__('os')", "().__class__.__base__.__subclasses__()", "getattr(params, '__globals__')",
    "reward_function.__globals__", "__builtins__",
])
def test_it_refuses_dangerous_builtins_and_interpreter_escapes(track, call):
    errors, _ = validate(f"def reward_function(params):\n    x = {call}\n    return 1.0\n", track)
    assert errors and all(finding["type"] == IMPORT_ERROR and finding["line"] == 2 for finding in errors)


def test_it_allows_a_name_the_code_defines_itself(track):
    errors, _ = validate("""
        def input(params):
            return params["speed"]
        def reward_function(params):
            return float(input(params))
    """, track)
    assert errors == []


@pytest.mark.parametrize("code, message", [
    ("def reward(params):\n    return 1.0\n", "must define a function reward_function"),
    ("def reward_function(params, extra):\n    return 1.0\n", "takes params, extra"),
    ("def reward_function():\n    return 1.0\n", "takes none"),
    ("def reward_function(*args):\n    return 1.0\n", "takes \\*args"),
    ("def reward_function(params, **options):\n    return 1.0\n", "exactly one parameter"),
    ("async def reward_function(params):\n    return 1.0\n", "not async"),
])
def test_it_requires_a_reward_function_of_one_parameter(track, code, message):
    errors, _ = validate(code, track)
    assert [finding["type"] for finding in errors] == [TEST_FAILURE]
    assert re.search(message, errors[0]["message"])


def test_it_enforces_the_size_limit(track):
    padding = "#" * (MAX_CODE_CHARS - 60) + "\n"
    code = padding + "def reward_function(params):\n    return 1.0\n"
    assert len(code) <= MAX_CODE_CHARS and validate_reward_function(code, track) == []
    errors = validate_reward_function(code + "#" * 100, track)
    assert errors == [{"type": SYNTAX_ERROR, "line": None,
                       "message": f"The reward function is {len(code) + 100:,} characters long; the limit is "
                                  "140,000."}]


def test_it_never_runs_the_code_in_the_calling_process(track, capsys):
    validate("import os\nprint('SIDE EFFECT')\nos.remove('/nonexistent')\n"
             "def reward_function(params):\n    return 1.0\n", track)
    validate("print('SIDE EFFECT')\ndef reward_function(params):\n    return 1.0\n", track)
    assert "SIDE EFFECT" not in capsys.readouterr().out
    assert "reward_function" not in sys.modules


# --- dynamic checks --------------------------------------------------------------------------------

def test_it_demands_a_float_on_every_state(track):
    errors, _ = validate("def reward_function(params):\n    return 1\n", track)
    assert errors == [{"type": TEST_FAILURE, "line": None, "message":
                       "On the start line, normal, mid-track, off-track and finish states: reward_function "
                       "returned int (1); it must return a float, e.g. return float(reward)"}]


def test_it_names_the_state_that_fails_and_the_line(track):
    errors, _ = validate("""
        def reward_function(params):
            if params["is_offtrack"]:
                return float("nan")
            if params["steps"] == 10000:
                return 1.0 / (params["speed"] - 5.0)
            return 1.0
    """, track)
    assert errors == [
        {"type": TEST_FAILURE, "line": None, "message": "On the off-track state: reward_function returned nan; "
                                                        "a reward must be finite and within [-100000, 100000]"},
        {"type": TEST_FAILURE, "line": 6, "message": "On the finish state: ZeroDivisionError: float division "
                                                     "by zero"},
    ]


def test_it_reports_module_code_that_fails_to_load(track):
    errors, _ = validate("import math\nTABLE = [1, 2]\nSTART = TABLE[5]\ndef reward_function(params):\n"
                         "    return 1.0\n", track)
    assert errors == [{"type": TEST_FAILURE, "line": 3, "message": "Failed while loading the code: IndexError: "
                                                                   "list index out of range (while loading the "
                                                                   "module)"}]


def test_it_stops_a_state_that_runs_past_its_time_limit(track):
    errors, _ = validate("""
        def reward_function(params):
            while params["progress"] == 100.0:
                pass
            return 1.0
    """, track, state_timeout=0.5)
    assert kinds_and_lines(errors) == [(TEST_FAILURE, None)]
    assert errors[0]["message"] == "On the finish state: reward_function did not finish within 0.5 s"


def test_it_fails_a_function_that_needs_objects_on_a_time_trial_only(track):
    code = "def reward_function(params):\n    return float(params['objects_distance'][0])\n"
    errors, _ = validate(code, track)
    assert kinds_and_lines(errors) == [(TEST_FAILURE, 2)] and "IndexError" in errors[0]["message"]
    assert validate(code, track, OBJECT_AVOIDANCE)[0] == []
    assert validate(code, track, HEAD_TO_BOT)[0] == []


def test_it_builds_the_spec_states_from_the_track(track):
    states = dict(synthetic_states(track))
    assert list(states) == ["start line", "normal", "mid-track", "off-track", "finish"]
    for params in states.values():
        assert params["waypoints"] == track.waypoints and type(params["waypoints"]) is list
        assert all(type(point) is tuple for point in params["waypoints"])
        assert params["track_length"] == track.length
        assert params["objects_location"] == [] and params["closest_objects"] == [0, 0]
    normal = states["normal"]
    assert 0 < normal["distance_from_center"] < normal["track_width"] / 4 and normal["all_wheels_on_track"]
    assert states["start line"]["progress"] == 0.0 and states["start line"]["closest_waypoints"] == [0, 1]
    assert (states["mid-track"]["progress"], states["mid-track"]["steps"]) == (50.0, 100)
    off = states["off-track"]
    assert off["is_offtrack"] and off["distance_from_center"] == off["track_width"]
    assert not off["all_wheels_on_track"]
    finish = states["finish"]
    assert (finish["progress"], finish["steps"], finish["speed"]) == (100.0, 10000, 5.0)


def test_it_puts_the_race_types_objects_into_the_states(track):
    boxes = dict(synthetic_states(track, OBJECT_AVOIDANCE))["normal"]
    assert len(boxes["objects_location"]) == 3 and boxes["objects_speed"] == [0.0, 0.0, 0.0]
    assert [round(d / track.length, 2) for d in boxes["objects_distance"]] == [0.2, 0.5, 0.8]
    bots = dict(synthetic_states(track, HEAD_TO_BOT))["normal"]
    assert len(bots["objects_location"]) == 2 and bots["objects_speed"] == [1.5, 1.5]


# --- real reward functions: they validate, and give the same values in and out of the sandbox -------

REALISTIC = {
    "waypoint heading": """
        import math

        def reward_function(params):
            waypoints = params['waypoints']
            closest_waypoints = params['closest_waypoints']
            heading = params['heading']
            reward = 1.0

            next_point = waypoints[closest_waypoints[1]]
            prev_point = waypoints[closest_waypoints[0]]
            track_direction = math.degrees(math.atan2(next_point[1] - prev_point[1], next_point[0] - prev_point[0]))
            direction_diff = abs(track_direction - heading)
            if direction_diff > 180:
                direction_diff = 360 - direction_diff
            if direction_diff > 10.0:
                reward *= 0.5
            return float(reward)
    """,
    "racing line with embedded points": """
        import math

        # A racing line: (x, y, target speed) for points round the lap, pasted from a notebook.
        RACING_LINE = [
            (0.00, 0.00, 2.5), (1.50, -0.10, 3.0), (3.00, 0.20, 2.0), (4.10, 1.10, 1.5), (4.20, 2.40, 1.5),
            (3.30, 3.20, 2.0), (1.80, 3.40, 2.5), (0.40, 3.00, 2.0), (-0.60, 2.10, 1.5), (-0.70, 0.80, 2.0),
        ]

        def closest_index(x, y):
            distances = [math.hypot(px - x, py - y) for px, py, _ in RACING_LINE]
            return distances.index(min(distances))

        def reward_function(params):
            if not params["all_wheels_on_track"] or params["is_offtrack"]:
                return 1e-3
            index = closest_index(params["x"], params["y"])
            px, py, target_speed = RACING_LINE[index]
            distance_reward = max(1e-3, 1 - math.hypot(px - params["x"], py - params["y"]) / 2)
            speed_reward = max(1e-3, 1 - abs(params["speed"] - target_speed) / 4)
            return float(distance_reward * 2 + speed_reward + params["progress"] / 100)
    """,
    "numpy and shapely": """
        import numpy as np
        from shapely.geometry import LineString, Point

        def reward_function(params):
            centre = LineString(params["waypoints"])
            here = Point(params["x"], params["y"])
            along = centre.project(here, normalized=True)
            points = np.array(params["waypoints"])
            spread = float(np.linalg.norm(points - points.mean(axis=0), axis=1).std())
            on_line = np.exp(-(centre.distance(here) / (params["track_width"] / 2)) ** 2)
            return float(on_line + along + spread / 100)
    """,
    "global state": """
        import collections

        history = collections.deque(maxlen=5)
        calls = {"count": 0}

        def reward_function(params):
            calls["count"] += 1
            history.append(params["steering_angle"])
            steadiness = 1.0 / (1.0 + max(history) - min(history))
            return float(steadiness + calls["count"] / 100)
    """,
    "object avoidance": """
        import math

        def reward_function(params):
            reward = 1e-3
            if params["all_wheels_on_track"] and 0.5 * params["track_width"] - params["distance_from_center"] >= 0.05:
                reward = 1.0
            if params["objects_location"]:
                _, ahead = params["closest_objects"]
                object_x, object_y = params["objects_location"][ahead]
                distance = math.sqrt((params["x"] - object_x) ** 2 + (params["y"] - object_y) ** 2)
                same_lane = params["objects_left_of_center"][ahead] == params["is_left_of_center"]
                reward *= 0.5 if same_lane and distance < 0.8 else 1.0
            return float(reward)
    """,
}


@pytest.mark.parametrize("name", REALISTIC)
@pytest.mark.parametrize("race_type", [None, OBJECT_AVOIDANCE], ids=["time trial", "object avoidance"])
def test_it_accepts_real_reward_functions_and_they_run_the_same_in_the_sandbox(track, backend, name, race_type):
    from simulator.reward.sandbox import RewardSandbox

    code = textwrap.dedent(REALISTIC[name])
    errors, warnings = validate_with_warnings(code, track, race_type, backend=backend)
    assert errors == [] and warnings == []
    states = [params for _, params in synthetic_states(track, race_type)]
    namespace = {}
    exec(compile(code, "reward_function.py", "exec"), namespace)    # trusted test code, run in-process
    expected = [namespace["reward_function"](dict(params)) for params in states]
    with RewardSandbox(code, backend=backend) as sandbox:
        assert [sandbox(params) for params in states] == expected
    with RewardSandbox(code, backend=backend) as sandbox:
        assert sandbox.call_batch(states) == expected


def test_it_validates_on_real_deepracer_tracks_both_ways():
    code = textwrap.dedent(REALISTIC["waypoint heading"])
    for path in sorted(SHARED_TRACKS.glob("*.npy")):
        track = load_npy(path, path.stem)
        for direction in (track, track.reversed()):
            assert validate_reward_function(code, direction) == [], path.name


RACING_LINE_CLASS = '''
class Racer:
    def __init__(self):
        self.start_progress = None

    def reward(self, params):
        if params["steps"] == 1:
            self.start_progress = params["progress"]
        return float(1.0 + (params["progress"] - self.start_progress) / 100)


racer = Racer()


def reward_function(params):
    return racer.reward(params)
'''


def test_it_runs_the_states_in_the_order_of_an_episode(track):
    # A function that sets up its state on an episode's first step (as racing-line classes do) passes.
    assert validate_reward_function(RACING_LINE_CLASS, track) == []
