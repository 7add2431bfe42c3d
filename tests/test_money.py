"""No one spends a cent more than they meant to: model ids, API paths and unknown prices.

A model id reaches WaveSpeed only when it is, character for character, one the app offers;
every path the client builds is made of plain segments, so no value (a model id, a task id)
can make a request reach another path on the API host; and the owner's key is never spent on
a run whose price cannot be known, since a cap cannot hold what it cannot price.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest
from conftest import UIs, form, make_image, price_of, public_server

from playground.emulator import RunningEmulator
from playground.flow import generation
from playground.flow.generation import (
    DurationStats,
    ImageInput,
    Pacer,
    RunContext,
    RunRecord,
    Stage,
    UploadCache,
)
from playground.flow.session import Session
from playground.model import catalog, seedance
from playground.model.form import Form
from playground.ui.handlers import Handlers
from wavespeed_client import BadRequestError, InvalidIdentifier, WaveSpeedClient, model_path

OWNER_KEY = "sk-OWNER-0c4f"
PRO_1080P = "bytedance/seedance-v1-pro-i2v-1080p"
# The same model as the app offers it, spelled so that a URL normaliser would still reach it
# while a price table keyed by the exact id would not find it.
RESPELLED = [
    "bytedance/./seedance-v1-pro-i2v-1080p",
    "bytedance/seedance-v1-pro-i2v-1080p/",
    "/bytedance/seedance-v1-pro-i2v-1080p",
    "bytedance//seedance-v1-pro-i2v-1080p",
    " bytedance/seedance-v1-pro-i2v-1080p",
    "bytedance/seedance-v1-pro-i2v-1080p\n",
    "Bytedance/Seedance-v1-pro-i2v-1080p",
    "bytedance/seedance-v1-pro-i2v-1080p?x=1",
]
STEERING = [
    "a/../../../api/v3/balance",
    "bytedance/../../predictions/abc/result",
    "bytedance/%2e%2e/%2e%2e/balance",
    "bytedance/..",
    "bytedance/seedance\\..\\x",
    "bytedance/seedance#frag",
    "bytedance/séedance",
]


@pytest.fixture
def start_image(tmp_path: Path) -> Path:
    return make_image(tmp_path / "start.png", (640, 360))


@pytest.fixture
def demo_key(env: Path, monkeypatch: pytest.MonkeyPatch, emulator: RunningEmulator) -> Path:
    """A public server spending the owner's key within $1 a day, as a Space would."""
    emulator.config.api_keys = frozenset({OWNER_KEY})
    limits = dict(DAILY_USD="1", MAX_DURATION="5", RUNS_PER_SESSION="50", RUNS_PER_HOUR="50")
    public_server(monkeypatch, emulator, OWNER_KEY, **limits)
    return env


async def drive(ui: Handlers, session: Session, image: Path, **overrides: Any) -> list[tuple]:
    inputs = form(image) | overrides
    return [out async for out in ui.generate(**inputs, session=session)]


# ---------------------------------------------------------------- the client's paths


@pytest.mark.parametrize("model", [*RESPELLED[:4], *STEERING, "", "bytedance", "a/b/c/d/e"])
async def test_a_model_id_that_is_not_plain_path_segments_is_never_sent(model: str) -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(500))
    async with WaveSpeedClient("k", base_url="https://api.test", transport=transport) as ws:
        with pytest.raises(InvalidIdentifier, match="not a WaveSpeed model id"):
            await ws.submit(model, {"prompt": "x"})
    assert sent == []


@pytest.mark.parametrize(
    "model", [seedance.DEFAULT_MODEL, PRO_1080P, "bytedance/seedance-2.0/image-to-video"]
)
def test_real_model_ids_map_to_their_own_path(model: str) -> None:
    assert model_path(model) == f"/api/v3/{model}"


