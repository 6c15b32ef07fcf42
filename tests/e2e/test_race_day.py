"""Race day end to end on the real worker (issue "Live races and head-to-model racing"): the organiser
creates a live race, three racers submit (one through their race page), the organiser reorders the queue
and launches; a racer's broadcast page sees the frames and the lap clock move and the
board update after the run; auto-launch runs the rest; the winner overlay shows on the broadcast and the
projector link. A racer who is not a participant gets 404 from the pages and a refused socket.
Screenshots of every step land in test-artifacts/."""

import shutil

import pytest
from playwright.sync_api import expect

from races import services
from races.models import Participant, Race, Submission
from tests.conftest import make_racer
from tests.e2e.test_races import _page_for
from tests.training.jobs_fixtures import fixture_trained_model_folder, make_model  # noqa: F401 (fixture)

RUN_TIMEOUT_MS = 240_000  # one evaluation of 3 laps on the worker (MuJoCo, sandbox, video)


@pytest.fixture
def racers(owner, trained_model_folder):
    """The organiser and two racers, each with a trained model."""
    entries = []
    for user, name in ((owner, "Owner"), (make_racer("ana", "Ana_Racer"), "Ana"),
                       (make_racer("ben", "Ben_Racer"), "Ben")):
        model = make_model(user, name=f"{name}-Model")
        shutil.copytree(trained_model_folder, model.folder)
        entries.append((user, model))
    yield entries
    for _, model in entries:
        shutil.rmtree(model.folder, ignore_errors=True)


def _queue(page) -> list[str]:
    return page.get_by_test_id("queue").locator("li").evaluate_all("rows => rows.map(row => row.dataset.racer)")


