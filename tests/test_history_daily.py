"""History for daily use: filters, a star and a note per run, delete with undo, Compare's
picks. The store directly, then the service and handlers over one built from a clean
environment (no network: runs are written to the store as generation would)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from conftest import UIs, select

from playground.errors import NotFound
from playground.flow import generation
from playground.flow.service import COMPARE_MAX
from playground.flow.session import UNDO_KEPT, Session
from playground.model.status import RunStatus
from playground.store.history import NOTE_MAX_CHARS, UNDO_GRACE_S, History, clean_note, run_files
from playground.ui.handlers import ALL_MODELS, ALL_STATUSES, STAR, UNSTAR, Handlers

LITE = "bytedance/seedance-v1-lite-i2v-480p"
PRO = "bytedance/seedance-v1-pro-i2v-720p"


def saved(
    history: History,
    data: Path,
    run_id: str,
    *,
    account: str = "local",
    status: str = "completed",
    model: str = LITE,
    prompt: str = "",
    age_s: float = 0.0,
) -> dict[str, Any]:
    """A run as generation saves it, with its video, sidecar and start image on disk."""
    created = datetime.now(UTC) - timedelta(seconds=age_s)
    video = data / f"{created:%Y-%m-%d}" / f"{created:%H%M%S}_{run_id[:8]}_1.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    start = video.with_name(f"{video.stem}_start.jpg")
    record = generation.RunRecord(
        id=run_id,
        model=model,
        status=RunStatus(status),
        seed=7,
        inputs={"prompt": prompt or f"the {run_id} scene", "duration": 2},
        cost_usd=0.04,
        backend="WaveSpeed",
        created_at=created.isoformat(timespec="seconds"),
        video_path=str(video),
        input_files={"start": str(start)},
    )
    video.write_bytes(b"v" * 100)
    start.write_bytes(b"s" * 10)
    generation.write_sidecar(record)
    history.save(record.to_json(), account=account, resumable=True)
    return record.to_json()


@pytest.fixture
def history(tmp_path: Path) -> Any:
    store = History(tmp_path / "data" / "history.db")
    yield store
    store.close()


def ids(runs: list[Any]) -> list[str]:
    return [run.id for run in runs]


# ---------------------------------------------------------------- the store


def test_filters_by_status_model_and_star_combine_with_the_search(
    history: History, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    saved(history, data, "lite-done", prompt="a kite over dunes", age_s=40)
    saved(history, data, "lite-failed", status="failed", prompt="a kite in rain", age_s=30)
    saved(history, data, "pro-done", model=PRO, prompt="a kite at dusk", age_s=20)
    saved(history, data, "pro-busy", model=PRO, status="processing", prompt="waves", age_s=10)
    saved(history, data, "bobs", account="bob", prompt="a kite of bob's")

    assert ids(history.list(status="completed")) == ["bobs", "pro-done", "lite-done"]
    assert ids(history.list(account="local", status="failed")) == ["lite-failed"]
    assert ids(history.list(account="local", model=PRO)) == ["pro-busy", "pro-done"]
    assert ids(history.list(account="local", model=PRO, status="completed")) == ["pro-done"]
    assert ids(history.list(account="local", search="kite", model=LITE)) == [
        "lite-failed",
        "lite-done",
    ]
    assert history.list(account="local", status="cancelled") == []
    assert history.models(account="local") == [LITE, PRO]
    assert history.models(account="bob") == [LITE]

    assert history.star("lite-done", True, account="local")
    assert ids(history.list(account="local", starred=True)) == ["lite-done"]
    assert history.list(account="local", starred=True, status="failed") == []
    # hostile text is a search like any other, its LIKE wildcards taken literally
    assert history.list(search="%") == [] and history.list(search="' OR 1=1 --") == []


def test_a_star_and_a_note_survive_a_later_save_of_the_record(
    history: History, tmp_path: Path
) -> None:
    record = saved(history, tmp_path / "data", "run-1", status="processing")
    assert history.star("run-1", True)
    assert history.annotate("run-1", "  the good one\n\x00\x1b[31mred\t ")
    run = history.get("run-1")
    assert (run.starred, run.note) == (True, "the good one [31mred")

    # recovery finishes the run later and saves its whole record again
    history.save({**record, "status": "completed", "cost_usd": 0.08}, account="local", resumable=1)
    run = history.get("run-1")
    assert run.status is RunStatus.COMPLETED and run.record["cost_usd"] == 0.08
    assert (run.starred, run.note) == (True, "the good one [31mred")
    assert "note" not in run.record and "starred" not in run.record  # columns, not JSON

    assert history.list(search="good one") and history.list(search="good one")[0].id == "run-1"
    assert history.star("run-1", False) and not history.get("run-1").starred
    assert history.annotate("run-1", "") and history.get("run-1").note == ""


def test_notes_are_bounded_plain_text() -> None:
    assert len(clean_note("x" * 5000)) == NOTE_MAX_CHARS
    assert clean_note("line one\r\nline two\u2028three") == "line one line two three"
    assert clean_note("\x07bell\x7f") == "bell"
    assert clean_note(None) == "" and clean_note(42) == "" and clean_note(["a"]) == ""


def test_delete_keeps_the_run_for_undo_then_purge_frees_it_for_good(
    history: History, tmp_path: Path
) -> None:
    record = saved(history, tmp_path / "data", "run-1", account="alice")
    history.star("run-1", True, account="alice")
    history.annotate("run-1", "keep me", account="alice")
    files = run_files(record)
    assert history.delete("run-1", account="alice")
    assert history.get("run-1") is None and history.list() == []
    assert all(p.is_file() for p in files)
    assert not history.star("run-1", True) and not history.annotate("run-1", "x")  # hidden

    assert not history.restore("run-1", account="bob")  # not theirs
    assert history.restore("run-1", account="alice")
    back = history.get("run-1")
    assert back.record == record and (back.starred, back.note) == (True, "keep me")
    assert not history.restore("run-1", account="alice")  # not deleted any more

    # housekeeping purges only deletions past the grace
    history.delete("run-1", account="alice")
    assert history.prune() == []
    assert all(p.is_file() for p in files)
    later = datetime.now(UTC) + timedelta(seconds=UNDO_GRACE_S + 5)
    assert history.purge(deleted_before=later) == ["run-1"]
    assert not any(p.exists() for p in files)
    assert not history.restore("run-1", account="alice")
    with contextlib.closing(sqlite3.connect(history.path)) as con:
        row = con.execute("SELECT record, starred, note FROM runs WHERE id = 'run-1'").fetchone()
    assert set(json.loads(row[0])) == {"id", "status", "created_at", "cost_usd", "backend"}
    assert row[1:] == (0, "")  # the person's note goes with the details
    assert history.count_runs(account="alice") == 1  # quotas still count it


BEFORE_STARS = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, status TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, cost_usd REAL,
    resumable INTEGER NOT NULL DEFAULT 0, record TEXT NOT NULL, deleted_at TEXT
);
"""