@pytest.mark.parametrize("task_id", ["../balance", "a/b", "x/../../y", "", ".", "id?x=1"])
async def test_a_task_id_that_is_not_one_plain_segment_is_never_polled(task_id: str) -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(500))
    async with WaveSpeedClient("k", base_url="https://api.test", transport=transport) as ws:
        with pytest.raises(InvalidIdentifier, match="not a task id"):
            await ws.get(task_id)
    assert sent == []


# ---------------------------------------------------------------- the form


@pytest.mark.parametrize("model", [*RESPELLED, *STEERING])
def test_only_a_model_the_app_offers_is_accepted_as_spelled(model: str) -> None:
    with pytest.raises(seedance.InvalidRequest) as info:
        Form.of(model, image="start.png").request(catalog.snapshot(), seedance.DEFAULT_MODEL)
    message = str(info.value)
    assert "is not offered here" in message and "list_models" in message


def test_the_owners_model_setting_is_the_default_when_the_catalog_has_it() -> None:
    models = catalog.snapshot()
    request = Form.of("", image="start.png", duration=5).request(models, PRO_1080P)
    assert request.model == PRO_1080P
    with pytest.raises(seedance.InvalidRequest, match="is not offered here"):
        Form.of("", image="start.png").request(models, "someone/new-model")


# ---------------------------------------------------------------- the owner's key on a Space


async def test_a_respelled_model_cannot_slip_past_the_cap_on_the_owners_key(
    demo_key: Path, emulator: RunningEmulator, start_image: Path, uis: UIs
) -> None:
    """Spelled otherwise, a model once had no price, so its hold was $0 and the cap never
    filled, while the request still reached the paid model."""
    ui = uis()
    for model in RESPELLED:
        with pytest.raises(gr.Error) as info:
            await drive(ui, ui.service.new_session(), start_image, model=model, duration=5)
        assert "is not offered here" in info.value.message, model
    assert emulator.stats()["uploads"] == emulator.stats()["submits"] == 0
    assert ui.service.store.list() == []
    assert "$1.00 of $1.00 left today" in ui.backend_banner(ui.service.new_session())


async def test_the_cap_holds_for_the_dearest_model_spelled_right(
    demo_key: Path, emulator: RunningEmulator, start_image: Path, uis: UIs
) -> None:
    ui = uis()
    assert price_of(PRO_1080P, 5) == pytest.approx(0.75)  # one fits in $1, two do not
    (_, record, _) = (
        await drive(ui, ui.service.new_session(), start_image, model=PRO_1080P, duration=5)
    )[-1]
    assert record["cost_usd"] == pytest.approx(0.75)
    with pytest.raises(gr.Error, match=r"spent its \$1\.00 for today"):
        await drive(ui, ui.service.new_session(), start_image, model=PRO_1080P, duration=5)
    assert emulator.stats()["submits"] == 1


