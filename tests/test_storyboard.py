"""Editing the storyboard: pick a shot, move it earlier or later, remove it, and Clear,
which asks first. The service is called as the page's handlers call it, over runs
recorded in this test's own store (tiny clips written here: no generation needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import gradio as gr
import pytest
from conftest import select
from PIL import Image

from playground.errors import InvalidRequest, NotFound
from playground.flow.generation import RunRecord
from playground.flow.session import Session
from playground.model.status import RunStatus
from playground.ui import handlers as handlers_module
from playground.ui.handlers import Handlers

# Anything a page (or a hand-made request) could send as a shot's place on a 3-shot board.
HOSTILE_INDEXES = [-1, -3, 3, 99, 2**63, "0", "1", "", True, False, 0.0, 1.5, None, [0], {}]
HOSTILE_STEPS = [0, 2, -2, True, False, 1.0, -1.0, "1", "-1", None, [1]]


def write_clip(path: Path, shade: int) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(3):
            frame = Image.new("RGB", (64, 48), (shade, 40, 90))
            container.mux(stream.encode(av.VideoFrame.from_image(frame)))
        container.mux(stream.encode(None))
    return path


def recorded_shot(ui: Handlers, session: Session, tmp_path: Path, name: str) -> str:
    """A finished run of this session's with a video on disk, added to its storyboard."""
    clip = write_clip(tmp_path / f"{name}.mp4", shade=ord(name))
    record = RunRecord(
        id=f"run-{name}",
        model="bytedance/seedance-v1-lite-i2v-480p",
        status=RunStatus.COMPLETED,
        seed=ord(name),
        inputs={"prompt": f"beat {name}", "duration": 2},
        cost_usd=0.0,
        backend="offline",
        video_path=str(clip),
        created_at="2025-01-01T00:00:00+00:00",
    ).to_json()
    ui.service.store.save(record, account=ui.service.account_of(session), resumable=False)
    ui.service.add_shot(session, record["id"])
    return record["id"]


@pytest.fixture
def board(ui: Handlers, tmp_path: Path) -> tuple[Session, list[str]]:
    """A session whose storyboard holds three shots: a, b, c."""
    session = ui.service.new_session()
    return session, [recorded_shot(ui, session, tmp_path, n) for n in ("a", "b", "c")]


