import pytest

from console.broadcast import publish, user_group


def test_it_names_user_groups():
    assert user_group(42) == "user.42"


@pytest.mark.parametrize("group", ["", "has space", "ünï", "x" * 100])
def test_it_refuses_group_names_the_channel_layer_cannot_take(group):
    with pytest.raises(ValueError, match="Invalid group name"):
        publish(group, "notification", {})
