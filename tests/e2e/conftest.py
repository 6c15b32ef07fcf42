"""Browser tests: Playwright drives Debian's Chromium against a live ASGI server (daphne, so websockets
work) with a real Celery worker and Redis, all sharing the test database.

Fixtures for every app's browser tests:
- `live_url`: the base URL of the live server, e.g. "http://127.0.0.1:41234" (session-scoped).
- `browser`: a headless Chromium (session-scoped). `page`: a fresh page (function-scoped).
- `racer_page`: a page signed in as the `owner` persona (who has a racer name).
- `worker`: a running Celery worker for both queues (from tests/conftest.py).
- `shot(name)`: saves test-artifacts/<test>/<NN>-<name>.png; a failing test's page is saved as well.
Tests that use these get a transactional database so the server subprocess sees what they write.
"""

import os
import re
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

# Playwright's sync API runs an event loop in this thread, which makes Django refuse ORM calls from the
# test body; the test process only drives the browser and sets up rows, so that guard does not apply.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


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


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: install Debian's chromium package (see .ci/run).",
                    pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def _artifact_dir(request) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("::", 1)[-1])
    folder = ARTIFACTS / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(request, browser, live_url, transactional_db):
    context = browser.new_context(base_url=live_url, viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        page.screenshot(path=str(_artifact_dir(request) / "failure.png"), full_page=True)
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
def racer_page(page, owner, live_url):
    """`page` signed in as the `owner` persona: the session cookie of a Django test-client login."""
    client = Client()
    client.force_login(owner)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_url}])
    return page
