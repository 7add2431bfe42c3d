"""A visitor's session is kept: a flood of strangers' sessions cannot push it out of
Gradio's store, a reload or a closed tab finds it again by the signed id the browser keeps,
and every session on a server shares one pool of connections (the key per request).
"""

from __future__ import annotations

import gc
import os
import stat
from pathlib import Path

import gradio as gr
import pytest
from conftest import UIs
from gradio.state_holder import StateHolder

from playground.flow.routes import Route
from playground.flow.session import Session
from playground.flow.sessions import Sessions, load_secret, secret_file
from playground.ui.app import build_demo
from playground.ui.handlers import Handlers
from playground.ui.state import LeanSessionState, keep_valued_sessions, lean_sessions

SECRET = b"s" * 32


# --------------------------------------------------------------------------- signed ids


def test_a_reload_gets_the_live_session_back_whole() -> None:
    sessions = Sessions(SECRET)
    session = Session()
    session.use_key("sk-visitor")
    session.storyboard.append("run-1")
    token = sessions.token(session)
    assert session.id in token and "sk-visitor" not in token
    assert sessions.restore(token, offline=False) is session


def test_after_the_session_is_gone_the_id_still_reaches_its_history_not_its_key() -> None:
    sessions = Sessions(SECRET)
    session = Session()
    session.use_key("sk-visitor")
    token, session_id = sessions.token(session), session.id
    del session
    gc.collect()  # Gradio let the closed tab's state go
    back = sessions.restore(token, offline=True)
    assert back is not None and back.id == session_id
    assert back.api_key is None and back.offline  # the key was never stored
    assert sessions.restore(token, offline=True) is back  # two tabs: one session


@pytest.mark.parametrize(
    "token",
    [
        None,
        42,
        ["a", "b"],
        "",
        "nodot",
        "a.b.c",
        "../../etc/passwd.abc",
        "0" * 32 + ".",
        "0" * 31 + "g." + "0" * 32,
        "A" * 32 + "." + "0" * 32,
        "٣" * 32 + "." + "0" * 32,
    ],
)
def test_malformed_tokens_give_a_fresh_session(token: object) -> None:
    assert Sessions(SECRET).restore(token, offline=False) is None


def test_a_forged_or_foreign_signature_reaches_nothing() -> None:
    ours, theirs = Sessions(SECRET), Sessions(b"t" * 32)
    victim = Session()
    token = ours.token(victim)
    session_id, signature = token.split(".")
    assert theirs.restore(token, offline=False) is None
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert ours.restore(f"{session_id}.{flipped}", offline=False) is None
    other = "f" * 32
    assert ours.restore(f"{other}.{signature}", offline=False) is None  # not its signature


def test_the_secret_is_kept_private_beside_the_history(tmp_path: Path) -> None:
    first = load_secret(tmp_path / "data")
    path = secret_file(tmp_path / "data")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret(tmp_path / "data") == first  # a restart signs the same ids
    assert len(first) == 32 and load_secret(tmp_path / "other") != first


def test_an_unwritable_data_dir_still_signs_for_this_process(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert len(load_secret(blocker / "data")) == 32


def test_a_page_load_returns_to_the_browsers_session(uis: UIs) -> None:
    ui: Handlers = uis()
    first = ui.service.new_session()
    same, token, banner, _ = ui.init_session(first, None)
    assert same is first and banner
    first.last_seed = 7  # it made a run
    reloaded = ui.service.new_session()  # what Gradio gives the reloaded tab
    back, token_again, _, _ = ui.init_session(reloaded, token)
    assert back is first and token_again == token
    # a session that already has something of its own is never swapped for another
    stranger, _, _, _ = ui.init_session(first, ui.service.sessions.token(Session()))
    assert stranger is first


# --------------------------------------------------------------------------- eviction


def store_of(uis: UIs, capacity: int) -> tuple[StateHolder, gr.State]:
    demo = build_demo(uis().service)
    holder = StateHolder()
    holder.set_blocks(demo)  # as Gradio's server does at launch
    holder.capacity = capacity
    keep_valued_sessions(demo)
    lean_sessions(demo)
    state = next(b for b in demo.blocks.values() if isinstance(b, gr.State))
    return holder, state


def test_a_session_keeps_its_state_and_updates_but_no_copy_of_the_page(uis: UIs) -> None:
    """Gradio's session state made a config of every block per session (and remade one at
    each update); a lean one keeps state values and updated components only."""
    import tracemalloc

    from gradio.state_holder import SessionState

    holder, state = store_of(uis, capacity=10)
    demo = holder.blocks
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    gradio_own = [SessionState(demo) for _ in range(5)]
    theirs = (tracemalloc.get_traced_memory()[0] - before) / 5
    before = tracemalloc.get_traced_memory()[0]
    lean = [holder[f"s{n}"] for n in range(5)]
    ours = (tracemalloc.get_traced_memory()[0] - before) / 5
    tracemalloc.stop()
    assert all(isinstance(s, LeanSessionState) and not s.config_values for s in lean)
    assert gradio_own[0].config_values and ours < theirs / 5, (ours, theirs)

    session = lean[0]
    mine: Session = session[state._id]  # a State's value, made on first use, per session
    assert isinstance(mine, Session) and mine is not lean[1][state._id]
    session[state._id] = replaced = Session()
    assert session[state._id] is replaced and state._id in session._state_ttl
    box = next(b for b in demo.blocks.values() if isinstance(b, gr.Textbox))
    session[box._id] = updated = gr.Textbox(label="changed for this session", render=False)
    assert session[box._id] is updated and lean[1][box._id] is box  # the others keep theirs
    session._update_config(box._id)
    session._update_value_in_config(box._id, "typed")
    assert not session.config_values and list(session.components) == []


def test_a_flood_of_new_sessions_never_pushes_out_a_visitors(uis: UIs) -> None:
    holder, state = store_of(uis, capacity=50)
    real: Session = holder["real"][state._id]
    real.use_key("sk-visitor")
    runner: Session = holder["runner"][state._id]
    runner.last_seed = 3
    for n in range(2000):
        holder[f"flood-{n}"][state._id]  # each opens a session with nothing to lose
    assert len(holder.session_data) == 50
    assert holder.session_data["real"].state_data[state._id] is real
    assert holder.session_data["runner"].state_data[state._id] is runner
    assert "flood-1999" in holder.session_data and "flood-0" not in holder.session_data


def test_when_every_session_has_something_to_lose_the_least_recent_goes(uis: UIs) -> None:
    holder, state = store_of(uis, capacity=3)
    for name in ("a", "b", "c"):
        holder[name][state._id].last_seed = 1
    holder["a"]  # used again
    holder["d"]
    assert list(holder.session_data) == ["c", "a", "d"]  # bounded, whoever fills it
    holder["e"]  # d has nothing to lose
    assert list(holder.session_data) == ["c", "a", "e"]


# --------------------------------------------------------------------------- connections


async def test_every_session_shares_one_pool_of_connections_per_api(uis: UIs) -> None:
    routes = uis().service.routes
    alice, bob = Session(), Session()
    alice.use_key("sk-alice")
    bob.use_key("sk-bob")
    a_client, a_uploads = routes.client_for(alice, routes.route_for(alice))
    b_client, b_uploads = routes.client_for(bob, routes.route_for(bob))
    assert a_client.connections is b_client.connections
    assert a_uploads is not b_uploads  # uploads stay the account's own
    offline = Route("k", "http://127.0.0.1:9", "offline", "offline emulator")
    assert routes.client_for(alice, offline)[0].connections is not a_client.connections
