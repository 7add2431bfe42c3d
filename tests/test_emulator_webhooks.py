"""The emulator's webhooks, against WaveSpeed's contract: a submit's `?webhook=<url>` gets
the final prediction POSTed, signed `v3,<hex>` = HMAC-SHA256(secret after `whsec_`,
"{webhook-id}.{webhook-timestamp}." + body), with the secret of GET /api/v3/webhook/secret
(wavespeed.ai/docs/docs-api/verifying_webhook); refused deliveries are retried; faults.

Signatures are checked here with hashlib/hmac, never with the emulator's own signing code.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from conftest import free_port
from PIL import Image

from playground.emulator import EmulatorConfig, RunningEmulator, start_in_thread

MODEL = "bytedance/seedance-v1-lite-i2v-480p"
KEY = "test-key"
OTHER_KEY = "other-key"
DEADLINE_S = 20  # generous for a loaded machine; a passing test waits far less
QUIET_S = 0.3  # how long "nothing more arrives" is watched for
TOLERANCE_S = 300  # receivers must reject deliveries older than this (WaveSpeed's docs)


def _png() -> str:
    import base64

    buf = io.BytesIO()
    Image.new("RGB", (320, 320), (30, 120, 200)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


IMAGE = _png()


# ---------------------------------------------------------------- a receiver on loopback


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: float  # time.monotonic() on arrival
    wall: float  # time.time() on arrival

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def timestamp(self) -> int:
        return int(self.headers["webhook-timestamp"])

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """Records every POST; answers 500 to the first `fail_next`, then 200."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.fail_next = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.deliveries.append(
                        Delivery(headers, body, time.monotonic(), time.time())
                    )
                    failing = receiver.fail_next > 0
                    receiver.fail_next -= failing
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(  # a short poll: shutdown() waits for one
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def wait(self, count: int) -> list[Delivery]:
        """The deliveries, once there are at least `count`."""
        wait_until(lambda: len(self.deliveries) >= count, f"{count} deliveries")
        return list(self.deliveries)

    def quiet(self, count: int) -> list[Delivery]:
        """The deliveries, after checking no more than `count` arrive meanwhile."""
        deliveries = self.wait(count)
        time.sleep(QUIET_S)  # absence can only be watched for; this cannot fail spuriously
        assert len(self.deliveries) == count, self.deliveries
        return deliveries

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {DEADLINE_S}s")
        time.sleep(0.01)


def signature(secret: str, delivery: Delivery) -> str:
    """What a receiver computes, following WaveSpeed's docs."""
    key = secret.removeprefix("whsec_").encode()
    message = f"{delivery.id}.{delivery.headers['webhook-timestamp']}.".encode() + delivery.body
    return "v3," + hmac.new(key, message, hashlib.sha256).hexdigest()


def verifies(secret: str, delivery: Delivery) -> bool:
    return hmac.compare_digest(signature(secret, delivery), delivery.headers["webhook-signature"])


def fresh(delivery: Delivery) -> bool:
    return abs(delivery.wall - delivery.timestamp) <= 5


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with start_in_thread(EmulatorConfig(inference_seconds=0.3, jitter=0.0)) as running:
        yield running


@pytest.fixture
def api(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def submit(api: httpx.Client, webhook: str | None, **headers: str) -> httpx.Response:
    params = {} if webhook is None else {"webhook": webhook}
    body = {"image": IMAGE, "duration": 2, "seed": 1}
    return api.post(f"/api/v3/{MODEL}", params=params, json=body, headers=headers)


def submitted(api: httpx.Client, webhook: str | None, **headers: str) -> str:
    response = submit(api, webhook, **headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def secret_of(api: httpx.Client, key: str = KEY) -> str:
    response = api.get("/api/v3/webhook/secret", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.json()["data"]["secret"]


def result(api: httpx.Client, task_id: str) -> dict[str, Any]:
    return api.get(f"/api/v3/predictions/{task_id}/result").json()["data"]


def failing_tasks(emulator: RunningEmulator) -> None:
    """Tasks end "failed" on schedule, without rendering: enough where only delivery matters."""
    emulator.config.faults.fail_code = 5000
    emulator.config.faults.fail_message = "internal error"


# ---------------------------------------------------------------- the secret


def test_secret_endpoint_gives_each_key_its_own_stable_secret(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    response = api.get("/api/v3/webhook/secret")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"code", "message", "data"}
    assert (body["code"], body["message"], list(body["data"])) == (200, "success", ["secret"])
    secret = body["data"]["secret"]
    assert re.fullmatch(r"whsec_[0-9a-f]{48}", secret)
    assert secret_of(api) == secret
    other = secret_of(api, OTHER_KEY)
    assert re.fullmatch(r"whsec_[0-9a-f]{48}", other) and other != secret
    assert emulator.emulator.webhook_secret(KEY) == secret
    assert emulator.emulator.webhook_secret(OTHER_KEY) == other
    assert httpx.get(emulator.base_url + "/api/v3/webhook/secret").status_code == 401


# ---------------------------------------------------------------- deliveries


def test_completed_task_is_delivered_once_signed_with_its_result(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    task_id = submitted(api, receiver.url)
    [delivery] = receiver.quiet(1)
    task = emulator.emulator.tasks[task_id]
    assert task.done_at is not None
    assert -0.05 < delivery.at - task.done_at < 0.3
    assert delivery.headers["content-type"] == "application/json"
    assert re.fullmatch(r"[0-9a-f]{32}", delivery.id)
    assert fresh(delivery)
    assert delivery.headers["webhook-signature"].startswith("v3,")
    assert verifies(secret_of(api), delivery)
    assert not verifies(secret_of(api, OTHER_KEY), delivery)
    data = delivery.json()
    assert data["status"] == "completed" and data["id"] == task_id
    assert data["outputs"] == [f"{emulator.base_url}/outputs/{task_id}.mp4"]
    assert data == result(api, task_id)
    assert emulator.stats()["webhooks_sent"] == 1
    assert emulator.stats()["webhooks_failed"] == 0


def test_failed_task_is_delivered(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    emulator.config.faults.fail_code = 1200
    emulator.config.faults.fail_message = "content flagged by moderation"
    task_id = submitted(api, receiver.url)
    [delivery] = receiver.wait(1)
    assert verifies(secret_of(api), delivery)
    data = delivery.json()
    assert (data["status"], data["code"], data["error"]) == (
        "failed",
        1200,
        "content flagged by moderation",
    )
    assert data == result(api, task_id)


def test_cancelled_task_is_delivered_as_deleted(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    emulator.config.faults.never_finish = True
    task_id = submitted(api, receiver.url)
    assert api.delete(f"/api/v3/predictions/{task_id}").status_code == 200
    [delivery] = receiver.quiet(1)
    assert verifies(secret_of(api), delivery)
    data = delivery.json()
    assert data["status"] == "deleted" and data["outputs"] == []
    assert data == result(api, task_id)


def test_each_account_signs_with_its_own_secret(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    failing_tasks(emulator)
    mine = submitted(api, receiver.url)
    theirs = submitted(api, receiver.url, Authorization=f"Bearer {OTHER_KEY}")
    deliveries = {d.json()["id"]: d for d in receiver.wait(2)}
    assert verifies(secret_of(api), deliveries[mine])
    assert not verifies(secret_of(api), deliveries[theirs])
    assert verifies(secret_of(api, OTHER_KEY), deliveries[theirs])


def test_no_webhook_parameter_no_delivery(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    failing_tasks(emulator)
    silent = submitted(api, None)
    wait_until(lambda: result(api, silent)["status"] == "failed", "end of the silent task")
    announced = submitted(api, receiver.url)
    [delivery] = receiver.quiet(1)
    assert delivery.json()["id"] == announced
    assert emulator.stats()["webhooks_sent"] == 1


def test_webhook_is_due_even_when_the_submit_reply_is_lost(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    failing_tasks(emulator)
    emulator.config.faults.drop_after_accept = 1
    with pytest.raises(httpx.TransportError):
        submit(api, receiver.url)
    [delivery] = receiver.wait(1)
    assert delivery.json()["id"] in emulator.emulator.tasks


# ---------------------------------------------------------------- retries


def test_refused_delivery_is_retried_under_the_same_id(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    failing_tasks(emulator)
    receiver.fail_next = 2
    submitted(api, receiver.url)
    first, second, third = receiver.quiet(3)
    assert first.id == second.id == third.id
    assert first.body == second.body == third.body
    secret = secret_of(api)
    assert all(verifies(secret, d) and fresh(d) for d in (first, second, third))
    assert 0.45 <= second.at - first.at < 0.9
    assert 0.95 <= third.at - second.at < 1.5
    assert emulator.stats()["webhooks_sent"] == 3
    assert emulator.stats()["webhooks_failed"] == 0


def test_delivery_is_given_up_after_three_retries(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    failing_tasks(emulator)
    receiver.fail_next = 100
    submitted(api, receiver.url)
    wait_until(lambda: emulator.stats()["webhooks_failed"] == 1, "given-up delivery")
    deliveries = receiver.quiet(4)
    assert len({d.id for d in deliveries}) == 1
    assert 1.9 <= deliveries[3].at - deliveries[2].at < 2.6
    assert emulator.stats()["webhooks_sent"] == 4


def test_unreachable_receiver_is_retried_then_given_up(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    failing_tasks(emulator)
    submitted(api, f"http://127.0.0.1:{free_port()}/hook")  # nothing listens there
    started = time.monotonic()
    wait_until(lambda: emulator.stats()["webhooks_failed"] == 1, "given-up delivery")
    assert time.monotonic() - started >= 3.0  # 0.5 + 1 + 2 s between the four attempts
    assert emulator.stats()["webhooks_sent"] == 0


# ---------------------------------------------------------------- faults


def test_fault_drop_delivers_nothing(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    failing_tasks(emulator)
    emulator.config.faults.webhook_drop = 1
    dropped = submitted(api, receiver.url)
    wait_until(lambda: emulator.config.faults.webhook_drop == 0, "drop used up")
    delivered = submitted(api, receiver.url)
    [delivery] = receiver.quiet(1)
    assert delivery.json()["id"] == delivered != dropped
    assert emulator.stats()["webhooks_sent"] == 1


def test_fault_duplicate_delivers_the_same_event_twice(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    failing_tasks(emulator)
    emulator.config.faults.webhook_duplicate = 1
    submitted(api, receiver.url)
    first, second = receiver.quiet(2)
    assert first.id == second.id and first.body == second.body
    assert second.at - first.at >= 0.04
    secret = secret_of(api)
    assert verifies(secret, first) and verifies(secret, second)
    assert emulator.config.faults.webhook_duplicate == 0


def test_fault_forged_sends_a_wrongly_signed_copy_first(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    failing_tasks(emulator)
    emulator.config.faults.webhook_forged = 1
    submitted(api, receiver.url)
    forged, genuine = receiver.quiet(2)
    secret = secret_of(api)
    assert forged.body == genuine.body and forged.id != genuine.id
    assert forged.headers["webhook-signature"].startswith("v3,")
    assert not verifies(secret, forged) and fresh(forged)
    assert verifies(secret, genuine) and fresh(genuine)


def test_fault_stale_sends_a_replayed_copy_first(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    failing_tasks(emulator)
    emulator.config.faults.webhook_stale = 1
    submitted(api, receiver.url)
    stale, genuine = receiver.quiet(2)
    secret = secret_of(api)
    assert stale.body == genuine.body and stale.id != genuine.id
    assert verifies(secret, stale)
    assert stale.wall - stale.timestamp > TOLERANCE_S
    assert verifies(secret, genuine) and fresh(genuine)


def test_fault_delay_holds_every_delivery(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    failing_tasks(emulator)
    emulator.config.faults.webhook_delay_s = 0.6
    ids = [submitted(api, receiver.url), submitted(api, receiver.url)]
    deliveries = {d.json()["id"]: d for d in receiver.wait(2)}
    for task_id in ids:
        done_at = emulator.emulator.tasks[task_id].done_at
        assert done_at is not None
        assert 0.6 <= deliveries[task_id].at - done_at < 0.9


# ---------------------------------------------------------------- refused URLs and config


@pytest.mark.parametrize(
    "webhook",
    [
        "http://example.com/hook",
        "https://10.0.0.1/hook",
        "http://0.0.0.0:{port}/hook",  # reaches this machine on Linux: not on the list
        "ftp://127.0.0.1/hook",
        "127.0.0.1:{port}/hook",
        "",
        "http://127.0.0.1:{port}/" + "x" * 2048,
    ],
)
def test_bad_or_remote_webhook_url_is_refused_without_a_task(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver, webhook: str
) -> None:
    response = submit(api, webhook.format(port=receiver.port))
    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert "webhook" in response.json()["message"]
    assert emulator.stats()["tasks"] == 0


def test_config_patch_takes_the_webhook_settings(
    api: httpx.Client, emulator: RunningEmulator, receiver: Receiver
) -> None:
    admin = emulator.base_url + "/__emulator__/config"
    for bad in ({"webhook_any_host": 1}, {"faults": {"webhook_drop": True}}):
        assert httpx.post(admin, json=bad).status_code == 400
    patch = {
        "webhook_any_host": True,
        "faults": {"fail_code": 5000, "webhook_duplicate": 1, "webhook_delay_s": 0},
    }
    response = httpx.post(admin, json=patch)
    assert response.status_code == 200, response.text
    assert response.json()["webhook_any_host"] is True
    assert response.json()["faults"]["webhook_duplicate"] == 1
    # Not a loopback name, so refused by default; accepted now (Linux routes it to loopback).
    submitted(api, f"http://0.0.0.0:{receiver.port}/hook")
    first, second = receiver.quiet(2)
    assert first.id == second.id
