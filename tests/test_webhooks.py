"""Webhook deliveries, checked the way WaveSpeed's docs say to check them
(wavespeed.ai/docs/docs-api/verifying_webhook): headers `webhook-id`, `webhook-timestamp`,
`webhook-signature: v3,<hex>`, the hex an HMAC-SHA256 over `{id}.{timestamp}.{raw body}`
keyed with the secret minus its `whsec_` prefix (not base64-decoded), at most 300 s old.

The signatures here are computed in the test from that rule, not by the app's code. The
client's side (the `?webhook=` submit, the secret, waking a wait) runs over a scripted
transport.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from typing import Any

import httpx
import pytest

from playground.flow import webhooks
from playground.flow.webhooks import MAX_BODY_BYTES, PATH_PREFIX, WebhookHub
from wavespeed_client import Status, WaveSpeedClient, fallback_delay

SECRET = "whsec_5f2b0c8e9d4a7b1c3e6f8a0b2d4c6e8f"
KEY = SECRET.removeprefix("whsec_").encode()
TASK = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"
NOW = 1_790_000_000.0


def sign(body: bytes, webhook_id: str, stamp: int, key: bytes = KEY) -> str:
    digest = hmac.new(key, f"{webhook_id}.{stamp}.".encode() + body, hashlib.sha256)
    return "v3," + digest.hexdigest()


def delivery(
    body: bytes | None = None, *, webhook_id: str = "evt-1", stamp: float = NOW, key: bytes = KEY
) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"id": TASK, "status": "completed"}).encode() if body is None else body
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(stamp)),
        "webhook-signature": sign(body, webhook_id, int(stamp), key),
        "content-type": "application/json",
    }
    return headers, body


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


async def linked(clock: Clock | None = None, secret: str = SECRET) -> tuple[WebhookHub, str]:
    """A hub and the token of the address it gave the owner's account."""
    hub = WebhookHub("https://play.example.org/", clock=clock or Clock())

    async def read_secret() -> str:
        return secret

    url = await hub.url_for("owner", read_secret)
    assert url is not None and url.startswith(f"https://play.example.org{PATH_PREFIX}")
    return hub, url.removeprefix(f"https://play.example.org{PATH_PREFIX}")


async def test_a_genuine_delivery_wakes_the_wait_for_its_task_once() -> None:
    hub, token = await linked()
    woken = hub.expect(TASK)
    headers, body = delivery()
    verdict = hub.receive(token, headers, body)
    assert verdict.accepted and verdict.message == "Received."
    await asyncio.wait_for(woken.wait(), 1)
    woken.clear()
    again = hub.receive(token, headers, body)  # the same webhook-id: a retry or a replay
    assert again.status == 200 and "ignored" in again.message
    await asyncio.sleep(0)
    assert not woken.is_set()


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"key": b"not-the-secret"}, 401, "signature does not match"),
        ({"stamp": NOW - 301}, 401, "too old"),
        ({"stamp": NOW + 301}, 401, "too old (or dated ahead)"),
    ],
)
async def test_forged_stale_and_future_deliveries_are_refused(
    change: dict[str, Any], status: int, words: str
) -> None:
    hub, token = await linked()
    woken = hub.expect(TASK)
    verdict = hub.receive(token, *delivery(**change))
    assert (verdict.status, words in verdict.message) == (status, True)
    await asyncio.sleep(0)
    assert not woken.is_set()
    # a refused delivery does not use up its id: the genuine one still gets in
    assert hub.receive(token, *delivery()).accepted


async def test_a_delivery_just_inside_300_s_is_accepted() -> None:
    hub, token = await linked()
    assert hub.receive(token, *delivery(stamp=NOW - 299)).accepted


async def test_the_body_is_signed_byte_for_byte() -> None:
    hub, token = await linked()
    headers, body = delivery()
    tampered = body.replace(b"completed", b"completed ")
    assert hub.receive(token, headers, tampered).status == 401
    # the secret is used as text: base64-decoding it would give another key
    import base64

    other = base64.b64decode(SECRET.removeprefix("whsec_") + "==")
    assert hub.receive(token, *delivery(key=other, webhook_id="evt-2")).status == 401


async def test_one_valid_signature_among_several_is_enough() -> None:
    hub, token = await linked()
    headers, body = delivery()
    headers["webhook-signature"] = f"v3,{'0' * 64} v1,abc {headers['webhook-signature']}"
    assert hub.receive(token, headers, body).accepted


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": "evt-1", "webhook-timestamp": "soon", "webhook-signature": "v3,00"},
        {"webhook-id": "", "webhook-timestamp": str(int(NOW)), "webhook-signature": "v3,00"},
        {"webhook-id": "x" * 201, "webhook-timestamp": str(int(NOW)), "webhook-signature": "v3,"},
        {"webhook-id": "evt-1", "webhook-timestamp": str(int(NOW))},
    ],
)
async def test_a_delivery_without_its_headers_is_refused_in_words(headers: dict) -> None:
    hub, token = await linked()
    verdict = hub.receive(token, headers, b"{}")
    assert verdict.status == 400 and "webhook-id" in verdict.message