def test_a_database_from_before_stars_notes_and_undo_is_migrated_in_place(
    tmp_path: Path,
) -> None:
    db = tmp_path / "history.db"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with contextlib.closing(sqlite3.connect(db)) as con:
        con.executescript(BEFORE_STARS)
        for run_id, deleted in (("kept", None), ("deleted-long-ago", now)):
            record = {"id": run_id, "status": "completed", "model": LITE, "created_at": now}
            con.execute(
                "INSERT INTO runs VALUES (?, 'alice', 'completed', ?, ?, 0.04, 1, ?, ?)",
                (run_id, now, now, json.dumps(record), deleted),
            )
        con.commit()

    history = History(db)
    [run] = history.list()
    assert (run.id, run.starred, run.note) == ("kept", False, "")
    assert history.star("kept", True) and history.annotate("kept", "old but gold")
    assert ids(history.list(starred=True, model=LITE)) == ["kept"]
    assert not history.restore("deleted-long-ago")  # deleted before Undo existed: for good
    assert history.purge() == []
    history.close()
    again = History(db)
    assert again.get("kept").note == "old but gold"
    again.close()
    with contextlib.closing(sqlite3.connect(db)) as con:
        columns = [row[1] for row in con.execute("PRAGMA table_info(runs)")]
    assert [columns.count(c) for c in ("deleted_at", "trashed", "starred", "note")] == [1] * 4


# ---------------------------------------------------------------- service and handlers


@pytest.fixture
def shared(uis: UIs, monkeypatch: pytest.MonkeyPatch) -> Handlers:
    """Handlers of a public server: each session is its own account."""
    monkeypatch.setenv("PLAYGROUND_SHARED", "1")
    ui = uis()
    assert ui.service.settings.shared
    return ui


def run_of(ui: Handlers, session: Session, run_id: str, **kw: Any) -> dict[str, Any]:
    data = ui.service.settings.data_dir
    return saved(ui.service.store, data, run_id, account=ui.service.account_of(session), **kw)


