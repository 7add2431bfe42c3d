"""Run history: every accepted task recorded, kept on disk, listed, compared, pruned, private.

Against the emulator over real HTTP on loopback: `generation.run` and the app's handlers are
called in-process, and the launched app is driven with gradio_client. The owner's key is a
canary the emulator accepts, so any place it leaks to can be searched for it.
(Kill -9 and restart are covered by test_recovery.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from conftest import UIs, form, form_set, free_port, price_of, quick_sleep, select, video_tags
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

from playground.emulator import RunningEmulator
from playground.flow import generation
from playground.flow.service import RunList
from playground.flow.session import Session
from playground.flow.thumbnails import Thumbnails
from playground.media import videos
from playground.media.images import prepare_image
from playground.model import seedance
from playground.model.status import FINISHED, RunStatus
from playground.store.history import OFFLINE_BACKEND, History, run_files
from playground.store.quotas import Limits, Quota, QuotaExceeded
from playground.ui import views
from playground.ui.app import build_demo, launch
from playground.ui.handlers import Handlers
from wavespeed_client import TaskFailed, WaveSpeedClient

MODEL = "bytedance/seedance-v1-lite-i2v-480p"  # the cheapest render; same code path as 720p
CANARY = "sk-CANARY-history-5e0c"
BACKGROUND_S = 15  # Cancel: how long the background finish may take (inference is ~0.5 s)
NAME = re.compile(r"(\d{4}-\d{2}-\d{2})/(\d{6})_([0-9a-f]{8})_(\d+)\.mp4")


# ---------------------------------------------------------------- fixtures and helpers


def make_image(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> Path:
    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).ellipse((size[0] // 3, size[1] // 3, size[0] // 2, size[1] // 2))
    image.save(path)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("images")
    return {
        "start": make_image(folder / "start.png", (640, 360), (30, 90, 160)),
        "end": make_image(folder / "end.png", (640, 360), (160, 60, 30)),
    }


@pytest.fixture
def data_dir(env: Path, monkeypatch: pytest.MonkeyPatch, emulator: RunningEmulator) -> Path:
    """The app configured from the environment: the owner's (canary) key, the emulator,
    data in tmp_path/data, cwd tmp_path (no stray `.env`), the gold tier (no submit pacing:
    runs follow each other). Returns the data directory; list `ui` after it."""
    emulator.config.api_keys = frozenset({CANARY})
    monkeypatch.setenv("WAVESPEED_API_KEY", CANARY)
    monkeypatch.setenv("WAVESPEED_BASE_URL", emulator.base_url)
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    return env


async def generate(ui: Handlers, session: Session, image: Path, **overrides: Any) -> dict[str, Any]:
    """Run the generate handler to its end, as Gradio would; the final run record."""
    inputs = form(image, model=MODEL) | overrides
    outputs = [out async for out in ui.generate(**inputs, session=session)]
    video, record, _ = outputs[-1]
    assert Path(video).is_file()
    return record


def prepared(path: Path) -> generation.ImageInput:
    image = prepare_image(path)
    return generation.ImageInput(data=image.data, filename=image.filename)


def context(
    client: WaveSpeedClient, out: Path, on_save: Any, thumbnails: Thumbnails | None = None
) -> generation.RunContext:
    return generation.RunContext(
        client=client,
        uploads=generation.UploadCache(),
        output_dir=out,
        stats=generation.DurationStats(),
        backend="WaveSpeed",
        on_save=on_save,
        thumbnails=thumbnails,
    )


def request(**overrides: Any) -> seedance.SeedanceRequest:
    values: dict[str, Any] = {
        "image": "start.jpg",
        "prompt": "the lamp flickers on; slow push-in",
        "duration": 2,
        "aspect_ratio": "16:9",
        "seed": 4242,
        "model": MODEL,
    }
    values.update(overrides)
    return seedance.request(values.pop("model"), **values)


async def run_direct(
    emulator: RunningEmulator,
    history: History,
    images: dict[str, Path],
    out: Path,
    *,
    end: bool = False,
    on_save: Any = None,
    thumbnails: Thumbnails | None = None,
    **overrides: Any,
) -> generation.RunRecord:
    """generation.run against the emulator, saving every change into `history`."""

    def save(record: generation.RunRecord) -> None:
        history.save(record.to_json(), account="local", resumable=True)
        if on_save is not None:
            on_save(record)

    async with WaveSpeedClient(CANARY, base_url=emulator.base_url, sleep=quick_sleep) as client:
        items = [
            item
            async for item in generation.run(
                context(client, out, save, thumbnails),
                request(**overrides),
                prepared(images["start"]),
                prepared(images["end"]) if end else None,
            )
        ]
    final = items[-1]
    assert isinstance(final, generation.RunRecord)
    return final


def journal_mode(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return con.execute("PRAGMA journal_mode").fetchone()[0]


async def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(0.1)
    return result


# ---------------------------------------------------------------- recorded before the poll


async def test_a_run_is_recorded_when_accepted_before_the_first_poll_then_updated(
    tmp_path: Path, emulator: RunningEmulator, images: dict[str, Path]
) -> None:
    db = tmp_path / "data" / "history.db"
    history = History(db)
    saves: list[tuple[dict[str, Any], dict[str, int], str | None]] = []

    def snapshot(record: generation.RunRecord) -> None:
        row = history.get(record.id)
        saves.append((record.to_json(), emulator.stats(), row.status if row else None))

    final = await run_direct(
        emulator, history, images, tmp_path / "data", on_save=snapshot, seed=777
    )

    first, stats, stored_status = saves[0]
    assert first["status"] in ("created", "processing")
    assert stats["submits"] == 1 and stats["result_gets"] == 0  # before the first poll
    assert stored_status == first["status"]  # committed, not just handed over
    assert first["id"] == final.id and first["seed"] == 777
    assert first["video_path"] and first["cost_usd"] == price_of(MODEL, 2)
    # then updated as it progresses, ending completed
    assert saves[-1][0]["status"] == "completed"
    assert journal_mode(db) == "wal"

    (run,) = history.list()
    record = run.record
    assert (run.id, run.status, run.account) == (final.id, "completed", "local")
    assert record["model"] == MODEL and record["seed"] == 777
    assert record["inputs"]["prompt"] == "the lamp flickers on; slow push-in"
    assert record["inputs"]["image"].startswith(emulator.base_url)  # a reference, not bytes
    assert "data:" not in json.dumps(record)
    assert record["timings"]["total_s"] >= record["timings"]["wait_s"] > 0
    assert record["cost_usd"] == price_of(MODEL, 2)
    assert record["video_path"] == final.video_path and Path(final.video_path).is_file()
    assert record["error"] == "" and record["error_code"] is None
    history.close()


async def test_a_run_ending_in_a_crowd_gets_its_thumbnail_later_in_history_and_sidecar(
    tmp_path: Path, emulator: RunningEmulator, images: dict[str, Path]
) -> None:
    """While a crowd's runs end the thumbnail waits (flow.thumbnails): the run is finished
    and saved without it, and once the crowd has passed the record is saved again with
    it, in history and in the sidecar."""
    data = tmp_path / "data"
    history = History(data / "history.db")
    crowded = Thumbnails(busy_at=0, quiet_s=0.2)  # every run counts as one of a crowd
    final = await run_direct(emulator, history, images, data, thumbnails=crowded)
    assert final.status is RunStatus.COMPLETED and "thumb" not in final.input_files
    assert crowded.waiting == 1

    def kept() -> dict[str, Any] | None:
        stored = history.get(final.id)
        record = stored.record if stored else {}
        return record if "thumb" in record.get("input_files", {}) else None

    record = await wait_for(kept, 10, "the late thumbnail")
    thumb = Path(record["input_files"]["thumb"])
    assert thumb.is_file() and thumb.parent == Path(final.video_path or "").parent
    sidecar = json.loads(Path(final.video_path or "").with_suffix(".json").read_text("utf-8"))
    assert sidecar["input_files"]["thumb"] == str(thumb)
    assert record["status"] == "completed" and crowded.waiting == 0
    history.close()


async def test_a_thumbnail_left_for_later_when_the_process_stopped_is_made_at_the_next_start(
    env: Path, emulator: RunningEmulator, images: dict[str, Path]
) -> None:
    """A run finished in a crowd, and the process stopped before its thumbnail was made:
    the next start makes it, keeps it beside the video, and saves the record with it."""
    from playground.flow.service import Playground
    from playground.settings import load_settings

    history = History(env / "history.db")
    final = await run_direct(emulator, history, images, env)
    thumb = Path(final.input_files.pop("thumb"))
    thumb.unlink()  # as if it had waited for the crowd to pass, and the process stopped
    history.save(final.to_json(), account="local", resumable=True)
    generation.write_sidecar(final)
    elsewhere = env.parent / "outside.mp4"  # a record naming a video outside the data
    elsewhere.write_bytes(Path(final.video_path or "").read_bytes())
    stray = {**final.to_json(), "id": "stray", "video_path": str(elsewhere)}
    history.save(stray, account="local", resumable=False)
    history.close()

    service = Playground(load_settings())
    try:
        service.resume()

        def kept() -> dict[str, Any] | None:
            stored = service.store.get(final.id)
            record = stored.record if stored else {}
            return record if "thumb" in record.get("input_files", {}) else None

        record = await wait_for(kept, 10, "the thumbnail made at start")
    finally:
        service.close()
    assert record["input_files"]["thumb"] == str(thumb) and thumb.is_file()
    sidecar = json.loads(Path(final.video_path or "").with_suffix(".json").read_text("utf-8"))
    assert sidecar["input_files"]["thumb"] == str(thumb)
    again = History(env / "history.db")
    assert "thumb" not in again.get("stray").record["input_files"]  # not outside the data
    assert not elsewhere.with_name("outside_thumb.jpg").exists()
    again.close()


# ---------------------------------------------------------------- outputs on disk


async def test_a_finished_video_is_kept_with_sidecar_tags_inputs_and_thumbnail(
    tmp_path: Path, emulator: RunningEmulator, images: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    history = History(data / "history.db")
    final = await run_direct(emulator, history, images, data, end=True, seed=31337)
    history.close()

    video = Path(final.video_path or "")
    assert video.is_file() and video.resolve().is_relative_to(data.resolve())
    match = NAME.fullmatch(video.relative_to(data).as_posix())
    assert match, video
    day, clock, short_id, seed = match.groups()
    assert datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H%M%S").replace(
        tzinfo=UTC
    ) == pytest.approx(datetime.now(UTC), abs=timedelta(minutes=2))
    assert (short_id, int(seed)) == (final.id[:8], 31337)
    assert videos.probe_video(video).frames > 0

    sidecar = json.loads(video.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar == json.loads(json.dumps(final.to_json()))  # the full record
    assert sidecar["status"] == "completed"

    tags = video_tags(video)
    comment = json.loads(tags["comment"])
    assert comment["seed"] == 31337 and comment["task_id"] == final.id
    assert comment["prompt"] == "the lamp flickers on; slow push-in"
    assert tags["title"].startswith("the lamp flickers on")

    files = final.input_files
    assert set(files) == {"start", "end", "thumb"}
    for name in ("start", "end"):
        kept = Path(files[name])
        assert kept.parent == video.parent and kept.name.startswith(video.stem)
        assert kept.read_bytes() == prepared(images[name]).data  # exactly what was sent
    with Image.open(files["thumb"]) as thumb:
        assert thumb.format == "JPEG" and thumb.width > 0


async def test_a_run_cut_short_while_waiting_still_records_its_kept_images(
    tmp_path: Path, emulator: RunningEmulator, images: dict[str, Path]
) -> None:
    emulator.config.inference_seconds = 2.0
    data = tmp_path / "data"
    history = History(data / "history.db")
    async with WaveSpeedClient(CANARY, base_url=emulator.base_url, sleep=quick_sleep) as client:
        ctx = context(
            client, data, lambda r: history.save(r.to_json(), account="local", resumable=True)
        )
        run = generation.run(ctx, request(), prepared(images["start"]), None)
        async for item in run:  # the app dies once the task is being waited for
            if isinstance(item, generation.Progress) and item.task_id:
                break
        await run.aclose()
    (stored,) = history.unfinished()
    kept = data.rglob("*_start.jpg")
    assert [str(p) for p in kept] == [stored.record["input_files"].get("start")]
    history.close()


async def test_a_failed_task_is_saved_as_failed_with_reason_code_and_sidecar(
    tmp_path: Path, emulator: RunningEmulator, images: dict[str, Path]
) -> None:
    emulator.config.faults.fail_code = 1200
    emulator.config.faults.fail_message = "content moderation: the output was flagged"
    data = tmp_path / "data"
    history = History(data / "history.db")
    with pytest.raises(TaskFailed) as info:
        await run_direct(emulator, history, images, data)
    (run,) = history.list()
    history.close()

    assert run.id == info.value.task_id and run.status == "failed" and run.finished
    assert run.record["error"] == "content moderation: the output was flagged"
    assert run.record["error_code"] == 1200
    video = Path(run.record["video_path"])
    assert not video.exists()
    sidecar = json.loads(video.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["status"] == "failed" and sidecar["error_code"] == 1200
    assert sidecar["error"] == "content moderation: the output was flagged"
    assert Path(run.record["input_files"]["start"]).is_file()  # kept to try again


# ---------------------------------------------------------------- cancel


async def test_a_cancelled_run_is_finished_in_the_background_and_lands_in_history(
    data_dir: Path, ui: Handlers, emulator: RunningEmulator, images: dict[str, Path]
) -> None:
    emulator.config.inference_seconds = 1.0
    session = ui.service.new_session()
    assert not session.offline

    inputs = form(images["start"], model=MODEL, seed=2024)

    async def consume() -> None:
        async for _ in ui.generate(**inputs, session=session):
            pass

    waiting = asyncio.create_task(consume())
    (task_id,) = await wait_for(lambda: list(session.pending), 15, "the accepted run")
    waiting.cancel()  # what Gradio does to the event when Cancel is pressed
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    history = ui.service.store
    assert not history.get(task_id).finished  # the wait really stopped early
    line, _ = ui.cancel(session)  # said as what it is, not as an error
    assert "status warn" in line and "goes on in the background" in line and "History" in line

    run = await wait_for(
        lambda: (r := history.get(task_id)) and r.finished and r, BACKGROUND_S, "the finish"
    )
    assert run.status == "completed" and run.record["seed"] == 2024
    assert Path(run.record["video_path"]).is_file()
    assert emulator.stats()["submits"] == 1
    _, ids, _, _ = ui.list_runs("", session)
    assert ids == [task_id]


# ---------------------------------------------------------------- the History view


async def test_history_lists_searches_shows_loads_and_compares_runs(
    data_dir: Path, ui: Handlers, emulator: RunningEmulator, images: dict[str, Path]
) -> None:
    session = ui.service.new_session()
    first = await generate(
        ui, session, images["start"], seed=424242, prompt="a red kite rises over the dunes"
    )
    second = await generate(
        ui,
        session,
        images["start"],
        seed=515151,
        prompt="a red kite rises over the dunes",
        last_image=str(images["end"]),
        camera_fixed=True,
    )
    emulator.config.faults.fail_code = 1200
    emulator.config.faults.fail_message = "flagged"
    try:
        with pytest.raises(gr.Error):
            await generate(ui, session, images["start"], seed=616161, prompt="waves crash slowly")
    finally:
        emulator.config.faults.fail_code = None
    failed = ui.service.store.list(limit=1)[0]
    assert failed.status == "failed"

    # newest first; every run pictured (the failed one by its kept start image)
    items, ids, spent, models = ui.list_runs("", session)
    assert ids == [failed.id, second["id"], first["id"]]
    assert len(items) == 3 and all(Path(picture).is_file() for picture, _ in items)
    assert "[failed]" in items[0][1] and "seed 515151" in items[1][1]
    # total spent counts completed runs only (a failed task is not billed)
    paid = seedance.format_usd(first["cost_usd"] + second["cost_usd"])
    assert f"<b>{paid}</b>" in spent and "3 runs" in spent and "2 completed" in spent
    assert [value for value, _ in models.choices] == ["All models", MODEL]
    picks = ui.compare_choices([failed.id, "hostile"], session)[0]
    assert {value for _, value in picks.choices} == {first["id"], second["id"]}
    assert picks.value == []  # neither a failed run nor an unknown id stays picked
    labels = [label for label, _ in picks.choices]  # when, seed and prompt tell them apart
    tail = f"seed 515151 · a red kite rises over the dunes · #{second['id'][:4]}"
    assert labels[0].endswith(tail)
    assert re.match(r"\d{2}-\d{2} \d{2}:\d{2}:\d{2} · seed 424242 · ", labels[1])

    # search by prompt text, by seed, by task id
    assert ui.list_runs("red kite", session)[1] == [second["id"], first["id"]]
    assert ui.list_runs("waves crash", session)[1] == [failed.id]
    assert ui.list_runs("424242", session)[1] == [first["id"]]
    assert ui.list_runs(second["id"], session)[1] == [second["id"]]
    assert ui.list_runs("no such thing", session)[1] == []

    # show a run: its video and card
    video, card, record, star, note = ui.show_run(ids, session, select(1))
    assert video == second["video_path"] and Path(video).is_file()
    assert "515151" in card and second["id"] in card
    assert record["id"] == second["id"] and (star, note) == ("★ Star", "")
    video, card, *_ = ui.show_run(ids, session, select(0))
    assert video is None and failed.id in card  # no video for a failed run, still a card

    # load it into the form: the kept images and its settings
    start, end, start_url, end_url, _, *setting = ui.load_run_into_form(record, session)
    urls = [start_url, end_url]
    assert urls == ["", ""]  # the kept files are used, not the addresses they were sent as
    assert start == second["input_files"]["start"] and Path(start).is_file()
    assert end == second["input_files"]["end"] and Path(end).is_file()
    shown = form_set(tuple(setting))
    fields = ("prompt", "duration", "aspect_ratio", "camera_fixed", "seed", "model")
    assert tuple(shown[name] for name in fields) == (
        "a red kite rises over the dunes",
        2,
        "16:9",
        True,
        515151,
        MODEL,
    )

    # compare two: two videos, the differing settings highlighted, equal ones not
    compared = ui.compare_runs([first["id"], second["id"]], session)
    assert compared.count("<video") == 2
    rows = {name: attrs for attrs, name in re.findall(r"<tr([^>]*)><th>(\w+)</th>", compared)}
    assert "diff" in rows["seed"] and "diff" in rows["camera_fixed"]
    assert "diff" not in rows["prompt"] and "diff" not in rows["model"]
    assert "diff" not in rows["duration"]
    with pytest.raises(gr.Error):
        ui.compare_runs([first["id"]], session)
    with pytest.raises(gr.Error):
        ui.compare_runs([], session)
    with pytest.raises(gr.Error):  # a failed run has no video to compare
        ui.compare_runs([first["id"], failed.id], session)


# ---------------------------------------------------------------- users


def test_on_a_shared_server_two_browser_sessions_are_two_owners(
    data_dir: Path,
    uis: UIs,
    emulator: RunningEmulator,
    images: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("PLAYGROUND_SHARED", "1")
    service = uis().service
    demo = launch(
        build_demo(service),
        service.settings,
        prevent_thread_lock=True,
        server_port=free_port(),
        quiet=True,
    )
    try:
        records: dict[int, dict[str, Any]] = {}

        def work(i: int) -> None:
            client = Client(demo.local_url, verbose=False, download_files=str(tmp_path / "dl"))
            inputs = form(handle_file(str(images["start"])), model=MODEL, seed=900 + i)
            records[i] = client.predict(**inputs, api_name="/generate")[1]

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        demo.close()
    assert len(records) == 2
    history = service.store
    runs = history.list()
    assert {r.id for r in runs} == {records[0]["id"], records[1]["id"]}
    accounts = {r.account for r in runs}
    assert len(accounts) == 2, accounts
    for account in accounts:
        assert [r.account for r in history.list(account=account)] == [account]


async def test_on_a_shared_server_each_session_sees_and_touches_only_its_runs(
    data_dir: Path,
    uis: UIs,
    emulator: RunningEmulator,
    images: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLAYGROUND_SHARED", "1")
    ui = uis()
    assert ui.service.settings.shared
    alice, bob = ui.service.new_session(), ui.service.new_session()
    assert alice.id != bob.id
    mine, theirs = await asyncio.gather(
        generate(ui, alice, images["start"], seed=11), generate(ui, bob, images["start"], seed=22)
    )
    history = ui.service.store
    assert {r.account for r in history.list()} == {alice.id, bob.id}
    assert [r.id for r in history.list(account=alice.id)] == [mine["id"]]
    assert [r.id for r in history.list(account=bob.id)] == [theirs["id"]]

    _, alice_ids, spent, _ = ui.list_runs("", alice)
    assert alice_ids == [mine["id"]] and "1 runs" in spent
    assert ui.list_runs(theirs["id"], alice)[1] == []  # not even by its task id
    assert ui.show_run(alice_ids, alice, select(0))[0] == mine["video_path"]
    with pytest.raises(gr.Error):
        ui.show_run([theirs["id"]], alice, select(0))
    with pytest.raises(gr.Error):
        ui.delete_run(theirs, "", alice)
    with pytest.raises(gr.Error):
        ui.compare_runs([mine["id"], theirs["id"]], alice)
    assert history.get(theirs["id"]).finished
    assert Path(theirs["video_path"]).is_file()


async def test_a_local_app_lists_every_sessions_runs_and_keeps_them_across_a_restart(
    data_dir: Path, uis: UIs, emulator: RunningEmulator, images: dict[str, Path]
) -> None:
    ui = uis()
    assert not ui.service.settings.shared
    one, two = ui.service.new_session(), ui.service.new_session()
    first = await generate(ui, one, images["start"], seed=1)
    second = await generate(ui, two, images["start"], seed=2)
    expected = [second["id"], first["id"]]
    assert ui.list_runs("", ui.service.new_session())[1] == expected

    ui = uis.fresh()  # the app stops and starts again
    assert ui.list_runs("", ui.service.new_session())[1] == expected
    reopened = History(data_dir / "history.db")
    assert [r.id for r in reopened.list()] == expected
    reopened.close()


# ---------------------------------------------------------------- housekeeping


def fake_run(
    history: History,
    data: Path,
    run_id: str,
    *,
    age_days: float = 0.0,
    status: str = "completed",
    size: int = 1000,
    account: str = "local",
    backend: str = "WaveSpeed",
) -> list[Path]:
    """A run saved as generation would, with its video, sidecar, start image and thumb."""
    created = datetime.now(UTC) - timedelta(days=age_days)
    video = data / f"{created:%Y-%m-%d}" / f"{created:%H%M%S}_{run_id[:8]}_1.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    record = generation.RunRecord(
        id=run_id,
        model=MODEL,
        status=RunStatus(status),
        seed=1,
        inputs={"prompt": run_id, "duration": 2},
        cost_usd=0.04,
        backend=backend,
        created_at=created.isoformat(timespec="seconds"),
        video_path=str(video),
    )
    start = video.with_name(f"{video.stem}_start.jpg")
    thumb = video.with_name(f"{video.stem}_thumb.jpg")
    record.input_files = {"start": str(start), "thumb": str(thumb)}
    video.write_bytes(b"v" * size)
    start.write_bytes(b"s" * 10)
    thumb.write_bytes(b"t" * 10)
    generation.write_sidecar(record)
    history.save(record.to_json(), account=account, resumable=True)
    files = run_files(record.to_json())
    assert len(files) == 4 and all(p.is_file() for p in files)
    return files


def test_prune_deletes_nothing_without_limits_and_only_old_finished_runs_by_age(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    history = History(data / "history.db")
    files = {
        "old-done": fake_run(history, data, "old-done", age_days=40),
        "old-failed": fake_run(history, data, "old-failed", age_days=35, status="failed"),
        "old-busy": fake_run(history, data, "old-busy", age_days=50, status="processing"),
        "new-done": fake_run(history, data, "new-done", age_days=1),
    }
    assert history.prune() == []
    assert len(history.list()) == 4

    assert sorted(history.prune(max_age_days=30)) == ["old-done", "old-failed"]
    assert sorted(r.id for r in history.list()) == ["new-done", "old-busy"]
    for run_id, paths in files.items():
        gone = run_id in ("old-done", "old-failed")
        assert all(p.exists() != gone for p in paths), run_id
    history.close()


def test_prune_by_size_deletes_the_oldest_finished_first_until_under_the_limit(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    history = History(data / "history.db")
    fake_run(history, data, "busy-oldest", age_days=9, status="processing", size=5000)
    for age in (5, 4, 3, 2, 1):
        fake_run(history, data, f"done-{age}", age_days=age, size=1000)
    run_size = sum(p.stat().st_size for p in run_files(history.get("done-1").record))
    # room for two finished runs and a bit: the three oldest finished ones go, in order
    assert history.prune(max_bytes=2 * run_size + 10) == ["done-5", "done-4", "done-3"]
    assert [r.id for r in history.list()] == ["done-1", "done-2", "busy-oldest"]
    assert all(p.is_file() for p in run_files(history.get("busy-oldest").record))
    assert all(p.is_file() for p in run_files(history.get("done-2").record))
    # when everything finished is over the limit, only unfinished runs survive
    assert history.prune(max_bytes=1) == ["done-2", "done-1"]
    assert [r.id for r in history.list()] == ["busy-oldest"]
    history.close()


def test_housekeeping_deletes_nothing_when_no_limit_is_set(data_dir: Path, ui: Handlers) -> None:
    service = ui.service
    assert (service.settings.max_age_days, service.settings.max_data_mb) == (None, None)
    fake_run(service.store, data_dir, "ancient", age_days=3650, size=50_000)
    assert service.prune() == []
    assert service.store.get("ancient") is not None


def test_offline_runs_are_not_money_spent_but_what_they_would_have_cost(tmp_path: Path) -> None:
    data = tmp_path / "data"
    history = History(data / "history.db")
    fake_run(history, data, "paid", account="alice")
    fake_run(history, data, "free-1", account="alice", backend=OFFLINE_BACKEND)
    fake_run(history, data, "free-2", account="alice", backend=OFFLINE_BACKEND)
    fake_run(history, data, "failed", account="alice", status="failed", backend=OFFLINE_BACKEND)
    assert history.total_spent(account="alice") == pytest.approx(0.04)
    assert history.total_spent(account="alice", offline=True) == pytest.approx(0.08)
    assert history.delete("free-1", account="alice")  # a deleted run was free all the same
    assert history.total_spent(account="alice") == pytest.approx(0.04)
    assert history.total_spent(account="alice", offline=True) == pytest.approx(0.08)
    summary = views.history_summary(
        RunList(history.list(account="alice"), 0.04, history.total_spent(offline=True))
    )
    assert "total spent <b>$0.040" in summary and "would have cost $0.080 on WaveSpeed" in summary
    assert "would have" not in views.history_summary(RunList([], 0.04))  # none offline
    history.close()


def test_delete_refuses_unfinished_runs_and_other_owners_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    history = History(data / "history.db")
    busy = fake_run(history, data, "busy", status="processing")
    theirs = fake_run(history, data, "theirs", account="bob")
    mine = fake_run(history, data, "mine", account="alice")
    assert "processing" not in FINISHED

    assert history.delete("busy") is False
    assert history.delete("theirs", account="alice") is False
    assert history.delete("no-such-run") is False
    assert all(p.is_file() for p in busy + theirs)
    assert history.get("busy") and history.get("theirs")

    assert history.delete("mine", account="alice") is True
    assert history.get("mine") is None
    assert all(p.is_file() for p in mine)  # kept for Undo until purged
    assert history.purge() == ["mine"]
    assert not any(p.exists() for p in mine)
    history.close()


def test_a_deleted_run_is_hidden_and_its_files_gone_but_quotas_still_count_it(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    history = History(data / "history.db")
    files = fake_run(history, data, "gone-run", account="alice")
    fake_run(history, data, "kept-run", account="alice")
    day_start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    counts = (
        history.count_runs(account="alice", resumable=True),
        history.count_runs(since=day_start),
        history.spent(since=day_start, resumable=True),
        history.total_spent(account="alice"),  # money spent: the History tab keeps showing it
    )

    assert history.delete("gone-run", account="alice") is True
    assert history.purge() == ["gone-run"]
    assert not any(p.exists() for p in files)
    assert history.get("gone-run") is None and history.get("gone-run", account="alice") is None
    assert [r.id for r in history.list()] == ["kept-run"]
    assert history.list(search="gone-run") == []  # its prompt, here its id
    assert history.delete("gone-run", account="alice") is False  # already deleted
    assert history.restore("gone-run", account="alice") is False  # and purged: for good
    assert history.unfinished() == []
    assert (
        history.count_runs(account="alice", resumable=True),
        history.count_runs(since=day_start),
        history.spent(since=day_start, resumable=True),
        history.total_spent(account="alice"),
    ) == counts

    # the row keeps what quotas count, not the prompt or the file paths
    with contextlib.closing(sqlite3.connect(history.path)) as con:
        record, deleted_at = con.execute(
            "SELECT record, deleted_at FROM runs WHERE id = 'gone-run'"
        ).fetchone()
    assert deleted_at
    assert set(json.loads(record)) == {"id", "status", "created_at", "cost_usd", "backend"}
    history.close()


def test_prune_by_size_frees_files_but_todays_runs_keep_counting(tmp_path: Path) -> None:
    data = tmp_path / "data"
    history = History(data / "history.db")
    files = [fake_run(history, data, f"today-{i}", account="alice") for i in range(3)]
    files.append(fake_run(history, data, "last-week", account="alice", age_days=7))
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    quota = Quota(Limits(daily_usd=0.12, runs_per_session=4, runs_per_hour=3), history)
    usage = quota.usage("alice")
    assert (usage.session_runs, usage.hour_runs) == (4, 3)
    assert usage.day_usd == pytest.approx(0.12)

    assert len(history.prune(max_bytes=1)) == 4  # every finished run's files must go
    assert history.list() == []
    assert not any(p.exists() for paths in files for p in paths)
    assert quota.usage("alice") == usage
    assert history.count_runs(since=hour_ago) == 3
    for account in ("alice", "bob"):  # her runs, everyone's hour, the day's cap: all still used
        with pytest.raises(QuotaExceeded):
            quota.reserve(account, runs=1, usd=0.01, duration_s=2)
    history.close()


OLD_SCHEMA = """
CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    cost_usd    REAL,
    resumable   INTEGER NOT NULL DEFAULT 0,
    record      TEXT NOT NULL
);
CREATE INDEX runs_owner_created ON runs (owner, created_at DESC);
CREATE INDEX runs_status ON runs (status);
"""


def test_a_database_from_before_soft_delete_is_migrated_in_place(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with contextlib.closing(sqlite3.connect(db)) as con:
        con.executescript(OLD_SCHEMA)
        for run_id, usd in (("old-1", 0.04), ("old-2", 0.08)):
            record = {"id": run_id, "status": "completed", "cost_usd": usd, "created_at": now}
            con.execute(
                "INSERT INTO runs VALUES (?, 'alice', 'completed', ?, ?, ?, 1, ?)",
                (run_id, now, now, usd, json.dumps(record)),
            )
        con.commit()

    history = History(db)
    assert [r.id for r in history.list()] == ["old-2", "old-1"]
    assert history.delete("old-1", account="alice") is True
    assert [r.id for r in history.list()] == ["old-2"]
    assert history.count_runs(account="alice") == 2
    assert history.spent() == pytest.approx(0.12)
    history.close()

    again = History(db)  # opening a migrated database changes nothing
    assert [r.id for r in again.list()] == ["old-2"]
    again.close()
    with contextlib.closing(sqlite3.connect(db)) as con:
        columns = [row[1] for row in con.execute("PRAGMA table_info(runs)")]
    assert columns.count("deleted_at") == 1


# ---------------------------------------------------------------- no secrets


async def test_the_api_key_is_never_in_the_database_sidecars_or_records(
    data_dir: Path, ui: Handlers, emulator: RunningEmulator, images: dict[str, Path]
) -> None:
    session = ui.service.new_session()
    await generate(ui, session, images["start"], seed=5)
    emulator.config.faults.fail_code = 1200
    try:
        with pytest.raises(gr.Error):
            await generate(ui, session, images["start"], seed=6)
    finally:
        emulator.config.faults.fail_code = None

    history = ui.service.store
    runs = history.list()
    assert sorted(r.status for r in runs) == ["completed", "failed"]
    for run in runs:
        assert CANARY not in json.dumps(run.record)
    db_files = list(data_dir.glob("history.db*"))  # the database, its WAL and shm
    assert any(p.name == "history.db-wal" for p in db_files)
    sidecars = [p for p in data_dir.rglob("*.json") if p.parent.name != "catalog"]
    assert len(sidecars) == 2
    for path in db_files + sidecars:
        assert CANARY.encode() not in path.read_bytes(), path
