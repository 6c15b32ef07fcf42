"""The notification socket, end to end: a Celery task in a real worker process publishes through the
Redis channel layer to a consumer served by the ASGI application."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from common.consumers import CLOSE_UNAUTHENTICATED
from console.asgi import application
from console.tasks import notify_user

ORIGIN = (b"origin", b"http://127.0.0.1")
RECEIVE_TIMEOUT = 30


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def _communicator(*headers):
    return WebsocketCommunicator(application, "/ws/notifications/", headers=[ORIGIN, *headers])


@pytest.mark.django_db(transaction=True)
def test_it_delivers_a_task_notification_to_the_users_socket(owner, worker):
    cookie = _session_cookie(owner)

    async def scenario():
        communicator = _communicator((b"cookie", cookie))
        connected, _ = await communicator.connect()
        assert connected
        await asyncio.to_thread(notify_user.delay, owner.pk, "Training finished", "success")
        message = await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)
        await communicator.disconnect()
        return message

    assert asyncio.run(scenario()) == {
        "event": "notification", "payload": {"message": "Training finished", "level": "success"}}


@pytest.mark.django_db(transaction=True)
def test_it_does_not_deliver_to_other_users(owner, stranger, redis_url):
    from common.broadcast import publish, user_group

    cookie = _session_cookie(stranger)

    async def scenario():
        communicator = _communicator((b"cookie", cookie))
        assert (await communicator.connect())[0]
        await asyncio.to_thread(publish, user_group(owner.pk), "notification", {"message": "private"})
        await asyncio.to_thread(publish, user_group(stranger.pk), "notification", {"message": "yours"})
        message = await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)
        await communicator.disconnect()
        return message

    assert asyncio.run(scenario())["payload"] == {"message": "yours"}


@pytest.mark.django_db(transaction=True)
def test_it_closes_unauthenticated_sockets(redis_url):
    async def scenario():
        return await _communicator().connect()

    connected, code = asyncio.run(scenario())
    assert not connected
    assert code == CLOSE_UNAUTHENTICATED


@pytest.mark.django_db(transaction=True)
def test_it_refuses_sockets_from_other_sites(owner, redis_url):
    cookie = _session_cookie(owner)

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/notifications/",
                                             headers=[(b"origin", b"http://evil.example"), (b"cookie", cookie)])
        return await communicator.connect()

    connected, _ = asyncio.run(scenario())
    assert not connected
