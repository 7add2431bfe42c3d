"""WaveSpeedClient over a scripted transport: whole flows, typed errors, retries, key hygiene.

Every test talks HTTP to an httpx.MockTransport (or respx), never to the internet, and passes
a fake `sleep` that records the delays instead of waiting them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from wavespeed_client import (
    MAX_GET_ATTEMPTS,
    MAX_SUBMIT_ATTEMPTS,
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    Prediction,
    RateLimitError,
    ServerError,
    Status,
    SubmissionOutcomeUnknown,
    TaskFailed,
    TaskTimeout,
    WaitUpdate,
    WaveSpeedClient,
    WaveSpeedError,
)

KEY = "sk-CANARY-1234"
BASE = "https://api.wavespeed.test"
CDN = "https://cdn.wavespeed.test"
MODEL = "bytedance/seedance-v1-lite-i2v-720p"
TASK = "e6832d4abffb4d79bfbca19783fca133"
RESULT_PATH = f"/api/v3/predictions/{TASK}/result"
INPUTS = {"image": "https://img.test/start.png", "prompt": "slow dolly in", "seed": 42}

# The contract's example prediction object, verbatim.
CONTRACT_PREDICTION: dict[str, Any] = {
    "id": TASK,
    "model": MODEL,
    "outputs": [],
    "urls": {"get": f"https://api.wavespeed.ai/api/v3/predictions/{TASK}/result"},
    "has_nsfw_contents": [],
    "status": "created",
    "created_at": "2025-05-19T06:09:15.948268264Z",
    "error": "",
    "timings": {"inference": 0},
}

Step = Callable[[httpx.Request], httpx.Response]


# --------------------------------------------------------------------------- helpers


def envelope(data: Any, *, code: int = 200, message: str = "success") -> dict[str, Any]:
    return {"code": code, "message": message, "data": data}


def prediction(status: str = "created", **fields: Any) -> dict[str, Any]:
    return {**CONTRACT_PREDICTION, "status": status, **fields}


def reply(
    status: int = 200,
    body: Any = None,
    *,
    text: str | None = None,
    headers: dict[str, str] | None = None,
) -> Step:
    """A step answering with a fresh response each time it is used."""

    def make(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return make


def ok(data: Any) -> Step:
    return reply(200, envelope(data))


def raise_(exc_type: type[httpx.TransportError]) -> Step:
    def make(request: httpx.Request) -> httpx.Response:
        raise exc_type(f"simulated {exc_type.__name__}", request=request)

    return make


class Server:
    """Answers each request with the next scripted step; the last step repeats forever."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        return step(request)


