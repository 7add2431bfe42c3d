"""The playground app: its handlers called directly, then the launched app over gradio_client.

Every test builds the app's service from the environment it sets here (never a stray
`.env`: the working directory is a fresh tmp_path) and talks real HTTP to an emulator.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pytest
from conftest import (
    API_PARAMETERS,
    GOOD_KEY,
    LaunchedApp,
    form,
    form_set,
    launch_app,
    make_image,
    page_values,
    price_of,
)
from gradio_client.exceptions import AppError

from playground import emulator as emulator_module
from playground.emulator import EmulatorConfig, RunningEmulator
from playground.flow.generation import Progress, Stage
from playground.flow.prices import Price
from playground.flow.session import Session
from playground.model import seedance
from playground.model.form import AUTO_RATIO
from playground.ui import errors, progress, views
from playground.ui.app import MAX_SESSIONS
from playground.ui.handlers import Handlers
from playground.ui.modelform import EXTRA_FIELDS
from playground.ui.presets import load_presets
from wavespeed_client import TaskTimeout

CANARY = "sk-CANARY-7b1f"
RECORD_FIELDS = {"id", "model", "status", "seed", "timings", "cost_usd", "inputs"}


@pytest.fixture
def fast_offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[RunningEmulator]]:
    """Offline mode's in-process emulator, with short tasks, stopped after the test."""
    started: list[RunningEmulator] = []
    real_start = emulator_module.start_in_thread

    def start(config: EmulatorConfig | None = None, **kwargs: Any) -> RunningEmulator:
        running = real_start(EmulatorConfig(inference_seconds=0.3), **kwargs)
        started.append(running)
        return running

    monkeypatch.setattr(emulator_module, "start_in_thread", start)
    yield started
    for running in started:
        running.stop()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("images")
    return SimpleNamespace(
        start=make_image(folder / "start.png", (640, 360)),
        small=make_image(folder / "small.png", (200, 200)),
    )


async def drive(
    ui: Handlers, session: Session, image: Path | None, **overrides: Any
) -> list[tuple]:
    """Run the generate handler to its end, as Gradio would; every output it yielded.
    The aspect ratio is left to the image (Auto) unless a test sets one."""
    values = page_values(form(image, aspect_ratio=AUTO_RATIO) | overrides)
    run = ui.generate_on_page(None, None, session, *values)
    return [outputs[:3] async for outputs in run]  # (video, record, status)


def assert_public_record(record: dict[str, Any], *, duration: int = 2) -> None:
    assert record.keys() >= RECORD_FIELDS
    assert record["status"] == "completed"
    assert 0 <= record["seed"] <= seedance.SEED_MAX
    assert record["inputs"]["seed"] == record["seed"]
    assert record["cost_usd"] == price_of(record["model"], duration)
    assert record["inputs"]["duration"] == duration
    assert record["inputs"]["image"].startswith("http")
    timings = record["timings"]
    assert timings["total_s"] >= timings["wait_s"] >= 0
    text = json.dumps(record)
    assert "base64" not in text and "data:image" not in text
    assert len(text) < 4000  # no image bytes hiding in any field


# ---------------------------------------------------------------- generate, called directly


async def test_generate_without_a_start_image_asks_for_one(ui: Handlers) -> None:
    with pytest.raises(gr.Error) as info:
        await drive(ui, ui.service.new_session(), None)
    assert "start image" in info.value.message.lower()


async def test_generate_names_the_prompt_limit(ui: Handlers, images: SimpleNamespace) -> None:
    with pytest.raises(gr.Error) as info:
        await drive(ui, ui.service.new_session(), images.start, prompt="x" * 2001)
    assert "2000" in info.value.message
    assert "prompt" in info.value.message.lower()


async def test_generate_refuses_a_too_small_image(ui: Handlers, images: SimpleNamespace) -> None:
    with pytest.raises(gr.Error) as info:
        await drive(ui, ui.service.new_session(), images.small)
    assert "300×300" in info.value.message
    assert "200×200" in info.value.message