async def test_the_owners_key_is_not_spent_on_a_model_without_a_price(
    demo_key: Path,
    emulator: RunningEmulator,
    start_image: Path,
    uis: UIs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEEDANCE_MODEL", "bytedance/seedance-2.5/image-to-video")  # no price
    ui = uis()
    with pytest.raises(gr.Error) as info:
        await drive(ui, ui.service.new_session(), start_image, model="", duration=5)
    assert "price is not known" in info.value.message
    assert "your own WaveSpeed key" in info.value.message
    assert emulator.stats()["uploads"] == emulator.stats()["submits"] == 0


# ---------------------------------------------------------------- pacing


async def test_a_refused_submit_uses_no_slot_of_the_accounts_rate_limit(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    """Two refused submits on a bronze account (2 a minute) once stalled the next visitor
    for a minute: a request the API refuses creates no task and counts toward no limit."""
    image = ImageInput(data=make_image(tmp_path / "s.png", (640, 360)).read_bytes())
    pacer = Pacer(2)
    async with WaveSpeedClient("k", base_url=emulator.base_url) as client:
        ctx = RunContext(
            client=client,
            uploads=UploadCache(),
            output_dir=tmp_path,
            stats=DurationStats(),
            backend="emulator",
            pacer=pacer,
        )
        lite = seedance.request(image="s.png", duration=2)
        unknown = replace(lite, model="bytedance/seedance-v9-ultra")  # the server refuses it
        for _ in range(2):
            with pytest.raises(BadRequestError):
                async for _item in generation.run(ctx, unknown, image, None):
                    pass
        assert pacer.delay() == 0  # both slots are free again
        good = seedance.request(image="s.png", duration=2)
        stages = [item async for item in generation.run(ctx, good, image, None)]
    assert Stage.RATE_LIMITED not in [getattr(s, "stage", None) for s in stages]
    assert isinstance(stages[-1], RunRecord) and stages[-1].status == "completed"


# ---------------------------------------------------------------- unknown outcomes


async def test_a_submit_with_no_answer_counts_as_billed_and_is_recorded(
    demo_key: Path, emulator: RunningEmulator, start_image: Path, uis: UIs
) -> None:
    """The connection dropped after the request went out: a task may exist and be billed.
    It once released its hold and left no row; now every cap counts it and History says
    what to do."""
    ui = uis()
    session = ui.service.new_session()
    emulator.config.faults.drop_after_accept = 1
    with pytest.raises(gr.Error) as info:
        await drive(ui, session, start_image, model=PRO_1080P, duration=5)
    assert info.value.title == "Outcome unknown"
    assert "dashboard" in info.value.message and "History" in info.value.message
    (run,) = ui.service.store.list()
    assert run.status == "outcome_unknown" and run.record["cost_usd"] == pytest.approx(0.75)
    assert run.record["inputs"]["duration"] == 5 and "dashboard" in run.record["error"]
    assert session.pending == {}
    assert "$0.25 of $1.00 left today" in ui.backend_banner(ui.service.new_session())
    with pytest.raises(gr.Error, match=r"spent its \$1\.00 for today"):
        await drive(ui, ui.service.new_session(), start_image, model=PRO_1080P, duration=5)


# ---------------------------------------------------------------- sessions per address


def test_one_address_starts_only_so_many_sessions_on_the_owners_key(tmp_path: Path) -> None:
    """Each session has its own allowance: a script opening session after session (every
    plain API call is a new one) once got a fresh allowance each time."""
    from playground.store.history import History
    from playground.store.quotas import Limits, Quota, QuotaExceeded

    quota = Quota(Limits(daily_usd=100, sessions_per_address=2), History(tmp_path / "h.db"))

    def start(account: str, address: str | None) -> None:
        with quota.reserve(account, runs=1, usd=0.1, duration_s=2, address=address):
            pass

    start("s1", "9.9.9.9")
    start("s2", "9.9.9.9")
    start("s1", "9.9.9.9")  # a session already started goes on
    with pytest.raises(QuotaExceeded) as info:
        start("s3", "9.9.9.9")
    message = str(info.value)
    assert "2 sessions from your network" in message and "your own WaveSpeed key" in message
    start("s3", "8.8.8.8")  # another network is not held back
    start("s4", None)  # a call from inside the process has no address


def test_fresh_api_sessions_from_one_address_are_limited_over_http(tmp_path: Path) -> None:
    from conftest import launch_app
    from gradio_client.exceptions import AppError

    image = make_image(tmp_path / "start.png", (640, 360))
    env = {
        "PLAYGROUND_SHARED": "1",
        "PLAYGROUND_DAILY_USD": "5",
        "PLAYGROUND_SESSIONS_PER_ADDRESS": "2",
        "WAVESPEED_API_KEY": OWNER_KEY,
    }
    with launch_app(tmp_path, image, env) as app:
        app.emulator.config.api_keys = frozenset({OWNER_KEY})
        for seed in (1, 2):
            _, record, _ = app.generate(app.client(), seed=seed)  # a new session each
            assert record["status"] == "completed"
        before = app.emulator.stats()
        with pytest.raises(AppError) as info:
            app.generate(app.client(), seed=3)
        assert "sessions from your network" in str(info.value)
        after = app.emulator.stats()  # refused before anything was uploaded or paid
        assert after["submits"] == 2 and after["uploads"] == before["uploads"]