def test_it_runs_race_day_from_the_queue_to_the_winner(page, browser, live_url, sign_in, worker, owner, stranger,
                                                       racers, shot):
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    sign_in(owner)

    # The organiser creates a live race.
    page.goto("/races/create/")
    page.get_by_role("textbox", name="Race name").fill("Race Day Cup")
    page.get_by_test_id("track-oval").click()
    page.get_by_label("Live race (race day)").check()
    page.get_by_label("Race day starts").fill(page.get_by_label("Opens").input_value())
    page.get_by_label("Resets per run").fill("5")
    shot("create-live-race")
    page.get_by_test_id("save-race").click()
    expect(page.get_by_role("heading", name="Race Day Cup", exact=True)).to_be_visible()
    race = Race.objects.get(name="Race Day Cup")
    assert race.is_live and race.max_resets == 5

    # Three racers submit: Ana on her race page, Ben and the organiser through the same service.
    (_, owner_model), (ana, _), (ben, ben_model) = racers
    for user in (ana, ben):
        Participant.objects.create(race=race, user=user)
    ana_page = _page_for(browser, live_url, ana)
    ana_page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    ana_page.goto(f"/races/{race.pk}/")
    ana_page.get_by_label("Your model").select_option(label="Ana-Model")
    ana_page.get_by_test_id("submit-model").click()
    expect(ana_page.get_by_test_id("my-submissions")).to_contain_text("place 1 in the queue")
    services.submission_create(race, ben, ben_model)
    services.submission_create(race, owner, owner_model)

    # The organiser reorders the queue (the organiser first) and opens the control page.
    page.get_by_test_id("race-day-control").click()
    expect(page.get_by_test_id("queue").locator("li")).to_have_count(3)
    assert _queue(page) == ["Ana_Racer", "Ben_Racer", "Owner_Racer"]
    page.get_by_role("button", name="Move Owner_Racer up").click()
    page.get_by_role("button", name="Move Owner_Racer up").click()
    expect(page.get_by_test_id("queue").locator("li").first).to_have_attribute("data-racer", "Owner_Racer")
    assert _queue(page) == ["Owner_Racer", "Ana_Racer", "Ben_Racer"]
    shot("queue-reordered")

    # Ana watches the broadcast; the organiser launches the first run.
    ana_page.set_viewport_size({"width": 1920, "height": 1080})
    ana_page.goto(f"/races/{race.pk}/broadcast/")
    live = ana_page.locator("#broadcast")
    expect(live).to_have_attribute("data-socket-state", "open")
    expect(ana_page.get_by_test_id("up-next").locator("li")).to_have_count(3)
    board = ana_page.get_by_test_id("live-board")
    expect(board).to_contain_text("No runs finished yet")
    page.get_by_test_id("launch").click()
    expect(page.get_by_test_id("current-run")).to_contain_text("Owner_Racer")
    expect(ana_page.get_by_test_id("live-racer")).to_have_text("Owner_Racer")
    ana_page.wait_for_function("Number(document.getElementById('broadcast').dataset.frames) >= 3",
                               timeout=RUN_TIMEOUT_MS)
    clock = ana_page.get_by_test_id("live-clock")
    first_reading = clock.text_content()
    ana_page.wait_for_function(f"document.querySelector('[data-testid=live-clock]').textContent !== "
                               f"'{first_reading}'", timeout=RUN_TIMEOUT_MS)
    expect(ana_page.get_by_test_id("live-lap")).to_contain_text("/ 3")
    ana_page.screenshot(path=str(shot("launched").parent / "broadcast-01-live-1920.png"))

    # The run ends: the board shows the organiser's row, highlighted.
    expect(board.locator("tbody tr[data-entry]")).to_have_count(1, timeout=RUN_TIMEOUT_MS)
    expect(board.locator("tr.new")).to_contain_text("Owner_Racer")
    ana_page.screenshot(path=str(shot("first-run-done").parent / "broadcast-02-board-1920.png"))

    # Auto-launch runs the rest.
    page.get_by_test_id("auto-launch").click()
    expect(board.locator("tbody tr[data-entry]")).to_have_count(3, timeout=2 * RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("current-run")).to_contain_text("Nobody", timeout=RUN_TIMEOUT_MS)
    assert Submission.objects.filter(race=race, status="COMPLETED").count() == 3
    shot("queue-run")

    # The organiser declares the end: the winner overlay, on the broadcast and on the projector link.
    projector_url = page.get_by_test_id("projector-link").input_value()
    page.get_by_test_id("finish-race").click()
    expect(page.get_by_test_id("current-run")).to_contain_text("The race is finished")
    winner = Submission.objects.leaderboard(race).first().racer_name
    expect(ana_page.get_by_test_id("winner-overlay")).to_be_visible()
    expect(ana_page.get_by_test_id("winner-overlay")).to_contain_text(winner)
    ana_page.screenshot(path=str(shot("finished").parent / "broadcast-03-winner-1920.png"))
    projector = browser.new_context(base_url=live_url, viewport={"width": 1366, "height": 768}).new_page()
    projector.goto(projector_url)
    expect(projector.get_by_test_id("winner-overlay")).to_contain_text(winner)
    expect(projector.get_by_test_id("live-board").locator("tbody tr[data-entry]")).to_have_count(3)
    projector.screenshot(path=str(shot("projector").parent / "projector-laptop-1366.png"))
    assert errors == []

    # A racer who is not a participant: 404 on the pages and the API, the sockets refused.
    stranger_page = _page_for(browser, live_url, stranger)
    for path in (f"/races/{race.pk}/broadcast/", f"/races/{race.pk}/control/", f"/api/races/{race.pk}/race-day/"):
        assert stranger_page.request.get(path).status == 404, path
    assert ana_page.request.get(f"/races/{race.pk}/control/").status == 404  # a racer does not run race day
    stranger_page.goto("/")
    socket = stranger_page.evaluate("""path => new Promise(resolve => {
        let opened = false;
        const socket = new WebSocket(`ws://${location.host}${path}`);
        socket.onopen = () => { opened = true; };
        socket.onclose = event => resolve({opened, code: event.code});
    })""", f"/ws/races/{race.pk}/live/")
    assert socket["opened"] is False