async def test_without_a_key_a_session_generates_offline(
    env: Path, images: SimpleNamespace, fast_offline: list[RunningEmulator], ui: Handlers
) -> None:
    session = ui.service.new_session()
    assert session.offline
    outputs = await drive(ui, session, images.start, seed=4321, aspect_ratio="16:9")
    assert len(fast_offline) == 1  # the in-process emulator, started on first use
    video, record, status = outputs[-1]
    assert Path(video).is_file()
    assert Path(video).resolve().is_relative_to(env.resolve())
    assert_public_record(record)
    assert record["seed"] == 4321
    assert record["inputs"]["aspect_ratio"] == "16:9"
    assert record["backend"] == "offline emulator"
    assert "4321" in status
    # the session remembers the seed for "Last seed", and no task is pending
    assert (session.last_seed, session.pending) == (4321, {})
    # everything before the end only updated the status line
    for early in outputs[:-1]:
        assert early[0] == gr.skip() and early[1] == gr.skip()


async def test_a_refused_key_is_reported_without_the_key(
    live: Path,
    emulator: RunningEmulator,
    images: SimpleNamespace,
    caplog: pytest.LogCaptureFixture,
    ui: Handlers,
) -> None:
    visitor_key = "sk-visitor-9d2e71"
    session = ui.service.new_session()
    assert ui.set_key(visitor_key, session)[0] == ""  # the field is cleared
    with pytest.raises(gr.Error) as info:
        await drive(ui, session, images.start)
    message = info.value.message
    assert "key" in message.lower()
    assert visitor_key not in message
    assert visitor_key not in caplog.text
    assert emulator.stats()["submits"] == 0  # refused at the upload, nothing billed


async def test_a_failed_task_reports_the_reason_and_task_id(
    live: Path, emulator: RunningEmulator, images: SimpleNamespace, ui: Handlers
) -> None:
    emulator.config.faults.fail_code = 1200
    emulator.config.faults.fail_message = "content moderation: the output was flagged"
    session = ui.service.new_session()
    assert not session.offline
    with pytest.raises(gr.Error) as info:
        await drive(ui, session, images.start)
    (task_id,) = emulator.emulator.tasks
    assert "content moderation: the output was flagged" in info.value.message
    assert task_id in info.value.message
    assert session.pending == {}


async def test_a_failure_leaves_a_still_status_line_not_a_running_clock(
    live: Path, emulator: RunningEmulator, images: SimpleNamespace, ui: Handlers
) -> None:
    emulator.config.faults.fail_code = 1200
    seen: list[tuple] = []
    values = page_values(form(images.start, aspect_ratio=AUTO_RATIO))
    with pytest.raises(gr.Error):
        async for outputs in ui.generate_on_page(None, None, ui.service.new_session(), *values):
            seen.append(outputs[:3])
    assert any("data-elapsed" in out[2] for out in seen)  # the clock ran while waiting
    last = seen[-1][2]
    assert "data-elapsed" not in last and "status warn" in last


def test_a_timeout_message_gives_the_task_id_and_warns_of_billing() -> None:
    message = errors.describe(TaskTimeout("task-abc123", waited_s=900.0))
    assert "task-abc123" in message
    assert "billed" in message


