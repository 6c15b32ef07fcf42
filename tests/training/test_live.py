"""The publisher thread delivers a job's events in order through the real Redis channel layer."""

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from training.live import LivePublisher


def test_it_delivers_events_in_order_and_sends_what_is_queued_before_closing(redis_url):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("training.live-test", channel)
    publisher = LivePublisher()
    for number in range(20):
        publisher.publish("training.live-test", "episode", {"episode": number})
    publisher.close()

    async def receive_all():
        events = [await asyncio.wait_for(layer.receive(channel), timeout=5) for _ in range(20)]
        await layer.group_discard("training.live-test", channel)
        return events

    events = async_to_sync(receive_all)()
    assert [event["payload"]["episode"] for event in events] == list(range(20))
    assert events[0] == {"type": "broadcast", "event": "episode", "payload": {"episode": 0}}
    assert publisher.dropped == 0


def test_it_drops_events_instead_of_blocking_the_training_loop(redis_url):
    publisher = LivePublisher(max_pending=1)
    for number in range(500):  # far faster than any channel layer takes them
        publisher.publish("training.live-test-drop", "frame", {"jpeg": "x" * 1000, "n": number})
    publisher.close()
    assert publisher.dropped > 0
