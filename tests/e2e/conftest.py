"""Browser tests: Playwright drives Debian's Chromium against a live ASGI server (daphne, so websockets
work) with a real Celery worker and Redis, all sharing the test database.

Fixtures for every app's browser tests:
- `live_url`: the base URL of the live server, e.g. "http://127.0.0.1:41234" (session-scoped).
- `browser`: a headless Chromium (one per test module). `page`: a fresh page (function-scoped).
- `racer_page`: a page signed in as the `owner` persona (who has a racer name); `sign_in(user)` signs
  `page` in as any user (e.g. `stranger`, to check that they get a 404).
- `worker`: a running Celery worker for both queues (from tests/conftest.py).
- `shot(name)`: saves test-artifacts/<test>/<NN>-<name>.png for a step; every test's final page is saved
  too, as failure.png or last.png.
Tests that use these get a transactional database so the server subprocess sees what they write.
"""

import re
import shutil
from pathlib import Path
from urllib.request import urlopen

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import sync_playwright

from console.launcher import free_port
from tests.processes import ARTIFACTS, asgi_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}
DEFAULT_TIMEOUT_MS = 15_000
SERVER_START_SECONDS = 90


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _answers(url: str) -> bool:
    try:
        with urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def live_url(server_env):
    port = free_port()
    server = asgi_server(server_env, port)
    url = f"http://127.0.0.1:{port}"
    server.wait_until(lambda: _answers(url + "/health/"), timeout=SERVER_START_SECONDS, what="answer on /health/")
    yield url
    server.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: install Debian's chromium package (see .ci/run).",
                    pytrace=False)
    # Playwright's sync API keeps an event loop running in this thread while it is started: Django then
    # refuses ORM calls (the test process only drives the browser and writes fixtures, so that guard does
    # not apply here; tests.processes.clean_environ keeps the variable away from the servers), and
    # asyncio.run() fails. Module scope stops it before the tests that run after browser tests.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def _artifact_dir(request) -> Path:
    """test-artifacts/<file>__<test>/, e.g. test-artifacts/e2e.test_sign_up__test_it_signs_up/."""
    path, _, name = request.node.nodeid.partition("::")
    module = Path(path).with_suffix("").as_posix().removeprefix("tests/").replace("/", ".")
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{module}__{name}")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(request, browser, live_url, transactional_db):
    shutil.rmtree(_artifact_dir(request))  # pictures of an earlier run would mislead
    context = browser.new_context(base_url=live_url, viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    yield page
    # Every test leaves a picture of where it ended: "failure.png" when it failed, "last.png" otherwise.
    report = getattr(request.node, "report_call", None)
    failed = report is None or report.failed
    try:
        page.screenshot(path=str(_artifact_dir(request) / ("failure.png" if failed else "last.png")), full_page=True)
    finally:
        context.close()


@pytest.fixture
def shot(request, page):
    """shot("step-name"): save a full-page screenshot of the current page for this step."""
    counter = iter(range(1, 1000))

    def take(name: str) -> Path:
        path = _artifact_dir(request) / f"{next(counter):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def sign_in(page, live_url):
    """sign_in(user): sign `page` in as `user` with the session cookie of a Django test-client login."""

    def sign_in_as(user):
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.clear_cookies()
        page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_url}])
        return page

    return sign_in_as


@pytest.fixture
def racer_page(sign_in, owner):
    """`page` signed in as the `owner` persona."""
    return sign_in(owner)
