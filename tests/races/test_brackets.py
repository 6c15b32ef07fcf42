"""The single-elimination bracket in plain Python: standard seeding, rounds and where a winner goes next."""

import pytest

from races import brackets


def test_it_seeds_the_best_apart():
    assert brackets.first_round(4) == [(1, 4), (2, 3)]
    assert brackets.first_round(8) == [(1, 8), (4, 5), (2, 7), (3, 6)]
    assert brackets.first_round(16) == [(1, 16), (8, 9), (4, 13), (5, 12), (2, 15), (7, 10), (3, 14), (6, 11)]
    for size in brackets.SIZES:
        order = brackets.seed_order(size)
        assert sorted(order) == list(range(1, size + 1))
        # Every first-round pair sums to size + 1, and seeds 1 and 2 sit in opposite halves.
        assert all(top + bottom == size + 1 for top, bottom in brackets.first_round(size))
        assert order.index(1) < size // 2 <= order.index(2)


@pytest.mark.parametrize("size", [0, 2, 5, 6, 12, 32, True, "8", None])
def test_it_refuses_other_sizes(size):
    with pytest.raises(brackets.BracketError, match="4, 8 or 16"):
        brackets.check_size(size)


def test_it_names_rounds_and_heats_by_the_cars_left():
    assert [brackets.round_name(16, number) for number in range(1, 5)] == [
        "Round of 16", "Quarter-finals", "Semi-finals", "Final"]
    assert [brackets.round_name(4, number) for number in (1, 2)] == ["Semi-finals", "Final"]
    assert brackets.heat_name(8, 1, 3) == "Quarter-final 3"
    assert brackets.heat_name(8, 2, 2) == "Semi-final 2"
    assert brackets.heat_name(8, 3, 1) == "Final"
    assert brackets.heat_name(16, 1, 5) == "Round of 16, heat 5"
    assert [brackets.heats_in_round(16, number) for number in range(1, 5)] == [8, 4, 2, 1]
    assert brackets.rounds(4) == 2 and brackets.rounds(16) == 4


def test_it_sends_each_winner_to_the_next_round():
    # Quarter-finals 1 and 2 meet in semi-final 1 (car 0, car 1); 3 and 4 in semi-final 2.
    assert [brackets.next_heat(8, 1, slot) for slot in (1, 2, 3, 4)] == [(2, 1, 0), (2, 1, 1), (2, 2, 0), (2, 2, 1)]
    assert brackets.next_heat(8, 2, 2) == (3, 1, 1)
    assert brackets.next_heat(8, 3, 1) is None
    assert brackets.next_heat(4, 2, 1) is None
