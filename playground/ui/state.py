"""What Gradio keeps per browser session, and which sessions it forgets first.

Gradio keeps every browser session's state (a copy of the page's config, our `Session`)
and, past `state_session_capacity`, forgets the least recently used. Anyone can open
sessions by the thousand for free, so with Gradio's order a flood would push out a real
visitor's: their pasted key, their runs in flight, a fresh allowance on the owner's key.
Here a session with something to lose (`Session.valued`) goes only after every session
with nothing to lose has gone, least recently used first among each.

Gradio's session state also keeps a config of every block of the page, made when the
session starts (~12 ms and ~180 KB with this page) and remade at each update of a
component, with the latest value of each input and output written in. Only deep links
read it (`/gradio_api/deep_link`: a page with a DeepLinkButton, which this one has not),
so here a session keeps no such copy (`LeanSessionState`).
"""

from __future__ import annotations

import datetime
from typing import Any

import gradio as gr
from gradio.state_holder import SessionState, StateHolder

from playground.flow.session import Session


class LeanSessionState(SessionState):
    """Gradio's SessionState without the per-session configs of the page's blocks: the
    state values and the session's own copies of updated components, nothing else."""

    def __init__(self, blocks: gr.Blocks) -> None:
        # Gradio's own set-up, handed no blocks to make configs of.
        super().__init__(_NoBlocks(blocks))  # type: ignore[arg-type]

    def __setitem__(self, key: int, value: Any) -> None:
        block = self.blocks_config.blocks.get(key)
        if isinstance(block, gr.State):
            self._state_ttl[key] = (block.time_to_live, datetime.datetime.now())
            self.state_data[key] = value
        else:
            self.blocks_config.blocks[key] = value

    def _update_config(self, key: int) -> None:
        """No config is kept: nothing to remake."""

    def _update_value_in_config(self, key: int, value: Any) -> None:
        """No config is kept: no value to write in."""


class _NoBlocks:
    """What SessionState reads of a Blocks, with no blocks to make configs of."""

    def __init__(self, blocks: gr.Blocks) -> None:
        self.default_config = blocks.default_config
        self.blocks: dict[int, Any] = {}


class _LeanStateHolder(StateHolder):
    def __getitem__(self, session_id: str) -> SessionState:
        if session_id not in self.session_data:
            self.session_data[session_id] = LeanSessionState(self.blocks)
        return super().__getitem__(session_id)


def lean_sessions(demo: gr.Blocks) -> None:
    """New sessions of the running `demo` keep no copy of the page's config."""
    demo.state_holder.__class__ = _LeanStateHolder


def keep_valued_sessions(demo: gr.Blocks) -> None:
    """Replace the eviction order of the running `demo`'s session store (after launch:
    Gradio makes the store when it starts the server)."""
    holder = demo.state_holder
    session = next(
        block
        for block in demo.blocks.values()
        if isinstance(block, gr.State) and isinstance(block.value, Session)
    )

    def valued(state: Any) -> bool:
        value = state.state_data.get(session._id)
        return isinstance(value, Session) and value.valued

    def victim(keep: str) -> str | None:
        others = [sid for sid in holder.session_data if sid != keep]  # oldest first
        idle = (sid for sid in others if not valued(holder.session_data[sid]))
        return next(idle, others[0] if others else None)

    def update(session_id: str) -> None:
        # Gradio's own update, with the choice of whom to forget replaced.
        with holder.lock:
            if session_id in holder.session_data:
                holder.session_data.move_to_end(session_id)
            while len(holder.session_data) > holder.capacity:
                gone = victim(session_id)
                if gone is None:
                    break
                del holder.session_data[gone]
                holder.time_last_used.pop(gone, None)

    holder.update = update
