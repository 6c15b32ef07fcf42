"""Broadcasts of a job on its group: the status (both sides send it: a view's stop, the worker's run) and,
for a running job, its reports, sent from a background thread.

common.broadcast.publish opens an event loop and a Redis connection per call (~3 ms on a busy 2-core
machine): fine for a view, too slow for the dozen reports a second of a training run. A job's LivePublisher
keeps one loop and one connection in a thread, so the training loop only queues the event and goes on.
A full queue (Redis gone slow) drops events: the page backfills from the database after a reconnect.
"""

import asyncio
import logging
import queue
import threading

from channels.layers import get_channel_layer

from common.broadcast import publish

logger = logging.getLogger(__name__)

MAX_PENDING = 200  # events; about the channel layer's per-channel capacity
CLOSE_SECONDS = 10.0


class LivePublisher:
    def __init__(self, max_pending: int = MAX_PENDING):
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="live-publisher", daemon=True)
        self._thread.start()

    def publish(self, group: str, event: str, payload: dict) -> None:
        try:
            self._queue.put_nowait((group, {"type": "broadcast", "event": event, "payload": payload}))
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        """Send what is queued (within CLOSE_SECONDS), then stop the thread."""
        self._queue.put(None)
        self._thread.join(CLOSE_SECONDS)
        if self.dropped:
            logger.info("live publisher dropped %s events (channel layer too slow)", self.dropped)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        layer = get_channel_layer()
        try:
            while (item := self._queue.get()) is not None:
                group, message = item
                try:
                    loop.run_until_complete(layer.group_send(group, message))
                except Exception:  # a Redis hiccup must not end the run: the page backfills
                    logger.warning("could not publish %s on %s", message["event"], group, exc_info=True)
        finally:
            loop.close()  # channels_redis closes this loop's connections with it (and only those)


def publish_safely(group: str, event: str, payload: dict) -> None:
    # A channel-layer hiccup must never fail a training run or a stop: the page backfills from the database.
    try:
        publish(group, event, payload)
    except Exception:
        logger.warning("could not publish %s on %s", event, group, exc_info=True)


def broadcast_status(job) -> None:
    """The job's status (Job.status_payload) on its group, for its open pages."""
    publish_safely(job.group, "status", job.status_payload())
