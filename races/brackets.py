"""A single-elimination bracket in plain Python (no Django): standard seeding, the rounds' names and where
a heat's winner goes next. races.services builds the bracket's heats from it.

Rounds are numbered from 1 (the first round) to ``rounds(size)`` (the final); heats in a round are
numbered from 1 (slots), top to bottom. The winner of slot s in round r races in slot (s + 1) // 2 of
round r + 1, as the first car when s is odd (the upper half), the second otherwise.
"""

from __future__ import annotations

SIZES = (4, 8, 16)


class BracketError(ValueError):
    """A bracket cannot be built as asked; the message says why."""


def check_size(size) -> int:
    if isinstance(size, bool) or size not in SIZES:
        raise BracketError(f"A bracket has {', '.join(map(str, SIZES[:-1]))} or {SIZES[-1]} entries.")
    return size


def seed_order(size: int) -> list[int]:
    """Seeds (1 = best) in bracket order, so that the best seeds meet as late as possible: for 8,
    [1, 8, 4, 5, 2, 7, 3, 6] - the first round's pairs are 1v8, 4v5, 2v7, 3v6."""
    check_size(size)
    order = [1, 2]
    while len(order) < size:
        count = 2 * len(order)
        order = [seed for top in order for seed in (top, count + 1 - top)]
    return order


def first_round(size: int) -> list[tuple[int, int]]:
    """The first round's pairs of seeds, slot by slot."""
    order = seed_order(size)
    return [(order[index], order[index + 1]) for index in range(0, size, 2)]


def rounds(size: int) -> int:
    """How many rounds the bracket has (4 entries: 2, 8: 3, 16: 4)."""
    return check_size(size).bit_length() - 1


def heats_in_round(size: int, round_number: int) -> int:
    return size >> round_number


def round_name(size: int, round_number: int) -> str:
    """What the pages call a round: by how many cars are left in it."""
    left = 2 * heats_in_round(size, round_number)
    return {2: "Final", 4: "Semi-finals", 8: "Quarter-finals"}.get(left, f"Round of {left}")


def heat_name(size: int, round_number: int, slot: int) -> str:
    """One heat's name: "Final", "Semi-final 2", "Quarter-final 3", "Round of 16, heat 5"."""
    left = 2 * heats_in_round(size, round_number)
    if left == 2:
        return "Final"
    if left in (4, 8):
        return f"{round_name(size, round_number)[:-1]} {slot}"
    return f"Round of {left}, heat {slot}"


def next_heat(size: int, round_number: int, slot: int) -> tuple[int, int, int] | None:
    """(round, slot, car) the winner of a heat races in next (car 0 or 1), or None after the final."""
    if round_number >= rounds(size):
        return None
    return round_number + 1, (slot + 1) // 2, (slot + 1) % 2
