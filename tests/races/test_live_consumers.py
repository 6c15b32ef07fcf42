"""Race day's socket through the ASGI application and the real Redis channel layer: participants and the
projector token hear the live group and the frames of the run on track (following the run when it
changes); strangers, anonymous sockets without the token and wrong tokens are refused."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator

from common.broadcast import publish
from common.consumers import CLOSE_UNAUTHENTICATED
from console.asgi import application
from races.models import Participant, Submission, SubmissionStatus
from tests.races.conftest import make_race
from tests.training.jobs_fixtures import make_model
from tests.training.test_consumers import ORIGIN, RECEIVE_TIMEOUT, _cookie
from training.models import EvaluationJob

pytestmark = pytest.mark.django_db(transaction=True)


def _run_on_track(race, user, name):
    model = make_model(user, name=name)
    job = EvaluationJob.objects.create(model=model, track=race.track, trials=3)
    participant, _ = Participant.objects.get_or_create(race=race, user=user)
    Submission.objects.create(race=race, participant=participant, model=model, model_name=name, evaluation=job,
                              status=SubmissionStatus.RUNNING)
    return job


def _connect(path, headers):
    return WebsocketCommunicator(application, path, headers=[ORIGIN, *headers])


def test_it_streams_the_run_on_track_and_follows_the_next_one(owner, stranger, redis_url):
    race = make_race(owner, is_live=True)
    Participant.objects.create(race=race, user=stranger)
    first = _run_on_track(race, owner, "First-Model")
    cookie = _cookie(stranger)

    async def scenario():
        communicator = _connect(f"/ws/races/{race.pk}/live/", [cookie])
        connected, _ = await communicator.connect()
        assert connected
        await asyncio.to_thread(publish, first.group, "tick", {"progress": 12.5})
        heard = [await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)]
        # The run ends and the next one starts: the socket leaves the old run's group for the new one's.
        await asyncio.to_thread(Submission.objects.filter(evaluation=first).update, status=SubmissionStatus.COMPLETED)
        second = await asyncio.to_thread(_run_on_track, race, stranger, "Second-Model")
        await asyncio.to_thread(publish, race.live_group, "queue", {"race": str(race.pk)})
        heard.append(await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT))
        await asyncio.to_thread(publish, first.group, "tick", {"progress": 99.0})
        await asyncio.to_thread(publish, second.group, "tick", {"progress": 1.0})
        heard.append(await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT))
        await communicator.disconnect()
        return heard

    heard = asyncio.run(scenario())
    assert heard == [{"event": "tick", "payload": {"progress": 12.5}},
                     {"event": "queue", "payload": {"race": str(race.pk)}},
                     {"event": "tick", "payload": {"progress": 1.0}}]


def test_it_lets_the_projector_token_in_and_refuses_strangers(owner, stranger, redis_url):
    race = make_race(owner, is_live=True)

    async def attempt(path, headers):
        communicator = _connect(path, headers)
        connected, code = await communicator.connect()
        if connected:
            await asyncio.to_thread(publish, race.live_group, "finished", {"race": str(race.pk)})
            message = await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)
            await communicator.disconnect()
            return message["event"]
        await communicator.disconnect()  # let the refused consumer finish: none left for asyncio.run to cancel
        return code

    assert asyncio.run(attempt(f"/ws/races/projector/{race.broadcast_token}/", [])) == "finished"
    assert asyncio.run(attempt("/ws/races/projector/not-the-token/", [])) == CLOSE_UNAUTHENTICATED
    stranger_cookie, owner_cookie = _cookie(stranger), _cookie(owner)
    assert asyncio.run(attempt(f"/ws/races/{race.pk}/live/", [stranger_cookie])) == CLOSE_UNAUTHENTICATED
    assert asyncio.run(attempt(f"/ws/races/{race.pk}/live/", [])) == CLOSE_UNAUTHENTICATED
    assert asyncio.run(attempt(f"/ws/races/{race.pk}/live/", [owner_cookie])) == "finished"
