"""WaveSpeedClient.models / quote / cancel, written from the contract
(../shared/WAVESPEED_API.md: "The model catalog", "Price quote", "Cancel"), not from the
emulator: every reply is scripted with httpx.MockTransport, and a fake `sleep` records the
backoffs instead of waiting them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

import wavespeed_client
from playground.model import catalog
from wavespeed_client import (
    MAX_GET_ATTEMPTS,
    MAX_QUOTE_ATTEMPTS,
    QUOTE_TIMEOUT_S,
    READ_TIMEOUT_CANCEL_S,
    READ_TIMEOUT_MODELS_S,
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    Connections,
    InvalidIdentifier,
    Prediction,
    Quote,
    QuoteUnavailable,
    RateLimitError,
    ServerError,
    Status,
    TaskFailed,
    TaskNotFound,
    UnexpectedReply,
    WaveSpeedClient,
    WaveSpeedError,
)

KEY = "sk-CANARY-catalog-4242"
BASE = "https://api.wavespeed.test"
I2V = "bytedance/seedance-2.0/image-to-video"
LITE = "bytedance/seedance-v1-lite-i2v-720p"
TASK = "e6832d4abffb4d79bfbca19783fca133"

Step = Callable[[httpx.Request], Any]


# --------------------------------------------------------------------------- fixtures

REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["prompt", "image"],
    "x-order-properties": ["image", "prompt", "duration"],
    "properties": {
        "image": {"type": "string", "x-ui-component": "uploader", "x-accept": "image/*"},
        "prompt": {"type": "string", "maxLength": 2000},
        "duration": {"type": "integer", "default": 5, "minimum": 4, "maximum": 15},
    },
}


def mcp_entry(model_id: str = I2V, **extra: Any) -> dict[str, Any]:
    """A catalog entry as WaveSpeed's MCP server and CLI read it: api_schema.api_schemas[]."""
    return {
        "model_id": model_id,
        "name": "Seedance 2.0 I2V",
        "description": "Image to video.",
        "type": "image-to-video",
        "base_price": 1.2,
        "formula": '{"total_price": base_price * duration / 5}',
        "sort_order": 3,
        "api_schema": {
            "api_schemas": [
                {"type": "model_result", "request_schema": {"properties": {}}},
                {"type": "model_run", "request_schema": REQUEST_SCHEMA},
            ]
        },
        **extra,
    }


def openapi_entry(model_id: str = LITE, **extra: Any) -> dict[str, Any]:
    """The same kind of entry as WaveSpeed Desktop types it: components.schemas.Request."""
    return {
        "model_id": model_id,
        "name": "Seedance 1.0 lite 720p",
        "type": "image-to-video",
        "base_price": 0.16,
        "api_schema": {"components": {"schemas": {"Request": REQUEST_SCHEMA}}},
        **extra,
    }


def envelope(data: Any, *, code: int = 200, message: str = "success") -> dict[str, Any]:
    return {"code": code, "message": message, "data": data}


def ok(data: Any) -> Step:
    return lambda request: httpx.Response(200, json=envelope(data))


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> Step:
    return lambda request: httpx.Response(code, json=body or {"message": "x"}, headers=headers)


def drop(exc_type: type[httpx.TransportError]) -> Step:
    def step(request: httpx.Request) -> Any:
        raise exc_type(f"simulated {exc_type.__name__}", request=request)

    return step


