"""The job sockets through the ASGI application and the real Redis channel layer: the owner hears what is
published on the job's group; a stranger and an anonymous socket are closed."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from common.broadcast import publish
from common.consumers import CLOSE_UNAUTHENTICATED
from console.asgi import application
from tests.training.jobs_fixtures import *  # noqa: F403 (fixtures)
from training.models import EvaluationJob, TrainingJob

ORIGIN = (b"origin", b"http://127.0.0.1")
RECEIVE_TIMEOUT = 10

pytestmark = pytest.mark.django_db(transaction=True)


def _cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def _listen_and_publish(path: str, headers, group: str):
    async def scenario():
        communicator = WebsocketCommunicator(application, path, headers=[ORIGIN, *headers])
        connected, code = await communicator.connect()
        if not connected:
            # Let the refused consumer finish (as a server would, by sending the disconnect): a consumer
            # left running is cancelled by asyncio.run on the way out, and that cancel can hang in
            # channels_redis's receive.
            await communicator.disconnect()
            return connected, code
        await asyncio.to_thread(publish, group, "metrics", {"iteration": 1, "average_reward": 2.5})
        message = await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)
        await communicator.disconnect()
        return connected, message

    return asyncio.run(scenario())


@pytest.fixture
def training_job(rl_model):
    return TrainingJob.objects.create(model=rl_model, max_minutes=10)


@pytest.fixture
def evaluation_job(rl_model):
    return EvaluationJob.objects.create(model=rl_model, track="quick_loop")


def test_it_forwards_the_training_groups_events_to_the_owner(owner, training_job, redis_url):
    connected, message = _listen_and_publish(f"/ws/training/{training_job.pk}/", [_cookie(owner)],
                                             f"training.{training_job.pk}")
    assert connected
    assert message == {"event": "metrics", "payload": {"iteration": 1, "average_reward": 2.5}}


def test_it_forwards_the_evaluation_groups_events_to_the_owner(owner, evaluation_job, redis_url):
    connected, message = _listen_and_publish(f"/ws/evaluation/{evaluation_job.pk}/", [_cookie(owner)],
                                             f"evaluation.{evaluation_job.pk}")
    assert connected and message["event"] == "metrics"


@pytest.mark.parametrize("kind", ["training", "evaluation"])
def test_it_closes_a_strangers_socket(kind, stranger, training_job, evaluation_job, redis_url):
    job = training_job if kind == "training" else evaluation_job
    connected, code = _listen_and_publish(f"/ws/{kind}/{job.pk}/", [_cookie(stranger)], job.group)
    assert (connected, code) == (False, CLOSE_UNAUTHENTICATED)


def test_it_closes_an_anonymous_socket(training_job, redis_url):
    connected, code = _listen_and_publish(f"/ws/training/{training_job.pk}/", [], training_job.group)
    assert (connected, code) == (False, CLOSE_UNAUTHENTICATED)


def test_it_closes_a_socket_for_a_job_that_does_not_exist(owner, redis_url):
    connected, code = _listen_and_publish("/ws/training/999999/", [_cookie(owner)], "training.999999")
    assert (connected, code) == (False, CLOSE_UNAUTHENTICATED)
