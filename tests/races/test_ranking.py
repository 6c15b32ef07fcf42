"""Ranking methods on hand-made lap lists (SPEC 4): complete and incomplete laps, penalties, ties."""

import pytest

from races import ranking
from races.ranking import AVG_LAP_TIME, BEST_LAP_TIME, TOTAL_TIME


def lap(seconds, status="lap_complete", *, off_track=0, off_penalty=0.0, crashes=0, crash_penalty=0.0, resets=0,
        completion=None):
    return {"trial": 0, "time_seconds": seconds, "status": status, "off_track_count": off_track,
            "off_track_penalty": off_penalty, "crash_count": crashes, "crash_penalty": crash_penalty,
            "reset_count": resets, "completion": 100.0 if completion is None else completion}


def off(completion, seconds=3.0):
    return lap(seconds, "off_track", off_track=1, completion=completion)


def test_it_ranks_the_fastest_complete_lap_for_best_lap_time():
    laps = [lap(12.5), off(40.0, 2.0), lap(11.25), lap(13.0)]
    assert ranking.ranking_ms(BEST_LAP_TIME, laps, 1) == 11_250


def test_it_never_ranks_an_incomplete_lap_even_a_short_one():
    # The off-track attempt took 2 s: it must not be the "best lap".
    assert ranking.ranking_ms(BEST_LAP_TIME, [off(40.0, 2.0), lap(14.0)], 1) == 14_000


def test_it_needs_minimum_laps_completed_for_best_lap_time():
    laps = [lap(12.0), off(50.0), lap(13.0)]
    assert ranking.ranking_ms(BEST_LAP_TIME, laps, 2) == 12_000
    assert ranking.ranking_ms(BEST_LAP_TIME, laps, 3) is None


def test_it_averages_the_best_window_of_consecutive_complete_laps():
    laps = [lap(10.0), lap(14.0), lap(12.0), lap(11.0), lap(20.0)]
    # windows of 2: 12.0, 13.0, 11.5, 15.5 -> 11.5
    assert ranking.ranking_ms(AVG_LAP_TIME, laps, 2) == 11_500
    # windows of 3: 12.0, 12.333, 14.333 -> 12.0
    assert ranking.ranking_ms(AVG_LAP_TIME, laps, 3) == 12_000


def test_it_breaks_an_average_window_at_an_incomplete_lap():
    laps = [lap(10.0), off(60.0), lap(10.0), lap(16.0)]
    # 10 + 10 are not consecutive: the only complete window of 2 is (10, 16).
    assert ranking.ranking_ms(AVG_LAP_TIME, laps, 2) == 13_000
    assert ranking.ranking_ms(AVG_LAP_TIME, [lap(10.0), off(60.0), lap(10.0)], 2) is None


def test_it_rounds_an_average_to_the_millisecond():
    assert ranking.ranking_ms(AVG_LAP_TIME, [lap(10.0), lap(10.0), lap(10.001)], 3) == 10_000


def test_it_totals_the_first_minimum_laps_all_complete():
    assert ranking.ranking_ms(TOTAL_TIME, [lap(10.0), lap(11.0), lap(30.0)], 2) == 21_000
    assert ranking.ranking_ms(TOTAL_TIME, [lap(10.0), off(90.0), lap(11.0)], 2) is None
    assert ranking.ranking_ms(TOTAL_TIME, [lap(10.0)], 2) is None


def test_it_counts_continuous_mode_penalties_in_the_times():
    # Continuous mode: the trial time already holds the penalty seconds (SPEC 4); one off-track, 5 s.
    penalised = lap(17.0, off_track=1, off_penalty=5.0, resets=1)
    clean = lap(13.0)
    assert ranking.ranking_ms(BEST_LAP_TIME, [penalised, clean], 1) == 13_000
    assert ranking.ranking_ms(TOTAL_TIME, [penalised, clean], 2) == 30_000
    scored = ranking.score(TOTAL_TIME, [penalised, clean, lap(14.0, crashes=2, crash_penalty=10.0)], 2)
    assert (scored.off_track_count, scored.crash_count, scored.penalty_seconds, scored.reset_count) == (1, 2, 15.0, 1)


def test_it_ties_equal_times_exactly_in_milliseconds():
    # 0.1 + 0.2 style float noise must not separate two equal lap times.
    assert ranking.ranking_ms(BEST_LAP_TIME, [lap(10.3)], 1) == ranking.ranking_ms(BEST_LAP_TIME, [lap(10.1 + 0.2)], 1)


def test_it_scores_laps_completed_and_best_completion_of_an_unranked_run():
    scored = ranking.score(AVG_LAP_TIME, [off(35.5), off(61.25), lap(12.0)], 2)
    assert scored.ranking_ms is None
    assert (scored.laps_completed, scored.best_completion, scored.best_lap_ms) == (1, 100.0, 12_000)
    nothing = ranking.score(BEST_LAP_TIME, [off(35.5), off(61.25)], 1)
    assert (nothing.ranking_ms, nothing.laps_completed, nothing.best_completion, nothing.best_lap_ms) == \
        (None, 0, 61.25, None)


def test_it_refuses_unknown_methods_and_empty_windows():
    with pytest.raises(ValueError, match="unknown ranking method"):
        ranking.ranking_ms("FASTEST", [lap(10.0)], 1)
    with pytest.raises(ValueError, match="at least 1"):
        ranking.ranking_ms(BEST_LAP_TIME, [lap(10.0)], 0)


def test_it_formats_times_and_gaps():
    assert ranking.format_ms(61_234) == "01:01.234"
    assert ranking.format_ms(None) == ""
    assert ranking.format_gap(1_205) == "+1.205"
    assert ranking.format_gap(0) == ""
    assert ranking.format_gap(75_000) == "+01:15.000"