async def test_cancel_warns_the_task_may_still_finish_and_be_billed(
    live: Path, images: SimpleNamespace, ui: Handlers
) -> None:
    session = ui.service.new_session()
    form_values = page_values(form(images.start, aspect_ratio=AUTO_RATIO))
    run = ui.generate_on_page(None, None, session, *form_values)
    async for _ in run:  # as a person would: press Cancel once the task is waiting
        if session.pending:
            break
    (task_id,) = session.pending
    await run.aclose()
    status, _ = ui.cancel(session)
    assert task_id in status and "status warn" in status  # a notice, not an error
    assert "goes on in the background" in status and "billed" in status
    assert "Stop the task on WaveSpeed" in status  # and how to stop it for good
    assert session.pending == {}
    again, _ = ui.cancel(session)  # nothing pending: said, and not as a warning
    assert "nothing to stop waiting for" in again and "status idle" in again
    # the paid task is finished in the background and kept
    history = ui.service.store
    deadline = time.monotonic() + 15
    while not (stored := history.get(task_id)) or not stored.finished:
        assert time.monotonic() < deadline, stored
        await asyncio.sleep(0.1)
    assert stored.status == "completed"
    assert Path(stored.record["video_path"]).is_file()


# ---------------------------------------------------------------- the small handlers


def test_price_and_button_label_say_the_cost_before_the_click() -> None:
    quoted, estimate = Price(0.16, quoted=True), Price(0.064)
    assert "$0.160" in views.price_text(quoted, 5) and "quoted" in views.price_text(quoted, 5)
    assert views.generate_text(quoted) == "Generate · $0.160"
    assert "≈ $0.064" in views.price_text(estimate, 2) and "estimated" in views.price_text(
        estimate, 2
    )
    assert "unknown" in views.price_text(Price(None), 5)
    assert "refused" in views.price_text(Price(None), 5)  # on the demo's key
    assert views.generate_text(quoted, offline=True) == "Generate · free"
    assert "free" in views.price_text(estimate, 2, offline=True)


async def test_the_labels_price_the_form_as_it_stands(ui: Handlers) -> None:
    """One listener prices all three labels: the model, its price fields, the batch."""
    session = ui.service.new_session()
    session.offline = False
    ui.service.routes.settings = ui.service.settings  # no key: WaveSpeed's price, estimated
    price, go, batch = await ui.price_labels(
        session, seedance.DEFAULT_MODEL, 5, None, False, 4, "", *[None] * len(EXTRA_FIELDS)
    )
    assert "≈ $0.160" in price and go.value == "Generate · ≈ $0.160"
    assert batch.value == "Run 4 variations · ≈ $0.640"
    turbo = "bytedance/seedance-2.0-fast/image-to-video-turbo"
    _, go, batch = await ui.price_labels(
        session, turbo, 5, "1080p", None, 3, "a\nb", *[None] * len(EXTRA_FIELDS)
    )
    assert go.value == "Generate · ≈ $1.20" and batch.value == "Run 2 variations · ≈ $2.40"
    # a half-typed duration leaves the labels as they are
    skipped = await ui.price_labels(
        session, seedance.DEFAULT_MODEL, "", None, False, 4, "", *[None] * len(EXTRA_FIELDS)
    )
    assert skipped != (price, go, batch) and all(s == gr.skip() for s in skipped)


def test_prompt_count_flags_only_over_the_limit() -> None:
    assert "over" not in views.prompt_count("x" * 2000)
    assert "2000 / 2000" in views.prompt_count("x" * 2000)
    over = views.prompt_count("x" * 2001)
    assert "over" in over and "2001 / 2000" in over
    assert "0 / 2000" in views.prompt_count(None)  # type: ignore[arg-type]


RECORD: dict[str, Any] = {
    "id": "0123456789abcdef0123456789abcdef",
    "model": "bytedance/seedance-v1-lite-i2v-480p",
    "status": "completed",
    "seed": 98765,
    "inputs": {
        "image": "https://example.com/a.jpg",
        "prompt": "the cat turns its head",
        "duration": 3,
        "aspect_ratio": None,
        "camera_fixed": True,
        "seed": 98765,
        "model": "bytedance/seedance-v1-lite-i2v-480p",
    },
    "cost_usd": 0.048,
    "backend": "WaveSpeed",
    "timings": {"total_s": 12.5, "wait_s": 10.0, "inference_s": 8.0, "queue_s": 2.0},
}


