"""The race socket through the ASGI application and the real Redis channel layer: participants and the
organiser hear the race's group; strangers to a private race, removed racers and anonymous sockets are
refused."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from common.broadcast import publish
from common.consumers import CLOSE_UNAUTHENTICATED
from console.asgi import application
from races.models import Participant
from tests.races.conftest import make_race
from tests.training.test_consumers import ORIGIN, RECEIVE_TIMEOUT, _cookie

pytestmark = pytest.mark.django_db(transaction=True)


def _connect_and_hear(race, headers):
    async def scenario():
        communicator = WebsocketCommunicator(application, f"/ws/races/{race.pk}/", headers=[ORIGIN, *headers])
        connected, code = await communicator.connect()
        if not connected:
            await communicator.disconnect()  # let the refused consumer finish: none left for asyncio.run to cancel
            return connected, code
        await asyncio.to_thread(publish, race.group, "board", {"race": str(race.pk), "submission": 7})
        message = await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)
        await communicator.disconnect()
        return connected, message

    return asyncio.run(scenario())


def test_it_forwards_the_races_events_to_organiser_and_participants(owner, stranger, redis_url):
    race = make_race(owner)
    Participant.objects.create(race=race, user=stranger)
    for user in (owner, stranger):
        connected, message = _connect_and_hear(race, [_cookie(user)])
        assert connected and message == {"event": "board", "payload": {"race": str(race.pk), "submission": 7}}


def test_it_refuses_strangers_removed_racers_and_anonymous_sockets(owner, stranger, redis_url):
    race = make_race(owner)
    assert _connect_and_hear(race, [_cookie(stranger)]) == (False, CLOSE_UNAUTHENTICATED)
    Participant.objects.create(race=race, user=stranger, removed_at=timezone.now())
    assert _connect_and_hear(race, [_cookie(stranger)]) == (False, CLOSE_UNAUTHENTICATED)
    assert _connect_and_hear(race, []) == (False, CLOSE_UNAUTHENTICATED)


def test_it_lets_everyone_hear_an_open_race(owner, stranger, redis_url):
    race = make_race(owner, is_open=True)
    connected, message = _connect_and_hear(race, [_cookie(stranger)])
    assert connected and message["event"] == "board"
