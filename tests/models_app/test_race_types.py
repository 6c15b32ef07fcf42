import pytest

from models_app.race_types import RaceTypeError, check_race_type, describe


def test_it_defaults_to_a_time_trial():
    assert check_race_type(None) == {"race_type": "TIME_TRIAL"}
    assert check_race_type({"race_type": "TIME_TRIAL", "object_count": 3}) == {"race_type": "TIME_TRIAL"}


def test_it_keeps_fixed_object_positions():
    race = check_race_type({"race_type": "OBJECT_AVOIDANCE", "object_count": 2, "randomize_objects": False,
                            "object_positions": [[0.5, "outer"], [0.2, "inner"]]})
    assert race["object_positions"] == [[0.5, "outer"], [0.2, "inner"]]
    assert describe(race) == "Object avoidance: 2 objects, fixed"


def test_it_drops_positions_when_randomized():
    race = check_race_type({"race_type": "OBJECT_AVOIDANCE", "object_count": 6, "randomize_objects": True,
                            "object_positions": [[0.5, "outer"]]})
    assert race == {"race_type": "OBJECT_AVOIDANCE", "object_count": 6, "randomize_objects": True}


@pytest.mark.parametrize(("race", "field"), [
    ({"race_type": "DRAG_RACE"}, "race_type"),
    ({"race_type": "OBJECT_AVOIDANCE", "object_count": 0}, "object_count"),
    ({"race_type": "OBJECT_AVOIDANCE", "object_count": 7}, "object_count"),
    ({"race_type": "OBJECT_AVOIDANCE", "object_count": 2, "randomize_objects": False,
      "object_positions": [[0.5, "outer"]]}, "object_positions"),
    ({"race_type": "OBJECT_AVOIDANCE", "object_count": 1, "randomize_objects": False,
      "object_positions": [[0.05, "outer"]]}, "object_positions"),
    ({"race_type": "OBJECT_AVOIDANCE", "object_count": 1, "randomize_objects": False,
      "object_positions": [[0.95, "inner"]]}, "object_positions"),
    ({"race_type": "OBJECT_AVOIDANCE", "object_count": 1, "randomize_objects": False,
      "object_positions": [[0.5, "middle"]]}, "object_positions"),
    ({"race_type": "OBJECT_AVOIDANCE", "object_count": 2, "randomize_objects": False,
      "object_positions": [[0.3, "inner"], [0.42, "outer"]]}, "object_positions"),
    ({"race_type": "HEAD_TO_BOT", "bot_count": 3, "bot_speed": 0.1}, "bot_speed"),
    ({"race_type": "HEAD_TO_BOT", "bot_count": 3, "bot_speed": 7}, "bot_speed"),
    ({"race_type": "HEAD_TO_BOT", "bot_count": 0, "bot_speed": 1}, "bot_count"),
])
def test_it_refuses_settings_outside_spec(race, field):
    with pytest.raises(RaceTypeError) as error:
        check_race_type(race)
    assert field in error.value.errors


def test_it_accepts_objects_exactly_the_minimum_gap_apart():
    race = check_race_type({"race_type": "OBJECT_AVOIDANCE", "object_count": 2, "randomize_objects": False,
                            "object_positions": [[0.3, "inner"], [0.43, "outer"]]})
    assert len(race["object_positions"]) == 2


def test_it_describes_head_to_bot():
    race = check_race_type({"race_type": "HEAD_TO_BOT", "bot_count": 2, "bot_speed": 1, "bot_lane_changes": True})
    assert describe(race) == "Head-to-bot: 2 bots at 1 m/s, lane changes"
