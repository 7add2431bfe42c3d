"""The app with a public address, end to end: runs are submitted with a webhook, the emulator
delivers it signed, the app checks it and looks once; forged, stale and duplicated
deliveries change nothing; a delivery that never comes is covered by the fallback poll, and
then the account polls as before.

The app is launched as `python app.py` launches it, with PLAYGROUND_PUBLIC_URL set to its
own loopback address (the emulator delivers only to loopback).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import LaunchedApp, launch_app, make_image

import wavespeed_client
from playground import emulator as emulator_module
from playground.flow import webhooks
from playground.flow.webhooks import PATH_PREFIX

KEY = "sk-webhook-owner"
INFERENCE_S = 1.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedApp]:
    root = tmp_path_factory.mktemp("webhooks")
    config = emulator_module.EmulatorConfig(inference_seconds=INFERENCE_S)
    with launch_app(
        root,
        make_image(root / "start.png"),
        {"WAVESPEED_API_KEY": KEY},
        emulator_config=config,
        webhooks=True,
    ) as app:
        yield app


def run_once(served: LaunchedApp) -> tuple[dict, dict[str, int], dict[str, int]]:
    """One /generate; its record, and the emulator's and the hub's counts it added."""
    hub = served.service.webhooks
    assert hub is not None
    before, verdicts = served.emulator.stats(), dict(hub.verdicts)
    video, record, _ = served.generate(served.client())
    assert Path(video).is_file() and record["status"] == "completed"
    after = served.emulator.stats()
    added = {k: after[k] - before.get(k, 0) for k in after}
    judged = {k: hub.verdicts[k] - verdicts.get(k, 0) for k in hub.verdicts}
    return record, added, {k: v for k, v in judged.items() if v}


def token_of(served: LaunchedApp) -> str:
    hub = served.service.webhooks
    assert hub is not None

    async def never() -> str:
        raise AssertionError("the secret is read once, at the first run")

    url = asyncio.run(hub.url_for("owner", never))
    assert url is not None
    return url.rsplit("/", 1)[1]


def test_a_run_is_delivered_by_webhook_and_looked_at_once(served: LaunchedApp) -> None:
    record, added, judged = run_once(served)
    task = served.emulator.emulator.tasks[record["id"]]
    assert task.webhook == f"{served.url}{PATH_PREFIX}{token_of(served)}"
    assert added["result_gets"] == 1  # the look the delivery asked for; no polling before
    assert added["webhooks_sent"] == 1 and judged == {"accepted": 1}
    # seen within a fraction of a second of the end, not at the 45 s fallback
    assert record["timings"]["wait_s"] < INFERENCE_S + 1.0
    assert KEY not in json.dumps(record)  # nor is the token's secret


def test_forged_and_stale_deliveries_are_refused_and_wake_nothing(served: LaunchedApp) -> None:
    faults = served.emulator.config.faults
    faults.webhook_forged, faults.webhook_stale = 1, 1
    _, added, judged = run_once(served)
    assert judged == {"forged": 1, "stale": 1, "accepted": 1}
    assert added["result_gets"] == 1 and added["webhooks_sent"] == 3


def test_a_duplicated_delivery_is_taken_once(served: LaunchedApp) -> None:
    served.emulator.config.faults.webhook_duplicate = 1
    _, added, judged = run_once(served)
    deadline = time.monotonic() + 5
    while served.service.webhooks.verdicts["duplicate"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # the copy comes 50 ms after the first
    assert served.service.webhooks.verdicts["duplicate"] >= 1
    assert added["result_gets"] == 1 and judged.get("accepted") == 1


def test_the_endpoint_answers_strangers_in_words_and_never_asks_wavespeed(
    served: LaunchedApp,
) -> None:
    run_once(served)  # the owner's account has an address by now
    token, before = token_of(served), served.emulator.stats()["result_gets"]
    url = f"{served.url}{PATH_PREFIX}{token}"
    body = json.dumps({"id": "0" * 32, "status": "completed"}).encode()
    stamp = str(int(time.time()))
    forged = hmac.new(b"guess", f"evt.{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"webhook-id": "evt", "webhook-timestamp": stamp, "webhook-signature": f"v3,{forged}"}
    answer = httpx.post(url, content=body, headers=headers, timeout=10)
    assert answer.status_code == 401 and "signature does not match" in answer.text
    assert httpx.post(url, content=body, timeout=10).status_code == 400
    assert httpx.get(url, timeout=10).status_code == 405
    unknown = httpx.post(f"{served.url}{PATH_PREFIX}{'x' * 24}", content=body, headers=headers)
    assert unknown.status_code == 404 and "No webhook is expected" in unknown.text
    big = httpx.post(url, content=b"{" + b" " * (webhooks.MAX_BODY_BYTES + 10) + b"}", timeout=10)
    assert big.status_code == 413
    assert served.emulator.stats()["result_gets"] == before
    assert served.get("/").status_code == 200  # Gradio's own routes are untouched


def test_lost_deliveries_are_covered_by_polling_then_webhooks_rest(
    served: LaunchedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wavespeed_client, "WEBHOOK_FALLBACK_FIRST_S", 2.0)
    monkeypatch.setattr(webhooks, "MISS_GRACE_S", 0.2)
    served.emulator.config.faults.webhook_drop = 1
    record, added, judged = run_once(served)
    assert judged == {} and added["webhooks_sent"] == 0
    assert added["result_gets"] == 1  # found by the fallback look, at 2 s
    assert INFERENCE_S < record["timings"]["wait_s"] < 2.0 + 1.0
    time.sleep(0.3)  # past the grace: that delivery is not coming
    record, added, judged = run_once(served)
    assert served.emulator.emulator.tasks[record["id"]].webhook is None
    assert judged == {} and added["result_gets"] >= 1  # polled as without webhooks
