"""HTTP client for the WaveSpeed v3 API: submit, poll, upload, download, cancel, balance,
the model catalog and price quotes.

Model-agnostic: it knows the wire contract (../shared/WAVESPEED_API.md), not Seedance.
Async only, because the app waits on many tasks at once. Tests inject `transport=`
(httpx.MockTransport, respx) or point `base_url` at the local emulator; nothing here is
patched.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import inspect
import logging
import math
import os
import random
import re
import tempfile
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ConnectionPools",
    "Connections",
    "InvalidIdentifier",
    "Prediction",
    "Quote",
    "QuoteUnavailable",
    "RateLimitError",
    "ServerError",
    "Status",
    "SubmissionOutcomeUnknown",
    "TaskFailed",
    "TaskNotFound",
    "TaskTimeout",
    "UnexpectedReply",
    "WaitUpdate",
    "WaveSpeedClient",
    "WaveSpeedError",
    "model_path",
    "poll_delay",
    "retry_delay",
    "should_retry_get",
    "should_retry_submit",
]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.wavespeed.ai"

# Connecting covers DNS + TLS; 10 s tolerates a slow network without hanging a user for long.
CONNECT_TIMEOUT_S = 10.0
# A result GET is small and cheap; past 30 s of silence the connection is dead, retry it.
READ_TIMEOUT_GET_S = 30.0
# A submit may carry base64 images of several MB and the server validates before replying.
READ_TIMEOUT_SUBMIT_S = 60.0
# Uploads of images up to the 10 MB limit on a slow uplink.
READ_TIMEOUT_UPLOAD_S = 120.0
# Per-chunk silence while streaming an output video from the CDN.
READ_TIMEOUT_DOWNLOAD_S = 60.0
# The catalog is hundreds of models, each with its request schema (megabytes of JSON) that
# the server assembles before its first byte: it may stay silent longer than a result GET.
# httpx counts this per read, so a big body that keeps arriving never trips it; the caller
# (flow.catalogs) bounds the whole read.
READ_TIMEOUT_MODELS_S = 60.0
# A price quote feeds a label next to the Generate button: better no quote than a late one.
# The server only evaluates a formula, so seconds of silence mean trouble; connecting gets
# the same short bound (not CONNECT_TIMEOUT_S).
QUOTE_TIMEOUT_S = 4.0
# Every try and backoff of one quote together: two silent tries at most. The label itself
# waits less (flow.prices.QUOTE_WAIT_S) and shows the estimate; a quote landing after that
# is cached for the next label, so this bounds the asking, not the person.
QUOTE_BUDGET_S = 8.0
# Quick refusals (a 5xx streak) get three tries within the budget; silent ones get two.
MAX_QUOTE_ATTEMPTS = 3
# Where quotes are asked: the MCP server's path first, the docs' if that one is not served.
QUOTE_PATHS = ("/api/v3/model/price", "/api/v3/model/pricing")
# A stop asked from a click: the server only marks the task deleted (it does not wait for
# the generation to end), and a person is looking at the button meanwhile.
READ_TIMEOUT_CANCEL_S = 15.0
# Default overall deadline for one task: the longest Seedance clips take minutes when queued.
DEFAULT_WAIT_DEADLINE_S = 15 * 60.0

MAX_GET_ATTEMPTS = 6
MAX_SUBMIT_ATTEMPTS = 4
RETRY_BASE_DELAY_S = 0.5
RETRY_MAX_DELAY_S = 20.0


# --------------------------------------------------------------------------- errors


class WaveSpeedError(Exception):
    """Base of every error this client raises; `str()` is a sentence a user can act on."""

    def __init__(self, message: str, *, task_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.task_id = task_id


class APIStatusError(WaveSpeedError):
    """The API answered with an error status (HTTP, or `code` inside the JSON envelope)."""

    def __init__(self, message: str, *, status_code: int, server_message: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.server_message = server_message


class AuthenticationError(APIStatusError):
    """401 (missing or wrong key) or 403 (suspended account, missing role)."""


class BadRequestError(APIStatusError):
    """400/404/413/422: the request itself is wrong; retrying it unchanged will not help."""


class RateLimitError(APIStatusError):
    """429: too many requests this minute; `retry_after` seconds when the server said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx from WaveSpeed or a proxy in front of it."""


class APIConnectionError(WaveSpeedError):
    """The server could not be reached, or stopped answering."""


class SubmissionOutcomeUnknown(WaveSpeedError):
    """A submit was sent but no answer came back: a task may exist and may be billed."""


class InvalidIdentifier(WaveSpeedError, ValueError):
    """A model or task id that is not a plain API path; nothing was sent."""


class TaskFailed(WaveSpeedError):
    """The task ran and ended unsuccessfully (failed, cancelled, timed out or deleted);
    `status` says which."""

    def __init__(
        self, task_id: str, reason: str, code: int | None = None, status: str = "failed"
    ) -> None:
        detail = f" (code {code})" if code is not None else ""
        super().__init__(f"Task {task_id} failed{detail}: {reason}", task_id=task_id)
        self.reason = reason
        self.code = code
        self.status = status


class QuoteUnavailable(WaveSpeedError):
    """WaveSpeed gave no usable price for these inputs (none at all, or not in US dollars,
    or this API serves no quotes); nothing was charged."""


class UnexpectedReply(ServerError):
    """WaveSpeed answered "success" with a body this client cannot use (a catalog that is
    not a list). Retrying at once would most likely get the same answer."""


class TaskNotFound(BadRequestError):
    """404 for a task id: WaveSpeed does not know it, or it is already gone."""


class TaskTimeout(WaveSpeedError, TimeoutError):
    """We stopped waiting; the task may still finish (and be billed) on the server."""

    def __init__(self, task_id: str, waited_s: float) -> None:
        super().__init__(
            f"Task {task_id} did not finish within {waited_s:.0f} s. It may still complete "
            f"and be billed: look it up later by its id.",
            task_id=task_id,
        )
        self.waited_s = waited_s


# --------------------------------------------------------------------------- paths

# Every segment of a model id, and a task id, is plain: it starts with a letter or digit and
# holds only letters, digits, ".", "_" and "-". So "", ".", ".." and "%2e" cannot occur, and
# no value can make a request reach another path on the API host (httpx would normalise
# "a/../x" to "x").
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def model_path(model_id: str) -> str:
    """The submit path for `model_id` ("owner/name", maybe "/variant"), as it is spelled;
    InvalidIdentifier for anything else (a trailing slash, "./", "..", spaces...)."""
    segments = model_id.split("/") if isinstance(model_id, str) else []
    if not 2 <= len(segments) <= 4 or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise InvalidIdentifier(
            f"{str(model_id)[:200]!r} is not a WaveSpeed model id (owner/name); nothing was sent."
        )
    return f"/api/v3/{model_id}"


def _task_path(task_id: str, suffix: str = "") -> str:
    if not isinstance(task_id, str) or not _TASK_ID.fullmatch(task_id):
        raise InvalidIdentifier(f"{str(task_id)[:200]!r} is not a task id; nothing was sent.")
    return f"/api/v3/predictions/{task_id}{suffix}"


# --------------------------------------------------------------------------- values


class Status(StrEnum):
    """A prediction's status. Anything the API adds later reads as UNKNOWN: still running."""

    CREATED = "created"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    DELETED = "deleted"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> Status:
        return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_failure(self) -> bool:
        return self in _TERMINAL and self is not Status.COMPLETED