def recorded(ui: Handlers, record: dict[str, Any]) -> Session:
    """A session whose history holds `record`, as the server saved it."""
    session = ui.service.new_session()
    ui.service.store.save(record, account=ui.service.account_of(session), resumable=False)
    return session


def test_reuse_puts_a_records_values_back(ui: Handlers) -> None:
    session = recorded(ui, RECORD)
    reused = form_set(ui.reuse_settings(RECORD, session))
    assert (
        reused["prompt"],
        reused["duration"],
        reused["aspect_ratio"],
        reused["camera_fixed"],
        reused["seed"],
        reused["model"],
        reused["shown"],
    ) == (
        "the cat turns its head",
        3,
        AUTO_RATIO,
        True,
        98765,
        "bytedance/seedance-v1-lite-i2v-480p",
        "bytedance/seedance-v1-lite-i2v-480p",
    )
    assert ui.reuse_seed(RECORD, session) == 98765
    for handler in (ui.reuse_settings, ui.reuse_seed):
        with pytest.raises(gr.Error):
            handler(None, session)


def test_a_record_edited_in_the_page_is_read_from_history(ui: Handlers) -> None:
    """The page's copy of a record is only a pointer: the card, reuse and copy-as-code
    show what the server recorded, and a run that is not in history is nothing to reuse."""
    session = recorded(ui, RECORD)
    forged = {**RECORD, "seed": 1, "inputs": {**RECORD["inputs"], "prompt": "forged"}}
    assert ui.reuse_seed(forged, session) == 98765
    assert form_set(ui.reuse_settings(forged, session))["prompt"] == "the cat turns its head"
    assert "98765" in ui.run_card(forged, session) and "<code>1</code>" not in ui.run_card(
        forged, session
    )
    with pytest.raises(gr.Error, match="history"):
        ui.reuse_seed({**RECORD, "id": "not-a-run-of-yours"}, session)
    assert "empty" in ui.run_card({**RECORD, "id": "not-a-run-of-yours"}, session)


def test_run_card_shows_seed_cost_and_task_id() -> None:
    card = views.run_card(RECORD)
    assert "98765" in card
    assert "$0.048" in card
    assert RECORD["id"] in card
    assert "12.5 s" in card
    assert "empty" in views.run_card(None)


def test_run_card_says_what_when_and_how_it_ended() -> None:
    card = views.run_card({**RECORD, "created_at": "2026-12-04T00:42:10+00:00"})
    assert "the cat turns its head" in card and "2026-12-04 00:42 UTC" in card
    assert "<dd>completed</dd>" in card
    long_prompt = {**RECORD["inputs"], "prompt": "slow push-in " * 60}
    failed = views.run_card({**RECORD, "status": "failed", "inputs": long_prompt})
    assert "<b class='flag'>failed</b>" in failed and "…" in failed
    assert "slow push-in " * 60 not in failed
    assert "<dd>unknown</dd>" in views.run_card({**RECORD, "created_at": "yesterday"})


def test_run_card_escapes_the_texts_it_is_given() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    card = views.run_card({**RECORD, "id": hostile, "model": hostile, "backend": hostile})
    assert hostile not in card
    assert "&lt;img src=x onerror=alert(1)&gt;" in card


def test_run_card_escapes_every_field_of_the_record() -> None:
    """The record reaches the card from history, written from the API's replies: trust none
    of it."""
    hostile = "<img src=x onerror=alert(1)>"
    inputs = {**RECORD["inputs"], "aspect_ratio": hostile, "duration": hostile}
    card = views.run_card({**RECORD, "seed": hostile, "inputs": inputs})
    assert hostile not in card


def test_presets_load_with_their_files() -> None:
    presets = load_presets()
    assert len(presets) >= 6
    for preset in presets:
        assert preset.image.is_file(), preset.name
        assert preset.last_image is None or preset.last_image.is_file(), preset.name
        assert preset.prompt and preset.title


