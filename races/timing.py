"""Race-day timing in plain Python (no Django): sector times of a lap, the reset limit of a live run and
the F1-style colours of a sector. The one source of both: races.services stores each recorded lap's
sectors, and LiveSectors times and colours a live run's ticks for the broadcast, which only shows them.

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


class SectorClock:
    """The sector times of one lap, fed its (progress %, sim time s) samples in step order. Progress that
    falls back (a reset in continuous mode) keeps the sector's clock running: only the first crossing of a
    bound counts."""

    def __init__(self, sectors: int = SECTORS):
        self.bounds = sector_bounds(sectors)
        self.crossed: list[float | None] = [None] * sectors
        self.previous: tuple[float, float] | None = None
        self.start_time: float | None = None

    def add(self, progress: float, time: float) -> None:
        sample = (float(progress), float(time))
        if self.start_time is None:
            self.start_time = sample[1]
        for index, bound in enumerate(self.bounds):
            if self.crossed[index] is None and sample[0] >= bound:
                self.crossed[index] = _crossing(self.previous, sample, bound)
        self.previous = sample

    @property
    def times(self) -> list[float | None]:
        """Each sector's time (s, 3 decimals), None for a sector the car did not finish."""
        times: list[float | None] = []
        last = self.start_time
        for moment in self.crossed:
            if moment is None or last is None:
                times.append(None)
                last = None
                continue
            times.append(round(moment - last, 3))
            last = moment
        return times


def sector_times(samples: Iterable[tuple[float, float]], sectors: int = SECTORS) -> list[float | None]:
    """Sector times (s, 3 decimals) of one lap from (progress %, sim time s) samples in step order; None
    for a sector the car did not finish (SectorClock)."""
    clock = SectorClock(sectors)
    for progress, time in samples:
        clock.add(progress, time)
    return clock.times


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


class LiveSectors:
    """A live run's sectors as the room sees them, timed and coloured on the server (the broadcast only
    shows them): fed each tick of the run (``episode`` = the lap, ``progress``, ``sim_time``), it answers
    the lap's sectors so far, ``{"sectors": [{"time": s or None, "colour": ... or None}, ...]}``.

    A lap starts on the start line when the sim clock reads zero (the env's "prepare" row of the sim
    trace, which races.services.lap_sectors times the recorded laps from). The bests are the race's and
    the racer's from the runs before, then also this run's own complete laps and the lap being driven."""

    def __init__(self, race_best: Sequence[float | None], racer_best: Sequence[float | None],
                 sectors: int = SECTORS):
        self.sectors = sectors
        self.race_best, self.racer_best = list(race_best), list(racer_best)
        self.lap = None
        self.clock: SectorClock | None = None

    def __call__(self, tick: dict) -> dict:
        if tick["episode"] != self.lap:
            self._lap_ended()
            self.lap, self.clock = tick["episode"], SectorClock(self.sectors)
            self.clock.add(0.0, 0.0)
        self.clock.add(tick["progress"], tick["sim_time"])
        times = self.clock.times
        colours = sector_colours(times, best_sectors([self.race_best, times], self.sectors),
                                 best_sectors([self.racer_best, times], self.sectors))
        return {"sectors": [{"time": time, "colour": colour} for time, colour in zip(times, colours, strict=True)]}

    def _lap_ended(self) -> None:
        # Only a complete lap's sectors set bests (as the board's: races.services.race_day_state).
        if self.clock is not None and None not in self.clock.times:
            self.race_best = best_sectors([self.race_best, self.clock.times], self.sectors)
            self.racer_best = best_sectors([self.racer_best, self.clock.times], self.sectors)