_TERMINAL = frozenset(
    {Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.TIMEOUT, Status.DELETED}
)


@dataclass(frozen=True)
class Quote:
    """A price WaveSpeed quoted: `usd` is what a run is charged (the discounted price when
    one is given), `list_usd` the price before any discount."""

    model_id: str
    usd: float
    list_usd: float | None = None
    currency: str = "USD"

    @classmethod
    def from_api(cls, model_id: str, data: Any) -> Quote:
        """From either documented reply: `price`/`discounted_price` (the MCP server's) or
        `unit_price` (the docs'). Charged: `discounted_price`, else `price`, else
        `unit_price`, the first that holds a figure; listed: `price`, else `unit_price`.
        A figure is a JSON number or a plain decimal string ("0.75"), finite and not
        negative; anything else in a field counts as absent. `currency` is USD when absent
        (any case); another currency is no quote: the app's spending caps are dollars."""
        data = data if isinstance(data, dict) else {}
        raw_currency = data.get("currency")
        currency = "USD" if raw_currency in (None, "") else str(raw_currency).strip().upper()
        if currency != "USD":
            raise QuoteUnavailable(
                f"WaveSpeed quoted {model_id} in {currency[:8]!r}, not US dollars; the "
                "app's caps are in dollars, so the estimate is shown instead."
            )
        listed = _price_or_none(data.get("price"))
        if listed is None:
            listed = _price_or_none(data.get("unit_price"))
        charged = _price_or_none(data.get("discounted_price"))
        usd = charged if charged is not None else listed
        if usd is None:
            raise QuoteUnavailable(
                f"WaveSpeed's quote for {model_id} held no price; the estimate is shown instead."
            )
        return cls(model_id, usd, listed, currency)


# A price sent as text: plain decimal digits only (float() would also take "inf", "1_0",
# "1e3" and "NaN").
_DECIMAL = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,12})?")


