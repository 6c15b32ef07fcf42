"""The leaderboard in SQL: each racer's best entry, ranks, ties by earlier submission, unranked entries
below, removed racers gone; a constant number of queries however many entries."""

from datetime import timedelta

from django.utils import timezone

from races.models import Race, Submission, SubmissionStatus
from tests.conftest import make_racer
from tests.races.conftest import make_entry, make_race


def board(race):
    return [(entry.racer_name, entry.ranking_ms, entry.rank) for entry in Submission.objects.leaderboard(race)]


def test_it_keeps_each_racers_best_entry_and_ranks_by_time(race, owner, stranger):
    third = make_racer("third", "Third_Racer")
    make_entry(race, owner, 12_000)
    make_entry(race, owner, 11_000)
    make_entry(race, stranger, 11_500)
    make_entry(race, third, 13_000)
    assert board(race) == [("Owner_Racer", 11_000, 1), ("Stranger-Racer", 11_500, 2), ("Third_Racer", 13_000, 3)]


def test_it_breaks_ties_by_the_earlier_submission(race, owner, stranger):
    start = timezone.now() - timedelta(minutes=30)
    make_entry(race, owner, 11_000, submitted_at=start + timedelta(minutes=5))
    make_entry(race, stranger, 11_000, submitted_at=start)
    assert board(race) == [("Stranger-Racer", 11_000, 1), ("Owner_Racer", 11_000, 2)]


def test_it_breaks_a_racers_own_tie_by_their_earlier_submission(race, owner):
    start = timezone.now() - timedelta(minutes=30)
    first = make_entry(race, owner, 11_000, submitted_at=start)
    make_entry(race, owner, 11_000, submitted_at=start + timedelta(minutes=1))
    assert [entry.pk for entry in Submission.objects.leaderboard(race)] == [first.pk]


def test_it_lists_unranked_entries_below_by_laps_then_completion(race, owner, stranger):
    third = make_racer("third", "Third_Racer")
    make_entry(race, owner, None, laps_completed=0, best_completion=70.0)
    make_entry(race, stranger, None, laps_completed=1, best_completion=100.0)
    make_entry(race, third, 15_000)
    assert board(race) == [("Third_Racer", 15_000, 1), ("Stranger-Racer", None, 2), ("Owner_Racer", None, 3)]


def test_it_prefers_a_racers_ranked_entry_over_an_unranked_one(race, owner):
    make_entry(race, owner, None, laps_completed=2, best_completion=100.0)
    make_entry(race, owner, 19_000)
    assert board(race) == [("Owner_Racer", 19_000, 1)]


def test_it_leaves_out_failed_and_running_submissions_and_removed_racers(race, owner, stranger):
    make_entry(race, owner, 10_000, status=SubmissionStatus.FAILED)
    make_entry(race, owner, None, status=SubmissionStatus.RUNNING)
    make_entry(race, owner, 14_000)
    make_entry(race, stranger, 9_000)
    race.participants.filter(user=stranger).update(removed_at=timezone.now())
    assert board(race) == [("Owner_Racer", 14_000, 1)]


def test_it_gives_the_leaders_time_for_the_gap(race, owner, stranger):
    make_entry(race, owner, 11_000)
    make_entry(race, stranger, 12_345)
    leader, second = Submission.objects.leaderboard(race)
    assert (leader.gap, second.gap) == ("", "+1.345")
    assert second.ranking_time == "00:12.345"


def test_it_keeps_races_apart(race, owner, stranger):
    other = make_race(owner, name="Other")
    make_entry(other, stranger, 1_000)
    make_entry(race, owner, 11_000)
    assert board(race) == [("Owner_Racer", 11_000, 1)]


def test_it_gives_the_top_three_of_many_races_in_one_query(owner, queries_of):
    racers = [make_racer(f"r{n}", f"Racer_{n}") for n in range(5)]
    races = [make_race(owner, name=f"Race {n}", is_open=True) for n in range(3)]
    for number, race in enumerate(races):
        for place, racer in enumerate(racers):
            make_entry(race, racer, 10_000 + 1_000 * ((place + number) % 5))
            make_entry(race, racer, 30_000)
    top = []
    assert queries_of(lambda: top.extend(Submission.objects.top_of(races))) == 1
    by_race = {}
    for entry in top:
        by_race.setdefault(entry.race_id, []).append((entry.rank, entry.ranking_ms))
    assert by_race[races[0].pk] == [(1, 10_000), (2, 11_000), (3, 12_000)]
    assert len(by_race) == 3 and all(len(rows) == 3 for rows in by_race.values())


