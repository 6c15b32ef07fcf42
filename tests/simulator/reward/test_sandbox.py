"""RewardSandbox: real DeepRacer-style reward functions behave as in DeepRacer, failures come back typed."""

import logging

import pytest

from simulator.reward import sandbox as sandbox_module
from simulator.reward.sandbox import (
    IsolationUnavailable,
    RewardCodeError,
    RewardCrash,
    RewardMemoryError,
    RewardSandbox,
    RewardTimeout,
    RewardValueError,
    check_isolation,
)
from tests.simulator.reward.conftest import BACKENDS

WAYPOINTS = [(float(i), 0.5 * i) for i in range(10)] + [(0.0, 0.0)]


def test_it_has_a_working_isolation_backend():
    """The host must isolate reward code; no backend at all is a failure, never a skip."""
    assert check_isolation() in sandbox_module.BACKENDS


def test_it_keeps_module_state_helpers_and_classes_between_calls(make_sandbox):
    sandbox = make_sandbox("""
        import math

        SCALE = 2.0
        history = []

        class Memory:
            best = 0.0

        def helper(progress):
            return progress / 100 * SCALE

        def reward_function(params):
            history.append(params["progress"])
            Memory.best = max(Memory.best, params["progress"])
            return float(helper(params["progress"]) + len(history) + Memory.best / 1000)
    """)
    assert sandbox({"progress": 50.0}) == pytest.approx(1.0 + 1 + 0.05)
    assert sandbox({"progress": 10.0}) == pytest.approx(0.2 + 2 + 0.05)


def test_it_passes_params_in_step_order_in_a_batch(make_sandbox):
    sandbox = make_sandbox("""
        seen = []
        def reward_function(params):
            seen.append(params["steps"])
            return float(seen[-1] * 10 + len(seen))
    """)
    assert sandbox.call_batch([{"steps": step} for step in (1, 2, 3)]) == [11.0, 22.0, 33.0]
    assert sandbox({"steps": 4}) == 44.0
    assert sandbox.call_batch([]) == []


def test_it_gives_each_call_a_fresh_params_dict(make_sandbox):
    sandbox = make_sandbox("""
        def reward_function(params):
            reward = float(len(params["waypoints"]) + params.get("poisoned", 0))
            params["poisoned"] = 1000
            params["waypoints"].clear()
            params["closest_waypoints"][0] = 99
            return reward
    """)
    params = {"waypoints": WAYPOINTS, "closest_waypoints": [0, 1]}
    assert sandbox(params) == len(WAYPOINTS)
    assert sandbox(params) == len(WAYPOINTS)
    assert sandbox.call_batch([params, params]) == [len(WAYPOINTS)] * 2
    assert params == {"waypoints": WAYPOINTS, "closest_waypoints": [0, 1]}


def test_it_gives_points_as_lists_of_tuples_and_follows_a_change_of_track(make_sandbox):
    sandbox = make_sandbox("""
        def reward_function(params):
            for points in (params["waypoints"], params.get("objects_location", [])):
                assert type(points) is list and all(type(point) is tuple for point in points)
            return float(params["waypoints"][1][0])
    """)
    assert sandbox({"waypoints": WAYPOINTS, "objects_location": [(1.0, 2.0), (3.0, 4.0)]}) == 1.0
    other = [(5.0, 5.0), (7.0, 1.0), (5.0, 5.0)]
    assert sandbox({"waypoints": WAYPOINTS}) == 1.0
    assert sandbox({"waypoints": other}) == 7.0
    assert sandbox.call_batch([{"waypoints": WAYPOINTS}, {"waypoints": other}, {"waypoints": other}]) == [
        1.0, 7.0, 7.0]


def test_it_captures_print_output_for_the_training_log(make_sandbox):
    sandbox = make_sandbox("""
        print("loaded")
        def reward_function(params):
            print("progress", params["progress"])
            print("a", "b", sep="-", end="!\\n")
            return 1.0
    """)
    sandbox({"progress": 1.5})
    sandbox.call_batch([{"progress": 2.0}])
    assert sandbox.drain_prints() == ["loaded", "progress 1.5", "a-b!", "progress 2.0", "a-b!"]
    assert sandbox.drain_prints() == []


