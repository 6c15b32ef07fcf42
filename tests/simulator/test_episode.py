import math

import pytest

from simulator.episode import (
    METRICS_STATUS,
    STEP_SECONDS,
    TERMINAL,
    Episode,
    StartPositions,
    Status,
    wrap_progress,
)
from simulator.params import WHEELBASE, place_car, pose_on_centre_line
from simulator.tracks import BUILTIN_TRACKS, get_track
from tests.simulator.square import square_track

LAP = 16.0  # the square's centre line


@pytest.fixture(scope="module")
def square():
    return square_track()


def car_at(track, distance, lateral=0.0):
    """The car on the centre line (or beside it) with its params point ``distance`` m along."""
    x, y, heading = pose_on_centre_line(track, distance)
    return place_car(track, x - lateral * math.sin(heading), y + lateral * math.cos(heading), heading)


def drive(episode, track, distances, **step):
    return [episode.step(car_at(track, distance), **step) for distance in distances]


# -- progress ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "previous", "expected"),
    [
        (0.0, 0.0, 0.0),  # standing on the start point
        (0.25, 20.0, 25.0),
        (0.25 - 1.0, 20.0, 25.0),  # the start offset put the raw fraction below zero
        (0.01 - 0.0, 99.0, 100.0),  # crossed the line forwards: capped at 100
        (-0.01, 0.0, -1.0),  # backwards over the line at the start (DeepRacer gives negatives too)
        (0.99, 1.0, -1.0),  # crossed it backwards later on
        (0.40, 45.0, 40.0),  # going backwards without crossing anything
    ],
)
def test_it_wraps_progress_like_deepracer(raw, previous, expected):
    assert wrap_progress(raw, previous) == pytest.approx(expected)


def test_it_measures_progress_from_this_episodes_start(square):
    episode = Episode(square, start=0.25)  # 4 m along
    outcomes = drive(episode, square, [4.0, 5.0, 8.0, 12.0, 15.9, 0.1, 3.0])
    assert [round(outcome.progress, 4) for outcome in outcomes] == [0.0, 6.25, 25.0, 50.0, 74.375, 75.625, 93.75]
    assert all(outcome.status == Status.IN_PROGRESS for outcome in outcomes)


# -- start positions ---------------------------------------------------------------------------------


def test_it_advances_training_starts_by_5_percent_round_robin():
    starts = StartPositions("training")
    fractions = [starts.next_start() for _ in range(21)]
    assert fractions[:3] == pytest.approx([0.0, 0.05, 0.10])
    assert fractions[20] == 0.0  # after 20 episodes the round robin is back at the line
    staggered = StartPositions("training", offset=0.98)
    assert [staggered.next_start() for _ in range(2)] == pytest.approx([0.98, 0.03])


def test_it_starts_every_evaluation_at_progress_zero():
    starts = StartPositions("evaluation", offset=0.5)
    assert [starts.next_start() for _ in range(3)] == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="mode"):
        StartPositions("racing")


def test_it_places_the_car_on_the_centre_line_at_the_start(square):
    episode = Episode(square, start=0.3)
    car = place_car(square, *episode.start_pose)
    assert car.projection.distance == pytest.approx(0.3 * LAP)
    assert car.projection.distance_from_center == pytest.approx(0.0, abs=1e-12)
    assert episode.status == Status.PREPARE
    assert episode.step(car).progress == pytest.approx(0.0, abs=1e-9)


def test_a_perturbed_start_is_beside_the_centre_line_turned_and_still_at_progress_0(square):
    turn = math.radians(-3.0)
    episode = Episode(square, start=0.3, start_perturbation=(0.04, turn))
    car = place_car(square, *episode.start_pose)
    assert car.projection.distance == pytest.approx(0.3 * LAP)
    assert car.projection.distance_from_center == pytest.approx(0.04)
    assert car.projection.is_left_of_center
    assert car.heading == pytest.approx(square.pose_at(0.3 * LAP)[2] + turn)
    assert episode.step(car).progress == pytest.approx(0.0, abs=1e-9)


