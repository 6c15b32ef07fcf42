"""Race-day timing: sector times from trace samples, the reset limit, the sector colours."""

import pytest

from races import timing


def test_it_times_three_sectors_interpolating_the_crossings():
    # 10 % of the lap per second: each sector (33.3 %) takes 3.333 s.
    samples = [(10.0 * second, float(second)) for second in range(11)]
    assert timing.sector_times(samples) == pytest.approx([3.333, 3.333, 3.334], abs=0.001)


def test_it_leaves_sectors_not_driven_empty_and_counts_a_crossing_once():
    samples = [(0, 0.0), (20, 1.0), (40, 2.0), (30, 3.0), (50, 4.0), (60, 5.0)]  # a reset fell back at 3 s
    times = timing.sector_times(samples)
    assert times[0] == pytest.approx(1.667, abs=0.001) and times[1:] == [None, None]
    assert timing.sector_times([]) == [None, None, None]


def test_it_drops_the_laps_after_the_reset_limit():
    laps = [{"trial": 1, "reset_count": 1}, {"trial": 2, "reset_count": 2}, {"trial": 3, "reset_count": 0}]
    assert [lap["trial"] for lap in timing.laps_within_resets(laps, 3)] == [1, 2, 3]
    assert [lap["trial"] for lap in timing.laps_within_resets(laps, 2)] == [1]
    assert timing.laps_within_resets(laps, 0) == []


def test_it_colours_sectors_purple_green_yellow():
    race_best, racer_best = [3.0, 4.0, 5.0], [3.5, 4.2, 5.1]
    assert timing.sector_colours([2.9, 4.1, 5.2, ], race_best, racer_best) == ["purple", "green", "yellow"]
    assert timing.sector_colours([None, 4.0, 9.0], [None, None, None], [None, None, None]) == \
        [None, "purple", "purple"]
    assert timing.best_sectors([[3.0, None, 5.0], [2.5, 4.0, None]]) == [2.5, 4.0, 5.0]


def _lap(episode, percent_per_second, seconds, step=0.25):
    """The ticks of a lap driven at a steady pace (a tick every `step` s of sim time)."""
    count = int(round(seconds / step))
    return [{"episode": episode, "progress": min(100.0, percent_per_second * step * n), "sim_time": step * n}
            for n in range(1, count + 1)]


def _drive(sectors, ticks):
    answer = None
    for tick in ticks:
        answer = sectors(tick)
    return [sector["time"] for sector in answer["sectors"]], [sector["colour"] for sector in answer["sectors"]]


def test_a_live_run_gets_its_sectors_timed_as_the_recorded_laps_are():
    ticks = _lap(1, 10.0, 10.0)
    live = timing.LiveSectors([None] * 3, [None] * 3)
    seen = [live(tick)["sectors"] for tick in ticks]
    # The lap starts at the sim clock's zero, as the sim trace's "prepare" row does.
    recorded = timing.sector_times([(0.0, 0.0)] + [(tick["progress"], tick["sim_time"]) for tick in ticks])
    assert [sector["time"] for sector in seen[-1]] == recorded == pytest.approx([3.333, 3.333, 3.334], abs=0.001)
    assert [sector["time"] for sector in seen[0]] == [None, None, None]
    assert [sector["colour"] for sector in seen[0]] == [None, None, None]
    at_half = seen[ticks.index(next(tick for tick in ticks if tick["progress"] >= 50))]
    assert at_half[0]["time"] is not None and at_half[1]["time"] is None


def test_a_live_run_colours_sectors_against_the_race_the_racer_and_its_own_laps():
    live = timing.LiveSectors(race_best=[3.0, 4.0, 5.0], racer_best=[3.5, 4.5, 5.5])
    # Lap 1 (3.333 s a sector): faster than the racer's best S1 only, faster than the race in S2 and S3.
    assert _drive(live, _lap(1, 10.0, 10.0))[1] == ["green", "purple", "purple"]
    # Lap 2 (2.667 s a sector): the fastest of all.
    assert _drive(live, _lap(2, 12.5, 8.0))[1] == ["purple", "purple", "purple"]
    # Lap 3, as lap 1: slower than this run's own lap 2 everywhere.
    assert _drive(live, _lap(3, 10.0, 10.0))[1] == ["yellow", "yellow", "yellow"]
    # Lap 4 ends off track at 40 %: its fast S1 is shown purple, but an unfinished lap sets no best ...
    times, colours = _drive(live, _lap(4, 40.0, 1.0))
    assert times[0] == pytest.approx(0.833, abs=0.001) and colours == ["purple", None, None]
    # ... so lap 5's S1 of 2 s is the race's best.
    times, colours = _drive(live, _lap(5, 50 / 3, 2.0))
    assert times[0] == pytest.approx(2.0, abs=0.001) and colours[0] == "purple"
