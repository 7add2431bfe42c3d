"""flow.catalogs.Catalogs: where the app's catalog comes from (live, disk cache, snapshot),
with a counting fake client and a settable clock; no network, no timed asserts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from playground.flow import catalogs as catalogs_module
from playground.flow.catalogs import RETRY_PAUSE_S, Catalogs
from playground.model import catalog
from wavespeed_client import (
    READ_TIMEOUT_MODELS_S,
    APIConnectionError,
    ServerError,
    WaveSpeedClient,
)

BASE = "https://api.wavespeed.test"
OTHER = "http://127.0.0.1:8765"
TWO = "bytedance/seedance-2.0/image-to-video"
TURBO = "bytedance/seedance-2.0-fast/image-to-video-turbo"
KEY = "sk-CANARY-catalogs-99"

SCHEMA = {
    "properties": {
        "image": {"type": "string", "x-ui-component": "uploader"},
        "prompt": {"type": "string"},
        "duration": {"type": "integer", "default": 5, "minimum": 4, "maximum": 15},
    },
    "required": ["image", "prompt"],
}


def entry(model_id: str, kind: str = "image-to-video") -> dict[str, Any]:
    return {
        "model_id": model_id,
        "name": model_id.split("/")[-1],
        "type": kind,
        "base_price": 1.0,
        "api_schema": {"api_schemas": [{"type": "model_run", "request_schema": SCHEMA}]},
    }


LIVE = [entry(TWO), entry(TURBO), entry("acme/text-model", "text-to-video")]
TEXT_ONLY = [entry("acme/text-model", "text-to-video")]


class Lister:
    """A fake client: counts calls; answers a list or raises; optionally waits for a gate."""

    def __init__(self, *answers: Any, gate: asyncio.Event | None = None) -> None:
        self.answers = list(answers)
        self.calls = 0
        self.gate = gate

    async def models(self) -> list[dict[str, Any]]:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


OFFLINE = APIConnectionError(
    f"WaveSpeed at {BASE} could not be reached (ConnectError). Check your internet "
    "connection, or WAVESPEED_BASE_URL if you changed it, and try again."
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def cache_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*")) if directory.exists() else []


# --------------------------------------------------------------------------- current


def test_current_before_any_read_is_the_snapshot_not_read_yet(tmp_path: Path) -> None:
    found = Catalogs(tmp_path).current(BASE)
    assert found.source == "snapshot" and found.models == catalog.snapshot().models
    assert found.note.startswith("bundled snapshot (as of ")
    assert found.note.endswith("the live catalog is not read yet")


# --------------------------------------------------------------------------- load


async def test_cold_load_fetches_and_writes_the_cache(tmp_path: Path, clock: Clock) -> None:
    lister = Lister(LIVE)
    found = await Catalogs(tmp_path / "cache", clock=clock).load(BASE, lister)
    assert lister.calls == 1
    assert (found.source, found.fetched_at, found.note) == (
        "live",
        clock.now,
        "WaveSpeed's live catalog",
    )
    assert set(found.models) == {TWO, TURBO, "acme/text-model"}
    (written,) = cache_files(tmp_path / "cache")  # one file, no temporary left behind
    assert written.name.startswith("models-") and written.suffix == ".json"
    assert json.loads(written.read_text()) == {
        "base_url": BASE,
        "fetched_at": clock.now,
        "models": LIVE,
    }


async def test_a_cache_younger_than_the_ttl_is_used_without_asking(
    tmp_path: Path, clock: Clock
) -> None:
    await Catalogs(tmp_path, clock=clock).load(BASE, Lister(LIVE))
    clock.now += 12 * 60
    restarted = Catalogs(tmp_path, clock=clock)  # a new process: only the disk is left
    counting = Lister(LIVE)
    found = await restarted.load(BASE, counting)
    assert counting.calls == 0
    assert (found.source, found.note) == ("cache", "WaveSpeed's catalog, cached 12 min ago")
    assert set(found.models) == {TWO, TURBO, "acme/text-model"}
    assert restarted.current(BASE).source == "cache"


async def test_a_second_load_within_the_ttl_asks_nothing(tmp_path: Path, clock: Clock) -> None:
    catalogs, lister = Catalogs(tmp_path, clock=clock), Lister(LIVE)
    await catalogs.load(BASE, lister)
    clock.now += 3599
    assert (await catalogs.load(BASE, lister)).source == "live"
    assert lister.calls == 1


async def test_a_stale_cache_and_a_failing_fetch_keep_the_cache_saying_why(
    tmp_path: Path, clock: Clock
) -> None:
    await Catalogs(tmp_path, clock=clock).load(BASE, Lister(LIVE))
    clock.now += 2 * 3600
    failing = Lister(OFFLINE)
    found = await Catalogs(tmp_path, clock=clock).load(BASE, failing)
    assert failing.calls == 1 and found.source == "cache" and TWO in found
    assert found.note == (
        "WaveSpeed's catalog, cached 120 min ago (not refreshed: "
        f"WaveSpeed at {BASE} could not be reached (ConnectError))"
    )


async def test_no_cache_and_a_failing_fetch_give_the_snapshot_with_the_reason(
    tmp_path: Path,
) -> None:
    catalogs = Catalogs(tmp_path)
    found = await catalogs.load(
        BASE,
        Lister(
            ServerError(
                "WaveSpeed had a server error (HTTP 503); try again shortly.", status_code=503
            )
        ),
    )
    assert found.source == "snapshot" and found.models == catalog.snapshot().models
    assert found.note.endswith(
        "the catalog could not be read: WaveSpeed had a server error (HTTP 503); try again shortly"
    )
    assert catalogs.current(BASE).note == found.note
    assert cache_files(tmp_path) == []


async def test_a_fetch_slower_than_the_load_bound_is_not_waited_for_but_lands_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalogs_module, "LOAD_WAIT_S", 0.01)
    gate = asyncio.Event()
    catalogs, lister = Catalogs(tmp_path), Lister(LIVE, gate=gate)
    found = await catalogs.load(BASE, lister)
    assert found.source == "snapshot" and "did not send it within" in found.note
    gate.set()  # WaveSpeed answers after all: the read that went on installs it
    for _ in range(100):
        if catalogs.current(BASE).source == "live":
            break
        await asyncio.sleep(0.01)
    assert catalogs.current(BASE).note == "WaveSpeed's live catalog" and lister.calls == 1


async def test_a_recent_failure_is_not_waited_for_again_on_the_next_load(
    tmp_path: Path, clock: Clock
) -> None:
    catalogs, lister = Catalogs(tmp_path, clock=clock), Lister(OFFLINE, LIVE)
    await catalogs.load(BASE, lister)
    assert (await catalogs.load(BASE, lister)).source == "snapshot"
    assert lister.calls == 1
    clock.now += RETRY_PAUSE_S
    assert (await catalogs.load(BASE, lister)).source == "live"
    assert lister.calls == 2


async def test_each_api_base_has_its_own_catalog_and_cache_file(
    tmp_path: Path, clock: Clock
) -> None:
    catalogs = Catalogs(tmp_path, clock=clock)
    await catalogs.load(BASE, Lister([entry(TWO)]))
    await catalogs.load(OTHER + "/", Lister([entry(TURBO)]))  # a trailing slash is the same base
    assert list(catalogs.current(BASE).models) == [TWO]
    assert list(catalogs.current(OTHER).models) == [TURBO]
    assert len(cache_files(tmp_path)) == 2
    assert Catalogs(tmp_path).current("https://third.test").source == "snapshot"


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"base_url": "https://api.wavespeed.test", "fetched_at": 1800000000, "models": [',
        "[]",
        "null",
        '{"base_url": "https://api.wavespeed.test"}',
        '{"base_url": "https://api.wavespeed.test", "fetched_at": "yesterday", "models": []}',
        '{"base_url": "https://api.wavespeed.test", "fetched_at": 1800000000, "models": {}}',
        '{"base_url": "https://api.wavespeed.test", "fetched_at": 1800000000, "models": []}',
        b"\xff\xfe\x00garbage",
    ],
    ids=[
        "not-json",
        "truncated",
        "list",
        "null",
        "no-fields",
        "bad-time",
        "bad-models",
        "no-i2v",
        "binary",
    ],
)
async def test_a_damaged_cache_file_is_ignored_and_replaced(
    tmp_path: Path, clock: Clock, content: str | bytes
) -> None:
    catalogs = Catalogs(tmp_path, clock=clock)
    path = catalogs._cache_file(BASE)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert catalogs.current(BASE).source == "snapshot"
    lister = Lister(LIVE)
    assert (await catalogs.load(BASE, lister)).source == "live" and lister.calls == 1
    assert json.loads(path.read_text())["models"] == LIVE


async def test_a_cache_file_of_another_base_is_ignored(tmp_path: Path, clock: Clock) -> None:
    catalogs = Catalogs(tmp_path, clock=clock)
    await catalogs.load(BASE, Lister(LIVE))
    foreign = catalogs._cache_file(BASE).read_text()
    catalogs._cache_file(OTHER).write_text(foreign)  # says BASE inside
    lister = Lister(OFFLINE)
    found = await Catalogs(tmp_path, clock=clock).load(OTHER, lister)
    assert found.source == "snapshot" and lister.calls == 1


async def test_a_live_catalog_without_image_to_video_models_keeps_the_previous_one(
    tmp_path: Path, clock: Clock
) -> None:
    catalogs = Catalogs(tmp_path, clock=clock)
    await catalogs.load(BASE, Lister(LIVE))
    clock.now += 2 * 3600
    found = await catalogs.load(BASE, Lister(TEXT_ONLY))
    assert TWO in found and found.source == "live"
    assert "listed no image-to-video model; the previous one is kept" in found.note
    assert json.loads(catalogs._cache_file(BASE).read_text())["models"] == LIVE  # not overwritten


async def test_a_first_live_catalog_without_image_to_video_models_is_not_used(
    tmp_path: Path,
) -> None:
    found = await Catalogs(tmp_path).load(BASE, Lister(TEXT_ONLY))
    assert found.source == "snapshot" and "listed no image-to-video model" in found.note
    assert cache_files(tmp_path) == []


async def test_a_cache_that_cannot_be_written_costs_the_cache_not_the_catalog(
    tmp_path: Path,
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    found = await Catalogs(not_a_dir).load(BASE, Lister(LIVE))
    assert found.source == "live" and not_a_dir.read_text() == "x"


# --------------------------------------------------------------------------- refresh_soon


async def test_a_background_refresh_runs_once_however_often_it_is_asked(
    tmp_path: Path, clock: Clock
) -> None:
    gate = asyncio.Event()
    catalogs, lister = Catalogs(tmp_path, clock=clock), Lister(LIVE, gate=gate)
    tasks = {catalogs.refresh_soon(BASE, lister) for _ in range(50)}
    assert len(tasks) == 1 and None not in tasks
    assert catalogs.current(BASE).source == "snapshot"  # a click never waits for it
    gate.set()
    await tasks.pop()
    assert lister.calls == 1 and catalogs.current(BASE).source == "live"
    assert catalogs.refresh_soon(BASE, lister) is None  # fresh: nothing to do


async def test_the_catalog_refreshes_itself_once_it_is_older_than_the_ttl(
    tmp_path: Path, clock: Clock
) -> None:
    catalogs, lister = Catalogs(tmp_path, clock=clock), Lister([entry(TWO)], LIVE)
    await catalogs.load(BASE, lister)
    clock.now += 3599
    assert catalogs.refresh_soon(BASE, lister) is None
    clock.now += 1
    task = catalogs.refresh_soon(BASE, lister)
    assert task is not None
    await task
    assert lister.calls == 2 and TURBO in catalogs.current(BASE)


async def test_a_fresh_disk_cache_is_not_refreshed_on_use(tmp_path: Path, clock: Clock) -> None:
    await Catalogs(tmp_path, clock=clock).load(BASE, Lister(LIVE))
    restarted, lister = Catalogs(tmp_path, clock=clock), Lister(LIVE)
    assert restarted.refresh_soon(BASE, lister) is None
    assert restarted.current(BASE).source == "cache" and lister.calls == 0


async def test_a_stale_disk_cache_is_refreshed_in_the_background(
    tmp_path: Path, clock: Clock
) -> None:
    await Catalogs(tmp_path, clock=clock).load(BASE, Lister([entry(TWO)]))
    clock.now += 3 * 3600
    restarted, lister = Catalogs(tmp_path, clock=clock), Lister(LIVE)
    task = restarted.refresh_soon(BASE, lister)
    assert restarted.current(BASE).note == "WaveSpeed's catalog, cached 3 h ago"
    assert task is not None
    await task
    assert restarted.current(BASE).source == "live" and TURBO in restarted.current(BASE)


async def test_a_failing_background_refresh_never_raises_and_is_not_hammered(
    tmp_path: Path, clock: Clock
) -> None:
    catalogs = Catalogs(tmp_path, clock=clock)
    lister = Lister(OFFLINE, RuntimeError("a bug in a fake"), LIVE)
    task = catalogs.refresh_soon(BASE, lister)
    await task  # the task itself ends normally
    assert "could not be reached" in catalogs.current(BASE).note
    assert all(catalogs.refresh_soon(BASE, lister) is None for _ in range(20))
    assert lister.calls == 1
    clock.now += RETRY_PAUSE_S
    await catalogs.refresh_soon(BASE, lister)
    assert catalogs.current(BASE).note.endswith(
        "could not be read: an unexpected error (RuntimeError)"
    )
    clock.now += RETRY_PAUSE_S
    await catalogs.refresh_soon(BASE, lister)
    assert catalogs.current(BASE).source == "live" and lister.calls == 3


def test_refresh_soon_outside_an_event_loop_does_nothing(tmp_path: Path) -> None:
    lister = Lister(LIVE)
    assert Catalogs(tmp_path).refresh_soon(BASE, lister) is None and lister.calls == 0


async def test_the_refresh_task_is_held_until_it_ends(tmp_path: Path) -> None:
    gate = asyncio.Event()
    catalogs = Catalogs(tmp_path)
    task = catalogs.refresh_soon(BASE, Lister(LIVE, gate=gate))
    assert task in catalogs._tasks  # a task nobody references may be collected mid-way
    gate.set()
    await task
    assert task not in catalogs._tasks


# --------------------------------------------------------------------------- the key


async def test_the_key_is_never_in_a_note_or_the_log(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    refused = httpx.MockTransport(
        lambda r: httpx.Response(401, json={"message": "invalid api key"})
    )
    async with WaveSpeedClient(KEY, base_url=BASE, transport=refused) as ws:
        found = await Catalogs(tmp_path, clock=clock).load(BASE, ws)
    assert "API key was refused" in found.note and KEY not in found.note
    leaky = Lister(RuntimeError(f"Authorization: Bearer {KEY}"))  # not the client's words
    other = await Catalogs(tmp_path / "b").load(BASE, leaky)
    assert KEY not in other.note and "RuntimeError" in other.note
    assert "catalog read of" in caplog.text and "RuntimeError" in caplog.text
    assert KEY not in caplog.text and KEY[3:] not in caplog.text


def test_a_background_read_outlasts_one_silent_catalog_read() -> None:
    # The client lets the catalog stay silent READ_TIMEOUT_MODELS_S; a shorter bound here
    # would cut every slow catalog before its first byte.
    assert catalogs_module.REFRESH_WAIT_S > READ_TIMEOUT_MODELS_S


def test_a_fault_reading_the_cache_gives_the_bundled_models_not_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogs = Catalogs(tmp_path)

    def broken(base_url: str) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(catalogs, "_read_cache", broken)
    found = catalogs.current(BASE)
    assert found.source == "snapshot" and found.models == catalog.snapshot().models
    assert found.note.endswith("an internal error")
