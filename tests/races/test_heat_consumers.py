"""Head-to-model sockets through the ASGI application and the real Redis channel layer: a heat's page hears
the heat's group and, once it races, its heat job's frames and ticks (following the job when the heat
starts); race day's socket follows a heat on track like a run. Strangers to a private race are refused."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator

from common.broadcast import publish
from common.consumers import CLOSE_UNAUTHENTICATED
from console.asgi import application
from races import services
from races.models import Heat, Participant
from tests.races.heats_fixtures import make_board, make_h2m_race, put_on_track
from tests.training.test_consumers import ORIGIN, RECEIVE_TIMEOUT, _cookie

pytestmark = pytest.mark.django_db(transaction=True)


def _connect(path, headers):
    return WebsocketCommunicator(application, path, headers=[ORIGIN, *headers])


def test_it_streams_a_heat_to_its_page_once_it_races(owner, stranger, redis_url):
    race = make_h2m_race(owner)
    ana, ben = make_board(race, 2)
    heat = services.heat_pair(race, ana, ben)
    path = f"/ws/races/{race.pk}/heats/{heat.pk}/"
    racer_cookie = _cookie(ana.participant.user)

    async def scenario():
        communicator = _connect(path, [racer_cookie])
        connected, _ = await communicator.connect()
        assert connected
        # The heat starts: its job exists, the heat's group says so, the socket joins the job's stream.
        job = await asyncio.to_thread(put_on_track, heat)
        await asyncio.to_thread(publish, heat.group, "heat", {"heat": heat.pk, "status": "RUNNING"})
        heard = [await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)]
        frame = {"car": 1, "view": "chase", "jpeg": "AAAA"}
        await asyncio.to_thread(publish, job.group, "frame", frame)
        heard.append(await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT))
        await asyncio.to_thread(publish, job.group, "tick", {"sim_time": 1.5, "cars": [], "gap": 0.25})
        heard.append(await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT))
        await communicator.disconnect()
        return heard

    heard = asyncio.run(scenario())
    assert [message["event"] for message in heard] == ["heat", "frame", "tick"]
    assert heard[1]["payload"] == {"car": 1, "view": "chase", "jpeg": "AAAA"} and heard[2]["payload"]["gap"] == 0.25

    async def attempt(path, headers):
        communicator = _connect(path, headers)
        connected, code = await communicator.connect()
        await communicator.disconnect()  # a refused consumer too: none is left for asyncio.run to cancel
        return "connected" if connected else code

    assert asyncio.run(attempt(path, [_cookie(stranger)])) == CLOSE_UNAUTHENTICATED
    assert asyncio.run(attempt(path, [])) == CLOSE_UNAUTHENTICATED
    assert asyncio.run(attempt(f"/ws/races/{race.pk}/heats/{heat.pk + 9}/", [_cookie(owner)])) == CLOSE_UNAUTHENTICATED
    Participant.objects.create(race=race, user=stranger)  # invited: now they may listen
    assert asyncio.run(attempt(path, [_cookie(stranger)])) == "connected"


def test_it_follows_a_heat_on_track_on_race_days_socket(owner, redis_url):
    race = make_h2m_race(owner, is_live=True)
    ana, ben = make_board(race, 2)
    heat = services.heat_pair(race, ana, ben)
    job = put_on_track(heat)
    assert Heat.objects.get(pk=heat.pk).status == "RUNNING"

    async def scenario():
        communicator = _connect(f"/ws/races/projector/{race.broadcast_token}/", [])
        connected, _ = await communicator.connect()
        assert connected
        await asyncio.to_thread(publish, job.group, "frame", {"car": 0, "view": "chase", "jpeg": "BBBB"})
        message = await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)
        await communicator.disconnect()
        return message

    assert asyncio.run(scenario()) == {"event": "frame", "payload": {"car": 0, "view": "chase", "jpeg": "BBBB"}}
