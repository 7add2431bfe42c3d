"""The retry policy as pure functions: which failures are retried, and how long to wait."""

from __future__ import annotations

import email.utils
import random

import pytest

from wavespeed_client import (
    RETRY_BASE_DELAY_S,
    RETRY_MAX_DELAY_S,
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    RateLimitError,
    ServerError,
    SubmissionOutcomeUnknown,
    TaskFailed,
    TaskTimeout,
    parse_retry_after,
    retry_delay,
    should_retry_get,
    should_retry_submit,
)


class _EdgeRng:
    """A stand-in for random.Random whose uniform() always returns one end of the range."""

    def __init__(self, end: str) -> None:
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        return a if self.end == "low" else b


# --------------------------------------------------------------------------- should_retry_get


@pytest.mark.parametrize(
    "error",
    [
        RateLimitError("slow down", status_code=429),
        ServerError("boom", status_code=500),
        ServerError("bad gateway", status_code=502),
        APIConnectionError("unreachable"),
    ],
    ids=["rate-limit", "server-500", "server-502", "connection"],
)
def test_should_retry_get_retries_transient_failures(error: Exception) -> None:
    assert should_retry_get(error) is True


@pytest.mark.parametrize(
    "error",
    [
        AuthenticationError("bad key", status_code=401),
        AuthenticationError("forbidden", status_code=403),
        BadRequestError("bad params", status_code=400),
        TaskFailed("task-1", "moderation", 1200),
        TaskTimeout("task-1", 900.0),
        SubmissionOutcomeUnknown("maybe created"),
        ValueError("not ours"),
    ],
    ids=["auth-401", "auth-403", "bad-request", "task-failed", "task-timeout", "unknown", "other"],
)
def test_should_retry_get_does_not_retry_permanent_failures(error: Exception) -> None:
    assert should_retry_get(error) is False


# --------------------------------------------------------------------------- should_retry_submit


@pytest.mark.parametrize("status", [429, 503])
def test_should_retry_submit_retries_explicit_refusals(status: int) -> None:
    assert should_retry_submit(status) is True


@pytest.mark.parametrize("status", [500, 502, 504])
def test_should_retry_submit_never_retries_ambiguous_server_errors(status: int) -> None:
    assert should_retry_submit(status) is False


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 413, 422])
def test_should_retry_submit_never_retries_answers_or_client_errors(status: int) -> None:
    assert should_retry_submit(status) is False


# --------------------------------------------------------------------------- retry_delay


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 16.0)],
)
def test_retry_delay_ceiling_doubles_with_each_attempt(attempt: int, ceiling: float) -> None:
    assert retry_delay(attempt, rng=_EdgeRng("high")) == pytest.approx(ceiling)


@pytest.mark.parametrize("attempt", [7, 8, 12, 30])
def test_retry_delay_never_exceeds_the_cap(attempt: int) -> None:
    assert retry_delay(attempt, rng=_EdgeRng("high")) == pytest.approx(RETRY_MAX_DELAY_S)


@pytest.mark.parametrize("attempt", [1, 3, 6, 10])
def test_retry_delay_never_drops_below_half_the_ceiling(attempt: int) -> None:
    ceiling = min(RETRY_MAX_DELAY_S, RETRY_BASE_DELAY_S * 2 ** (attempt - 1))
    assert retry_delay(attempt, rng=_EdgeRng("low")) == pytest.approx(ceiling / 2)


@pytest.mark.parametrize("attempt", [1, 2, 4, 8])
def test_retry_delay_jitter_stays_within_equal_jitter_bounds(attempt: int) -> None:
    rng = random.Random(1234)
    ceiling = min(RETRY_MAX_DELAY_S, RETRY_BASE_DELAY_S * 2 ** (attempt - 1))
    delays = [retry_delay(attempt, rng=rng) for _ in range(500)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    # Real jitter: the samples spread over most of the allowed band, not one value.
    assert max(delays) - min(delays) > 0.8 * (ceiling / 2)


def test_retry_delay_is_reproducible_with_a_seeded_rng() -> None:
    first = [retry_delay(a, rng=random.Random(7)) for a in range(1, 7)]
    again = [retry_delay(a, rng=random.Random(7)) for a in range(1, 7)]
    assert first == again


@pytest.mark.parametrize(("attempt", "retry_after"), [(1, 7.0), (5, 1.5), (2, 0.0)])
def test_retry_delay_honours_retry_after_over_backoff(attempt: int, retry_after: float) -> None:
    assert retry_delay(attempt, retry_after, rng=_EdgeRng("high")) == retry_after


def test_retry_delay_bounds_a_huge_retry_after() -> None:
    assert retry_delay(1, 3600.0) == pytest.approx(3 * RETRY_MAX_DELAY_S)


# --------------------------------------------------------------------------- parse_retry_after

NOW = 1_750_000_000.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("5", 5.0), (" 2.5 ", 2.5), ("0", 0.0), ("120", 120.0), ("-3", 0.0)],
)
def test_parse_retry_after_reads_delta_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header) == seconds


def test_parse_retry_after_reads_an_http_date_in_the_future() -> None:
    header = email.utils.formatdate(NOW + 30, usegmt=True)
    assert parse_retry_after(header, now=NOW) == pytest.approx(30.0)


def test_parse_retry_after_clamps_an_http_date_in_the_past_to_zero() -> None:
    header = email.utils.formatdate(NOW - 600, usegmt=True)
    assert parse_retry_after(header, now=NOW) == 0.0


@pytest.mark.parametrize("header", [None, "", "   ", "soon", "Tuesday-ish", "1,5"])
def test_parse_retry_after_returns_none_for_missing_or_garbage(header: str | None) -> None:
    assert parse_retry_after(header) is None