def test_one_session_cannot_star_annotate_delete_or_undelete_anothers_run(
    shared: Handlers,
) -> None:
    ui, service = shared, shared.service
    alice, bob = service.new_session(), service.new_session()
    hers = run_of(ui, alice, "alice-run")
    for attempt in (
        lambda: ui.toggle_star(hers, "", bob),
        lambda: ui.save_note(hers, "mine now", bob),
        lambda: ui.delete_run(hers, "", bob),
        lambda: ui.add_to_compare(hers, [], bob),
    ):
        with pytest.raises(gr.Error):
            attempt()
    run = service.store.get("alice-run")
    assert (run.starred, run.note) == (False, "")

    ui.delete_run(hers, "", alice)
    bob.deleted.append("alice-run")  # even naming it in his own session's undo list
    with pytest.raises(NotFound, match="cannot come back"):
        service.undo_delete(bob)
    assert service.store.get("alice-run") is None
    with pytest.raises(NotFound, match="nothing to undo"):
        service.undo_delete(service.new_session())
    assert service.undo_delete(alice).id == "alice-run"


def test_filters_star_note_delete_and_undo_through_the_handlers(uis: UIs) -> None:
    ui = uis()
    session = ui.service.new_session()
    run_of(ui, session, "lite-done", prompt="a kite over dunes", age_s=30)
    run_of(ui, session, "lite-failed", status="failed", age_s=20)
    pro = run_of(ui, session, "pro-done", model=PRO, prompt="a kite at dusk", age_s=10)

    _, listed, summary, models = ui.list_runs("", session, ALL_STATUSES, ALL_MODELS, False)
    assert listed == ["pro-done", "lite-failed", "lite-done"]
    assert [c for c, _ in models.choices] == [ALL_MODELS, LITE, PRO]
    assert ui.list_runs("", session, "failed", ALL_MODELS, False)[1] == ["lite-failed"]
    assert ui.list_runs("kite", session, "completed", LITE, False)[1] == ["lite-done"]
    # values the page never offered are not applied, and the summary says so
    for status, model in (("paid", ALL_MODELS), (ALL_STATUSES, "no/such-model"), (3, ["x"])):
        _, listed, summary, models = ui.list_runs("", session, status, model, "yes")
        assert listed == ["pro-done", "lite-failed", "lite-done"]
        assert "so every" in summary and models.value == ALL_MODELS

    # star and note: the card, the caption, the filter
    items, listed, _, _, card, label = ui.toggle_star(pro, "", session)
    assert label == UNSTAR and "★ starred" in card and items[0][1].startswith("★ ")
    assert ui.list_runs("", session, ALL_STATUSES, ALL_MODELS, True)[1] == ["pro-done"]
    card, note = ui.save_note(pro, "Best <b>dusk</b>\x00 light" + "!" * 600, session)
    assert note.startswith("Best <b>dusk</b> light") and len(note) == NOTE_MAX_CHARS
    assert "Best &lt;b&gt;dusk&lt;/b&gt; light" in card  # escaped on the card
    with pytest.raises(gr.Error, match="is text"):
        ui.save_note(pro, {"not": "text"}, session)
    *_, star, kept = ui.show_run(["pro-done"], session, select(0))
    assert (star, kept) == (UNSTAR, note)
    assert ui.toggle_star(pro, "", session)[-1] == STAR

    # add to Compare: labelled apart, added once, only finished runs with a video
    picks = ui.add_to_compare(pro, ["hostile-id", 42], session)[0]
    assert picks.value == ["pro-done"] and len(picks.choices) == 2
    assert ui.add_to_compare(pro, picks.value, session)[0].value == ["pro-done"]
    with pytest.raises(gr.Error):
        ui.add_to_compare({"id": "lite-failed"}, [], session)

    # delete, then undo: the run is back, selected, with its star and note
    ui.service.star(session, "pro-done", True)
    out = ui.delete_run(pro, "", session)
    assert out[1] == ["lite-failed", "lite-done"] and out[-2].visible is True
    assert "Run deleted" in out[-1] and Path(pro["video_path"]).is_file()
    out = ui.undo_delete("", session)
    assert out[1] == ["pro-done", "lite-failed", "lite-done"]
    video, card, record, star, kept = out[4:9]
    assert video == pro["video_path"] and record["id"] == "pro-done" and star == UNSTAR
    assert kept == note and out[-2].visible is False
    # nothing more to undo: said in words, the offer goes
    assert ui.undo_delete("", session)[-2].visible is False


def test_undo_brings_back_the_latest_deletions_newest_first(uis: UIs) -> None:
    ui = uis()
    session = ui.service.new_session()
    records = [run_of(ui, session, f"run-{i}", age_s=10 - i) for i in range(UNDO_KEPT + 1)]
    for record in records:
        ui.service.delete(session, record["id"])
    assert session.deleted == [r["id"] for r in records[1:]]
    assert ui.service.undo_delete(session).id == records[-1]["id"]
    assert ui.service.undo_delete(session).id == records[-2]["id"]
    assert ui.list_runs("", session)[1] == [records[-1]["id"], records[-2]["id"]]


