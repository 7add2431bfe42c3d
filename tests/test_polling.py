"""The polling schedule (poll_delay) as a pure function, and whole simulated schedules.

The yardstick is the official SDK, which polls every 1.0 s: with nothing known we never poll
more often than that; with an expected run time we poll at most half as often and still see
the finished task within one dense interval.
"""

from __future__ import annotations

import math

import pytest

from playground.flow.generation import DurationStats
from wavespeed_client import (
    POLL_ANCHOR_S,
    POLL_DENSE_INTERVAL_S,
    POLL_EARLY_S,
    POLL_FIRST_INTERVAL_S,
    POLL_MAX_INTERVAL_S,
    poll_delay,
)

SDK_INTERVAL_S = 1.0
EPS = 1e-9
EXPECTED = [20.0, 40.0, 60.0]
# Job lengths from 80% to 120% of the expected run time, in 5% steps.
JOB_SHARES = [round(0.8 + 0.05 * i, 2) for i in range(9)]


def simulate(
    expected_s: float | None,
    job_s: float,
    *,
    ended_by_s: float | None = None,
    limit: int = 10_000,
) -> list[float]:
    """Times of every poll (zero latency) up to and including the one that sees `job_s` done."""
    t, times = 0.0, []
    while len(times) < limit:
        t += poll_delay(t, expected_s, len(times), ended_by_s)
        times.append(t)
        if t >= job_s - EPS:
            return times
    raise AssertionError("the schedule never reached the end of the job")


def sdk_polls(job_s: float) -> int:
    """Requests the SDK's fixed 1 s polling makes before it sees the job done."""
    return math.ceil(job_s / SDK_INTERVAL_S - EPS)


# --------------------------------------------------------------------------- no expectation


def test_without_expectation_first_poll_is_after_one_second() -> None:
    assert poll_delay(0.0, None, 0) == POLL_FIRST_INTERVAL_S


@pytest.mark.parametrize("expected", [None, 0.0, -5.0])
def test_without_usable_expectation_never_polls_faster_than_the_sdk(
    expected: float | None,
) -> None:
    delays = [poll_delay(float(n), expected, n) for n in range(300)]
    assert min(delays) >= SDK_INTERVAL_S


def test_without_expectation_backs_off_monotonically_up_to_the_max() -> None:
    delays = [poll_delay(float(n), None, n) for n in range(60)]
    assert delays == sorted(delays)
    assert delays[0] < delays[5] < POLL_MAX_INTERVAL_S
    assert delays[-1] == POLL_MAX_INTERVAL_S


def test_without_expectation_stays_at_the_max_after_very_many_polls() -> None:
    # A very long deadline must not make the backoff arithmetic overflow.
    assert poll_delay(50_000.0, None, 10_000) == POLL_MAX_INTERVAL_S


@pytest.mark.parametrize("job_s", [0.5, 3.0, 30.0, 300.0])
def test_without_expectation_a_whole_schedule_costs_no_more_than_sdk_polling(
    job_s: float,
) -> None:
    assert len(simulate(None, job_s)) <= max(1, sdk_polls(job_s))


# --------------------------------------------------------------------------- with expectation


@pytest.mark.parametrize("expected", EXPECTED)
def test_with_expectation_first_poll_is_early(expected: float) -> None:
    assert poll_delay(0.0, expected, 0) == POLL_EARLY_S


@pytest.mark.parametrize("expected", EXPECTED)
def test_with_expectation_polls_only_a_few_times_before_eighty_percent(expected: float) -> None:
    early = [t for t in simulate(expected, 10 * expected) if t < 0.8 * expected]
    assert 1 <= len(early) <= 3


@pytest.mark.parametrize("expected", EXPECTED)
def test_with_expectation_early_polls_are_sparse(expected: float) -> None:
    early = [t for t in simulate(expected, 10 * expected) if t < 0.8 * expected]
    gaps = [b - a for a, b in zip([0.0, *early], early, strict=False)]
    assert min(gaps) >= POLL_EARLY_S - EPS


@pytest.mark.parametrize("expected", EXPECTED)
@pytest.mark.parametrize("share", [0.8, 0.9, 1.0, 1.1, 1.2, 1.249])
def test_with_expectation_polls_densely_inside_the_window(expected: float, share: float) -> None:
    """Inside the window the next poll is the next point of a grid one dense interval
    apart, with a point just after the expected end."""
    now = share * expected
    delay = poll_delay(now, expected, 5)
    assert 0 < delay <= POLL_DENSE_INTERVAL_S + EPS
    offset = (now + delay - expected - POLL_ANCHOR_S) / POLL_DENSE_INTERVAL_S
    assert abs(offset - round(offset)) < 1e-6


@pytest.mark.parametrize("expected", [*EXPECTED, 5.0, 7.3])
def test_a_job_that_takes_its_expected_time_is_seen_at_once(expected: float) -> None:
    """Tasks of one kind that take what the last took are seen POLL_ANCHOR_S after their
    end, not up to a dense interval late; the schedule's phase no longer decides it."""
    for job_s in (expected, expected + 0.05, expected - 0.3):
        seen = simulate(expected, job_s)[-1]
        assert 0 <= seen - job_s <= POLL_ANCHOR_S + 0.3 + EPS, (expected, job_s, seen)
    assert simulate(expected, expected)[-1] - expected == pytest.approx(POLL_ANCHOR_S)