async def test_an_address_this_process_never_gave_answers_404() -> None:
    hub, token = await linked()
    for other in ("", "../../etc/passwd", "A" * 30, token + "x", token[:-1]):
        assert hub.receive(other, *delivery()).status == 404


async def test_a_big_body_is_refused_before_its_signature_is_computed() -> None:
    hub, token = await linked()
    big = b"{" + b" " * MAX_BODY_BYTES + b"}"
    assert hub.receive(token, *delivery(big)).status == 413


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"code": 200, "message": "success", "data": {"id": TASK}}).encode(),
        json.dumps({"id": TASK, "status": "failed", "error": "bad image", "extra": [1]}).encode(),
    ],
)
async def test_a_prediction_bare_or_in_its_envelope_names_its_task(body: bytes) -> None:
    hub, token = await linked()
    woken = hub.expect(TASK)
    assert hub.receive(token, *delivery(body)).accepted
    await asyncio.wait_for(woken.wait(), 1)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"id": 7}',
        b'{"data": "x"}',
        "\udcff".encode("utf-8", "surrogatepass"),
    ],
)
async def test_a_genuine_delivery_naming_no_task_is_taken_and_ignored(body: bytes) -> None:
    hub, token = await linked()
    verdict = hub.receive(token, *delivery(body))
    assert verdict.status == 200 and "names no task" in verdict.message


async def test_a_delivery_before_the_wait_starts_is_not_lost() -> None:
    hub, token = await linked()
    assert hub.receive(token, *delivery()).accepted
    woken = hub.expect(TASK)
    assert woken.is_set()


async def test_a_delivery_received_in_another_loop_wakes_this_one() -> None:
    hub, token = await linked()
    woken = hub.expect(TASK)
    thread = threading.Thread(target=lambda: hub.receive(token, *delivery()))
    thread.start()
    thread.join()
    await asyncio.wait_for(woken.wait(), 1)


async def test_every_wait_for_one_task_is_woken_and_each_settles_alone() -> None:
    hub, token = await linked()
    page, recovery = hub.expect(TASK), hub.expect(TASK)
    hub.settle(TASK, page, "owner", ended=False)
    assert hub.receive(token, *delivery()).accepted
    await asyncio.wait_for(recovery.wait(), 1)
    await asyncio.sleep(0)
    assert not page.is_set()


async def test_each_account_has_its_own_address_and_secret() -> None:
    clock = Clock()
    hub = WebhookHub("https://play.example.org", clock=clock)

    async def owner_secret() -> str:
        return SECRET

    async def visitor_secret() -> str:
        return "whsec_visitors-own-secret"

    owner = await hub.url_for("owner", owner_secret)
    visitor = await hub.url_for("sha-of-their-key", visitor_secret)
    assert owner and visitor and owner != visitor
    visitor_token = visitor.rsplit("/", 1)[1]
    # the owner's signature does not open the visitor's address
    assert hub.receive(visitor_token, *delivery()).status == 401
    assert hub.receive(visitor_token, *delivery(key=b"visitors-own-secret")).accepted
    assert await hub.url_for("owner", owner_secret) == owner  # stable for the process


async def test_no_secret_means_polling_and_a_new_try_a_minute_later() -> None:
    clock = Clock()
    hub = WebhookHub("https://play.example.org", clock=clock)
    asked = 0

    async def failing() -> str:
        nonlocal asked
        asked += 1
        raise httpx.ConnectError("down")

    assert await hub.url_for("owner", failing) is None
    clock.now += webhooks.SECRET_RETRY_S - 1
    assert await hub.url_for("owner", failing) is None and asked == 1
    clock.now += 2
    assert await hub.url_for("owner", failing) is None and asked == 2

    async def working() -> str:
        return SECRET

    clock.now += webhooks.SECRET_RETRY_S + 1
    assert await hub.url_for("owner", working) is not None


async def test_deliveries_that_never_come_turn_webhooks_off_for_a_while() -> None:
    clock = Clock()
    hub, token = await linked(clock)

    async def secret() -> str:
        return SECRET

    # a run seen ended by polling; its delivery comes late but within the grace: fine
    woken = hub.expect("late-task")
    hub.settle("late-task", woken, "owner", ended=True)
    clock.now += webhooks.MISS_GRACE_S - 1
    late = json.dumps({"id": "late-task"}).encode()
    assert hub.receive(token, *delivery(late, stamp=clock.now)).accepted
    assert await hub.url_for("owner", secret) is not None
    # a wait that ended without the task ending (Stop waiting) expects nothing
    stopped = hub.expect("stopped-task")
    hub.settle("stopped-task", stopped, "owner", ended=False)
    # a run ended with no delivery at all: after the grace, the account polls for a while
    never = hub.expect("lost-task")
    hub.settle("lost-task", never, "owner", ended=True)
    clock.now += webhooks.MISS_GRACE_S + 1
    assert await hub.url_for("owner", secret) is None
    clock.now += webhooks.MISS_OFF_S

    async def regenerated() -> str:
        return "whsec_regenerated-after-a-leak"

    # the secret is read again: deliveries signed with a regenerated one verify
    assert await hub.url_for("owner", regenerated) is not None
    assert hub.receive(token, *delivery(stamp=clock.now, webhook_id="evt-9")).status == 401
    fresh = delivery(stamp=clock.now, webhook_id="evt-10", key=b"regenerated-after-a-leak")
    assert hub.receive(token, *fresh).accepted