def _price_or_none(value: Any) -> float | None:
    """A non-negative finite amount from a JSON number or a decimal string, else None."""
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value.strip()):
            return None
        value = float(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


@dataclass(frozen=True)
class Prediction:
    """One task as the API describes it."""

    id: str
    model: str
    status: Status
    outputs: tuple[str, ...] = ()
    error: str = ""
    error_code: int | None = None
    inference_ms: int | None = None
    has_nsfw: tuple[bool, ...] = ()
    created_at: datetime | None = None

    @classmethod
    def from_api(cls, data: Any) -> Prediction:
        # A reply without a `data` object (null, missing) reads as an empty prediction, so
        # callers see "no id" / unknown status instead of an AttributeError.
        if not isinstance(data, dict):
            data = {}
        timings = data.get("timings")
        if not isinstance(timings, dict):
            timings = {}
        return cls(
            id=str(data.get("id") or ""),
            model=str(data.get("model") or ""),
            status=Status(str(data.get("status") or "unknown").lower()),
            outputs=tuple(_output_url(o) for o in data.get("outputs") or ()),
            error=str(data.get("error") or ""),
            error_code=_int_or_none(data.get("code")),
            inference_ms=_int_or_none(timings.get("inference")),
            has_nsfw=tuple(bool(x) for x in data.get("has_nsfw_contents") or ()),
            created_at=_parse_time(data.get("created_at")),
        )

    @property
    def nsfw(self) -> bool:
        return any(self.has_nsfw)


@dataclass(frozen=True)
class WaitUpdate:
    """What `wait()` tells its `on_update` callback after every poll."""

    task_id: str
    status: Status
    elapsed_s: float  # when this poll's answer came
    polls: int
    prediction: Prediction
    # When the poll was sent: a task it saw going was still going then (the answer may
    # come much later from a busy server or client).
    asked_s: float


@dataclass
class _Usage:
    """Request counters, for benchmarks and tests of politeness."""

    submits: int = 0
    result_gets: int = 0
    uploads: int = 0
    upload_bytes: int = 0
    downloads: int = 0
    catalog_gets: int = 0
    quotes: int = 0
    cancels: int = 0
    retries: int = 0


def _output_url(item: Any) -> str:
    return str(item.get("url", "")) if isinstance(item, dict) else str(item)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    # The API sends nanoseconds ("...15.948268264Z"); datetime takes at most microseconds.
    text = value.rstrip("Z")
    head, dot, frac = text.partition(".")
    try:
        return datetime.fromisoformat(f"{head}.{frac[:6]}+00:00" if dot else f"{head}+00:00")
    except ValueError:
        return None


# --------------------------------------------------------------------------- retry policy


def should_retry_get(error: Exception) -> bool:
    """A result GET is safe to repeat after rate limits, server errors and network trouble."""
    return isinstance(error, RateLimitError | ServerError | APIConnectionError)


def should_retry_submit(status_code: int) -> bool:
    """Resend a submit only when the server answered that it did not accept it.

    429 and 503 are refusals before any task exists. 500/502/504 may come from a proxy
    after the task was created, so they are not retried: a duplicate would be billed twice.
    """
    return status_code in (429, 503)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def retry_delay(
    attempt: int,
    retry_after: float | None = None,
    *,
    base: float = RETRY_BASE_DELAY_S,
    cap: float = RETRY_MAX_DELAY_S,
    rng: random.Random | None = None,
) -> float:
    """Delay before retry number `attempt` (1-based): the server's word, else backoff.

    Exponential backoff with "equal jitter" (half fixed, half random) so that many clients
    that failed together do not come back together, yet never retry instantly.
    """
    if retry_after is not None:
        return min(retry_after, cap * 3)
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


# --------------------------------------------------------------------------- polling schedule

# Below this share of the expected run time a task is rarely done: poll sparsely.
POLL_WINDOW_START = 0.8
# Inside the window, poll this often: a median detection delay of about half of it.
POLL_DENSE_INTERVAL_S = 0.8
# One dense poll comes this long after the expected end (generation.DurationStats expects
# the middle of what runs of the kind taught, so this poll narrows it down).
POLL_ANCHOR_S = 0.1
# With nothing learned yet, start like the official SDK (1 s) and back off gently.
POLL_FIRST_INTERVAL_S = 1.0
POLL_MAX_INTERVAL_S = 3.0
# The first poll comes early to catch instant failures (bad image URL, moderation).
POLL_EARLY_S = 2.0
# Before the window each early poll comes this many times later than the last (2, 8, 32 s):
# with 2.5 a 20-40 s task cost more requests than half of the SDK's 1 s polling.
POLL_EARLY_GROWTH = 4.0


# With a webhook on its way, polling is only the fallback for a delivery that never comes:
# the first look after the task's expected end (or this, if later), then ever rarer.
WEBHOOK_FALLBACK_FIRST_S = 45.0
WEBHOOK_FALLBACK_MAX_S = 300.0


def fallback_delay(elapsed_s: float, expected_s: float | None, polls: int) -> float:
    """Seconds to the next result GET while a webhook is expected: at 1.5x the expected
    time (at least WEBHOOK_FALLBACK_FIRST_S), then each wait twice the last, capped."""
    if polls == 0:
        first = max(WEBHOOK_FALLBACK_FIRST_S, 1.5 * (expected_s or 0.0))
        return max(0.0, first - elapsed_s)
    return min(WEBHOOK_FALLBACK_MAX_S, WEBHOOK_FALLBACK_FIRST_S * 2.0 ** min(polls, 10))


def poll_delay(
    elapsed_s: float, expected_s: float | None, polls: int, ended_by_s: float | None = None
) -> float:
    """Seconds to sleep before the next result GET.

    `expected_s` is how long earlier runs of the same model and settings took (None when
    nothing is known). Tasks of one kind finish within about +-20% of that, so requests are
    spent where completion is likely: a few early ones growing geometrically, then a dense
    run from 80% of the expected time, then a gentle backoff if the task runs long.
    `ended_by_s`, when earlier runs of the kind took the same time, is when every one of
    them had ended: one poll then, should the one just after the expected end be too soon,
    instead of a whole dense interval later.
    """
    if expected_s is None or expected_s <= 0:
        # The exponent is capped: 1.15**polls overflows a float after ~5000 polls.
        return min(POLL_MAX_INTERVAL_S, POLL_FIRST_INTERVAL_S * 1.15 ** min(polls, 50))
    delay = _grid_delay(elapsed_s, expected_s, ended_by_s)
    if ended_by_s is not None and elapsed_s < ended_by_s:
        delay = min(delay, ended_by_s - elapsed_s)
    return delay


def _grid_delay(elapsed_s: float, expected_s: float, ended_by_s: float | None) -> float:
    window_start = POLL_WINDOW_START * expected_s
    # The dense polls sit on a grid with one just after the expected end (or at the time
    # every earlier run had ended by, if sooner): tasks of one kind that take about the
    # same time are seen at once, not up to an interval late.
    anchor, step = expected_s + POLL_ANCHOR_S, POLL_DENSE_INTERVAL_S
    if ended_by_s is not None:
        anchor = min(anchor, max(ended_by_s, window_start))
    if elapsed_s < window_start:
        next_at = max(POLL_EARLY_S, elapsed_s * POLL_EARLY_GROWTH)
        # The first grid point one interval into the window: no more requests than a grid
        # started there, one interval cheaper than starting at the window's edge. A window
        # shorter than that (a task of a few seconds) starts at the anchor.
        gaps = max(0, math.floor((anchor - window_start - step) / step))
        first_dense = anchor - step * gaps
        if next_at >= window_start:  # an early poll that would land in the window is its first
            next_at = first_dense
        return max(0.0, min(next_at, first_dense) - elapsed_s)
    overrun = elapsed_s - 1.25 * expected_s
    if overrun <= 0:
        # the next grid point after now (a hair's tolerance: now may sit on one)
        return anchor + step * (math.floor((elapsed_s - anchor) / step + 1e-6) + 1) - elapsed_s
    return min(POLL_MAX_INTERVAL_S, POLL_DENSE_INTERVAL_S * (1 + overrun / expected_s * 4))


# --------------------------------------------------------------------------- the client

UpdateCallback = Callable[[WaitUpdate], Awaitable[None] | None]


class Connections:
    """The HTTP connections to one API base, for any number of keys: the key goes with each
    request, so every session on one server shares one pool (and one TLS context each)
    instead of building its own. httpx clients belong to the event loop that first uses
    them: share one `Connections` only within one loop.
    """

    def __init__(
        self, base_url: str | None = None, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")

        def api_client(**limits: httpx.Limits) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                base_url=self.base_url,
                timeout=httpx.Timeout(READ_TIMEOUT_GET_S, connect=CONNECT_TIMEOUT_S),
                transport=transport,
                follow_redirects=False,
                **limits,
            )

        self.api = api_client()
        # Submits go out on a fresh connection each: a POST sent on a pooled keep-alive
        # connection that the server is closing at that moment fails with no answer, and
        # since a submit is never resent, that would end an ordinary submit as
        # SubmissionOutcomeUnknown. Submits are rare; one extra handshake is cheap.
        self.submits = api_client(limits=httpx.Limits(max_keepalive_connections=0))
        # Output files live on a CDN: fetched with a client that never carries the key.
        self.quote_path: str | None = None  # the quote path this base answered on
        self.cdn = httpx.AsyncClient(
            timeout=httpx.Timeout(READ_TIMEOUT_DOWNLOAD_S, connect=CONNECT_TIMEOUT_S),
            transport=transport,
            follow_redirects=True,
        )

    def __repr__(self) -> str:
        return f"Connections({self.base_url!r})"

    async def aclose(self) -> None:
        await self.api.aclose()
        await self.submits.aclose()
        await self.cdn.aclose()


class ConnectionPools:
    """One `Connections` per API base and event loop, opened on first use: the page's loop
    and a background worker's each get their own, and a loop's go when the loop does."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, Connections]
        ] = weakref.WeakKeyDictionary()

    def get(self, base_url: str) -> Connections:
        """The running loop's connections to `base_url` (call from inside the loop)."""
        pools = self._by_loop.setdefault(asyncio.get_running_loop(), {})
        base = base_url.rstrip("/")
        if base not in pools:
            pools[base] = Connections(base, transport=self._transport)
        return pools[base]

    def client(self, api_key: str, base_url: str) -> WaveSpeedClient:
        """A client for `api_key` over the running loop's connections to `base_url`."""
        return WaveSpeedClient(api_key, connections=self.get(base_url))


class WaveSpeedClient:
    """Async client for one API key. Use as `async with WaveSpeedClient(key) as ws:`.

    Given `connections`, it borrows them (and leaves them open on close); else it opens
    its own.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        connections: Connections | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not api_key or not api_key.strip():
            raise AuthenticationError(
                "No WaveSpeed API key. Set WAVESPEED_API_KEY (or put it in .env), "
                "or enter your key in the app.",
                status_code=401,
            )
        self._owns_connections = connections is None
        self._net = connections or Connections(base_url, transport=transport)
        self.base_url = self._net.base_url
        self._auth = {"Authorization": f"Bearer {api_key.strip()}"}
        self._rng = rng or random.Random()
        self._sleep = sleep
        self.usage = _Usage()

    @property
    def connections(self) -> Connections:
        return self._net

    def __repr__(self) -> str:  # never shows the key
        return f"WaveSpeedClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> WaveSpeedClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_connections:
            await self._net.aclose()

    # ---- endpoints

    async def submit(
        self,
        model_id: str,
        inputs: dict[str, Any],
        *,
        retry_rate_limits: bool = True,
        webhook: str | None = None,
    ) -> Prediction:
        """Create a task. Retried only on explicit refusals (429/503); see should_retry_submit.
        Without `retry_rate_limits`, a 429 raises RateLimitError at once (for a caller that
        paces its own submits). With `webhook`, WaveSpeed POSTs the final prediction there
        (`?webhook=`), signed with the account's webhook secret.

        Raises SubmissionOutcomeUnknown when the request may have reached the server but no
        answer came back: then a task may exist, and sending it again could pay twice.
        """
        path = model_path(model_id)
        for attempt in range(1, MAX_SUBMIT_ATTEMPTS + 1):
            self.usage.submits += 1
            try:
                response = await self._net.submits.post(
                    path,
                    json=inputs,
                    params={"webhook": webhook} if webhook else None,
                    headers=self._auth,
                    timeout=self._timeout(READ_TIMEOUT_SUBMIT_S),
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing was sent: no connection was ever open. No task can exist.
                raise self._connection_error(exc) from exc
            except httpx.TransportError as exc:
                raise SubmissionOutcomeUnknown(
                    "The submit request was sent but no answer came back "
                    f"({type(exc).__name__}). A task may have been created and billed: "
                    "check your WaveSpeed dashboard before trying again."
                ) from exc
            retry = should_retry_submit(response.status_code) and attempt < MAX_SUBMIT_ATTEMPTS
            if retry and (retry_rate_limits or response.status_code != 429):
                await self._backoff(attempt, response)
                continue
            prediction = Prediction.from_api(self._data(response))
            if not prediction.id:
                raise SubmissionOutcomeUnknown(
                    "WaveSpeed accepted the submit but sent no task id. A task may exist "
                    "and be billed: check your WaveSpeed dashboard before trying again."
                )
            return prediction
        raise AssertionError("unreachable")  # pragma: no cover

    async def get(self, task_id: str) -> Prediction:
        """The task's current state; retried on rate limits, 5xx and network errors."""
        response = await self._get_with_retries(_task_path(task_id, "/result"))
        return Prediction.from_api(self._data(response))

    async def wait(
        self,
        task_id: str,
        *,
        deadline_s: float = DEFAULT_WAIT_DEADLINE_S,
        expected_s: float | None = None,
        ended_by_s: float | None = None,
        on_update: UpdateCallback | None = None,
        started_at: float | None = None,
        woken: asyncio.Event | None = None,
    ) -> Prediction:
        """Poll until the task completes; raise TaskFailed or TaskTimeout otherwise.

        `expected_s` (how long similar tasks took) shapes the polling schedule, see
        poll_delay. `started_at` is the time.monotonic() of the submit (or of its answer),
        so time spent before the first poll counts toward both the schedule and the
        deadline.
        `ended_by_s` (see poll_delay): when earlier runs of the kind had all ended. With
        `woken` (set when a webhook delivery for the task arrives), polling is a slow
        fallback (fallback_delay) and each wake asks for the result at once: the delivery
        is a reason to look, the result GET is what is believed.
        """
        start = time.monotonic() if started_at is None else started_at
        schedule = (
            functools.partial(poll_delay, ended_by_s=ended_by_s)
            if woken is None
            else fallback_delay
        )
        polls, asked = 0, None
        while True:
            elapsed = time.monotonic() - start
            if elapsed >= deadline_s:
                raise TaskTimeout(task_id, elapsed)
            # On a learned schedule its points count from when the last poll was sent: an
            # answer that came late must not skip the next point (say, where earlier runs
            # had ended). Polls still never overlap. Backoffs count from the answer, as
            # the SDK's do: a slow server is not asked more often.
            learned = woken is None and expected_s is not None and expected_s > 0
            since = asked if learned and asked is not None else elapsed
            pause = schedule(since, expected_s, polls) - (elapsed - since)
            await self._pause(max(0.0, min(pause, deadline_s - elapsed)), woken)
            asked = time.monotonic() - start
            prediction = await self.get(task_id)
            polls += 1
            if on_update is not None:
                answered = time.monotonic() - start
                update = WaitUpdate(task_id, prediction.status, answered, polls, prediction, asked)
                if inspect.isawaitable(result := on_update(update)):
                    await result
            if prediction.status.is_terminal:
                if not prediction.status.is_failure:
                    return prediction
                reason = prediction.error or f"the task ended as '{prediction.status}'"
                raise TaskFailed(task_id, reason, prediction.error_code, prediction.status.value)

    async def upload(self, file: bytes | str | Path, *, filename: str = "image.png") -> str:
        """Upload a file (bytes or a path) and return its download URL (kept 7 days)."""
        if isinstance(file, str | Path):
            filename = Path(file).name
            content = await asyncio.to_thread(Path(file).read_bytes)
        else:
            content = file
        self.usage.uploads += 1
        self.usage.upload_bytes += len(content)
        try:
            response = await self._net.api.post(
                "/api/v3/media/upload/binary",
                files={"file": (filename, content)},
                headers=self._auth,
                timeout=self._timeout(READ_TIMEOUT_UPLOAD_S),
            )
        except httpx.TransportError as exc:
            raise self._connection_error(exc) from exc
        data = self._data(response)
        url = data.get("download_url") if isinstance(data, dict) else None
        if not url:
            raise ServerError(
                "The upload succeeded but WaveSpeed returned no download URL; try again.",
                status_code=response.status_code,
            )
        return str(url)

    async def download(self, url: str, dest: str | Path) -> Path:
        """Stream `url` to `dest` atomically (a reader never sees half a file).

        Retried like a result GET; the key is never sent to the output host.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, MAX_GET_ATTEMPTS + 1):
            self.usage.downloads += 1
            try:
                return await self._stream_to(url, dest)
            except WaveSpeedError as exc:
                if not should_retry_get(exc) or attempt == MAX_GET_ATTEMPTS:
                    raise
                await self._sleep(retry_delay(attempt, rng=self._rng))
        raise AssertionError("unreachable")  # pragma: no cover

    async def models(self) -> list[dict[str, Any]]:
        """WaveSpeed's catalog: every model with its request schema and price formula (the
        envelope's `data` list, unparsed, entries that are not objects left out;
        `playground.model.catalog` reads it). Retried like a result GET."""
        response = await self._get_with_retries("/api/v3/models", read_s=READ_TIMEOUT_MODELS_S)
        data = self._data(response)
        if not isinstance(data, list):
            raise UnexpectedReply(
                "WaveSpeed's model catalog came back in a shape this app does not know "
                f"({type(data).__name__}, not a list); the bundled catalog is used meanwhile.",
                status_code=response.status_code,
                server_message=str(data)[:200],
            )
        return [entry for entry in data if isinstance(entry, dict)]

    async def quote(self, model_id: str, inputs: Mapping[str, Any]) -> Quote:
        """What a run of `model_id` with `inputs` costs, as WaveSpeed prices it. Free and
        safe to repeat, so retried on 429/5xx/network errors, all within QUOTE_BUDGET_S.

        `/model/price` first; where that answers 404/405, `/model/pricing`. The path that
        answered is remembered per API base (on its Connections), and later quotes go
        straight there. QuoteUnavailable when no usable dollar price comes back.
        """
        model_path(model_id)  # a plain id, or nothing is sent
        body = {"model_id": model_id, "inputs": dict(inputs)}
        known = self._net.quote_path
        paths = [known] if known else list(QUOTE_PATHS)
        deadline = time.monotonic() + QUOTE_BUDGET_S
        not_served: list[httpx.Response] = []
        try:
            # The hard stop: a hung connection that ignores its read timeout, or backoffs
            # that would run past the budget, still end here.
            async with asyncio.timeout(QUOTE_BUDGET_S):
                for path in paths:
                    response = await self._post_quote(path, body, deadline)
                    if response.status_code in (404, 405) and not known:
                        not_served.append(response)
                        continue
                    self._net.quote_path = path
                    return Quote.from_api(model_id, self._data(response))
        except TimeoutError:
            raise APIConnectionError(
                f"WaveSpeed at {self.base_url} did not answer in time (no quote within "
                f"{QUOTE_BUDGET_S:.0f} s); the estimate is shown instead."
            ) from None
        said = _server_message(not_served[-1])
        raise QuoteUnavailable(
            f"WaveSpeed at {self.base_url} serves no price quotes (HTTP "
            f"{not_served[-1].status_code} at {' and '.join(paths)})"
            + (f': "{said}"' if said else "")
            + "; the estimate is shown instead."
        )

    async def _post_quote(self, path: str, body: dict[str, Any], deadline: float) -> httpx.Response:
        """One quote path, retried like a GET until MAX_QUOTE_ATTEMPTS or the deadline; a
        404/405 comes back as a response (the path may not be served)."""
        for attempt in range(1, MAX_QUOTE_ATTEMPTS + 1):
            self.usage.quotes += 1
            retry_after = None
            try:
                response = await self._net.api.post(
                    path,
                    json=body,
                    headers=self._auth,
                    timeout=httpx.Timeout(QUOTE_TIMEOUT_S, connect=QUOTE_TIMEOUT_S),
                )
                if response.status_code not in (404, 405):
                    _raise_for_status(response)
                return response
            except httpx.TransportError as exc:
                error: WaveSpeedError = self._connection_error(exc)
            except RateLimitError as exc:
                error, retry_after = exc, exc.retry_after
            except WaveSpeedError as exc:
                error = exc
            wait = retry_delay(attempt, retry_after, rng=self._rng)
            too_late = time.monotonic() + wait >= deadline
            if not should_retry_get(error) or attempt == MAX_QUOTE_ATTEMPTS or too_late:
                raise error
            self.usage.retries += 1
            log.info("quote at %s failed (%s); retry %d", path, type(error).__name__, attempt)
            await self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def cancel(self, task_id: str) -> Prediction:
        """Ask WaveSpeed to stop a task (`DELETE /api/v3/predictions/{id}`): its status
        becomes "deleted", though it "may not stop generation immediately" and "partial
        refunds may apply". Safe to repeat (deleting twice deletes once), so retried like a
        GET, dropped connections included. The prediction the reply carries (its id filled
        in, "deleted" when it gives no status), else a bare deleted one; TaskNotFound when
        WaveSpeed knows no such task (any more)."""
        path = _task_path(task_id)
        try:
            response = await self._request_with_retries(
                "DELETE", path, read_s=READ_TIMEOUT_CANCEL_S
            )
        except BadRequestError as exc:
            if exc.status_code != 404:
                raise
            raise TaskNotFound(
                f"WaveSpeed knows no task {task_id}: it is unknown, or already gone "
                "(tasks are removed 7 days after they end). Nothing was stopped.",
                status_code=404,
                server_message=exc.server_message,
            ) from None
        # Some servers answer a DELETE with 204 and no body: that is a yes too.
        body = _json_or_none(response)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not (data.get("id") or data.get("status")):
            return Prediction(id=task_id, model="", status=Status.DELETED)
        stopped = Prediction.from_api(data)
        if not data.get("status"):
            stopped = replace(stopped, status=Status.DELETED)
        return stopped if stopped.id else replace(stopped, id=task_id)

    async def webhook_secret(self) -> str:
        """The account's webhook signing secret (`whsec_...`), retried like a result GET."""
        data = self._data(await self._get_with_retries("/api/v3/webhook/secret"))
        secret = data.get("secret") if isinstance(data, dict) else data
        if not isinstance(secret, str) or not secret.strip():
            raise UnexpectedReply(
                "WaveSpeed's webhook secret came back empty or in an unknown shape; "
                "runs are followed by polling instead.",
                status_code=200,
            )
        return secret.strip()

    async def balance(self) -> float:
        """The account's balance in USD."""
        data = self._data(await self._get_with_retries("/api/v3/balance"))
        return float(data.get("balance", 0.0)) if isinstance(data, dict) else 0.0

    # ---- internals

    async def _pause(self, seconds: float, woken: asyncio.Event | None) -> None:
        """Sleep, or less if `woken` is set meanwhile (then it is cleared for the next)."""
        if woken is None:
            await self._sleep(seconds)
            return
        if not woken.is_set():
            sleeping = asyncio.ensure_future(self._sleep(seconds))
            waking = asyncio.ensure_future(woken.wait())
            try:
                await asyncio.wait({sleeping, waking}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pending in (sleeping, waking):
                    pending.cancel()
        woken.clear()

    def _timeout(self, read_s: float) -> httpx.Timeout:
        return httpx.Timeout(read_s, connect=CONNECT_TIMEOUT_S)

    async def _get_with_retries(
        self, path: str, *, read_s: float = READ_TIMEOUT_GET_S
    ) -> httpx.Response:
        return await self._request_with_retries("GET", path, read_s=read_s)

    async def _request_with_retries(
        self, method: str, path: str, *, read_s: float
    ) -> httpx.Response:
        """An idempotent request (GET, DELETE), repeated on rate limits, 5xx and network
        errors; any other answer, or the last failure, is the caller's."""
        for attempt in range(1, MAX_GET_ATTEMPTS + 1):
            if method == "GET" and path.startswith("/api/v3/predictions/"):
                self.usage.result_gets += 1
            elif method == "GET" and path == "/api/v3/models":
                self.usage.catalog_gets += 1
            elif method == "DELETE":
                self.usage.cancels += 1
            try:
                response = await self._net.api.request(
                    method, path, headers=self._auth, timeout=self._timeout(read_s)
                )
                _raise_for_status(response)
                return response
            except httpx.TransportError as exc:
                error: WaveSpeedError = self._connection_error(exc)
                retry_after = None
            except RateLimitError as exc:
                error, retry_after = exc, exc.retry_after
            except WaveSpeedError as exc:
                error, retry_after = exc, None
            if not should_retry_get(error) or attempt == MAX_GET_ATTEMPTS:
                raise error
            self.usage.retries += 1
            log.info("%s %s failed (%s); retry %d", method, path, type(error).__name__, attempt)
            await self._sleep(retry_delay(attempt, retry_after, rng=self._rng))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _backoff(self, attempt: int, response: httpx.Response) -> None:
        self.usage.retries += 1
        wait = retry_delay(
            attempt, parse_retry_after(response.headers.get("retry-after")), rng=self._rng
        )
        log.info("submit refused with HTTP %d; retrying in %.1f s", response.status_code, wait)
        await self._sleep(wait)

    async def _stream_to(self, url: str, dest: Path) -> Path:
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                async with self._net.cdn.stream("GET", url) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        _raise_for_status(response)
                    async for chunk in response.aiter_bytes(1 << 16):
                        out.write(chunk)
            os.replace(tmp_name, dest)
            return dest
        except httpx.TransportError as exc:
            raise self._connection_error(exc) from exc
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def _connection_error(self, exc: httpx.TransportError) -> APIConnectionError:
        if isinstance(exc, httpx.TimeoutException):
            what = "did not answer in time"
        else:
            what = "could not be reached"
        return APIConnectionError(
            f"WaveSpeed at {self.base_url} {what} ({type(exc).__name__}). Check your "
            "internet connection, or WAVESPEED_BASE_URL if you changed it, and try again."
        )

    def _data(self, response: httpx.Response) -> Any:
        _raise_for_status(response)
        body = _json_or_none(response)
        if not isinstance(body, dict):
            raise ServerError(
                "WaveSpeed sent a reply that is not JSON; try again in a moment.",
                status_code=response.status_code,
                server_message=response.text[:200],
            )
        return body.get("data")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _server_message(response: httpx.Response) -> str:
    """The server's own words, from any of the three error shapes seen, else raw text."""
    body = _json_or_none(response)
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return response.text.strip()[:300]


def _envelope_code(response: httpx.Response) -> int | None:
    """The `code` inside a JSON envelope when it disagrees with a 2xx HTTP status."""
    body = _json_or_none(response)
    if isinstance(body, dict):
        code = _int_or_none(body.get("code"))
        if code is not None and code != 200 and 100 <= code <= 599:
            return code
    return None


def _raise_for_status(response: httpx.Response) -> None:
    """Map an HTTP failure, or an error code inside an HTTP 200 envelope, to a typed error."""
    status = response.status_code
    if status < 400:
        status = _envelope_code(response) or status
        if status < 400:
            return
    server = _server_message(response)
    said = f' WaveSpeed said: "{server}"' if server else ""
    kw = {"status_code": status, "server_message": server}
    if status in (401, 403):
        hint = (
            "The API key was refused (HTTP 401): check WAVESPEED_API_KEY or the key you entered."
            if status == 401
            else "WaveSpeed refused this account (HTTP 403): it may be suspended, out of "
            "credit, or lack access to this model."
        )
        raise AuthenticationError(hint + said, **kw)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        when = f"in {retry_after:.0f} s" if retry_after is not None else "in a minute"
        raise RateLimitError(
            f"Rate limited by WaveSpeed (HTTP 429): try again {when}." + said,
            retry_after=retry_after,
            **kw,
        )
    if status >= 500:
        raise ServerError(
            f"WaveSpeed had a server error (HTTP {status}); try again shortly." + said, **kw
        )
    raise BadRequestError(f"WaveSpeed rejected the request (HTTP {status})." + said, **kw)