def test_a_run_still_going_updates_itself_in_history(shared: Handlers) -> None:
    """History's timer runs while a listed run is going, redraws the list (and the selected
    card, if it is that run) once it ends, and then stops; another's runs are not watched."""
    ui, service = shared, shared.service
    me, other = service.new_session(), service.new_session()
    going = run_of(ui, me, "still-going", status="processing")
    run_of(ui, me, "long-done", age_s=60)
    run_of(ui, other, "not-mine", status="processing")

    items, listed, _, _ = ui.list_runs("", me, ALL_STATUSES, ALL_MODELS, False)
    assert "processing" in items[0][1]
    unfinished, timer = ui.watch_unfinished([*listed, "not-mine", 7, None], me)
    assert unfinished == ["still-going"] and timer.active is True
    filters = (ALL_STATUSES, ALL_MODELS, False)
    quiet = ui.history_tick(unfinished, going, "", me, *filters)
    assert quiet[-2] == ["still-going"] and all(isinstance(o, dict) for o in quiet[:9])
    assert "processing" in ui.show_run(listed, me, select(0))[1]

    finished = dict(going, status="completed")
    service.store.save(finished, account=service.account_of(me), resumable=True)
    out = ui.history_tick(unfinished, going, "", me, *filters)
    items, listed, *_ = out[:4]
    video, card, record = out[4:7]
    assert listed == ["still-going", "long-done"] and "processing" not in items[0][1]
    assert record["status"] == "completed" and video == going["video_path"]
    assert "completed" in card
    assert out[-2] == [] and out[-1].active is False  # nothing left to watch: it stops
    # a page that sends back junk is not watched, and the timer goes off
    assert ui.watch_unfinished("../../etc", me)[1].active is False


def test_compare_picks_by_thumbnail_click_to_pick_again_to_unpick(shared: Handlers) -> None:
    """Compare's thumbnails are the finished runs with a picture; a click picks, a second
    unpicks, the list and the line follow, at most COMPARE_MAX are picked, and a click on
    a place the page never showed (or another's run) is refused in words."""
    ui, service = shared, shared.service
    me, other = service.new_session(), service.new_session()
    for n in range(COMPARE_MAX + 1):
        run_of(ui, me, f"done-{n}", age_s=n)
    run_of(ui, me, "going", status="processing")
    theirs = run_of(ui, other, "theirs")

    picker, thumbs, shown, line = ui.compare_choices([], me)
    assert shown == [f"done-{n}" for n in range(COMPARE_MAX + 1)]  # newest first, no "going"
    assert len(thumbs) == len(shown) and all(Path(p).is_file() for p, _ in thumbs)
    assert picker.value == [] and "Click two to" in line

    picker, thumbs, shown, line = ui.toggle_pick(shown, [], me, select(2))
    assert picker.value == ["done-2"] and thumbs[2][1].startswith("✓ ")
    assert not thumbs[0][1].startswith("✓") and "pick one more" in line
    picker, thumbs, _, line = ui.toggle_pick(shown, picker.value, me, select(0))
    assert picker.value == ["done-2", "done-0"] and "2 runs picked: press Compare" in line
    picker, thumbs, _, line = ui.toggle_pick(shown, picker.value, me, select(2))
    assert picker.value == ["done-0"] and not thumbs[2][1].startswith("✓")

    # full: the next click says so and picks nothing more; Compare refuses a tampered list
    picks = shown[:COMPARE_MAX]
    picker, *_, line = ui.toggle_pick(shown, picks, me, select(COMPARE_MAX))
    assert picker.value == picks and "as many as fit side by side" in line
    assert ui.compare_runs(picks, me).count("<video") == COMPARE_MAX
    with pytest.raises(gr.Error, match=f"up to {COMPARE_MAX} runs"):
        ui.compare_runs(shown, me)

    # a tampered page: a place never shown, another's id put in the shown list
    for bad_shown, index in ((shown, 99), (shown, -1), ("junk", 0), ([theirs["id"]], 0)):
        with pytest.raises(gr.Error):
            ui.toggle_pick(bad_shown, [], me, select(index))
    assert ui.compare_choices([theirs["id"]], me)[0].value == []
    # with fewer than two finished runs the line says to make some first
    assert "No finished runs yet" in ui.compare_choices([], service.new_session())[3]