def test_it_bounds_print_output(make_sandbox):
    sandbox = make_sandbox("""
        def reward_function(params):
            for line in range(params["lines"]):
                print("x" * 100)
            return 1.0
    """)
    sandbox({"lines": 5000})
    lines = sandbox.drain_prints()
    assert sum(map(len, lines)) < 70_000
    assert "more characters of print output dropped" in lines[-1]
    for _ in range(5):
        sandbox({"lines": 600})
    lines = sandbox.drain_prints()
    assert len(lines) <= sandbox_module.MAX_PRINT_LINES + 1
    assert "earlier lines of print output dropped" in lines[-1]


def test_it_accepts_the_numbers_deepracer_passes_through_float(make_sandbox):
    sandbox = make_sandbox("""
        import numpy as np
        def reward_function(params):
            return [1, True, np.float32(0.5), np.int64(3), 1e5, -1e5][params["which"]]
    """)
    assert [sandbox({"which": which}) for which in range(6)] == [1.0, 1.0, 0.5, 3.0, 1e5, -1e5]


def test_it_demands_a_float_in_strict_mode(make_sandbox):
    sandbox = make_sandbox("def reward_function(params):\n    return 1\n", strict_float=True)
    with pytest.raises(RewardValueError, match="returned int .*must return a float"):
        sandbox({})


@pytest.mark.parametrize("value, message", [
    ("float('nan')", "nan"), ("float('inf')", "inf"), ("1e300", "1e\\+300"), ("-100001.0", "-100001"),
    ("'1.0'", "returned str"), ("None", "returned NoneType"), ("[1.0]", "float\\(\\) of the returned list"),
])
def test_it_refuses_rewards_that_are_not_finite_numbers_in_range(make_sandbox, value, message):
    sandbox = make_sandbox(f"def reward_function(params):\n    return {value}\n")
    with pytest.raises(RewardValueError, match=message):
        sandbox({})
    assert sandbox.call_batch([]) == []


def test_it_reports_the_racer_exception_with_its_line(make_sandbox):
    sandbox = make_sandbox("""
        def helper(params):
            return params["speed"] / params["steps"]

        def reward_function(params):
            return float(helper(params))
    """)
    assert sandbox({"speed": 1.0, "steps": 2}) == 0.5
    with pytest.raises(RewardCodeError) as caught:
        sandbox({"speed": 1.0, "steps": 0})
    assert caught.value.line == 3
    assert "ZeroDivisionError: float division by zero" in caught.value.message
    assert str(caught.value).startswith("line 3: ")
    assert sandbox({"speed": 3.0, "steps": 2}) == 1.5, "a code error keeps the sandbox and its state"


def test_it_reports_the_failing_step_of_a_batch_and_what_came_before(make_sandbox):
    sandbox = make_sandbox("""
        def reward_function(params):
            print("step", params["steps"])
            return 1.0 / (3 - params["steps"])
    """)
    with pytest.raises(RewardCodeError) as caught:
        sandbox.call_batch([{"steps": step} for step in (1, 2, 3, 4)])
    assert caught.value.completed == 2
    assert caught.value.line == 4
    assert sandbox.drain_prints() == ["step 1", "step 2", "step 3"]


@pytest.mark.parametrize("code, line, message", [
    ("def reward_function(params)\n    return 1.0\n", 1, "SyntaxError"),
    ("import math\nx = 1 / 0\ndef reward_function(params):\n    return 1.0\n", 2, "ZeroDivisionError"),
    ("def reward(params):\n    return 1.0\n", None, "defines no reward_function"),
    ("import os\ndef reward_function(params):\n    return 1.0\n", 1, "import of 'os' is not allowed"),
])
def test_it_reports_a_module_that_does_not_load(backend, code, line, message):
    with pytest.raises(RewardCodeError, match=message) as caught:
        RewardSandbox(code, backend=backend)
    assert caught.value.line == line


def test_it_stops_a_call_at_its_deadline_and_restarts_fresh(make_sandbox):
    sandbox = make_sandbox("""
        import time
        calls = 0
        def reward_function(params):
            global calls
            calls += 1
            if params.get("stall"):
                time.sleep(30)
            return float(calls)
    """, call_timeout=0.5)
    assert sandbox({}) == 1.0
    first_pid = sandbox.pid
    with pytest.raises(RewardTimeout, match="did not finish within 0.5 s"):
        sandbox({"stall": True})
    assert sandbox({}) == 1.0, "a restarted sandbox reloads the module"
    assert sandbox.restarts == 1 and sandbox.pid != first_pid