def test_apply_preset_fills_the_form_for_its_model(ui: Handlers) -> None:
    presets = load_presets()
    session = ui.service.new_session()
    for index, preset in enumerate(presets):
        image, last, *rest = ui.apply_preset(
            session,
            seedance.DEFAULT_MODEL,
            SimpleNamespace(index=index),  # type: ignore[arg-type]
        )
        shown = form_set(tuple(rest))
        assert Path(image) == preset.image and Path(image).is_file()
        assert last == (str(preset.last_image) if preset.last_image else None)
        assert shown["model"] == shown["shown"] == preset.model
        assert shown["prompt"] == preset.prompt and shown["duration"] == preset.duration
        ratio = preset.inputs.get("aspect_ratio") or AUTO_RATIO
        assert shown["aspect_ratio"] == ratio
        assert ratio == AUTO_RATIO or ratio in seedance.ASPECT_RATIOS
        if "generate_audio" in preset.inputs:
            assert shown["generate_audio"] is preset.inputs["generate_audio"]
        assert shown["seed"] == preset.inputs.get("seed", -1)


def test_a_visitors_key_stays_in_their_session(live: Path, ui: Handlers) -> None:
    visitor_key = "sk-VISITOR-51d2"
    session, other = ui.service.new_session(), ui.service.new_session()
    field, banner, backend = ui.set_key(f"  {visitor_key}\n", session)
    assert (field, backend) == ("", "WaveSpeed")
    assert visitor_key not in banner
    assert session.api_key == visitor_key
    assert visitor_key not in repr(session)
    assert visitor_key not in os.environ.values()
    assert other.api_key is None
    routes = ui.service.routes
    mine, theirs = routes.route_for(session), routes.route_for(other)
    assert (mine.label, theirs.label) == ("WaveSpeed (your key)", "WaveSpeed")
    assert theirs.api_key == GOOD_KEY  # the owner's key, not the visitor's
    assert visitor_key not in repr(mine)
    assert ui.service.settings.api_key == GOOD_KEY
    with pytest.raises(gr.Error):
        ui.set_key("   ", ui.service.new_session())


# ---------------------------------------------------------------- the launched app
#
# One app for these tests (launching costs a second), served as `python app.py` serves it:
# the owner's key (a canary) in the environment, its own emulator. They come last in this
# file; each launched app has its own service, so the tests above cannot touch it.


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, images: SimpleNamespace
) -> Iterator[LaunchedApp]:
    root = tmp_path_factory.mktemp("served")
    with launch_app(root, images.start, {"WAVESPEED_API_KEY": CANARY}) as served:
        yield served


def test_the_public_endpoints_are_generate_and_list_models(served: LaunchedApp) -> None:
    api = served.client().view_api(return_format="dict", print_info=False)
    assert list(api["named_endpoints"]) == ["/generate", "/list_models"]
    assert not api["unnamed_endpoints"]
    generate = api["named_endpoints"]["/generate"]
    assert [p["parameter_name"] for p in generate["parameters"]] == API_PARAMETERS
    assert [r["component"] for r in generate["returns"]][:2] == ["Video", "Json"]
    (fn,) = [fn for fn in served.demo.fns.values() if fn.api_name == "generate"]
    assert fn.concurrency_limit is not None and fn.concurrency_limit > 1


def test_gradio_keeps_a_bounded_number_of_sessions(served: LaunchedApp) -> None:
    """Each session holds Gradio's copy of the page's config; past the cap the least recently
    used is dropped, so memory cannot grow with every visitor a Space ever had."""
    holder = served.demo.state_holder
    assert holder.capacity == MAX_SESSIONS < 10_000  # Gradio's default: ~2 GB here
    first, second = served.client(), served.client()
    served.generate(first)
    served.generate(second)
    assert {first.session_hash, second.session_hash} <= set(holder.session_data)


