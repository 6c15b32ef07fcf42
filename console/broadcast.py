"""Publishing to websocket groups from anywhere: views, services and Celery workers.

    publish("training.42", "metrics", {"iteration": 3, "reward": 12.5})

Consumers receive the event as {"type": "broadcast", "event": event_type, "payload": payload} and forward
it to the browser as JSON {"event": event_type, "payload": payload} (see console.consumers.GroupForwardConsumer).
"""

import re

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

# channels_redis accepts group names of ASCII letters, digits, hyphens, underscores and periods.
GROUP_NAME = re.compile(r"^[A-Za-z0-9._-]{1,99}$")


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish(group: str, event_type: str, payload: dict) -> None:
    """Send one event to every socket in `group`. Synchronous; the payload must be JSON-serialisable."""
    if not GROUP_NAME.match(group):
        raise ValueError(f"Invalid group name {group!r}: use letters, digits, '.', '_' or '-' (at most 99).")
    async_to_sync(get_channel_layer().group_send)(
        group, {"type": "broadcast", "event": event_type, "payload": payload}
    )
