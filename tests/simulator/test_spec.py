"""The SPEC facts and checks of simulator/spec.py (moved from the Garage's action-space tests)."""

import pytest

from simulator.spec import (
    ActionSpaceError,
    check_continuous,
    check_discrete,
    check_sensors,
)


def test_it_accepts_a_custom_list_and_indexes_it():
    actions = check_discrete([{"steering_angle": 10, "speed": 2}, {"steering_angle": -30, "speed": 0.1, "index": 7}])
    assert actions == [{"steering_angle": 10.0, "speed": 2.0, "index": 0},
                       {"steering_angle": -30.0, "speed": 0.1, "index": 1}]


@pytest.mark.parametrize("actions", [
    [{"steering_angle": 0, "speed": 1}],
    [{"steering_angle": 0, "speed": 1}] * 31,
    [{"steering_angle": 0, "speed": 1}, {"steering_angle": 31, "speed": 1}],
    [{"steering_angle": 0, "speed": 1}, {"steering_angle": 0, "speed": 0.05}],
    [{"steering_angle": 0, "speed": 1}, {"speed": 1}],
    [{"steering_angle": 0, "speed": 1}, "left"],
    "not a list",
])
def test_it_refuses_bad_custom_lists(actions):
    with pytest.raises(ActionSpaceError) as error:
        check_discrete(actions)
    assert "actions" in error.value.errors


def test_it_names_the_action_at_fault():
    with pytest.raises(ActionSpaceError) as error:
        check_discrete([{"steering_angle": 0, "speed": 1}, {"steering_angle": 45, "speed": 1}])
    assert "Action 1: steering angle" in error.value.errors["actions"]


def test_it_checks_continuous_ranges():
    ranges = check_continuous({"speed": {"low": 0.5, "high": 2}, "steering_angle": {"low": -30, "high": 30}})
    assert ranges == {"speed": {"low": 0.5, "high": 2.0}, "steering_angle": {"low": -30.0, "high": 30.0}}
    with pytest.raises(ActionSpaceError) as error:
        check_continuous({"speed": {"low": 0.4, "high": 2}, "steering_angle": {"low": 10, "high": -10}})
    assert set(error.value.errors) == {"speed_low", "steering_high"}
    with pytest.raises(ActionSpaceError) as error:
        check_continuous({"speed": {"low": 1, "high": 1}, "steering_angle": {"low": -30, "high": 30}})
    assert "speed_high" in error.value.errors


@pytest.mark.parametrize("sensors", [[], ["LIDAR"], ["FRONT_FACING_CAMERA", "RADAR"],
                                     ["STEREO_CAMERAS", "LIDAR", "SECTOR_LIDAR"], "FRONT_FACING_CAMERA"])
def test_it_wants_one_camera_first_and_at_most_one_lidar(sensors):
    with pytest.raises(ActionSpaceError):
        check_sensors(sensors)


def test_it_accepts_a_camera_with_a_lidar():
    assert check_sensors(["STEREO_CAMERAS", "SECTOR_LIDAR"]) == ["STEREO_CAMERAS", "SECTOR_LIDAR"]


def test_it_imports_nothing_but_the_standard_library():
    import ast
    import subprocess
    import sys
    from pathlib import Path

    import simulator.spec

    tree = ast.parse(Path(simulator.spec.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= set(sys.stdlib_module_names), imported
    # Importing it (and the simulator package's Gymnasium registration) loads no Django, torch or MuJoCo.
    code = ("import sys, simulator.spec; heavy = {m.split('.')[0] for m in sys.modules} & {'django', 'torch', "
            "'mujoco'}; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_it_agrees_with_the_sandboxed_childs_own_copy_of_the_reward_limit():
    from simulator.reward import protocol
    from simulator.spec import REWARD_LIMIT

    assert protocol.REWARD_LIMIT == REWARD_LIMIT


def test_it_reads_model_metadata_leniently_and_checks_it_strictly():
    from simulator.spec import MetadataError, read_model_metadata

    metadata = read_model_metadata({"action_space": [{"steering_angle": -30, "speed": 0.5},
                                                     {"steering_angle": 30, "speed": 1}], "version": 4})
    assert metadata == {
        "action_space": [{"steering_angle": -30.0, "speed": 0.5, "index": 0},
                         {"steering_angle": 30.0, "speed": 1.0, "index": 1}],
        "action_space_type": "discrete", "sensor": ["FRONT_FACING_CAMERA"],
        "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "training_algorithm": "clipped_ppo", "version": "4"}
    with pytest.raises(MetadataError, match="steering angle"):
        read_model_metadata({"action_space": [{"steering_angle": 99, "speed": 1}] * 2})
    with pytest.raises(MetadataError, match="SAC model needs a continuous"):
        read_model_metadata({"action_space": [{"steering_angle": 0, "speed": 1}] * 2, "training_algorithm": "sac"})
    with pytest.raises(MetadataError, match="Choose"):
        read_model_metadata({"action_space": [{"steering_angle": 0, "speed": 1}] * 2, "neural_network": "RESNET"})


@pytest.mark.parametrize(("changes", "reason"), [
    ({"sensor": [["FRONT_FACING_CAMERA"]]}, "list of names"),
    ({"neural_network": ["DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"]}, "Choose"),
    ({"training_algorithm": {"clipped_ppo": 1}}, "training_algorithm must be"),
    ({"action_space": [{"steering_angle": 10**400, "speed": 1}] * 2}, "numeric steering_angle"),
    ({"action_space_type": "continuous",
      "action_space": {"speed": {"low": 1, "high": 10**400}, "steering_angle": {"low": -1, "high": 1}}}, "low/high"),
])
def test_it_refuses_metadata_values_of_the_wrong_kind_with_a_reason(changes, reason):
    """Lists or objects where names belong (unhashable) and integers past float's range raised TypeError and
    OverflowError before: an imported model_metadata.json is untrusted input."""
    from simulator.spec import MetadataError, read_model_metadata

    with pytest.raises(MetadataError, match=reason):
        read_model_metadata({"action_space": [{"steering_angle": 0, "speed": 1}] * 2, **changes})
