"""Race-day timing in plain Python (no Django): sector times of a lap, the reset limit of a live run and
the F1-style colours of a sector. The broadcast page shows them; races.live stores them per lap.

A lap has SECTORS equal sectors by progress (0-33.3 %, 33.3-66.7 %, 66.7-100 %). A sector's time is the
sim time at which the car crossed its end minus the time it crossed its start, each crossing interpolated
linearly between the two trace rows around it (a trace row every step, 15 steps a second).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SECTORS = 3
PURPLE, GREEN, YELLOW = "purple", "green", "yellow"  # best of the race, racer's personal best, slower


def sector_bounds(sectors: int = SECTORS) -> list[float]:
    """The progress (%) at which each sector ends."""
    return [100.0 * (index + 1) / sectors for index in range(sectors)]


def sector_times(samples: Iterable[tuple[float, float]], sectors: int = SECTORS) -> list[float | None]:
    """Sector times (s, 3 decimals) of one lap from (progress %, sim time s) samples in step order;
    None for a sector the car did not finish. Progress that falls back (a reset in continuous mode)
    keeps the sector's clock running: only the first crossing of a bound counts."""
    bounds = sector_bounds(sectors)
    crossed: list[float | None] = [None] * sectors
    previous: tuple[float, float] | None = None
    start_time: float | None = None
    for progress, time in samples:
        progress, time = float(progress), float(time)
        if start_time is None:
            start_time = time
        for index, bound in enumerate(bounds):
            if crossed[index] is None and progress >= bound:
                crossed[index] = _crossing(previous, (progress, time), bound)
        previous = (progress, time)
    times: list[float | None] = []
    last = start_time
    for moment in crossed:
        if moment is None or last is None:
            times.append(None)
            last = None
            continue
        times.append(round(moment - last, 3))
        last = moment
    return times


def _crossing(before: tuple[float, float] | None, after: tuple[float, float], bound: float) -> float:
    """The sim time at which progress reached `bound` between two samples (linear)."""
    if before is None or after[0] <= before[0] or before[0] >= bound:
        return after[1]
    fraction = (bound - before[0]) / (after[0] - before[0])
    return before[1] + fraction * (after[1] - before[1])


def laps_within_resets(laps: Sequence[dict], max_resets: int) -> list[dict]:
    """The laps (trial records, in order) that count under a live race's reset limit: a run that used
    more than `max_resets` resets ends at the lap where it went over (that lap and later ones are dropped)."""
    kept, used = [], 0
    for lap in laps:
        used += int(lap.get("reset_count", 0))
        if used > max_resets:
            break
        kept.append(lap)
    return kept


def sector_colours(sectors: Sequence[float | None], race_best: Sequence[float | None],
                   racer_best: Sequence[float | None]) -> list[str | None]:
    """Each sector's colour: purple = as fast as the race's best (including this lap), green = the
    racer's personal best, yellow = slower; None for a sector not driven."""
    colours: list[str | None] = []
    for index, time in enumerate(sectors):
        if time is None:
            colours.append(None)
        elif _at_most(time, race_best, index):
            colours.append(PURPLE)
        elif _at_most(time, racer_best, index):
            colours.append(GREEN)
        else:
            colours.append(YELLOW)
    return colours


def _at_most(time: float, bests: Sequence[float | None], index: int) -> bool:
    best = bests[index] if index < len(bests) else None
    return best is None or time <= best


def best_sectors(laps: Iterable[Sequence[float | None]], sectors: int = SECTORS) -> list[float | None]:
    """The fastest time of each sector over many laps' sector lists (None where none was driven)."""
    best: list[float | None] = [None] * sectors
    for lap in laps:
        for index, time in enumerate(list(lap)[:sectors]):
            if time is not None and (best[index] is None or time < best[index]):
                best[index] = time
    return best
