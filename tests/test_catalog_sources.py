"""The catalog, quotes and cancel over HTTP, written from the contract (../shared/WAVESPEED_API.md)
and WaveSpeed's CLI (which reads `price`/`discounted_price` at /model/price and caches the
catalog an hour per base): replies scripted with httpx.MockTransport, faults included.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from playground.flow.catalogs import Catalogs
from playground.flow.prices import Prices
from playground.model import catalog, seedance
from wavespeed_client import (
    APIConnectionError,
    APIStatusError,
    QuoteUnavailable,
    ServerError,
    Status,
    WaveSpeedClient,
)

KEY = "sk-CANARY-catalog-77"
BASE = "https://api.test"
TURBO = "bytedance/seedance-2.0-fast/image-to-video-turbo"


def ok(data: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"code": 200, "message": "success", "data": data})


def snapshot_entries() -> list[dict[str, Any]]:
    document = json.loads(catalog.SNAPSHOT.read_text(encoding="utf-8"))
    return document["models"]


def client(handler) -> WaveSpeedClient:
    ws = WaveSpeedClient(KEY, base_url=BASE, transport=httpx.MockTransport(handler))
    ws._sleep = lambda _s: asyncio.sleep(0)  # type: ignore[method-assign]
    return ws


# ---------------------------------------------------------------- the catalog


async def test_models_returns_the_envelopes_list_and_sends_the_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok(snapshot_entries())

    async with client(handler) as ws:
        models = await ws.models()
    assert len(models) == len(snapshot_entries())
    assert seen[0].url.path == "/api/v3/models"
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"


async def test_a_5xx_streak_then_the_catalog() -> None:
    replies = iter([httpx.Response(502), httpx.Response(503), ok(snapshot_entries())])
    async with client(lambda _r: next(replies)) as ws:
        assert await ws.models()


@pytest.mark.parametrize("data", [{"models": []}, None, "models"])
async def test_a_catalog_that_is_not_a_list_is_said_so(data: Any) -> None:
    async with client(lambda _r: ok(data)) as ws:
        with pytest.raises(ServerError, match="shape this app does not know"):
            await ws.models()


async def test_an_envelope_error_is_an_error_and_never_shows_the_key() -> None:
    body = {"code": 401, "message": f"invalid key {KEY[:6]}", "data": None}
    async with client(lambda _r: httpx.Response(200, json=body)) as ws:
        with pytest.raises(APIStatusError) as info:
            await ws.models()
    assert KEY not in str(info.value)


# ---------------------------------------------------------------- quotes


@pytest.mark.parametrize(
    ("data", "usd", "listed"),
    [
        ({"model_id": TURBO, "price": 1.2, "discounted_price": 1.08, "currency": "USD"}, 1.08, 1.2),
        ({"model_id": TURBO, "price": 1.2}, 1.2, 1.2),
        ({"model_id": TURBO, "unit_price": 0.6, "currency": "USD"}, 0.6, 0.6),
        ({"price": "0.75", "currency": "usd"}, 0.75, 0.75),
    ],
)
async def test_a_quote_reads_every_documented_reply(data: dict, usd: float, listed: float) -> None:
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return ok(data)

    async with client(handler) as ws:
        quote = await ws.quote(TURBO, {"duration": 5, "resolution": "1080p"})
    assert (quote.usd, quote.list_usd) == (pytest.approx(usd), pytest.approx(listed))
    assert sent == [{"model_id": TURBO, "inputs": {"duration": 5, "resolution": "1080p"}}]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"price": -1},
        {"price": "free"},
        {"price": "NaN"},
        {"price": True},
        {"price": 1.0, "currency": "EUR"},
        None,
    ],
)
async def test_a_quote_without_a_usable_dollar_price_is_no_quote(data: Any) -> None:
    async with client(lambda _r: ok(data)) as ws:
        with pytest.raises(QuoteUnavailable):
            await ws.quote(TURBO, {})


async def test_the_older_pricing_path_is_used_where_price_is_not_served_and_remembered() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path == "/api/v3/model/price":
            return httpx.Response(404, json={"message": "not found"})
        return ok({"unit_price": 0.6, "currency": "USD"})

    async with client(handler) as ws:
        assert (await ws.quote(TURBO, {})).usd == 0.6
        assert (await ws.quote(TURBO, {"duration": 6})).usd == 0.6
    assert paths == ["/api/v3/model/price", "/api/v3/model/pricing", "/api/v3/model/pricing"]


async def test_a_quote_for_an_unsafe_model_id_is_never_sent() -> None:
    sent: list[httpx.Request] = []
    async with client(lambda r: sent.append(r) or ok({})) as ws:
        with pytest.raises(ValueError, match="not a WaveSpeed model id"):
            await ws.quote("a/../balance", {})
    assert sent == []


async def test_a_slow_quote_gives_up_quickly() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with client(handler) as ws:
        with pytest.raises(APIConnectionError, match="did not answer in time"):
            await ws.quote(TURBO, {})


# ---------------------------------------------------------------- cancel


async def test_cancel_deletes_the_task_and_reads_its_status() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok({"id": "t1", "model": TURBO, "status": "deleted", "outputs": []})

    async with client(handler) as ws:
        gone = await ws.cancel("t1")
    assert (seen[0].method, seen[0].url.path) == ("DELETE", "/api/v3/predictions/t1")
    assert gone.status is Status.DELETED


async def test_cancel_after_a_dropped_connection_is_sent_again() -> None:
    calls = iter([httpx.ConnectError("reset"), ok(None)])

    def handler(request: httpx.Request) -> httpx.Response:
        reply = next(calls)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async with client(handler) as ws:
        gone = await ws.cancel("t2")
    assert gone.id == "t2" and gone.status is Status.DELETED


async def test_cancel_of_an_unknown_task_says_so() -> None:
    async with client(lambda _r: httpx.Response(404, json={"message": "no such task"})) as ws:
        with pytest.raises(APIStatusError, match="knows no task t3"):
            await ws.cancel("t3")


# ---------------------------------------------------------------- where the catalog comes from


class Lister:
    """A client whose catalog answers are scripted: a list, or an exception to raise."""

    def __init__(self, *answers: Any, delay: float = 0.0) -> None:
        self.answers = list(answers)
        self.calls = 0
        self.delay = delay

    async def models(self) -> list[dict[str, Any]]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_cold_load_reads_live_and_writes_the_cache(tmp_path: Path) -> None:
    lister = Lister(snapshot_entries())
    models = await Catalogs(tmp_path).load(BASE, lister)
    assert models.source == "live" and lister.calls == 1
    assert models.get(TURBO) is not None
    # a restart within the hour reads the disk, not WaveSpeed
    again = Lister(RuntimeError("must not be asked"))
    cached = await Catalogs(tmp_path).load(BASE, again)
    assert cached.source == "cache" and again.calls == 0 and "cached" in cached.note


async def test_a_stale_cache_and_a_failing_fetch_keep_the_cache_with_its_age(
    tmp_path: Path,
) -> None:
    clock = Clock()
    await Catalogs(tmp_path, clock=clock).load(BASE, Lister(snapshot_entries()))
    clock.now += 2 * 3600
    later = Catalogs(tmp_path, clock=clock)
    models = await later.load(BASE, Lister(APIConnectionError("WaveSpeed could not be reached")))
    assert models.source == "cache" and "cached 120 min ago" in models.note


async def test_no_cache_and_no_answer_fall_back_to_the_snapshot_saying_why(
    tmp_path: Path,
) -> None:
    catalogs = Catalogs(tmp_path)
    models = await catalogs.load(BASE, Lister(APIConnectionError("WaveSpeed could not be reached")))
    assert models.source == "snapshot"
    assert "could not be read: WaveSpeed could not be reached" in models.note
    assert catalogs.current(BASE).source == "snapshot"


async def test_each_api_base_has_its_own_catalog(tmp_path: Path) -> None:
    catalogs = Catalogs(tmp_path)
    only_turbo = [e for e in snapshot_entries() if e["model_id"] == TURBO]
    await catalogs.load(BASE, Lister(only_turbo))
    assert list(catalogs.current(BASE).models) == [TURBO]
    assert catalogs.current("https://other.test").source == "snapshot"


@pytest.mark.parametrize("content", ["{not json", '{"base_url": "https://api.test"}', "[]"])
async def test_a_damaged_cache_file_is_ignored(tmp_path: Path, content: str) -> None:
    catalogs = Catalogs(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    catalogs._cache_file(BASE).write_text(content)
    assert catalogs.current(BASE).source == "snapshot"


async def test_a_cache_of_another_base_is_not_used(tmp_path: Path) -> None:
    catalogs = Catalogs(tmp_path)
    await catalogs.load(BASE, Lister(snapshot_entries()))
    foreign = json.loads(catalogs._cache_file(BASE).read_text())
    other = "https://other.test"
    catalogs._cache_file(other).write_text(json.dumps(foreign))  # says BASE inside
    assert Catalogs(tmp_path).current(other).source == "snapshot"


async def test_a_live_catalog_without_image_to_video_models_is_not_taken(tmp_path: Path) -> None:
    catalogs = Catalogs(tmp_path)
    await catalogs.load(BASE, Lister(snapshot_entries()))
    text_only = [e for e in snapshot_entries() if e["type"] == "text-to-video"]
    clock = Clock()
    catalogs._clock = clock
    clock.now += 7200
    models = await catalogs.load(BASE, Lister(text_only))
    assert models.get(TURBO) is not None  # the previous one stays


async def test_one_background_refresh_at_a_time(tmp_path: Path) -> None:
    catalogs = Catalogs(tmp_path)
    lister = Lister(snapshot_entries(), delay=0.05)
    for _ in range(20):
        catalogs.refresh_soon(BASE, lister)
    await asyncio.sleep(0.2)
    assert lister.calls == 1 and catalogs.current(BASE).source == "live"
    catalogs.refresh_soon(BASE, lister)  # fresh and live: nothing to do
    await asyncio.sleep(0.01)
    assert lister.calls == 1


# ---------------------------------------------------------------- quotes for the page


class Quoter:
    base_url = BASE

    def __init__(self, *answers: Any, delay: float = 0.0) -> None:
        self.answers = list(answers)
        self.asked: list[dict] = []
        self.delay = delay

    async def quote(self, model_id: str, inputs: dict[str, Any]) -> Any:
        self.asked.append(inputs)
        await asyncio.sleep(self.delay)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return type("Q", (), {"usd": answer})()


def turbo(**inputs: Any) -> seedance.SeedanceRequest:
    return seedance.request(TURBO, **{"image": "x.png", "prompt": "go", **inputs})


async def test_a_quote_is_asked_once_per_price_and_reused_whatever_else_changes() -> None:
    prices, quoter = Prices(), Quoter(1.08)
    first = await prices.price(quoter, turbo(duration=5, resolution="1080p"))
    assert (first.usd, first.quoted) == (1.08, True)
    again = await prices.price(quoter, turbo(duration=5, resolution="1080p", prompt="other"))
    assert again.usd == 1.08 and len(quoter.asked) == 1  # the prompt does not move the price
    assert quoter.asked[0] == {"prompt": "go", "duration": 5, "resolution": "1080p"}
    await prices.price(quoter, turbo(duration=6, resolution="1080p"))
    assert len(quoter.asked) == 2


async def test_many_labels_at_once_ask_once() -> None:
    prices, quoter = Prices(), Quoter(0.6, delay=0.05)
    results = await asyncio.gather(*(prices.price(quoter, turbo(duration=5)) for _ in range(10)))
    assert {r.usd for r in results} == {0.6} and len(quoter.asked) == 1


async def test_a_failing_quote_endpoint_gives_the_estimate_and_is_not_hammered() -> None:
    prices, quoter = Prices(), Quoter(APIConnectionError("down"))
    price = await prices.price(quoter, turbo(duration=5, resolution="1080p"))
    assert (price.usd, price.quoted) == (pytest.approx(1.2), False)  # the formula's
    await prices.price(quoter, turbo(duration=5, resolution="1080p"))
    assert len(quoter.asked) == 1  # remembered for a while


async def test_a_slow_quote_gives_the_estimate_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from playground.flow import prices as prices_module

    monkeypatch.setattr(prices_module, "QUOTE_WAIT_S", 0.05)
    prices, quoter = Prices(), Quoter(0.5, delay=0.3)
    price = await prices.price(quoter, turbo(duration=5))
    assert (price.usd, price.quoted) == (pytest.approx(0.6), False)
    await asyncio.sleep(0.4)  # the quote still lands, for the next label
    assert (await prices.price(quoter, turbo(duration=5))).usd == 0.5


async def test_a_model_without_a_price_anywhere_is_unknown() -> None:
    two_five = seedance.request("bytedance/seedance-2.5/image-to-video", image="x", prompt="go")
    price = await Prices().price(Quoter(QuoteUnavailable("no price")), two_five)
    assert price.usd is None and not price.known


# ---------------------------------------------------------------- against the emulator


@pytest.mark.parametrize("shape", ["api_schemas", "openapi"])
async def test_the_emulator_s_catalog_reads_the_same_in_either_shape(emulator, shape: str) -> None:
    emulator.config.catalog_shape = shape
    async with WaveSpeedClient("k", base_url=emulator.base_url) as ws:
        served = catalog.parse(await ws.models())
    bundled = catalog.snapshot()
    assert set(served.models) == set(bundled.models)
    assert served.get(TURBO).fields == bundled.get(TURBO).fields


async def test_quotes_from_the_emulator_follow_the_formula_up_down_and_slow(emulator) -> None:
    request = turbo(duration=5, resolution="1080p")
    async with WaveSpeedClient("k", base_url=emulator.base_url) as ws:
        up = await Prices().price(ws, request)
        assert (up.usd, up.quoted) == (pytest.approx(1.2), True)
        emulator.config.faults.quote_5xx = 5  # down: a 503 streak
        down = await Prices().price(ws, request)
        assert (down.usd, down.quoted) == (pytest.approx(1.2), False)  # the estimate
        emulator.config.faults.quote_5xx = 0
        emulator.config.faults.quote_delay_s = 6.0  # slower than a label waits
        slow = await Prices().price(ws, request)
        assert (slow.usd, slow.quoted) == (pytest.approx(1.2), False)