def test_it_stops_module_code_that_never_finishes(backend):
    with pytest.raises(RewardTimeout, match="loading the module"):
        RewardSandbox("while True:\n    pass\n", backend=backend, load_timeout=1.0)


def test_it_reports_running_out_of_memory(make_sandbox):
    sandbox = make_sandbox("""
        def reward_function(params):
            hoard = []
            while params.get("hoard"):
                hoard.append(bytearray(10_000_000))
            return 4.0
    """, memory_limit=300 << 20)
    with pytest.raises(RewardMemoryError, match="ran out of memory"):
        sandbox({"hoard": True})
    assert sandbox({}) == 4.0, "the memory came back when the call failed"


def test_it_reports_a_crash_and_recovers(make_sandbox):
    sandbox = make_sandbox("""
        import numpy.ctypeslib
        def reward_function(params):
            if params.get("crash"):
                numpy.ctypeslib.ctypes.string_at(0)
            return 2.0
    """)
    with pytest.raises(RewardCrash, match="SIGSEGV"):
        sandbox({"crash": True})
    assert sandbox({}) == 2.0


def test_it_survives_being_closed_twice_and_used_as_a_context_manager(backend):
    with RewardSandbox("def reward_function(params):\n    return 1.0\n", backend=backend) as sandbox:
        assert sandbox({}) == 1.0
    sandbox.close()
    assert sandbox.pid is None


def test_it_runs_the_allowed_libraries_inside_the_sandbox(make_sandbox):
    sandbox = make_sandbox("""
        import numpy as np
        from scipy import interpolate, spatial
        from shapely.geometry import LineString, Point

        def reward_function(params):
            line = LineString(params["waypoints"])
            tree = spatial.cKDTree(np.array(params["waypoints"]))
            _, nearest = tree.query([params["x"], params["y"]])
            curve = interpolate.interp1d([0.0, 1.0], [0.0, 2.0])
            return float(line.distance(Point(params["x"], params["y"])) + nearest + curve(0.5))
    """)
    assert sandbox({"waypoints": WAYPOINTS, "x": 2.0, "y": 1.0}) == pytest.approx(0.0 + 2 + 1.0)


def test_it_logs_loudly_when_isolation_is_switched_off(monkeypatch, caplog):
    monkeypatch.setenv(sandbox_module.ENV_SWITCH, "unsafe-local")
    with caplog.at_level(logging.WARNING, logger="simulator.reward.sandbox"):
        assert check_isolation() == "unsafe-local"
        with RewardSandbox("def reward_function(params):\n    return 3.0\n") as sandbox:
            assert sandbox.backend == "unsafe-local" and sandbox({}) == 3.0
    assert "WITHOUT ISOLATION" in caplog.text


def test_it_refuses_to_run_when_no_backend_isolates(monkeypatch, tmp_path):
    """With bubblewrap missing from PATH and a kernel answer of 'no Landlock' both backends fail their
    self-test, and the error says what to do."""
    monkeypatch.setattr(sandbox_module, "_self_tests", {})
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(sandbox_module.ENV_SWITCH, raising=False)
    with pytest.raises(IsolationUnavailable, match="bubblewrap.*not installed.*REWARD_SANDBOX=unsafe-local"):
        check_isolation("bubblewrap")
    with pytest.raises(ValueError, match="unknown reward sandbox backend"):
        check_isolation("chroot")


def test_it_lets_the_environment_force_a_backend(monkeypatch):
    monkeypatch.setenv(sandbox_module.ENV_SWITCH, "landlock")
    assert check_isolation() == "landlock"
    assert check_isolation("bubblewrap") == "bubblewrap" or "bubblewrap" not in BACKENDS


def test_it_names_every_backend_that_failed(monkeypatch):
    monkeypatch.delenv(sandbox_module.ENV_SWITCH, raising=False)
    monkeypatch.setattr(sandbox_module, "_self_tests", {"bubblewrap": "namespaces are not permitted",
                                                        "landlock": "Landlock is not available"})
    with pytest.raises(IsolationUnavailable) as caught:
        RewardSandbox("def reward_function(params):\n    return 1.0\n")
    message = str(caught.value)
    assert "bubblewrap: namespaces are not permitted" in message
    assert "landlock: Landlock is not available" in message
    assert "refuses to run reward functions unisolated" in message


