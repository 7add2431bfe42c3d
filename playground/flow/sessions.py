"""Sessions a browser comes back to after a reload, a closed tab or an evicted state.

The browser keeps its session's id signed with the server's secret (in localStorage, see
`ui.app`): the signature proves the id was given to it, so nobody reaches another's runs
by guessing. While the session itself is alive (Gradio keeps a closed tab's state an
hour), the browser gets it back whole: its key, its unfinished runs, its storyboard. After
that, only the id: its History and files, not the key, which is never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import weakref
from pathlib import Path

from playground.flow.session import Session

log = logging.getLogger(__name__)

SECRET_FILE = ".session-secret"
_ID = re.compile(r"[0-9a-f]{32}")


class Sessions:
    """Signs session ids and finds the live session behind a signed one."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        # Held only as long as Gradio holds the session: this adds no lifetime of its own.
        self._live: weakref.WeakValueDictionary[str, Session] = weakref.WeakValueDictionary()

    def token(self, session: Session) -> str:
        """The signed id for `session`'s browser; from now on a reload finds it."""
        self._live[session.id] = session
        return f"{session.id}.{self._sign(session.id)}"

    def restore(self, token: object, *, offline: bool) -> Session | None:
        """The session a browser's token names: the live one, else a new one with its id
        (its History); None when the token is missing, malformed or not signed here."""
        if not isinstance(token, str) or token.count(".") != 1:
            return None
        session_id, signature = token.split(".")
        if not _ID.fullmatch(session_id):
            return None
        if not hmac.compare_digest(signature, self._sign(session_id)):
            log.warning("a browser sent a session id not signed by this server; ignored")
            return None
        live = self._live.get(session_id)
        if live is not None:
            return live
        session = Session(id=session_id, offline=offline)
        self._live[session_id] = session
        return session

    def key_tag(self, api_key: str) -> str:
        """A tag that tells whether a key pasted later is the one a run was made with,
        without keeping the key (a keyed hash: the tag reveals nothing of it)."""
        return hmac.new(self._secret, b"key:" + api_key.encode(), hashlib.sha256).hexdigest()[:24]

    def browser_secret(self, purpose: str) -> str:
        """The secret a gr.BrowserState encrypts with: stable across restarts (a random
        one per start would make what browsers kept unreadable) and revealing nothing of
        this one. It is in the page, so it guards a copied localStorage, not the page."""
        return hmac.new(self._secret, b"browser:" + purpose.encode(), hashlib.sha256).hexdigest()

    def _sign(self, session_id: str) -> str:
        return hmac.new(self._secret, session_id.encode(), hashlib.sha256).hexdigest()[:32]


def load_secret(data_dir: Path) -> bytes:
    """The server's signing secret, kept beside the history it opens (so that browsers' ids
    outlive a restart, as the history does), else this process's own."""
    path = secret_file(data_dir)
    try:
        if path.exists():
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secret.hex())
        return secret
    except (OSError, ValueError) as exc:
        log.warning(
            "cannot keep the session secret in %s (%s): sessions last until a restart", path, exc
        )
        return secrets.token_bytes(32)


def secret_file(data_dir: Path) -> Path:
    """Never served: `ui.app.launch` blocks it with the history database."""
    return Path(data_dir).resolve() / SECRET_FILE
