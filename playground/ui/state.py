"""Which browser sessions Gradio forgets first when it holds too many.

Gradio keeps every browser session's state (a copy of the page's config, our `Session`)
and, past `state_session_capacity`, forgets the least recently used. Anyone can open
sessions by the thousand for free, so with Gradio's order a flood would push out a real
visitor's: their pasted key, their runs in flight, a fresh allowance on the owner's key.
Here a session with something to lose (`Session.valued`) goes only after every session
with nothing to lose has gone, least recently used first among each.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.flow.session import Session


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