def test_it_counts_racers_on_the_board(race, owner, stranger):
    make_entry(race, owner, 11_000)
    make_entry(race, owner, 12_000)
    make_entry(race, stranger, None, status=SubmissionStatus.FAILED)
    assert Race.objects.with_racer_counts().get(pk=race.pk).racer_count == 1


def test_it_shows_private_races_only_to_organiser_and_participants(race, owner, stranger):
    third = make_racer("third", "Third_Racer")
    open_race = make_race(third, name="Open", is_open=True)
    assert set(Race.objects.visible_to(stranger)) == {open_race}
    make_entry(race, stranger, None, status=SubmissionStatus.FAILED)
    assert set(Race.objects.visible_to(stranger)) == {open_race, race}
    race.participants.filter(user=stranger).update(removed_at=timezone.now())
    assert set(Race.objects.visible_to(stranger)) == {open_race}
    assert race in Race.objects.visible_to(owner)


def test_it_builds_the_board_of_200_entries_in_one_query(race, owner, queries_of):
    racers = [make_racer(f"racer{n}", f"Racer_{n:03d}") for n in range(100)]
    for number, racer in enumerate(racers):
        make_entry(race, racer, 20_000 + number * 7)
        make_entry(race, racer, 40_000 + number)
    rows = []
    assert queries_of(lambda: rows.extend(Submission.objects.leaderboard(race))) == 1
    assert len(rows) == 100 and [row.rank for row in rows] == list(range(1, 101))
    assert rows[0].racer_name == "Racer_000" and rows[-1].ranking_ms == 20_000 + 99 * 7


def test_it_finds_a_racers_row_with_their_rank_among_everyones(race, owner, stranger, queries_of):
    third = make_racer("third", "Third_Racer")
    other = make_race(owner, name="Other")
    make_entry(race, stranger, 10_000)
    make_entry(race, third, 11_000)
    make_entry(race, owner, 12_000)
    make_entry(race, owner, 13_000)
    make_entry(other, owner, 5_000)
    make_entry(other, third, None, laps_completed=0)
    rows = []
    assert queries_of(lambda: rows.extend(Submission.objects.of_racer_ranked([race, other], owner))) == 1
    assert sorted((row.race_id == race.pk, row.rank, row.ranking_ms, row.leader_ms) for row in rows) == \
        [(False, 1, 5_000, 5_000), (True, 3, 12_000, 10_000)]
    assert not Submission.objects.of_racer_ranked([race], make_racer("nobody", "Nobody"))


def test_it_ranks_a_racers_row_as_the_full_board_does(race, owner):
    from races.services import racer_board_entry

    start = timezone.now() - timedelta(hours=1)
    racers = [make_racer(f"x{n}", f"X_{n}") for n in range(8)]
    spec = [(11_000, 1, 100.0, 3), (11_000, 1, 100.0, 1), (None, 2, 100.0, 0), (None, 0, 80.0, 0),
            (None, 0, 80.0, 2), (9_000, 1, 100.0, 5), (None, 1, 100.0, 4), (12_000, 1, 100.0, 0)]
    for racer, (time, laps, completion, minutes) in zip(racers, spec, strict=True):
        make_entry(race, racer, time, laps_completed=laps, best_completion=completion,
                   submitted_at=start + timedelta(minutes=minutes))
        make_entry(race, racer, None, laps_completed=0, best_completion=5.0)
    ranks = {row.participant.user_id: (row.rank, row.leader_ms) for row in Submission.objects.leaderboard(race)}
    for racer in racers:
        row = racer_board_entry(race, racer)
        assert (row.rank, row.leader_ms) == ranks[racer.pk]
    assert racer_board_entry(race, owner) is None
    assert Submission.objects.racer_count(race) == 8