# -- how an episode ends -----------------------------------------------------------------------------


def test_it_completes_a_lap_when_the_car_crosses_the_start_again(square):
    episode = Episode(square, start=0.5)
    outcomes = drive(episode, square, [8.0 + 0.2 * k for k in range(1, 81)])  # the last one is 8 m again
    assert [outcome.status for outcome in outcomes[:-1]] == [Status.IN_PROGRESS] * 79
    assert outcomes[-2].progress == pytest.approx(98.75)
    assert outcomes[-1].status == Status.LAP_COMPLETE and outcomes[-1].progress == 100.0
    assert outcomes[-1].done and episode.done and episode.steps == 80
    with pytest.raises(RuntimeError, match="over"):
        episode.step(car_at(square, 8.5))


def test_it_ends_off_track_only_when_no_wheel_is_on_the_road(square):
    episode = Episode(square)
    drive(episode, square, [0.5, 1.0])
    half_off = episode.step(car_at(square, 1.5, lateral=0.5))  # left wheels over the border
    assert half_off.status == Status.IN_PROGRESS
    gone = episode.step(car_at(square, 2.0, lateral=0.8))
    assert gone.status == Status.OFF_TRACK and gone.done


def test_it_ends_crashed_when_the_env_reports_a_collision(square):
    episode = Episode(square)
    drive(episode, square, [0.5, 1.0])
    outcome = episode.step(car_at(square, 1.2), crashed=True)
    assert outcome.status == Status.CRASHED and outcome.done


def test_it_ends_reversed_after_15_steps_of_falling_progress(square):
    episode = Episode(square, start=0.5)
    drive(episode, square, [8.0, 8.5, 9.0])
    backwards = drive(episode, square, [9.0 - 0.05 * k for k in range(1, 16)])
    assert [outcome.status for outcome in backwards[:14]] == [Status.IN_PROGRESS] * 14
    assert backwards[14].status == Status.REVERSED and backwards[14].done


def test_it_forgives_a_wobble_before_15_falling_steps(square):
    episode = Episode(square, start=0.5)
    drive(episode, square, [8.0, 8.5])
    drive(episode, square, [8.5 - 0.01 * k for k in range(1, 15)])
    drive(episode, square, [8.6])  # forward again: the count starts over
    outcomes = drive(episode, square, [8.6 - 0.01 * k for k in range(1, 15)])
    assert outcomes[-1].status == Status.IN_PROGRESS


def test_it_ends_immobilized_after_15_steps_without_moving(square):
    episode = Episode(square)
    drive(episode, square, [0.5, 1.0])
    still = drive(episode, square, [1.0 + 0.0002 * k for k in range(1, 16)])  # 0.2 mm a step
    assert [outcome.status for outcome in still[:14]] == [Status.IN_PROGRESS] * 14
    assert still[14].status == Status.IMMOBILIZED and still[14].done


def test_it_counts_a_slow_crawl_as_moving(square):
    episode = Episode(square)
    outcomes = drive(episode, square, [0.5 + 0.0005 * k for k in range(30)])  # 0.5 mm a step
    assert {outcome.status for outcome in outcomes} == {Status.IN_PROGRESS}


def test_it_spells_statuses_as_the_sim_trace_and_metrics_do():
    assert [status.value for status in Status] == [
        "prepare", "in_progress", "lap_complete", "off_track", "crashed", "reversed", "immobilized", "pause",
    ]  # fmt: skip
    assert {METRICS_STATUS[status] for status in TERMINAL} == {
        "Lap complete", "Off track", "Crashed", "Reversed", "Immobilized",
    }  # fmt: skip


# -- continuous evaluation ---------------------------------------------------------------------------