def test_it_plugs_into_the_env_as_its_reward_function(backend):
    """The env's own params for a few random steps, with boxes on the track: the sandbox gives what the
    same function gives in-process."""
    from simulator.env import DeepRacerEnv
    from simulator.reward.examples import EXAMPLES

    code = EXAMPLES["object_avoidance"].code
    namespace = {}
    exec(compile(code, "reward_function.py", "exec"), namespace)    # our own example, run in-process
    race_type = {"race_type": "OBJECT_AVOIDANCE", "object_count": 2, "randomize_objects": True}
    with RewardSandbox(code, backend=backend) as sandbox:
        env = DeepRacerEnv(track="quick_loop", race_type=race_type, reward_fn=sandbox)
        try:
            env.reset(seed=3)
            env.action_space.seed(3)
            for _ in range(8):
                _, reward, terminated, truncated, info = env.step(env.action_space.sample())
                assert reward == namespace["reward_function"](info["params"])
                if terminated or truncated:
                    env.reset()
        finally:
            env.close()


def test_it_takes_waypoints_as_a_numpy_array_too(make_sandbox):
    import numpy as np

    sandbox = make_sandbox("def reward_function(params):\n    return float(params['waypoints'][2][1])\n")
    points = np.array(WAYPOINTS)
    assert sandbox({"waypoints": points}) == 1.0
    assert sandbox.call_batch([{"waypoints": points}, {"waypoints": points * 2}]) == [1.0, 2.0]


def test_it_sends_waypoints_again_when_the_same_list_changed_in_place(make_sandbox):
    sandbox = make_sandbox("def reward_function(params):\n    return float(params['waypoints'][1][0])\n")
    points = list(WAYPOINTS)
    assert sandbox.call_batch([{"waypoints": points}, {"waypoints": points}]) == [1.0, 1.0]
    points[1] = (9.0, 9.0)
    assert sandbox.call_batch([{"waypoints": points}]) == [9.0]
    assert sandbox.call_batch([{"waypoints": [list(point) for point in WAYPOINTS]},
                               {"waypoints": tuple(WAYPOINTS)}, {"waypoints": points}]) == [1.0, 1.0, 9.0]


def test_it_runs_no_call_after_a_failing_one_in_a_long_batch(make_sandbox):
    sandbox = make_sandbox("""
        calls = []
        def reward_function(params):
            calls.append(params["steps"])
            if params["steps"] == 40:
                print("failing at", len(calls))
                raise ValueError("boom")
            return float(len(calls))
    """)
    with pytest.raises(RewardCodeError) as caught:
        sandbox.call_batch([{"steps": step} for step in range(1, 201)])
    assert caught.value.completed == 39
    assert sandbox.drain_prints() == ["failing at 40"]
    assert sandbox({"steps": 0}) == 41.0            # none of the calls after the failing one ran
    assert sandbox.call_batch([{"steps": step} for step in range(100, 300)]) == [
        float(count) for count in range(42, 242)]


def test_it_counts_completed_calls_across_runs_of_waypoints(make_sandbox):
    sandbox = make_sandbox("""
        def reward_function(params):
            if params["steps"] == 3:
                raise ValueError("boom")
            return 1.0
    """)
    other = [(5.0, 5.0), (7.0, 1.0)]
    with pytest.raises(RewardCodeError) as caught:
        sandbox.call_batch([{"steps": 1, "waypoints": WAYPOINTS}, {"steps": 2, "waypoints": other},
                            {"steps": 3, "waypoints": other}])
    assert caught.value.completed == 2


def test_it_refuses_params_it_cannot_encode_and_keeps_the_module(make_sandbox):
    sandbox = make_sandbox("""
        calls = []
        def reward_function(params):
            calls.append(1)
            return float(len(calls))
    """)
    for bad_at in (0, 100):
        params = [{"steps": step} for step in range(200)]
        params[bad_at]["steps"] = object()
        with pytest.raises(TypeError):
            sandbox.call_batch(params)
    assert sandbox.restarts == 0
    # Nothing ran for the first batch; the chunks before the unencodable one ran for the second.
    ran = 100 // sandbox_module.BATCH_CHUNK * sandbox_module.BATCH_CHUNK
    assert sandbox({"steps": 1}) == ran + 1.0
