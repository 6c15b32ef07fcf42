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
