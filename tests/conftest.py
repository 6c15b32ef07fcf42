"""Fixtures every app's tests reuse.

Personas: `owner` and `stranger` are racers with racer names; `owner_client` and `stranger_client` are
Django test clients signed in as them (views must 404 for the stranger); `owner_api` (a REST client with
the owner's API token, as scripts use it) and `stranger_api` (signed in as the stranger) call the API. `site_admin` and `facilitator`
(with `*_client`) carry the admin and race facilitator roles. `make_racer(...)` makes more.
`queries_of(call)` counts a call's queries (N+1 tests: the count for many rows stays the count for one).
Infrastructure: `redis_url` (a live Redis-protocol server, or a clear failure), `server_env` (environment
for subprocesses that must share the test database and Redis), `worker` (a real Celery worker subprocess
consuming both queues), `eager_celery` (tasks run in-process: unit tests of services only).
"""

import sys

import pytest
import redis
from django.conf import settings

from tests.processes import celery_worker, database_url, subprocess_env

PASSWORD = "correct-horse-battery-9"


def make_racer(username: str, racer_name: str | None = None, *role_names: str, password: str = PASSWORD):
    """A user with a racer profile and the racer role plus `role_names`. With a racer name the user went
    through onboarding (`choose_racer_name`: the default vehicles are in the Garage); without, not yet."""
    # Imported here: plain-Python test folders (simulator, learners) share this conftest without Django.
    from django.contrib.auth import get_user_model

    from common import roles
    from console import accounts
    from console.models import RacerProfile

    user = get_user_model().objects.create_user(username=username, email=f"{username}@example.com",
                                                password=password)
    if racer_name:
        accounts.choose_racer_name(user, racer_name)
    else:
        RacerProfile.objects.create(user=user)
    for role in ("racer", *role_names):
        roles.grant_role(user, role)
    return user


@pytest.fixture(autouse=True)
def _fast_password_hashing(request):
    # Real hashing costs ~0.5 s per password on a busy 2-core machine; tests check behaviour, not hashes.
    # (Users that a live server must sign in through its form should sign up through the browser.)
    if request.config.pluginmanager.hasplugin("django"):
        request.getfixturevalue("settings").PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _close_sync_thread_connections(request):
    """Close the connection that Channels' database_sync_to_async left open in asgiref's shared sync thread.

    That thread outlives the test; its last connection would otherwise still be open when the test database
    is dropped (PostgreSQL: "database ... is being accessed by other users")."""
    yield
    if request.config.pluginmanager.hasplugin("django") and "django_db_setup" in request.fixturenames:
        from asgiref.sync import SyncToAsync
        from django.db import connections

        SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(autouse=True)
def _fresh_queue_places():
    """Every test has its own database: the places a process remembers for a moment (training.queue) are
    another test's."""
    queue = sys.modules.get("training.queue")
    if queue is not None:
        queue.forget_recent_places()


@pytest.fixture
def queries_of(db):
    """queries_of(call) -> how many queries call() made: list tests compare one row with many."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(call) -> int:
        with CaptureQueriesContext(connection) as captured:
            call()
        return len(captured)

    return count


def _client_for(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner(db):
    return make_racer("owner", "Owner_Racer")


@pytest.fixture
def stranger(db):
    return make_racer("stranger", "Stranger-Racer")


@pytest.fixture
def site_admin(db):
    return make_racer("site_admin", "Site_Admin", "admin")


@pytest.fixture
def facilitator(db):
    return make_racer("facilitator", "Race_Facilitator", "race facilitator")


@pytest.fixture
def owner_client(owner):
    return _client_for(owner)


@pytest.fixture
def stranger_client(stranger):
    return _client_for(stranger)


@pytest.fixture
def site_admin_client(site_admin):
    return _client_for(site_admin)


@pytest.fixture
def facilitator_client(facilitator):
    return _client_for(facilitator)


@pytest.fixture
def owner_api(owner):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    return client


@pytest.fixture
def stranger_api(stranger):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(stranger)
    return client


@pytest.fixture
def eager_celery():
    """Run tasks in the test process (for unit tests of the services that enqueue them, never end to end)."""
    from console.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture(scope="session")
def redis_url():
    """settings.REDIS_URL, checked: `make test` starts an embedded server; plain pytest needs REDIS_URL."""
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        pytest.fail(f"No Redis-protocol server at {settings.REDIS_URL} ({error}). Run `make test`, which starts "
                    "one, or set REDIS_URL.", pytrace=False)
    return settings.REDIS_URL


@pytest.fixture(scope="session")
def server_env(django_db_setup, django_db_blocker, redis_url):
    """Environment for subprocesses (web server, workers) sharing the test database and Redis keys."""
    from django.db import connection

    with django_db_blocker.unblock():
        database = database_url(connection.settings_dict)
    return subprocess_env(database, redis_url, settings.REDIS_PREFIX)


@pytest.fixture(scope="session")
def worker(server_env):
    """A real Celery worker subprocess consuming `default` and `training`; stopped after the session."""
    process = celery_worker(server_env)
    yield process
    process.stop()
