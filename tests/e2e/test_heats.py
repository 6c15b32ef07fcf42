"""Head-to-model end to end on the real worker (issue "Live races and head-to-model racing"): the organiser
creates a live head-to-model race in the form, on their own small ring track (imported) where even a barely
trained model gets round a lap in continuous mode; two racers' trained models are on its board (their
qualifying entries, written as a finished qualifying leaves them: the qualifying run itself is race day's
evaluation, tested in test_race_day.py); the organiser pairs them on the control page and launches the heat;
a racer's broadcast shows both cars, both names, the clock and the gap; the heat runs to the finish line and
its result page names the winner with both racers' lap times and the replay. A racer who is not a participant
gets 404 from the heat's pages, its replay and the broadcast, and their sockets are refused. Screenshots of
every step land in test-artifacts/."""

import io
import math
import shutil

import numpy as np
import pytest
from playwright.sync_api import expect

from models_app.models import ImportedTrack
from races import ranking
from races.models import Heat, HeatStatus, Race
from tests.conftest import make_racer
from tests.e2e.test_races import _page_for
from tests.races.conftest import make_entry
from tests.training.jobs_fixtures import fixture_trained_model_folder, make_model  # noqa: F401 (fixture)

HEAT_TIMEOUT_MS = 300_000  # one heat of two cars on the worker (MuJoCo, two policies, cameras, replay)
HEAT_SECONDS = 60  # the heat's time limit on the sim clock (both cars finish the ring in about 12 s)


def _ring_npy(radius=1.1, width=1.0, points=72) -> bytes:
    """A round track of 6.9 m as a DeepRacer track file (rows: centre, inner and outer border points)."""
    angles = np.linspace(0.0, 2 * math.pi, points + 1)
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    circle[-1] = circle[0]  # exactly closed
    buffer = io.BytesIO()
    np.save(buffer, np.concatenate([circle * radius, circle * (radius - width / 2), circle * (radius + width / 2)],
                                   axis=1))
    return buffer.getvalue()


@pytest.fixture
def ring_track(owner):
    return ImportedTrack.objects.create(owner=owner, title="Ring", npy=_ring_npy(), length=6.9, width=1.0)


@pytest.fixture
def entries(trained_model_folder):
    """Two racers, each with a trained model and a qualifying entry on the board (set on the race)."""
    made = []
    for name in ("Ana", "Ben"):
        racer = make_racer(name.lower(), f"{name}_Racer")
        model = make_model(racer, name=f"{name}-Model")
        shutil.copytree(trained_model_folder, model.folder)
        made.append((racer, model))
    yield made
    for _, model in made:
        shutil.rmtree(model.folder, ignore_errors=True)


def _socket_opens(page, path) -> bool:
    return page.evaluate("""path => new Promise(resolve => {
        const socket = new WebSocket(`ws://${location.host}${path}`);
        socket.onopen = () => { socket.close(); resolve(true); };
        socket.onclose = () => resolve(false);
    })""", path)


def _lap_times_shown(car: dict) -> str:
    return ", ".join(ranking.format_ms(round(time * 1000)) for time in car["lap_times"])