def test_generate_over_the_api_returns_a_video_and_its_record(served: LaunchedApp) -> None:
    client = served.client()
    video, record, said = served.generate(client)
    assert Path(video).is_file()
    assert said == f"Done in {record['timings']['total_s']:.1f} s · seed {record['seed']}"
    assert_public_record(record)
    assert record["model"] == seedance.DEFAULT_MODEL
    assert record["inputs"]["aspect_ratio"] == "16:9"

    uploads = served.emulator.stats()["uploads"]
    video2, fixed, _ = served.generate(client, seed=1234, camera_fixed=True)
    assert fixed["seed"] == 1234
    assert fixed["inputs"]["camera_fixed"] is True
    assert Path(video2).is_file() and video2 != video
    assert served.emulator.stats()["uploads"] == uploads  # the same image is not sent again


def test_two_sessions_generate_at_the_same_time(served: LaunchedApp) -> None:
    clients = [served.client(), served.client()]
    results: dict[int, tuple[Any, dict[str, Any], str]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = served.generate(clients[i], seed=100 + i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    served.emulator.config.inference_seconds = 2.0
    try:
        t0 = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        wall = time.monotonic() - t0
    finally:
        served.emulator.config.inference_seconds = 0.3
    assert not errors, errors
    (video_a, record_a, _), (video_b, record_b, _) = results[0], results[1]
    assert (record_a["seed"], record_b["seed"]) == (100, 101)
    assert record_a["id"] != record_b["id"]
    assert record_a["video_path"] != record_b["video_path"]
    assert video_a != video_b
    assert Path(video_a).read_bytes() != Path(video_b).read_bytes()
    # Both tasks were on the server at once: the second was submitted before the first
    # could have finished. One after the other, the wall time would exceed their sum.
    tasks = served.emulator.emulator.tasks
    submitted = sorted(tasks[r["id"]].started for r in (record_a, record_b))
    assert submitted[1] - submitted[0] < 2.0
    each = [record_a["timings"]["total_s"], record_b["timings"]["total_s"]]
    assert min(each) >= 2.0
    assert wall < sum(each), (wall, each)


def test_an_api_caller_follows_progress_events_and_gets_outputs_once(
    served: LaunchedApp,
) -> None:
    """A script sees progress as Gradio progress events (gradio_client's job.status(), an MCP
    client's notifications) and the outputs once, at the end: no status line updates on the
    way, each of which would cost Gradio a rebuild of the video and record outputs."""
    from gradio_client import handle_file

    client = served.client()
    faults = served.emulator.config.faults
    # Held, the task stays "processing" until released, whatever the client's poll schedule.
    faults.hold = True
    try:
        inputs = form(handle_file(str(served.image)), model=served.model)
        job = client.submit(**inputs, api_name="/generate")
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while not any(desc.startswith("Processing · ") for desc in seen):
            assert not job.done() and time.monotonic() < deadline, (set(seen), job.status())
            seen += [unit.desc or "" for unit in job.status().progress_data or []]
            time.sleep(0.05)
    finally:
        faults.hold = False
    video, record, status = job.result(timeout=60)
    assert Path(video).is_file() and record["status"] == "completed"
    assert len(job.outputs()) == 1
    assert status.startswith("Done in") and status.endswith(f"seed {record['seed']}")


def test_a_bad_request_over_the_api_is_an_error_sentence(served: LaunchedApp) -> None:
    client = served.client()
    submits = served.emulator.stats()["submits"]
    with pytest.raises(AppError) as info:
        served.generate(client, duration=20)
    assert "20" in str(info.value) and "12" in str(info.value)
    assert "Traceback" not in str(info.value)
    with pytest.raises(AppError) as info:
        served.generate(client, prompt="x" * 2001)
    assert "2000" in str(info.value) and "prompt" in str(info.value).lower()
    assert served.emulator.stats()["submits"] == submits


def test_the_owners_key_is_never_shown_stored_or_logged(
    served: LaunchedApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = served.client()
    video, record, status = served.generate(client)
    assert Path(video).is_file()

    places: dict[str, str] = {
        "run record": json.dumps(record),
        "status": status,
        "api info": json.dumps(client.view_api(return_format="dict", print_info=False)),
        "log": caplog.text + "".join(r.getMessage() for r in caplog.records),
    }
    for path in ("/", "/config", "/gradio_api/info"):
        response = served.get(path)
        assert response.status_code == 200, path
        places[f"GET {path}"] = response.text
    for name, text in places.items():
        assert CANARY not in text, name
    files = [p for p in served.data_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".mp4" for p in files)
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), path
    assert CANARY not in repr(served.service.settings)


def test_progress_is_sent_only_when_there_is_news() -> None:
    shown = progress.NewsFilter()
    sent = [
        shown.worth_sending(Progress(stage, elapsed, "t", eta))
        for stage, elapsed, eta in [
            (Stage.UPLOADING, 0.1, None),
            (Stage.QUEUED, 0.5, 6.0),  # a new stage
            (Stage.PROCESSING, 1.0, 6.0),  # a new stage
            (Stage.PROCESSING, 2.0, 6.0),  # only the clock moved: the page counts
            (Stage.PROCESSING, 3.0, 6.4),  # the estimate moved under a second
            (Stage.PROCESSING, 4.0, 8.0),  # the estimate moved: news
            (Stage.PROCESSING, 8.5, 8.0),  # a keep-alive for API clients
            (Stage.DOWNLOADING, 8.6, None),
        ]
    ]
    assert sent == [True, True, True, False, False, True, False, True]
    shown = progress.NewsFilter(Stage.PROCESSING, 6.0, 1.0)
    keepalive = 1.0 + progress.STATUS_KEEPALIVE_S
    assert shown.worth_sending(Progress(Stage.PROCESSING, keepalive, "t", 6.0))


def test_the_progress_line_carries_what_the_page_clock_needs() -> None:
    line = views.progress_html(Progress(Stage.PROCESSING, 3.04, "t", 10.0))
    assert "data-elapsed='3.0'" in line and "data-eta='10.0'" in line
    assert "data-stage='Processing'" in line and ">Processing · 3 s · about 7 s left<" in line
    assert "data-eta" not in views.progress_html(Progress(Stage.DOWNLOADING, 9.0, "t", 10.0))


def test_every_handler_has_its_type_hints_evaluated_once() -> None:
    """Gradio reads each handler's type hints at every call (to inject gr.Request, the
    session, the select data); `ui.errors.shown` evaluates the postponed annotations once,
    so none is left as a string for Gradio to evaluate again and again."""
    import gradio.utils

    from playground.ui.handlers import Handlers

    left = {
        name: hint
        for name, member in vars(Handlers).items()
        if not name.startswith("_") and callable(getattr(member, "__func__", member))
        for hint in getattr(getattr(member, "__func__", member), "__annotations__", {}).values()
        if isinstance(hint, str)
    }
    assert left == {}
    hints = gradio.utils.get_type_hints(Handlers.generate_on_page)
    assert hints["request"] == (gr.Request | None) and hints["session"].__name__ == "Session"


class _Node:
    """A cycle's member, which only the cycle collector can free."""

    def __init__(self) -> None:
        self.me = self


def test_what_was_built_at_start_is_left_out_of_later_collections() -> None:
    """A served app freezes what it built (ui.app.settle_heap): later full collections do
    not walk it. Garbage made later is collected as before; a cycle that was alive at
    the freeze is not (the trade-off), until the heap is unfrozen."""
    from playground.ui.app import settle_heap

    kept = _Node()
    kept_ref = weakref.ref(kept)
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        later = _Node()
        later_ref = weakref.ref(later)
        del kept, later
        gc.collect()
        assert later_ref() is None  # made after the freeze: collected
        assert kept_ref() is not None  # frozen: never scanned for cycles
    finally:
        gc.unfreeze()
    gc.collect()
    assert kept_ref() is None