# ------------------------------------------------------------------ the client's side


def scripted(statuses: list[str], seen: list[httpx.Request]) -> httpx.MockTransport:
    """Submit answers a task; each result GET the next status (the last repeats)."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/v3/webhook/secret":
            return httpx.Response(200, json={"code": 200, "data": {"secret": SECRET}})
        if request.method == "POST":
            data = {"id": TASK, "status": "created", "outputs": []}
        else:
            gets = sum(1 for r in seen if r.method == "GET" and "/predictions/" in r.url.path)
            status = statuses[min(gets, len(statuses)) - 1]
            data = {"id": TASK, "status": status, "outputs": ["https://cdn.test/v.mp4"]}
        return httpx.Response(200, json={"code": 200, "message": "success", "data": data})

    return httpx.MockTransport(handle)


async def test_submit_asks_for_the_webhook_and_the_secret_is_read() -> None:
    seen: list[httpx.Request] = []
    async with WaveSpeedClient(
        "sk-test", base_url="https://api.test", transport=scripted(["completed"], seen)
    ) as client:
        url = "https://play.example.org/webhooks/wavespeed/tok?x=1&y=2"
        await client.submit("bytedance/seedance-v1-lite-i2v-480p", {"image": "u"}, webhook=url)
        await client.submit("bytedance/seedance-v1-lite-i2v-480p", {"image": "u"})
        assert await client.webhook_secret() == SECRET
    with_hook, without = seen[0], seen[1]
    assert with_hook.url.params["webhook"] == url  # sent whole, encoded as a query value
    assert json.loads(with_hook.content) == {"image": "u"}
    assert "webhook" not in without.url.params
    assert seen[2].headers["authorization"] == "Bearer sk-test"


@pytest.mark.parametrize("data", [None, "", {"secret": ""}, {"other": "x"}, 42, ["whsec_x"]])
async def test_a_secret_in_an_odd_shape_is_an_error_in_words(data: Any) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"code": 200, "data": data})

    async with WaveSpeedClient(
        "sk-test", base_url="https://api.test", transport=httpx.MockTransport(handle)
    ) as client:
        with pytest.raises(Exception, match="polling instead"):
            await client.webhook_secret()


async def test_a_bare_string_secret_is_read_too() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"code": 200, "data": SECRET})

    async with WaveSpeedClient(
        "sk-test", base_url="https://api.test", transport=httpx.MockTransport(handle)
    ) as client:
        assert await client.webhook_secret() == SECRET


def test_the_fallback_schedule_is_slow_and_grows() -> None:
    assert fallback_delay(0.0, None, 0) == 45.0
    assert fallback_delay(10.0, 60.0, 0) == 80.0  # 1.5x the expected time, from the submit
    assert fallback_delay(100.0, 60.0, 0) == 0.0
    delays = [fallback_delay(0.0, None, n) for n in range(1, 12)]
    assert delays == sorted(delays) and delays[0] == 90.0 and delays[-1] == 300.0


async def test_a_wake_asks_for_the_result_at_once_and_nothing_else_is_asked() -> None:
    seen: list[httpx.Request] = []
    sleeps: list[float] = []
    woken = asyncio.Event()

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(seconds if seconds < 1 else 3600)  # the fallback never fires

    async with WaveSpeedClient(
        "sk-test", base_url="https://api.test", transport=scripted(["completed"], seen), sleep=sleep
    ) as client:
        waiting = asyncio.ensure_future(client.wait(TASK, woken=woken, started_at=time.monotonic()))
        await asyncio.sleep(0.05)
        assert not waiting.done() and not seen  # asleep on the fallback: no GET yet
        woken.set()
        prediction = await asyncio.wait_for(waiting, 2)
    assert prediction.status is Status.COMPLETED
    assert [r.url.path for r in seen] == [f"/api/v3/predictions/{TASK}/result"]
    assert sleeps == [pytest.approx(45.0, abs=0.5)]


async def test_a_wake_for_a_task_still_going_goes_back_to_the_fallback() -> None:
    seen: list[httpx.Request] = []
    woken = asyncio.Event()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:
            return  # the second fallback "passes" at once
        await asyncio.sleep(3600)

    async with WaveSpeedClient(
        "sk-test",
        base_url="https://api.test",
        transport=scripted(["processing", "completed"], seen),
        sleep=sleep,
    ) as client:
        waiting = asyncio.ensure_future(client.wait(TASK, woken=woken, started_at=time.monotonic()))
        await asyncio.sleep(0.02)
        woken.set()  # a wake whose GET still says processing
        prediction = await asyncio.wait_for(waiting, 2)
    assert prediction.status is Status.COMPLETED and len(seen) == 2
    assert slept == [pytest.approx(45.0, abs=0.5), 90.0]