class Server:
    """Answers each request with the next scripted step; the last one repeats forever."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> Any:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        return step(request)

    @property
    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_client(server: Server, sleep: FakeSleep | None = None, **kw: Any) -> WaveSpeedClient:
    if "connections" not in kw:
        kw["transport"] = httpx.MockTransport(server)
        kw["base_url"] = BASE
    return WaveSpeedClient(KEY, sleep=sleep or FakeSleep(), rng=random.Random(0), **kw)


async def raised(coro: Awaitable[Any]) -> BaseException:
    with pytest.raises(BaseException) as info:
        await coro
    return info.value


# --------------------------------------------------------------------------- the catalog


async def test_models_returns_both_documented_shapes_and_the_catalog_reads_them() -> None:
    server = Server(ok([mcp_entry(), openapi_entry()]))
    async with make_client(server) as ws:
        raw = await ws.models()
    request = server.requests[0]
    assert (request.method, request.url.path) == ("GET", "/api/v3/models")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert [e["model_id"] for e in raw] == [I2V, LITE]
    models = catalog.parse(raw, source="live")
    for model_id in (I2V, LITE):
        spec = models.get(model_id)
        assert spec is not None and [f.name for f in spec.fields] == ["image", "prompt", "duration"]
        assert spec.field("duration").maximum == 15


async def test_models_leaves_out_entries_that_are_not_objects_and_keeps_odd_ones() -> None:
    odd = {"model_id": "acme/odd-model"}  # no type, no schema, no price: the parser decides
    no_id = {"name": "nameless"}
    server = Server(ok([mcp_entry(), "junk", 7, None, [1], odd, no_id]))
    async with make_client(server) as ws:
        raw = await ws.models()
    assert raw == [mcp_entry(), odd, no_id]
    models = catalog.parse(raw)
    assert set(models.models) == {I2V, "acme/odd-model"}  # the nameless one is skipped
    assert models.get("acme/odd-model").fields == ()


async def test_an_empty_catalog_is_an_empty_list() -> None:
    async with make_client(Server(ok([]))) as ws:
        assert await ws.models() == []


@pytest.mark.parametrize(
    "data", [None, {"models": [mcp_entry()]}, "models", 3], ids=["null", "object", "str", "int"]
)
async def test_a_catalog_that_is_not_a_list_is_refused_once_with_a_sentence(data: Any) -> None:
    server = Server(ok(data))
    async with make_client(server) as ws:
        error = await raised(ws.models())
    assert isinstance(error, UnexpectedReply) and isinstance(error, WaveSpeedError)
    assert "not a list" in str(error) and str(error).endswith(".")
    assert len(server.requests) == 1  # the same question would get the same answer


async def test_an_envelope_401_in_an_http_200_is_an_authentication_error_not_retried() -> None:
    body = envelope(None, code=401, message="invalid api key")
    server = Server(lambda r: httpx.Response(200, json=body))
    async with make_client(server) as ws:
        error = await raised(ws.models())
    assert isinstance(error, AuthenticationError) and error.status_code == 401
    assert len(server.requests) == 1


async def test_an_envelope_code_500_in_an_http_200_is_retried_like_a_5xx() -> None:
    sleep = FakeSleep()
    server = Server(
        lambda r: httpx.Response(200, json=envelope(None, code=500, message="busy")),
        ok([mcp_entry()]),
    )
    async with make_client(server, sleep) as ws:
        assert [e["model_id"] for e in await ws.models()] == [I2V]
    assert len(server.requests) == 2 and len(sleep.delays) == 1


async def test_a_5xx_streak_then_the_catalog() -> None:
    sleep = FakeSleep()
    server = Server(status(502), status(503), status(500), ok([mcp_entry()]))
    async with make_client(server, sleep) as ws:
        raw = await ws.models()
        assert ws.usage.catalog_gets == 4 and ws.usage.retries == 3
    assert len(raw) == 1 and len(sleep.delays) == 3
    assert sleep.delays == sorted(sleep.delays)  # backing off, not hammering


async def test_a_5xx_that_never_ends_gives_up_with_a_server_error() -> None:
    server = Server(status(503))
    async with make_client(server) as ws:
        error = await raised(ws.models())
    assert isinstance(error, ServerError) and error.status_code == 503
    assert len(server.requests) == MAX_GET_ATTEMPTS


async def test_the_catalog_read_may_stay_silent_longer_than_a_result_poll() -> None:
    server = Server(ok([]))
    async with make_client(server) as ws:
        await ws.models()
        await ws.balance()
    catalog_timeout, balance_timeout = (r.extensions["timeout"] for r in server.requests)
    assert catalog_timeout["read"] == READ_TIMEOUT_MODELS_S
    assert catalog_timeout["read"] > balance_timeout["read"]


async def test_a_slow_catalog_reply_that_times_out_is_retried_then_read() -> None:
    server = Server(drop(httpx.ReadTimeout), drop(httpx.ReadTimeout), ok([mcp_entry()]))
    async with make_client(server) as ws:
        assert len(await ws.models()) == 1
    assert len(server.requests) == 3


async def test_a_catalog_that_never_arrives_is_a_connection_error_in_words() -> None:
    server = Server(drop(httpx.ReadTimeout))
    async with make_client(server) as ws:
        error = await raised(ws.models())
    assert isinstance(error, APIConnectionError)
    assert "did not answer in time" in str(error) and BASE in str(error)
    assert len(server.requests) == MAX_GET_ATTEMPTS


# --------------------------------------------------------------------------- quotes


@pytest.mark.parametrize(
    ("data", "usd", "listed"),
    [
        ({"price": 1.2, "discounted_price": 1.08, "currency": "USD"}, 1.08, 1.2),
        ({"price": 1.2}, 1.2, 1.2),
        ({"unit_price": 0.16, "currency": "USD"}, 0.16, 0.16),
        ({"discounted_price": 0.9}, 0.9, None),
        ({"price": 1.2, "unit_price": 0.5}, 1.2, 1.2),  # price wins over unit_price
        ({"unit_price": 0.6, "discounted_price": 0.5}, 0.5, 0.6),
        ({"price": 1.2, "discounted_price": None}, 1.2, 1.2),
        ({"price": 1.2, "discounted_price": -1}, 1.2, 1.2),
        ({"price": 1.2, "discounted_price": "n/a"}, 1.2, 1.2),
        ({"price": 0}, 0.0, 0.0),  # free is a price
        ({"price": 2}, 2.0, 2.0),  # a JSON integer
    ],
    ids=[
        "discounted",
        "price",
        "unit-price",
        "discount-only",
        "price-over-unit",
        "unit-discounted",
        "discount-null",
        "discount-negative",
        "discount-text",
        "zero",
        "integer",
    ],
)
async def test_quote_field_precedence(data: dict, usd: float, listed: float | None) -> None:
    async with make_client(Server(ok(data))) as ws:
        quote = await ws.quote(I2V, {"duration": 5})
    assert quote == Quote(I2V, pytest.approx(usd), listed and pytest.approx(listed), "USD")


@pytest.mark.parametrize(
    ("text", "usd"), [("0.16", 0.16), (" 1.20 ", 1.2), ("3", 3.0)], ids=["dec", "spaces", "int"]
)
async def test_a_price_sent_as_plain_decimal_text_is_read(text: str, usd: float) -> None:
    async with make_client(Server(ok({"price": text}))) as ws:
        assert (await ws.quote(I2V, {})).usd == pytest.approx(usd)


@pytest.mark.parametrize(
    "data",
    [
        {},
        None,
        [1.2],
        {"price": None},
        {"price": -0.01},
        {"price": True},
        {"price": "NaN"},
        {"price": "inf"},
        {"price": "1e3"},
        {"price": "1_000"},
        {"price": "$0.16"},
        {"price": ""},
        {"price": {"amount": 1}},
        {"total": 1.2},
    ],
    ids=lambda d: json.dumps(d, default=str)[:30],
)
async def test_a_quote_without_a_valid_figure_is_refused_with_a_sentence(data: Any) -> None:
    async with make_client(Server(ok(data))) as ws:
        error = await raised(ws.quote(I2V, {}))
    assert isinstance(error, QuoteUnavailable)
    assert "held no price" in str(error) and I2V in str(error)


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN", "1e400"])
async def test_a_quote_of_a_non_finite_json_number_is_refused(literal: str) -> None:
    body = '{"code": 200, "message": "success", "data": {"price": ' + literal + "}}"
    async with make_client(Server(lambda r: httpx.Response(200, text=body))) as ws:
        assert isinstance(await raised(ws.quote(I2V, {})), QuoteUnavailable)


@pytest.mark.parametrize("currency", [None, "", "USD", "usd", " Usd "])
async def test_a_quote_in_dollars_or_without_currency_is_usd(currency: str | None) -> None:
    async with make_client(Server(ok({"price": 0.5, "currency": currency}))) as ws:
        assert (await ws.quote(I2V, {})).currency == "USD"


@pytest.mark.parametrize("currency", ["EUR", "CNY", "credits"])
async def test_a_quote_in_another_currency_is_refused(currency: str) -> None:
    async with make_client(Server(ok({"price": 0.5, "currency": currency}))) as ws:
        error = await raised(ws.quote(I2V, {}))
    assert isinstance(error, QuoteUnavailable) and "not US dollars" in str(error)


async def test_a_quote_posts_the_model_and_its_inputs_to_price() -> None:
    server = Server(ok({"price": 1.2}))
    async with make_client(server) as ws:
        await ws.quote(I2V, {"duration": 10, "resolution": "1080p"})
    request = server.requests[0]
    assert (request.method, request.url.path) == ("POST", "/api/v3/model/price")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(request.content) == {
        "model_id": I2V,
        "inputs": {"duration": 10, "resolution": "1080p"},
    }


async def test_a_quote_has_a_short_timeout_connecting_included() -> None:
    server = Server(ok({"price": 1.2}))
    async with make_client(server) as ws:
        await ws.quote(I2V, {})
    timeout = server.requests[0].extensions["timeout"]
    assert timeout["read"] == QUOTE_TIMEOUT_S and timeout["connect"] == QUOTE_TIMEOUT_S
    assert QUOTE_TIMEOUT_S < wavespeed_client.CONNECT_TIMEOUT_S


@pytest.mark.parametrize("not_served", [404, 405])
async def test_price_not_served_falls_back_to_pricing_and_remembers_it(not_served: int) -> None:
    server = Server(status(not_served), ok({"unit_price": 0.6}))
    async with make_client(server) as ws:
        assert (await ws.quote(I2V, {})).usd == 0.6
        assert (await ws.quote(I2V, {"duration": 10})).usd == 0.6
        assert (await ws.quote(LITE, {})).usd == 0.6
    assert server.paths == [
        "/api/v3/model/price",
        "/api/v3/model/pricing",
        "/api/v3/model/pricing",
        "/api/v3/model/pricing",
    ]


async def test_the_quote_path_is_remembered_per_connections_not_per_client() -> None:
    server = Server(status(404), ok({"price": 1.0}))
    shared = Connections(BASE, transport=httpx.MockTransport(server))
    other_server = Server(ok({"price": 2.0}))
    other = Connections("https://proxy.test", transport=httpx.MockTransport(other_server))
    try:
        await make_client(server, connections=shared).quote(I2V, {})
        await make_client(server, connections=shared).quote(I2V, {})  # another key, same API
        await make_client(other_server, connections=other).quote(I2V, {})
    finally:
        await shared.aclose()
        await other.aclose()
    assert server.paths[1:] == ["/api/v3/model/pricing", "/api/v3/model/pricing"]
    assert other_server.paths == ["/api/v3/model/price"]  # another base starts afresh


async def test_a_404_on_the_remembered_path_is_the_server_s_answer_not_a_fallback() -> None:
    unknown = {"code": 404, "message": "model not found"}
    server = Server(ok({"price": 1.0}), status(404, unknown))
    async with make_client(server) as ws:
        await ws.quote(I2V, {})
        error = await raised(ws.quote("acme/gone-model", {}))
    assert isinstance(error, BadRequestError) and error.status_code == 404
    assert "model not found" in str(error)
    assert server.paths == ["/api/v3/model/price", "/api/v3/model/price"]


async def test_an_api_serving_neither_quote_path_says_so_and_remembers_nothing() -> None:
    server = Server(status(404, {"message": "no route"}))
    async with make_client(server) as ws:
        error = await raised(ws.quote(I2V, {}))
        assert ws.connections.quote_path is None
    assert isinstance(error, QuoteUnavailable) and "serves no price quotes" in str(error)
    assert server.paths == ["/api/v3/model/price", "/api/v3/model/pricing"]


@pytest.mark.parametrize(
    "failure",
    [status(503), status(500), status(429), drop(httpx.ConnectError), drop(httpx.ReadTimeout)],
    ids=["503", "500", "429", "connect", "read-timeout"],
)
async def test_a_quote_is_retried_after_a_transient_failure(failure: Step) -> None:
    sleep = FakeSleep()
    server = Server(failure, ok({"price": 1.2}))
    async with make_client(server, sleep) as ws:
        assert (await ws.quote(I2V, {})).usd == 1.2
    assert len(server.requests) == 2 and len(sleep.delays) == 1
    assert server.paths == ["/api/v3/model/price"] * 2  # a 5xx is no reason to switch paths


async def test_quote_retries_are_few() -> None:
    server = Server(status(503))
    async with make_client(server) as ws:
        error = await raised(ws.quote(I2V, {}))
    assert isinstance(error, ServerError) and len(server.requests) == MAX_QUOTE_ATTEMPTS


async def test_a_rate_limit_asking_to_wait_past_the_budget_is_raised_at_once() -> None:
    sleep = FakeSleep()
    server = Server(status(429, headers={"Retry-After": "30"}))
    async with make_client(server, sleep) as ws:
        error = await raised(ws.quote(I2V, {}))
    assert isinstance(error, RateLimitError) and error.retry_after == 30
    assert len(server.requests) == 1 and sleep.delays == []


@pytest.mark.parametrize("code", [400, 401, 422])
async def test_a_refused_quote_is_not_retried(code: int) -> None:
    server = Server(status(code, {"message": "bad duration"}))
    async with make_client(server) as ws:
        error = await raised(ws.quote(I2V, {"duration": 99}))
    assert isinstance(error, BadRequestError | AuthenticationError)
    assert len(server.requests) == 1


async def test_a_hung_quote_ends_within_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wavespeed_client, "QUOTE_BUDGET_S", 0.2)

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)  # a mock transport has no read timeout: only the budget helps
        return httpx.Response(200, json=envelope({"price": 1}))

    started = time.monotonic()
    async with WaveSpeedClient(KEY, base_url=BASE, transport=httpx.MockTransport(hang)) as ws:
        error = await raised(ws.quote(I2V, {}))
    assert time.monotonic() - started < 10  # not the 30 s the server would take
    assert isinstance(error, APIConnectionError) and "did not answer in time" in str(error)


@pytest.mark.parametrize("model_id", ["a/../balance", "acme", "acme/x?y=1", "", "acme/ x"])
async def test_a_quote_for_an_unsafe_model_id_is_never_sent(model_id: str) -> None:
    server = Server(ok({"price": 1}))
    async with make_client(server) as ws:
        error = await raised(ws.quote(model_id, {}))
    assert isinstance(error, InvalidIdentifier) and server.requests == []


# --------------------------------------------------------------------------- cancel


def test_deleted_is_a_terminal_failure() -> None:
    assert Status("deleted") is Status.DELETED
    assert Status.DELETED.is_terminal and Status.DELETED.is_failure


async def test_cancel_deletes_the_task_and_reads_the_deleted_prediction() -> None:
    data = {"id": TASK, "model": I2V, "status": "deleted", "outputs": [], "error": ""}
    server = Server(ok(data))
    async with make_client(server) as ws:
        stopped = await ws.cancel(TASK)
    request = server.requests[0]
    assert (request.method, request.url.path) == ("DELETE", f"/api/v3/predictions/{TASK}")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.extensions["timeout"]["read"] == READ_TIMEOUT_CANCEL_S
    assert (stopped.id, stopped.model, stopped.status) == (TASK, I2V, Status.DELETED)


async def test_cancel_reports_a_task_that_has_not_stopped_yet_as_it_is() -> None:
    # "may not stop generation immediately": the reply may still say processing.
    async with make_client(Server(ok({"id": TASK, "status": "processing"}))) as ws:
        assert (await ws.cancel(TASK)).status is Status.PROCESSING


@pytest.mark.parametrize(
    "step",
    [
        ok(None),
        ok({}),
        ok("deleted"),
        lambda r: httpx.Response(204),
        lambda r: httpx.Response(200, text=""),
    ],
    ids=["null", "empty", "string", "204", "no-body"],
)
async def test_cancel_without_a_prediction_in_the_reply_is_deleted(step: Step) -> None:
    async with make_client(Server(step)) as ws:
        assert await ws.cancel(TASK) == Prediction(id=TASK, model="", status=Status.DELETED)


async def test_cancel_fills_in_what_the_reply_leaves_out() -> None:
    async with make_client(Server(ok({"model": I2V, "status": "deleted"}))) as ws:
        assert (await ws.cancel(TASK)).id == TASK
    async with make_client(Server(ok({"id": TASK, "model": I2V}))) as ws:
        assert (await ws.cancel(TASK)).status is Status.DELETED


@pytest.mark.parametrize(
    "step",
    [
        status(404, {"message": "task not found"}),
        lambda r: httpx.Response(200, json={"code": 404, "message": "task not found"}),
    ],
    ids=["http", "envelope"],
)
async def test_cancel_of_an_unknown_task_says_so_and_is_not_retried(step: Step) -> None:
    server = Server(step)
    async with make_client(server) as ws:
        error = await raised(ws.cancel(TASK))
    assert isinstance(error, TaskNotFound) and isinstance(error, BadRequestError)
    assert error.status_code == 404 and error.server_message == "task not found"
    assert "unknown, or already gone" in str(error) and TASK in str(error)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "failure",
    [drop(httpx.ConnectError), drop(httpx.ReadError), drop(httpx.ReadTimeout), status(502)],
    ids=["connect", "dropped", "read-timeout", "502"],
)
async def test_cancel_after_a_dropped_connection_is_sent_again(failure: Step) -> None:
    sleep = FakeSleep()
    server = Server(failure, ok({"id": TASK, "status": "deleted"}))
    async with make_client(server, sleep) as ws:
        stopped = await ws.cancel(TASK)
        assert ws.usage.cancels == 2
    assert stopped.status is Status.DELETED
    assert [r.method for r in server.requests] == ["DELETE", "DELETE"]
    assert len(sleep.delays) == 1


async def test_cancel_that_never_gets_through_is_a_connection_error() -> None:
    server = Server(drop(httpx.ConnectError))
    async with make_client(server) as ws:
        error = await raised(ws.cancel(TASK))
    assert isinstance(error, APIConnectionError) and len(server.requests) == MAX_GET_ATTEMPTS


@pytest.mark.parametrize("task_id", ["../balance", "a/b", "", "x y", ".."])
async def test_cancel_of_an_unsafe_task_id_is_never_sent(task_id: str) -> None:
    server = Server(ok(None))
    async with make_client(server) as ws:
        error = await raised(ws.cancel(task_id))
    assert isinstance(error, InvalidIdentifier) and server.requests == []


async def test_waiting_on_a_task_deleted_meanwhile_ends_as_a_deleted_failure() -> None:
    server = Server(ok({"id": TASK, "status": "deleted", "error": ""}))
    async with make_client(server) as ws:
        error = await raised(ws.wait(TASK, deadline_s=60))
    assert isinstance(error, TaskFailed) and error.status == "deleted"


# --------------------------------------------------------------------------- the key


FAILURES: dict[str, tuple[Step, str]] = {
    "catalog-401": (status(401, {"message": "invalid key"}), "models"),
    "catalog-envelope-403": (
        lambda r: httpx.Response(200, json={"code": 403, "message": "insufficient role"}),
        "models",
    ),
    "catalog-not-list": (ok({"x": 1}), "models"),
    "catalog-offline": (drop(httpx.ConnectError), "models"),
    "quote-eur": (ok({"price": 1, "currency": "EUR"}), "quote"),
    "quote-no-price": (ok({"price": "?"}), "quote"),
    "quote-not-served": (status(404), "quote"),
    "quote-500": (status(500, {"error": "boom"}), "quote"),
    "cancel-404": (status(404), "cancel"),
    "cancel-401": (status(401), "cancel"),
    "cancel-offline": (drop(httpx.ConnectError), "cancel"),
}


@pytest.mark.parametrize("name", FAILURES)
async def test_the_key_is_never_in_an_error_or_the_log(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    step, call = FAILURES[name]
    caplog.set_level(logging.DEBUG)
    async with make_client(Server(step)) as ws:
        calls = {
            "models": ws.models,
            "quote": lambda: ws.quote(I2V, {}),
            "cancel": lambda: ws.cancel(TASK),
        }
        error = await raised(calls[call]())
        assert KEY not in repr(ws)
    assert isinstance(error, WaveSpeedError) and str(error).strip()
    for text in (str(error), repr(error), getattr(error, "server_message", ""), caplog.text):
        assert KEY not in text and KEY[3:] not in text
