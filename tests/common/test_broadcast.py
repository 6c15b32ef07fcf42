import pytest

from common.broadcast import publish, user_group


def test_it_names_user_groups():
    assert user_group(42) == "user.42"


@pytest.mark.parametrize("group", ["", "has space", "ünï", "x" * 100])
def test_it_refuses_group_names_the_channel_layer_cannot_take(group):
    with pytest.raises(ValueError, match="Invalid group name"):
        publish(group, "notification", {})


def test_it_reaches_a_group_member_through_redis(redis_url):
    import asyncio

    from channels.layers import get_channel_layer

    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("test.broadcast", channel)
        await asyncio.to_thread(publish, "test.broadcast", "metrics", {"iteration": 1})
        message = await asyncio.wait_for(layer.receive(channel), timeout=10)
        await layer.group_discard("test.broadcast", channel)
        return message

    assert asyncio.run(scenario()) == {"type": "broadcast", "event": "metrics", "payload": {"iteration": 1}}


def test_it_publishes_from_a_forked_child(redis_url):
    import os

    publish("test.nobody", "metrics", {})  # the parent's loop thread now exists
    pid = os.fork()
    if pid == 0:  # the child: the inherited loop has no thread; publish must not hang
        try:
            publish("test.nobody", "metrics", {})
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