def test_it_resets_and_pauses_instead_of_ending_in_continuous_mode(square):
    episode = Episode(square, continuous=True, off_track_penalty=1.0, collision_penalty=2.0)
    drive(episode, square, [1.0, 2.0])
    off = episode.step(car_at(square, 3.0, lateral=1.0))
    assert off.status == Status.OFF_TRACK and not off.done
    assert off.reset_pose == pytest.approx(pose_on_centre_line(square, 3.0))
    assert off.pause_duration == 1.0
    assert (episode.off_track_count, episode.reset_count, episode.penalty_time) == (1, 1, 1.0)

    pause = drive(episode, square, [3.0] * 15)  # 1 s at 15 Hz, the env holding the car still
    assert {outcome.status for outcome in pause} == {Status.PAUSE}
    assert pause[0].pause_duration == pytest.approx(1.0 - STEP_SECONDS)
    assert pause[-1].pause_duration == 0.0
    assert not any(outcome.done for outcome in pause)

    resumed = episode.step(car_at(square, 3.2))
    assert resumed.status == Status.IN_PROGRESS and resumed.progress == pytest.approx(20.0)

    crash = episode.step(car_at(square, 3.4), crashed=True)
    assert crash.status == Status.CRASHED and not crash.done and crash.pause_duration == 2.0
    assert (episode.crash_count, episode.reset_count, episode.penalty_time) == (1, 2, 3.0)
    drive(episode, square, [3.4] * 30)
    finish = drive(episode, square, [3.4 + 0.25 * k for k in range(1, 52)])  # over the line at 16.15 m
    assert finish[-2].status == Status.IN_PROGRESS
    assert finish[-1].status == Status.LAP_COMPLETE and finish[-1].done


def test_it_does_not_call_a_paused_car_immobilized(square):
    episode = Episode(square, continuous=True, off_track_penalty=2.0)
    drive(episode, square, [1.0])
    episode.step(car_at(square, 1.5, lateral=1.0))
    pause = drive(episode, square, [1.5] * 30)
    assert {outcome.status for outcome in pause} == {Status.PAUSE}
    assert episode.step(car_at(square, 1.7)).status == Status.IN_PROGRESS


# -- every built-in track can be driven by the car, both ways ----------------------------------------

MAX_STEER = math.radians(30.0)
LOOKAHEAD = 0.45  # m, pure pursuit


def pure_pursuit_lap(track, speed=1.2, max_steps=2000):
    """A kinematic bicycle (wheelbase 0.164 m, steering clamped to +-30 degrees) following the centre
    line by pure pursuit, from the start line until the episode ends."""
    episode = Episode(track)
    x, y, yaw = episode.start_pose
    wheels_always_on = True
    for _ in range(max_steps):
        car = place_car(track, x, y, yaw)
        wheels_always_on &= car.all_wheels_on_track
        outcome = episode.step(car)
        if outcome.done:
            return outcome.status, wheels_always_on, episode.steps
        target_x, target_y, _ = track.pose_at(car.projection.distance + LOOKAHEAD)
        bearing = math.atan2(target_y - y, target_x - x) - yaw
        distance = math.hypot(target_x - x, target_y - y)
        steer = math.atan2(2 * WHEELBASE * math.sin(bearing), distance)
        steer = max(-MAX_STEER, min(MAX_STEER, steer))
        x += speed * math.cos(yaw) * STEP_SECONDS
        y += speed * math.sin(yaw) * STEP_SECONDS
        yaw += speed / WHEELBASE * math.tan(steer) * STEP_SECONDS
    return episode.status, wheels_always_on, episode.steps


@pytest.mark.parametrize("slug", sorted(BUILTIN_TRACKS))
@pytest.mark.parametrize("reverse", [False, True])
def test_it_lets_a_car_steering_at_most_30_degrees_lap_every_builtin(slug, reverse):
    track = get_track(slug, reverse=reverse)
    status, wheels_always_on, steps = pure_pursuit_lap(track)
    assert status == Status.LAP_COMPLETE
    assert wheels_always_on
    assert steps == pytest.approx(track.length / 1.2 * 15, rel=0.05)