@pytest.fixture
def said(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the handlers told the person with gr.Info, in order."""
    messages: list[str] = []
    monkeypatch.setattr(handlers_module.gr, "Info", messages.append)
    return messages


def shown(ui: Handlers, session: Session) -> list[str]:
    return [shot.id for shot in ui.service.shots(session)]


def captions(gallery: Any) -> list[str]:
    """The prompt part of each caption ("Shot 1 · seed … · 2 s · beat a" -> "1 beat a")."""
    items = gallery.value if isinstance(gallery, gr.Gallery) else gallery
    texts = [item[1] if isinstance(item, tuple) else item["caption"] for item in items]
    return [f"{t.split(' · ')[0].removeprefix('Shot ')} {t.split(' · ')[-1]}" for t in texts]


# ---------------------------------------------------------------- the service


def test_a_shot_moves_one_place_and_says_where_it_is(ui: Handlers, board) -> None:
    session, (a, b, c) = board
    assert ui.service.move_shot(session, 0, 1) == 1
    assert shown(ui, session) == [b, a, c]
    assert ui.service.move_shot(session, 2, -1) == 1
    assert shown(ui, session) == [b, c, a]


def test_a_shot_at_either_end_stays_there(ui: Handlers, board) -> None:
    session, (a, b, c) = board
    assert ui.service.move_shot(session, 0, -1) == 0
    assert ui.service.move_shot(session, 2, 1) == 2
    assert shown(ui, session) == [a, b, c]


def test_a_removed_shot_leaves_the_storyboard_but_not_history(ui: Handlers, board) -> None:
    session, (a, b, c) = board
    removed = ui.service.remove_shot(session, 1)
    assert removed.id == b
    assert shown(ui, session) == [a, c] == session.storyboard
    assert ui.service.run(session, b).id == b  # the run itself is untouched


def test_clear_says_how_many_shots_went(ui: Handlers, board) -> None:
    session, _ = board
    assert ui.service.clear_shots(session) == 3
    assert session.storyboard == [] and ui.service.shots(session) == []
    assert ui.service.clear_shots(session) == 0


@pytest.mark.parametrize("index", HOSTILE_INDEXES, ids=repr)
def test_a_bad_index_is_refused_in_words_and_changes_nothing(
    ui: Handlers, board, index: Any
) -> None:
    session, ids = board
    for act in (
        lambda: ui.service.shot(session, index),
        lambda: ui.service.move_shot(session, index, 1),
        lambda: ui.service.move_shot(session, index, -1),
        lambda: ui.service.remove_shot(session, index),
    ):
        with pytest.raises(NotFound, match=r"shot again|Pick a shot first"):
            act()
    assert session.storyboard == ids


@pytest.mark.parametrize("step", HOSTILE_STEPS, ids=repr)
def test_a_bad_step_is_refused_in_words(ui: Handlers, board, step: Any) -> None:
    session, ids = board
    with pytest.raises(InvalidRequest, match="one place at a time"):
        ui.service.move_shot(session, 1, step)
    assert session.storyboard == ids


def test_an_empty_storyboard_says_how_to_fill_it(ui: Handlers) -> None:
    session = ui.service.new_session()
    for act in (
        lambda: ui.service.move_shot(session, 0, 1),
        lambda: ui.service.remove_shot(session, 0),
    ):
        with pytest.raises(NotFound, match="storyboard is empty: use “Continue from last frame”"):
            act()


def test_places_count_the_shots_as_shown(ui: Handlers, board) -> None:
    """A run whose video is gone is not shown: the places the page sends skip it, and it
    keeps its own place (it may come back when its owner signs in again)."""
    session, (a, b, c) = board
    Path(ui.service.run(session, b).record["video_path"]).unlink()
    assert shown(ui, session) == [a, c]

    assert ui.service.move_shot(session, 1, -1) == 0  # c, as shown second, moves first
    assert shown(ui, session) == [c, a]
    assert session.storyboard == [c, b, a]
    with pytest.raises(NotFound, match="it has 2"):
        ui.service.remove_shot(session, 2)
    assert ui.service.remove_shot(session, 1).id == a
    assert session.storyboard == [c, b]


# ---------------------------------------------------------------- the page's handlers


def test_the_picked_shot_moves_and_stays_picked(ui: Handlers, board, said: list[str]) -> None:
    session, (a, b, c) = board
    picked, note = ui.pick_shot(session, select(2))
    assert picked == c and "Picked: shot 3" in note and "beat c" in note

    gallery, note = ui.move_shot_earlier(picked, session)
    assert said[-1] == "Shot 3 is now shot 2."
    assert captions(gallery) == ["1 beat a", "2 beat c", "3 beat b"]
    assert gallery.selected_index == 1  # the gallery keeps showing it picked
    assert "Picked: shot 2" in note and "beat c" in note

    ui.move_shot_earlier(picked, session)
    assert said[-1] == "Shot 2 is now shot 1."
    ui.move_shot_earlier(picked, session)
    assert said[-1] == "Shot 1 is already the first shot."
    gallery, _ = ui.move_shot_later(picked, session)
    assert said[-1] == "Shot 1 is now shot 2."
    assert shown(ui, session) == [a, c, b]


def test_remove_takes_off_the_picked_shot_and_says_history_keeps_it(
    ui: Handlers, board, said: list[str]
) -> None:
    session, (a, b, c) = board
    picked, _ = ui.pick_shot(session, select(1))
    gallery, picked, note = ui.remove_shot(picked, session)
    assert said[-1] == "Shot 2 removed; the run stays in History."
    assert captions(gallery) == ["1 beat a", "2 beat c"]
    assert shown(ui, session) == [a, c] and ui.service.run(session, b).id == b
    assert picked is None and note == ""  # nothing is picked any more
    with pytest.raises(gr.Error, match="Pick a shot first"):
        ui.remove_shot(picked, session)


@pytest.mark.parametrize("picked", [None, "", "run-elsewhere", 0, ["run-a"]], ids=repr)
def test_buttons_with_nothing_picked_say_to_pick_a_shot(ui: Handlers, board, picked: Any) -> None:
    session, ids = board
    for act in (ui.move_shot_earlier, ui.move_shot_later, ui.remove_shot):
        with pytest.raises(gr.Error, match="Pick a shot first: click its picture"):
            act(picked, session)
    assert session.storyboard == ids


def test_picking_a_shot_that_is_not_there_says_so(ui: Handlers, board) -> None:
    session, _ = board
    with pytest.raises(gr.Error, match="not on the storyboard any more"):
        ui.pick_shot(session, select(7))


def test_clear_asks_first_and_keep_keeps_them(ui: Handlers, board, said: list[str]) -> None:
    session, ids = board
    row, question = ui.ask_to_clear(session)
    assert row.visible is True and "Clear all 3 shots? The runs stay in History." in question
    assert session.storyboard == ids  # asking changed nothing

    row = ui.keep_storyboard(session)
    assert row.visible is False and said[-1] == "Nothing cleared: the storyboard keeps its 3 shots."
    assert session.storyboard == ids

    shots, stitched, note, picked, picked_note, row = ui.clear_storyboard(session)
    assert said[-1] == "Storyboard cleared (3 shots); the runs stay in History."
    assert (shots, stitched, note, picked, picked_note) == ([], None, "", None, "")
    assert row.visible is False and session.storyboard == []


def test_clear_on_an_empty_storyboard_does_not_ask(ui: Handlers, said: list[str]) -> None:
    session = ui.service.new_session()
    row, question = ui.ask_to_clear(session)
    assert row.visible is False and question == ""
    assert said == ["The storyboard was already empty."]