@pytest.mark.parametrize("expected", EXPECTED)
def test_with_expectation_first_poll_in_the_window_is_within_one_dense_interval(
    expected: float,
) -> None:
    """One interval into the window, on the grid anchored just after the expected end: so
    between one and two intervals from the window's edge."""
    inside = [t for t in simulate(expected, 10 * expected) if t >= 0.8 * expected]
    assert inside[0] - 0.8 * expected >= POLL_DENSE_INTERVAL_S - EPS
    assert inside[0] - 0.8 * expected <= 2 * POLL_DENSE_INTERVAL_S + EPS


@pytest.mark.parametrize("expected", EXPECTED)
def test_with_expectation_backs_off_after_the_window(expected: float) -> None:
    late = [poll_delay(share * expected, expected, 50) for share in (1.3, 1.5, 2.0, 3.0)]
    assert POLL_DENSE_INTERVAL_S < late[0] < late[1] < late[2]
    assert late[-1] == POLL_MAX_INTERVAL_S


@pytest.mark.parametrize("expected", EXPECTED)
def test_with_expectation_never_exceeds_the_max_interval_late(expected: float) -> None:
    delays = [poll_delay(s * expected, expected, 50) for s in (1.25, 2, 5, 50, 5000)]
    assert max(delays) <= POLL_MAX_INTERVAL_S


@pytest.mark.parametrize("expected", EXPECTED)
@pytest.mark.parametrize("share", JOB_SHARES)
def test_schedule_makes_at_most_half_the_sdk_requests(expected: float, share: float) -> None:
    job_s = share * expected
    assert len(simulate(expected, job_s)) <= sdk_polls(job_s) / 2


@pytest.mark.parametrize("expected", EXPECTED)
@pytest.mark.parametrize("share", JOB_SHARES)
def test_schedule_sees_completion_within_one_dense_interval(expected: float, share: float) -> None:
    job_s = share * expected
    assert simulate(expected, job_s)[-1] - job_s <= late_by_at_most(expected, job_s)


def late_by_at_most(expected: float, job_s: float) -> float:
    """One dense interval, or two for a job ending before the first dense poll (the
    window's first interval is skipped: the grid is anchored on the expected end)."""
    first_dense = simulate(expected, 10 * expected)
    first_dense = next(t for t in first_dense if t >= 0.8 * expected)
    return POLL_DENSE_INTERVAL_S * (1 if job_s >= first_dense - POLL_DENSE_INTERVAL_S else 2) + EPS


@pytest.mark.parametrize("expected", EXPECTED)
def test_schedule_holds_for_every_job_length_in_the_window(expected: float) -> None:
    """A fine sweep (0.1% steps): no job length between the table's rows breaks either goal."""
    for i in range(401):
        job_s = expected * (0.8 + 0.4 * i / 400)
        times = simulate(expected, job_s)
        assert len(times) <= sdk_polls(job_s) / 2, job_s
        assert times[-1] - job_s <= late_by_at_most(expected, job_s), job_s


# --------------------------------------------------------------------------- learning


@pytest.mark.parametrize("crowd", [1, 50])
@pytest.mark.parametrize("job_s", [5.0, 5.03, 21.7, 33.33, 40.0])
def test_runs_that_take_the_same_time_are_soon_seen_within_a_quarter_second(
    job_s: float, crowd: int
) -> None:
    """What each run teaches (DurationStats: the interval it ended in) steers the next
    run's dense poll: after a few runs of one length, each is seen at most 0.25 s after its
    end. Learning the middle of each interval instead swung between ~0.1 and ~0.8 s late
    from run to run (a late guess teaches an early one and back), whatever the length;
    so it did when a crowd's identical intervals filled the window."""
    stats, late = DurationStats(), []
    for _ in range(12):  # one run at a time, or crowds that start together
        times = simulate(stats.expected("m", 5), job_s, ended_by_s=stats.ended_by("m", 5))
        done, going = times[-1], (times[-2] if len(times) > 1 else None)
        late.append(done - job_s)
        for _ in range(crowd):
            stats.add("m", 5, done, after_s=going)
    assert max(late[8:]) <= 2.5 * POLL_ANCHOR_S, late  # it tends to twice the anchor
    assert len(times) <= max(2, math.ceil(job_s / SDK_INTERVAL_S / 2))  # still polite


@pytest.mark.parametrize("expected", [20.0, 40.0])
def test_a_poll_comes_when_earlier_runs_had_all_ended_if_the_one_after_the_guess_was_too_soon(
    expected: float,
) -> None:
    """Runs of one length ended by `ended_by`: a task still going at the poll just after
    the expected end is looked at again then, not a whole dense interval later."""
    ended_by = expected + POLL_ANCHOR_S + 0.3
    after_anchor = expected + POLL_ANCHOR_S
    assert poll_delay(after_anchor, expected, 5, ended_by) == pytest.approx(0.3)
    assert poll_delay(after_anchor, expected, 5) == pytest.approx(POLL_DENSE_INTERVAL_S)
    times = simulate(expected, ended_by - 0.01, ended_by_s=ended_by)
    assert times[-1] == pytest.approx(ended_by)
    # sooner than the poll after the guess, it is where the dense polls are anchored
    soon = expected + 0.05
    times = simulate(expected, soon, ended_by_s=soon)
    assert times[-1] == pytest.approx(soon)
    assert len(times) <= len(simulate(expected, soon))


@pytest.mark.parametrize("expected", [1.5, 3.0, 4.5])
def test_a_task_of_a_few_seconds_is_seen_just_after_its_expected_end(expected: float) -> None:
    """A window shorter than a dense interval starts at the anchor, not one past it."""
    times = simulate(expected, expected)
    assert times[-1] <= expected + POLL_ANCHOR_S + EPS
