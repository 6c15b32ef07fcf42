"""How a race submission's laps become its ranking time (SPEC 4), in plain Python: no Django.

A submission is an evaluation of `max laps` trials under the race's rules; each trial is one lap attempt
(the SPEC 4 record: ``time_seconds`` already holds the continuous-mode penalties, ``status`` is
``lap_complete`` for a finished lap). The ranking methods:

- ``BEST_LAP_TIME``: the fastest completed lap. Ranked once at least `minimum laps` laps are complete.
- ``AVG_LAP_TIME``: the best average over any window of `minimum laps` consecutive completed laps.
- ``TOTAL_TIME``: the time to drive the first `minimum laps` laps of the run, every one of them complete
  (a race of N laps, as on a race day).

Times are ranked in whole milliseconds (the console shows MM:SS.mmm), so two equal times tie exactly and
the earlier submission ranks first (the leaderboard query breaks the tie, see races.models).
A submission without a ranking time stays on the board below the ranked ones, by laps completed and then
by the best completion of a lap.
"""

from dataclasses import dataclass

BEST_LAP_TIME, AVG_LAP_TIME, TOTAL_TIME = "BEST_LAP_TIME", "AVG_LAP_TIME", "TOTAL_TIME"
RANKING_METHODS = {
    BEST_LAP_TIME: "Best lap time",
    AVG_LAP_TIME: "Average lap time",
    TOTAL_TIME: "Total time",
}
LAP_COMPLETE = "lap_complete"


@dataclass(frozen=True)
class Score:
    """What the leaderboard stores of one submission."""

    ranking_ms: int | None
    """the ranking time in milliseconds; None = not ranked (too few complete laps)"""
    best_lap_ms: int | None
    """the fastest complete lap, whatever the method"""
    laps_completed: int
    best_completion: float
    """% of the lap reached by the best attempt (100 when a lap was completed)"""
    off_track_count: int
    crash_count: int
    penalty_seconds: float
    """off-track and collision penalties added to the times (continuous mode)"""
    reset_count: int


def milliseconds(seconds: float) -> int:
    return int(round(float(seconds) * 1000))


def _complete(lap: dict) -> bool:
    return lap.get("status") == LAP_COMPLETE


def ranking_ms(method: str, laps: list[dict], minimum_laps: int) -> int | None:
    """The ranking time of laps (in trial order) under `method`, or None when the laps do not qualify."""
    if method not in RANKING_METHODS:
        raise ValueError(f"unknown ranking method {method!r}")
    if minimum_laps < 1:
        raise ValueError("minimum laps must be at least 1")
    times = [milliseconds(lap["time_seconds"]) if _complete(lap) else None for lap in laps]
    if method == TOTAL_TIME:
        first = times[:minimum_laps]
        return sum(first) if len(first) == minimum_laps and None not in first else None
    complete = [time for time in times if time is not None]
    if len(complete) < minimum_laps:
        return None
    if method == BEST_LAP_TIME:
        return min(complete)
    return _best_consecutive_average(times, minimum_laps)


def _best_consecutive_average(times: list[int | None], window: int) -> int | None:
    """The best mean of `window` consecutive complete laps (an incomplete lap breaks a run), rounded to ms."""
    best = None
    for start in range(len(times) - window + 1):
        run = times[start:start + window]
        if None in run:
            continue
        total = sum(run)
        best = total if best is None else min(best, total)
    return None if best is None else int(round(best / window))


def score(method: str, laps: list[dict], minimum_laps: int) -> Score:
    """Everything the leaderboard shows of one submission's laps."""
    complete = [lap for lap in laps if _complete(lap)]
    return Score(
        ranking_ms=ranking_ms(method, laps, minimum_laps),
        best_lap_ms=min((milliseconds(lap["time_seconds"]) for lap in complete), default=None),
        laps_completed=len(complete),
        best_completion=max((float(lap.get("completion", 0.0)) for lap in laps), default=0.0),
        off_track_count=sum(int(lap.get("off_track_count", 0)) for lap in laps),
        crash_count=sum(int(lap.get("crash_count", 0)) for lap in laps),
        penalty_seconds=round(sum(float(lap.get("off_track_penalty", 0.0)) + float(lap.get("crash_penalty", 0.0))
                                  for lap in laps), 3),
        reset_count=sum(int(lap.get("reset_count", 0)) for lap in laps),
    )


def format_ms(value: int | None) -> str:
    """MM:SS.mmm, as the console shows lap times; "" for None."""
    if value is None:
        return ""
    minutes, rest = divmod(int(value), 60_000)
    return f"{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def format_gap(value: int | None) -> str:
    """+S.mmm behind the leader (minutes when a minute or more); "" for the leader or None."""
    if not value:
        return ""
    if value < 60_000:
        return f"+{value // 1000}.{value % 1000:03d}"
    return "+" + format_ms(value)