class FakeSleep:
    """Records every delay the client asks for; returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class BrokenBody(httpx.AsyncByteStream):
    """A body that sends some bytes, then the connection drops."""

    def __init__(self, first: bytes) -> None:
        self.first = first

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        raise httpx.ReadError("connection reset by peer")


def client(server: Server, sleep: FakeSleep | None = None, **kw: Any) -> WaveSpeedClient:
    return WaveSpeedClient(
        KEY,
        base_url=BASE,
        transport=httpx.MockTransport(server),
        sleep=sleep or FakeSleep(),
        rng=random.Random(0),
        **kw,
    )


async def raised(coro: Awaitable[Any]) -> BaseException:
    """The exception `coro` raises (the test fails if it raises none)."""
    with pytest.raises(BaseException) as info:
        await coro
    return info.value


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


# --------------------------------------------------------------------------- Prediction.from_api


def test_from_api_reads_the_contract_example() -> None:
    p = Prediction.from_api(CONTRACT_PREDICTION)
    assert (p.id, p.model, p.status) == (TASK, MODEL, Status.CREATED)
    assert (p.outputs, p.error, p.error_code, p.inference_ms) == ((), "", None, 0)
    assert (p.has_nsfw, p.nsfw) == ((), False)


def test_from_api_truncates_nanosecond_created_at_to_microseconds() -> None:
    p = Prediction.from_api(CONTRACT_PREDICTION)
    assert p.created_at == datetime(2025, 5, 19, 6, 9, 15, 948268, tzinfo=UTC)


@pytest.mark.parametrize(
    ("created_at", "expected"),
    [
        ("2025-05-19T06:09:15Z", datetime(2025, 5, 19, 6, 9, 15, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("yesterday", None),
    ],
    ids=["no-fraction", "null", "empty", "garbage"],
)
def test_from_api_created_at_variants(created_at: str | None, expected: datetime | None) -> None:
    assert Prediction.from_api(prediction(created_at=created_at)).created_at == expected


@pytest.mark.parametrize(
    "outputs",
    [
        ["https://cdn.test/a.mp4", "https://cdn.test/b.mp4"],
        [{"url": "https://cdn.test/a.mp4"}, {"url": "https://cdn.test/b.mp4"}],
        ["https://cdn.test/a.mp4", {"url": "https://cdn.test/b.mp4", "type": "video"}],
    ],
    ids=["strings", "objects", "mixed"],
)
def test_from_api_reads_outputs_as_urls(outputs: list[Any]) -> None:
    p = Prediction.from_api(prediction("completed", outputs=outputs))
    assert p.outputs == ("https://cdn.test/a.mp4", "https://cdn.test/b.mp4")


@pytest.mark.parametrize(
    ("flags", "nsfw"), [(None, False), ([False], False), ([False, True], True)]
)
def test_from_api_reads_nsfw_flags_including_null(flags: list[bool] | None, nsfw: bool) -> None:
    assert Prediction.from_api(prediction(has_nsfw_contents=flags)).nsfw is nsfw


def test_from_api_without_timings_has_no_inference_time() -> None:
    data = {k: v for k, v in CONTRACT_PREDICTION.items() if k != "timings"}
    assert Prediction.from_api(data).inference_ms is None


def test_from_api_reads_a_failed_task_with_its_error_and_code() -> None:
    p = Prediction.from_api(prediction("failed", error="content flagged", code=1200))
    assert (p.status, p.error, p.error_code) == (Status.FAILED, "content flagged", 1200)


@pytest.mark.parametrize("data", [None, [], "oops"], ids=["null", "list", "string"])
def test_from_api_reads_a_missing_data_object_as_empty(data: Any) -> None:
    p = Prediction.from_api(data)
    assert (p.id, p.status) == ("", Status.UNKNOWN)


@pytest.mark.parametrize(
    ("raw", "status", "terminal", "failure"),
    [
        ("created", Status.CREATED, False, False),
        ("processing", Status.PROCESSING, False, False),
        ("completed", Status.COMPLETED, True, False),
        ("failed", Status.FAILED, True, True),
        ("cancelled", Status.CANCELLED, True, True),
        ("timeout", Status.TIMEOUT, True, True),
        ("deleted", Status.DELETED, True, True),
        ("pending", Status.UNKNOWN, False, False),
        (None, Status.UNKNOWN, False, False),
    ],
)
def test_from_api_status_is_typed(
    raw: str | None, status: Status, terminal: bool, failure: bool
) -> None:
    p = Prediction.from_api(prediction(raw))
    assert (p.status, p.status.is_terminal, p.status.is_failure) == (status, terminal, failure)


# --------------------------------------------------------------------------- construction


@pytest.mark.parametrize("key", ["", "   "])
def test_client_without_key_raises_authentication_error(key: str) -> None:
    with pytest.raises(AuthenticationError) as info:
        WaveSpeedClient(key, transport=httpx.MockTransport(Server(ok({}))))
    assert info.value.status_code == 401


async def test_client_repr_never_shows_the_key() -> None:
    async with client(Server(ok({}))) as ws:
        assert KEY not in repr(ws)
        assert BASE in repr(ws)


# --------------------------------------------------------------------------- submit


async def test_submit_posts_the_flat_inputs_to_the_model_path() -> None:
    server = Server(ok(prediction()))
    async with client(server) as ws:
        await ws.submit(MODEL, INPUTS)
    (request,) = server.requests
    assert (request.method, request.url.path) == ("POST", f"/api/v3/{MODEL}")
    assert json.loads(request.content) == INPUTS


async def test_submit_sends_the_key_as_a_bearer_token() -> None:
    server = Server(ok(prediction()))
    async with client(server) as ws:
        await ws.submit(MODEL, INPUTS)
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_submit_returns_the_created_prediction() -> None:
    async with client(Server(ok(prediction()))) as ws:
        p = await ws.submit(MODEL, INPUTS)
    assert (p.id, p.status) == (TASK, Status.CREATED)


async def test_submit_works_against_respx_routes() -> None:
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        route = router.post(f"/api/v3/{MODEL}").respond(json=envelope(prediction()))
        async with WaveSpeedClient(KEY, base_url=BASE) as ws:
            p = await ws.submit(MODEL, INPUTS)
    assert p.id == TASK
    assert json.loads(route.calls.last.request.content) == INPUTS


async def test_submit_retries_after_429_waiting_retry_after(sleep: FakeSleep) -> None:
    server = Server(reply(429, envelope(None, code=429), headers={"Retry-After": "3"}))
    server.steps.append(ok(prediction()))
    async with client(server, sleep) as ws:
        p = await ws.submit(MODEL, INPUTS)
    assert p.id == TASK
    assert len(server.requests) == 2
    assert sleep.delays == [3.0]


async def test_submit_retries_after_503_with_backoff(sleep: FakeSleep) -> None:
    server = Server(reply(503, {"message": "busy"}), ok(prediction()))
    async with client(server, sleep) as ws:
        p = await ws.submit(MODEL, INPUTS)
    assert p.id == TASK
    assert len(server.requests) == 2
    assert len(sleep.delays) == 1
    assert 0.25 <= sleep.delays[0] <= 0.5


async def test_submit_resends_the_same_body_after_a_refusal() -> None:
    server = Server(reply(429, {"message": "slow"}), ok(prediction()))
    async with client(server) as ws:
        await ws.submit(MODEL, INPUTS)
    assert [json.loads(r.content) for r in server.requests] == [INPUTS, INPUTS]


async def test_submit_gives_up_after_max_attempts_of_429(sleep: FakeSleep) -> None:
    server = Server(reply(429, {"message": "Too Many Requests"}))
    async with client(server, sleep) as ws:
        error = await raised(ws.submit(MODEL, INPUTS))
    assert isinstance(error, RateLimitError)
    assert len(server.requests) == MAX_SUBMIT_ATTEMPTS
    assert len(sleep.delays) == MAX_SUBMIT_ATTEMPTS - 1


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_submit_does_not_retry_ambiguous_server_errors(status: int, sleep: FakeSleep) -> None:
    server = Server(reply(status, {"message": "upstream"}), ok(prediction()))
    async with client(server, sleep) as ws:
        error = await raised(ws.submit(MODEL, INPUTS))
    assert isinstance(error, ServerError)
    assert error.status_code == status
    assert len(server.requests) == 1
    assert sleep.delays == []


@pytest.mark.parametrize(
    "exc_type",
    [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError],
)
async def test_submit_without_answer_is_outcome_unknown_and_not_resent(
    exc_type: type[httpx.TransportError], sleep: FakeSleep
) -> None:
    server = Server(raise_(exc_type), ok(prediction()))
    async with client(server, sleep) as ws:
        error = await raised(ws.submit(MODEL, INPUTS))
    assert isinstance(error, SubmissionOutcomeUnknown)
    assert "billed" in str(error)
    assert len(server.requests) == 1
    assert sleep.delays == []


@pytest.mark.parametrize("exc_type", [httpx.ConnectError, httpx.ConnectTimeout])
async def test_submit_that_never_connected_is_a_connection_error(
    exc_type: type[httpx.TransportError],
) -> None:
    server = Server(raise_(exc_type), ok(prediction()))
    async with client(server) as ws:
        error = await raised(ws.submit(MODEL, INPUTS))
    assert isinstance(error, APIConnectionError)
    assert not isinstance(error, SubmissionOutcomeUnknown)
    assert BASE in str(error)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "body",
    [envelope({"status": "created"}), envelope(None), {"code": 200, "message": "success"}],
    ids=["data-without-id", "data-null", "data-missing"],
)
async def test_submit_accepted_without_task_id_is_outcome_unknown(body: dict[str, Any]) -> None:
    server = Server(reply(200, body))
    async with client(server) as ws:
        error = await raised(ws.submit(MODEL, INPUTS))
    assert isinstance(error, SubmissionOutcomeUnknown)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "answer", "error_type", "server_message"),
    [
        (403, reply(403, {"code": 403, "message": "insufficient role"}), AuthenticationError,
         "insufficient role"),
        (400, reply(400, {"message": "image is required", "error_code": 1400}), BadRequestError,
         "image is required"),
        (500, reply(500, {"error": "model crashed"}), ServerError, "model crashed"),
        (502, reply(502, text="Bad Gateway"), ServerError, "Bad Gateway"),
        (400, reply(400, text=""), BadRequestError, ""),
        (401, reply(401, {"message": "Unauthorized"}), AuthenticationError, "Unauthorized"),
        (422, reply(422, {"detail": "duration: not an integer"}), BadRequestError,
         "duration: not an integer"),
        (413, reply(413, text="Payload Too Large"), BadRequestError, "Payload Too Large"),
    ],
    ids=["403-code-message", "400-message-error_code", "500-error", "502-plain-text",
         "400-empty", "401", "422-detail", "413-text"],
)  # fmt: skip
async def test_submit_error_bodies_become_typed_errors(
    status: int, answer: Step, error_type: type[APIStatusError], server_message: str
) -> None:
    async with client(Server(answer)) as ws:
        error = await raised(ws.submit(MODEL, INPUTS))
    assert type(error) is error_type
    assert error.status_code == status
    assert error.server_message == server_message
    assert server_message in str(error)
    assert f"HTTP {status}" in str(error)


@pytest.mark.parametrize(
    ("code", "error_type"),
    [(400, BadRequestError), (401, AuthenticationError), (403, AuthenticationError),
     (500, ServerError)],
)  # fmt: skip
async def test_submit_envelope_error_code_inside_http_200_is_a_typed_error(
    code: int, error_type: type[APIStatusError]
) -> None:
    server = Server(reply(200, envelope(None, code=code, message="denied by envelope")))
    async with client(server) as ws:
        error = await raised(ws.submit(MODEL, INPUTS))
    assert type(error) is error_type
    assert error.status_code == code
    assert error.server_message == "denied by envelope"


async def test_submit_non_json_success_reply_is_a_server_error() -> None:
    async with client(Server(reply(200, text="<html>gateway</html>"))) as ws:
        error = await raised(ws.submit(MODEL, INPUTS))
    assert isinstance(error, ServerError)
    assert "not JSON" in str(error)


# --------------------------------------------------------------------------- get


async def test_get_reads_the_result_path_with_the_key() -> None:
    server = Server(ok(prediction("processing")))
    async with client(server) as ws:
        p = await ws.get(TASK)
    (request,) = server.requests
    assert (request.method, request.url.path) == ("GET", RESULT_PATH)
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert p.status is Status.PROCESSING


@pytest.mark.parametrize(
    "failure",
    [
        reply(429, {"message": "slow down"}),
        reply(500, {"error": "boom"}),
        reply(502, text="Bad Gateway"),
        reply(503, {"message": "busy"}),
        reply(504, text="Gateway Timeout"),
        reply(200, envelope(None, code=500, message="internal")),
        raise_(httpx.ReadTimeout),
        raise_(httpx.ConnectError),
        raise_(httpx.ConnectTimeout),
        raise_(httpx.RemoteProtocolError),
    ],
    ids=["429", "500", "502", "503", "504", "envelope-500", "read-timeout", "connect-error",
         "connect-timeout", "protocol-error"],
)  # fmt: skip
async def test_get_retries_transient_failures_then_succeeds(
    failure: Step, sleep: FakeSleep
) -> None:
    server = Server(failure, ok(prediction("completed", outputs=[f"{CDN}/v.mp4"])))
    async with client(server, sleep) as ws:
        p = await ws.get(TASK)
    assert p.outputs == (f"{CDN}/v.mp4",)
    assert len(server.requests) == 2
    assert len(sleep.delays) == 1


async def test_get_waits_retry_after_on_429(sleep: FakeSleep) -> None:
    server = Server(reply(429, {"message": "slow"}, headers={"Retry-After": "4"}), ok(prediction()))
    async with client(server, sleep) as ws:
        await ws.get(TASK)
    assert sleep.delays == [4.0]


async def test_get_backs_off_exponentially_between_retries(sleep: FakeSleep) -> None:
    server = Server(*[reply(500, {"error": "boom"})] * 5, ok(prediction()))
    async with client(server, sleep) as ws:
        await ws.get(TASK)
    ceilings = [0.5, 1.0, 2.0, 4.0, 8.0]
    assert len(sleep.delays) == len(ceilings)
    for delay, ceiling in zip(sleep.delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling


@pytest.mark.parametrize(
    ("failure", "error_type"),
    [
        (reply(503, {"message": "still busy"}), ServerError),
        (reply(429, {"message": "slow"}), RateLimitError),
        (raise_(httpx.ReadTimeout), APIConnectionError),
        (raise_(httpx.ConnectError), APIConnectionError),
    ],
    ids=["503", "429", "read-timeout", "connect-error"],
)
async def test_get_gives_up_after_max_attempts_with_the_last_typed_error(
    failure: Step, error_type: type[WaveSpeedError], sleep: FakeSleep
) -> None:
    server = Server(failure)
    async with client(server, sleep) as ws:
        error = await raised(ws.get(TASK))
    assert type(error) is error_type
    assert len(server.requests) == MAX_GET_ATTEMPTS
    assert len(sleep.delays) == MAX_GET_ATTEMPTS - 1


async def test_get_raises_the_last_error_not_the_first() -> None:
    server = Server(*[reply(500, {"error": "first"})] * (MAX_GET_ATTEMPTS - 1))
    server.steps.append(reply(502, {"error": "last"}))
    async with client(server) as ws:
        error = await raised(ws.get(TASK))
    assert isinstance(error, ServerError)
    assert (error.status_code, error.server_message) == (502, "last")


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(400, BadRequestError), (401, AuthenticationError), (403, AuthenticationError),
     (404, BadRequestError)],
)  # fmt: skip
async def test_get_does_not_retry_permanent_errors(
    status: int, error_type: type[APIStatusError], sleep: FakeSleep
) -> None:
    server = Server(reply(status, {"message": "no"}), ok(prediction()))
    async with client(server, sleep) as ws:
        error = await raised(ws.get(TASK))
    assert type(error) is error_type
    assert len(server.requests) == 1
    assert sleep.delays == []


# --------------------------------------------------------------------------- wait


def processing_then(*final: Step) -> Server:
    return Server(ok(prediction("created")), ok(prediction("processing")), *final)


DONE = ok(prediction("completed", outputs=[f"{CDN}/v.mp4"], timings={"inference": 41250}))


async def test_wait_returns_the_completed_prediction() -> None:
    server = processing_then(DONE)
    async with client(server) as ws:
        p = await ws.wait(TASK)
    assert (p.status, p.outputs, p.inference_ms) == (Status.COMPLETED, (f"{CDN}/v.mp4",), 41250)
    assert len(server.requests) == 3
    assert all(r.url.path == RESULT_PATH for r in server.requests)


async def test_wait_reports_every_poll_to_a_sync_callback() -> None:
    updates: list[WaitUpdate] = []
    async with client(processing_then(DONE)) as ws:
        await ws.wait(TASK, on_update=updates.append)
    assert [(u.task_id, u.polls, u.status) for u in updates] == [
        (TASK, 1, Status.CREATED),
        (TASK, 2, Status.PROCESSING),
        (TASK, 3, Status.COMPLETED),
    ]
    elapsed = [u.elapsed_s for u in updates]
    assert elapsed == sorted(elapsed) and elapsed[0] >= 0
    assert updates[-1].prediction.outputs == (f"{CDN}/v.mp4",)


async def test_wait_awaits_an_async_callback() -> None:
    seen: list[tuple[int, Status]] = []

    async def on_update(update: WaitUpdate) -> None:
        await asyncio.sleep(0)
        seen.append((update.polls, update.status))

    async with client(processing_then(DONE)) as ws:
        await ws.wait(TASK, on_update=on_update)
    assert seen == [(1, Status.CREATED), (2, Status.PROCESSING), (3, Status.COMPLETED)]


async def test_wait_raises_task_failed_with_id_reason_and_code() -> None:
    failed = ok(prediction("failed", error="image URL could not be fetched", code=1402))
    async with client(processing_then(failed)) as ws:
        error = await raised(ws.wait(TASK))
    assert isinstance(error, TaskFailed)
    assert (error.task_id, error.reason, error.code) == (
        TASK,
        "image URL could not be fetched",
        1402,
    )
    assert TASK in str(error) and "image URL could not be fetched" in str(error)


@pytest.mark.parametrize("status", ["cancelled", "timeout", "deleted"])
async def test_wait_treats_other_terminal_statuses_as_failures(status: str) -> None:
    server = processing_then(ok(prediction(status)), DONE)
    async with client(server) as ws:
        error = await raised(ws.wait(TASK))
    assert isinstance(error, TaskFailed)
    assert error.task_id == TASK
    assert status in error.reason
    assert len(server.requests) == 3


async def test_wait_keeps_polling_through_unknown_statuses() -> None:
    server = Server(ok(prediction("pending")), ok(prediction("queued")), DONE)
    async with client(server) as ws:
        p = await ws.wait(TASK)
    assert p.status is Status.COMPLETED
    assert len(server.requests) == 3


async def test_wait_keeps_polling_through_a_transient_get_failure() -> None:
    server = processing_then(reply(502, text="Bad Gateway"), DONE)
    async with client(server) as ws:
        p = await ws.wait(TASK)
    assert p.status is Status.COMPLETED
    assert len(server.requests) == 4


async def test_wait_raises_task_timeout_when_the_deadline_passes() -> None:
    delays: list[float] = []

    async def short_real_sleep(delay: float) -> None:
        delays.append(delay)
        assert len(delays) < 100, "wait() ignored its deadline"
        await asyncio.sleep(0.01)

    server = Server(ok(prediction("processing")))
    async with client(server, sleep=short_real_sleep) as ws:  # type: ignore[arg-type]
        error = await raised(ws.wait(TASK, deadline_s=0.08))
    assert isinstance(error, TaskTimeout)
    assert isinstance(error, TimeoutError)
    assert error.task_id == TASK
    assert error.waited_s >= 0.08
    assert TASK in str(error)
    assert 1 <= len(server.requests) <= 20
    assert max(delays) <= 0.08


async def test_wait_counts_time_before_the_first_poll_toward_the_deadline() -> None:
    server = Server(DONE)  # were the deadline ignored, wait() would return
    async with client(server) as ws:
        error = await raised(ws.wait(TASK, deadline_s=60, started_at=time.monotonic() - 61))
    assert isinstance(error, TaskTimeout)
    assert server.requests == []


@pytest.mark.parametrize(("expected_s", "first_sleep"), [(None, 1.0), (40.0, 2.0)])
async def test_wait_sleeps_on_the_polling_schedule_before_the_first_poll(
    expected_s: float | None, first_sleep: float, sleep: FakeSleep
) -> None:
    async with client(Server(DONE), sleep) as ws:
        await ws.wait(TASK, expected_s=expected_s)
    assert sleep.delays == [pytest.approx(first_sleep, abs=0.05)]


async def test_a_late_answer_does_not_skip_the_poll_where_earlier_runs_had_ended() -> None:
    """The poll just after the guess comes back "processing", but late, after the time
    every earlier run had ended by: the next poll goes at once, not a dense interval
    (0.8 s) after the late answer."""
    t0 = time.monotonic()
    ready_at, answer_s = 0.75, 0.25  # the task is done 0.75 s in; answers take 0.25 s

    async def slow_server(request: httpx.Request) -> httpx.Response:
        status = "completed" if time.monotonic() - t0 >= ready_at else "processing"
        await asyncio.sleep(answer_s)
        outputs = [f"{CDN}/v.mp4"] if status == "completed" else []
        return httpx.Response(200, json={"code": 200, "data": prediction(status, outputs=outputs)})

    updates: list[WaitUpdate] = []
    async with WaveSpeedClient(
        KEY, base_url=BASE, transport=httpx.MockTransport(slow_server), rng=random.Random(0)
    ) as ws:
        await ws.wait(TASK, expected_s=0.6, ended_by_s=0.8, started_at=t0, on_update=updates.append)
    first, second = updates
    assert first.status is Status.PROCESSING and first.asked_s < ready_at < first.elapsed_s
    assert first.elapsed_s - first.asked_s >= answer_s  # the answer was late
    assert second.status is Status.COMPLETED
    assert second.asked_s - first.elapsed_s < 0.3  # sent as soon as the late answer came


# --------------------------------------------------------------------------- upload


UPLOADED = ok(
    {
        "type": "image",
        "download_url": "https://media.test/u/abc.png",
        "filename": "start.png",
        "size": 4,
    }
)


async def test_upload_sends_multipart_field_file_and_returns_the_download_url() -> None:
    server = Server(UPLOADED)
    async with client(server) as ws:
        url = await ws.upload(b"\x89PNG", filename="start.png")
    assert url == "https://media.test/u/abc.png"
    (request,) = server.requests
    assert (request.method, request.url.path) == ("POST", "/api/v3/media/upload/binary")
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'name="file"; filename="start.png"' in request.content
    assert b"\x89PNG" in request.content
    assert request.headers["authorization"] == f"Bearer {KEY}"


async def test_upload_of_a_path_sends_its_name_and_bytes(tmp_path: Path) -> None:
    image = tmp_path / "frame-01.jpg"
    image.write_bytes(b"JPEGDATA")
    server = Server(UPLOADED)
    async with client(server) as ws:
        await ws.upload(image)
    assert b'filename="frame-01.jpg"' in server.requests[0].content
    assert b"JPEGDATA" in server.requests[0].content


async def test_upload_too_large_is_a_bad_request() -> None:
    async with client(Server(reply(413, {"message": "file too large"}))) as ws:
        error = await raised(ws.upload(b"x" * 10))
    assert isinstance(error, BadRequestError)
    assert (error.status_code, error.server_message) == (413, "file too large")


async def test_upload_reply_without_download_url_is_a_server_error() -> None:
    async with client(Server(ok({"type": "image"}))) as ws:
        error = await raised(ws.upload(b"x"))
    assert isinstance(error, ServerError)


# --------------------------------------------------------------------------- download

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 300


def video_reply(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=VIDEO, headers={"content-type": "video/mp4"})


def broken_reply(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, stream=BrokenBody(VIDEO[:1000]))


async def test_download_writes_the_whole_file(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "clip.mp4"
    async with client(Server(video_reply)) as ws:
        result = await ws.download(f"{CDN}/v.mp4", dest)
    assert result == dest
    assert dest.read_bytes() == VIDEO
    assert [p.name for p in dest.parent.iterdir()] == ["clip.mp4"]


async def test_download_never_sends_the_key_to_the_output_host(tmp_path: Path) -> None:
    server = Server(video_reply)
    async with client(server) as ws:
        await ws.download(f"{CDN}/v.mp4", tmp_path / "clip.mp4")
    (request,) = server.requests
    assert request.url.host == "cdn.wavespeed.test"
    assert "authorization" not in request.headers
    assert KEY not in str(request.headers) and KEY not in str(request.url)


async def test_download_broken_mid_body_leaves_no_partial_file(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "clip.mp4"
    server = Server(broken_reply)
    async with client(server) as ws:
        error = await raised(ws.download(f"{CDN}/v.mp4", dest))
    assert isinstance(error, APIConnectionError)
    assert list(dest.parent.iterdir()) == []
    assert len(server.requests) == MAX_GET_ATTEMPTS


async def test_download_broken_mid_body_keeps_the_previous_file_intact(tmp_path: Path) -> None:
    dest = tmp_path / "clip.mp4"
    dest.write_bytes(b"previous complete video")
    async with client(Server(broken_reply)) as ws:
        await raised(ws.download(f"{CDN}/v.mp4", dest))
    assert dest.read_bytes() == b"previous complete video"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


async def test_download_retries_after_a_broken_body(tmp_path: Path) -> None:
    dest = tmp_path / "clip.mp4"
    server = Server(broken_reply, video_reply)
    async with client(server) as ws:
        await ws.download(f"{CDN}/v.mp4", dest)
    assert dest.read_bytes() == VIDEO
    assert len(server.requests) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_download_retries_server_errors(
    status: int, tmp_path: Path, sleep: FakeSleep
) -> None:
    dest = tmp_path / "clip.mp4"
    server = Server(reply(status, text="oops"), video_reply)
    async with client(server, sleep) as ws:
        await ws.download(f"{CDN}/v.mp4", dest)
    assert dest.read_bytes() == VIDEO
    assert len(server.requests) == 2
    assert len(sleep.delays) == 1


async def test_download_of_an_expired_output_is_not_retried(tmp_path: Path) -> None:
    server = Server(reply(404, text="Not Found"), video_reply)
    async with client(server) as ws:
        error = await raised(ws.download(f"{CDN}/v.mp4", tmp_path / "clip.mp4"))
    assert isinstance(error, BadRequestError)
    assert error.status_code == 404
    assert len(server.requests) == 1
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- balance


async def test_balance_returns_the_usd_amount() -> None:
    server = Server(ok({"balance": 12.5}))
    async with client(server) as ws:
        assert await ws.balance() == 12.5
    assert server.requests[0].url.path == "/api/v3/balance"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_balance_with_a_refused_key_is_an_authentication_error() -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/api/v3/balance").respond(401, json={"message": "Invalid API key"})
        async with WaveSpeedClient(KEY, base_url=BASE) as ws:
            error = await raised(ws.balance())
    assert isinstance(error, AuthenticationError)
    assert error.server_message == "Invalid API key"


# --------------------------------------------------------------------------- the key stays secret


Action = Callable[[WaveSpeedClient, Path], Awaitable[Any]]

FAILING_FLOWS: dict[str, tuple[Step, Action]] = {
    "submit-401": (reply(401, {"message": "bad key"}), lambda ws, _: ws.submit(MODEL, INPUTS)),
    "submit-500": (reply(500, text="Internal"), lambda ws, _: ws.submit(MODEL, INPUTS)),
    "submit-read-timeout": (raise_(httpx.ReadTimeout), lambda ws, _: ws.submit(MODEL, INPUTS)),
    "submit-connect-error": (raise_(httpx.ConnectError), lambda ws, _: ws.submit(MODEL, INPUTS)),
    "get-429-forever": (reply(429, {"message": "slow"}), lambda ws, _: ws.get(TASK)),
    "wait-failed": (ok(prediction("failed", error="nope", code=1403)), lambda ws, _: ws.wait(TASK)),
    "upload-413": (reply(413, text="too big"), lambda ws, _: ws.upload(b"x")),
    "download-404": (reply(404, text="gone"), lambda ws, d: ws.download(f"{CDN}/v", d / "v.mp4")),
    "balance-403": (reply(403, {"code": 403, "message": "no role"}), lambda ws, _: ws.balance()),
}


@pytest.mark.parametrize("flow", FAILING_FLOWS)
async def test_errors_never_contain_the_key(flow: str, tmp_path: Path) -> None:
    answer, action = FAILING_FLOWS[flow]
    async with client(Server(answer)) as ws:
        error = await raised(action(ws, tmp_path))
    assert isinstance(error, WaveSpeedError), error
    chain = [error, error.__cause__, error.__context__]
    for exc in filter(None, chain):
        assert KEY not in str(exc)
        assert KEY not in repr(exc)
        assert KEY not in repr(exc.args)


async def test_logs_never_contain_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = Server(
        reply(503, {"message": "busy"}),
        ok(prediction()),
        reply(500, {"error": "boom"}),
        raise_(httpx.ReadTimeout),
        ok(prediction("failed", error="moderated", code=1200)),
    )
    async with client(server) as ws:
        await ws.submit(MODEL, INPUTS)
        with pytest.raises(TaskFailed):
            await ws.wait(TASK)
    messages = [r.getMessage() for r in caplog.records]
    assert any("retry" in m for m in messages), messages  # the failing flow did log
    assert KEY not in caplog.text
    assert all(KEY not in m for m in messages)


# --------------------------------------------------------------------------- sync facade


# --------------------------------------------------------------------------- shared connections


async def test_clients_sharing_connections_each_send_their_own_key() -> None:
    """One pool for every session on a server: the key goes with each request, never with
    the pool, so one visitor's requests never carry another's key."""
    from wavespeed_client import Connections

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization", ""))
        return httpx.Response(200, json={"code": 200, "data": {**CONTRACT_PREDICTION}})

    shared = Connections(BASE, transport=httpx.MockTransport(handler))
    alice = WaveSpeedClient("sk-alice", connections=shared)
    bob = WaveSpeedClient("sk-bob", connections=shared)
    await alice.get(TASK)
    await bob.get(TASK)
    await alice.submit(MODEL, INPUTS)
    assert seen == ["Bearer sk-alice", "Bearer sk-bob", "Bearer sk-alice"]
    assert alice.base_url == BASE


async def test_a_client_leaves_borrowed_connections_open_and_closes_its_own() -> None:
    from wavespeed_client import Connections

    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, json={"code": 200, "data": {**CONTRACT_PREDICTION}})
    )
    shared = Connections(BASE, transport=transport)
    async with WaveSpeedClient(KEY, connections=shared) as borrowing:
        await borrowing.get(TASK)
    assert not shared.api.is_closed  # the next session's client still uses them
    await WaveSpeedClient("sk-other", connections=shared).get(TASK)

    owning = WaveSpeedClient(KEY, base_url=BASE, transport=transport)
    await owning.aclose()
    with pytest.raises(RuntimeError):
        await owning.get(TASK)  # its own connections went with it
    await shared.aclose()


async def test_connection_pools_are_one_per_base_and_event_loop() -> None:
    from wavespeed_client import ConnectionPools

    pools = ConnectionPools()
    here = pools.get(BASE)
    assert pools.get(BASE + "/") is here  # one base, however it is spelled at the end
    assert pools.get("http://127.0.0.1:9") is not here

    other_loop = await asyncio.to_thread(lambda: asyncio.run(_pool_in_new_loop(pools)))
    assert other_loop is not here  # httpx connections belong to the loop that made them


async def _pool_in_new_loop(pools: Any) -> Any:
    return pools.get(BASE)