def test_it_races_two_trained_models_head_to_model(page, browser, live_url, sign_in, worker, owner, stranger,
                                                   entries, ring_track, shot):
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    sign_in(owner)

    # The organiser creates a live head-to-model race.
    page.goto("/races/create/")
    page.get_by_role("textbox", name="Race name").fill("Duel Day")
    page.get_by_test_id(f"track-{ring_track.slug}").click()
    page.get_by_label("Head-to-model").check()
    page.get_by_label("Laps of a heat").fill("1")
    page.get_by_label("Time limit of a heat (s)").fill(str(HEAT_SECONDS))
    page.get_by_label("Continuous mode").check()  # off track: back on where it left, the heat goes on
    page.get_by_label("Off-track penalty (s)").fill("0")
    page.get_by_label("Collision penalty (s)").fill("0")
    page.get_by_label("Live race (race day)").check()
    page.get_by_label("Race day starts").fill(page.get_by_label("Opens").input_value())
    shot("create-head-to-model-race")
    page.get_by_test_id("save-race").click()
    expect(page.get_by_role("heading", name="Duel Day", exact=True)).to_be_visible()
    race = Race.objects.get(name="Duel Day")
    assert race.is_head_to_model and race.is_live and race.continuous and race.track == ring_track.slug
    assert (race.heat_laps, race.heat_seconds) == (1, HEAT_SECONDS)

    # Both racers qualified: Ana first on the board.
    (ana, ana_model), (ben, ben_model) = entries
    ana_entry = make_entry(race, ana, 14_000, model=ana_model, model_name=ana_model.name)
    ben_entry = make_entry(race, ben, 15_500, model=ben_model, model_name=ben_model.name)

    # The organiser pairs them on the control page: the heat joins the queue.
    page.get_by_test_id("race-day-control").click()
    page.get_by_label("Car 1 (on the line)").select_option(str(ana_entry.pk))
    page.get_by_label("Car 2").select_option(str(ben_entry.pk))
    page.get_by_test_id("pair-heat").click()
    queue = page.get_by_test_id("queue").locator("li[data-heat]")
    expect(queue).to_have_count(1)
    expect(queue).to_contain_text("Ana_Racer vs Ben_Racer")
    heat = Heat.objects.get(race=race)
    shot("heat-paired")

    # Ana watches the broadcast; the organiser launches the heat.
    ana_page = _page_for(browser, live_url, ana)
    ana_page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    ana_page.set_viewport_size({"width": 1920, "height": 1080})
    ana_page.goto(f"/races/{race.pk}/broadcast/")
    expect(ana_page.locator("#broadcast")).to_have_attribute("data-socket-state", "open")
    expect(ana_page.get_by_test_id("up-next")).to_contain_text("Ana_Racer vs Ben_Racer")
    page.get_by_test_id("launch").click()
    expect(page.get_by_test_id("current-run")).to_contain_text("Heat 1")
    live = ana_page.get_by_test_id("live-heat")
    expect(live).to_be_visible()
    expect(live.locator('[data-car-name="0"]')).to_have_text("Ana_Racer")
    expect(live.locator('[data-car-name="1"]')).to_have_text("Ben_Racer")
    for car in (0, 1):  # both cars' chase views
        expect(ana_page.get_by_test_id(f"heat-frame-{car}")).to_be_visible(timeout=HEAT_TIMEOUT_MS)
    clock = ana_page.get_by_test_id("heat-clock")
    first_reading = clock.text_content()
    ana_page.wait_for_function(f"document.querySelector('[data-testid=heat-clock]').textContent !== "
                               f"'{first_reading}'", timeout=HEAT_TIMEOUT_MS)
    ana_page.wait_for_function("document.querySelector('[data-testid=heat-gap]').textContent.includes('ahead by')",
                               timeout=HEAT_TIMEOUT_MS)
    ana_page.screenshot(path=str(shot("heat-launched").parent / "broadcast-01-heat-1920.png"))

    # The heat runs to its end: the broadcast names the last heat's winner, the control page is free again.
    expect(ana_page.get_by_test_id("last-heat")).to_be_visible(timeout=HEAT_TIMEOUT_MS)
    heat.refresh_from_db()
    assert heat.status == HeatStatus.COMPLETED, heat.failure_reason
    assert heat.decided_by == "finish" and all(len(car["lap_times"]) == 1 for car in heat.result["cars"]), heat.result
    winner = heat.winner.racer_display
    expect(ana_page.get_by_test_id("last-heat")).to_contain_text(f"Heat 1: {winner} wins")
    ana_page.screenshot(path=str(shot("heat-finished").parent / "broadcast-02-heat-result-1920.png"))
    expect(page.get_by_test_id("current-run")).to_contain_text("Nobody")

    # The result page: the winner, how it was decided, both racers' lap times, the replay.
    page.goto(f"/races/{race.pk}/heats/{heat.pk}/")
    expect(page.get_by_test_id("heat-result-winner")).to_contain_text(f"{winner} wins")
    expect(page.get_by_test_id("heat-decided")).to_have_text("First across the line after 1 lap.")
    rows = page.get_by_test_id("heat-cars").locator("tbody tr")
    expect(rows).to_have_count(2)
    for index, (racer, car) in enumerate(zip(("Ana_Racer", "Ben_Racer"), heat.result["cars"], strict=True)):
        expect(rows.nth(index)).to_contain_text(racer)
        expect(rows.nth(index).locator("[data-field=lap-times]")).to_have_text(_lap_times_shown(car))
    page.wait_for_function("document.querySelector('[data-testid=heat-replay]').readyState >= 2",
                           timeout=30_000)
    assert page.evaluate("document.querySelector('[data-testid=heat-replay]').duration") > 0
    shot("heat-result")
    page.goto(f"/races/{race.pk}/heats/")
    expect(page.get_by_test_id("heat-winner")).to_have_text(winner)
    shot("heats-page")
    assert errors == []

    # A racer who is not a participant: 404 on the pages, the replay and the API; the sockets refused.
    stranger_page = _page_for(browser, live_url, stranger)
    for path in (f"/races/{race.pk}/heats/{heat.pk}/", f"/races/{race.pk}/heats/", f"/races/{race.pk}/broadcast/",
                 f"/races/{race.pk}/heats/{heat.pk}/video.mp4", f"/api/races/{race.pk}/heats/{heat.pk}/"):
        assert stranger_page.request.get(path).status == 404, path
    stranger_page.goto("/")
    assert not _socket_opens(stranger_page, f"/ws/races/{race.pk}/heats/{heat.pk}/")
    assert not _socket_opens(stranger_page, f"/ws/races/{race.pk}/live/")
    assert _socket_opens(ana_page, f"/ws/races/{race.pk}/heats/{heat.pk}/")  # a participant's socket opens
