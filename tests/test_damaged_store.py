"""A damaged history.db keeps the app up: it is kept aside (never deleted), a fresh one is
opened, the owner is told in the log and the banner, and the day's spend that cannot be read
counts as the whole daily cap."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import UIs

from playground.errors import QuotaExceeded
from playground.store.history import DATABASE, History
from playground.store.quotas import Limits, Quota


def a_history_with_runs(path: Path) -> bytes:
    history = History(path)
    for i in range(40):
        record = {"id": f"run-{i}", "status": "completed", "cost_usd": 0.16, "prompt": "x" * 500}
        history.save(record, account="alice", resumable=True)
    history.close()
    return path.read_bytes()


def truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def bad_header(data: bytes) -> bytes:
    return b"not a database!!" + data[16:]


def noise(data: bytes) -> bytes:
    return os.urandom(len(data))


def empty(data: bytes) -> bytes:
    return b""


@pytest.mark.parametrize("damage", [truncate, bad_header, noise, empty])
def test_a_damaged_database_is_kept_aside_and_a_fresh_one_opened(
    tmp_path: Path, damage: Callable[[bytes], bytes], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / DATABASE
    damaged = damage(a_history_with_runs(path))
    for companion in ("-wal", "-shm"):
        Path(f"{path}{companion}").unlink(missing_ok=True)
    path.write_bytes(damaged)

    history = History(path)
    assert history.damaged is not None and history.damaged.parent == tmp_path
    assert history.damaged.name.startswith(f"{DATABASE}.damaged-")
    assert history.damaged.read_bytes() == damaged  # kept as it was, byte for byte
    assert "was damaged" in caplog.text and history.damaged.name in caplog.text
    history.save({"id": "new", "status": "completed", "cost_usd": 0.1}, account="a", resumable=True)
    assert [r.id for r in history.list()] == ["new"]
    assert History(path).damaged is None  # the fresh one is healthy at the next start


def test_a_healthy_database_is_left_where_it_is(tmp_path: Path) -> None:
    path = tmp_path / DATABASE
    a_history_with_runs(path)
    history = History(path)
    assert history.damaged is None and len(history.list()) == 40
    assert [p.name for p in tmp_path.iterdir() if "damaged" in p.name] == []


def test_spend_that_cannot_be_read_counts_as_the_whole_day(tmp_path: Path) -> None:
    path = tmp_path / DATABASE
    path.write_bytes(noise(a_history_with_runs(path)))
    history = History(path)
    quota = Quota(Limits(daily_usd=1.0), history)
    assert quota.usage("bob").day_usd == pytest.approx(1.0)
    assert "$0.00 of $1.00 left today" in quota.left("bob")
    with pytest.raises(QuotaExceeded, match="spent its"):
        quota.reserve("bob", runs=1, usd=0.064, duration_s=2)
    history.damaged_at = datetime(2020, 1, 1, tzinfo=UTC)  # damaged on an earlier day
    assert quota.usage("bob").day_usd == 0.0


def test_the_banner_tells_of_the_damage(
    env: Path, uis: UIs, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env.mkdir(parents=True, exist_ok=True)
    (env / DATABASE).write_bytes(b"\x00garbage" * 100)
    for name, value in {
        "PLAYGROUND_SHARED": "1",
        "PLAYGROUND_DAILY_USD": "1",
        "WAVESPEED_API_KEY": "sk-owner",
    }.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.ERROR)
    ui = uis()
    banner = ui.backend_banner(ui.service.new_session())
    assert "run history was damaged" in banner and "rests for the rest of the day" in banner
    assert "banner warn" in banner
    assert "$0.00 of $1.00 left today" in banner
