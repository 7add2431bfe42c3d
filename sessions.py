"""Who generates with which key, and what each browser session keeps to itself.

Process-wide: the owner's key from settings, the offline emulator, the run history and the
recovery worker, all built on first use (never at import). Per session: a visitor's own
key and client, which never leave that session's server-side state.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

import generation
import history
import quotas
import recovery
from settings import Settings, load_settings
from wavespeed_client import WaveSpeedClient

log = logging.getLogger(__name__)

KeySource = Literal["env", "session", "offline"]
OFFLINE_KEY = "offline-emulator"  # the in-process emulator accepts any non-empty key
USER_PREFIX = "hf:"  # owners of signed-in visitors; never clashes with a session's uuid hex


class NoKey(Exception):
    """No key to generate with: the UI asks for one or offers offline mode."""


@dataclass(frozen=True, repr=False)
class Backend:
    """Where a run goes and with which key; `label` is what the run card shows."""

    api_key: str
    base_url: str
    source: KeySource
    label: str

    def __repr__(self) -> str:  # never shows the key
        return f"Backend({self.source}, {self.base_url!r})"

    @property
    def resumable(self) -> bool:
        """Only the owner's key survives a restart, so only its runs can be resumed."""
        return self.source == "env"

    def new_client(self) -> WaveSpeedClient:
        return WaveSpeedClient(self.api_key, base_url=self.base_url)


@dataclass
class Session:
    """One browser session's private state, kept server-side in gr.State."""

    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    user: str | None = field(default=None, repr=False)  # "hf:<username>" once signed in
    offline: bool = False
    api_key: str | None = field(default=None, repr=False)
    client: WaveSpeedClient | None = field(default=None, repr=False)
    uploads: generation.UploadCache = field(default_factory=generation.UploadCache)
    # accepted, unfinished runs, with the backend each was sent to
    pending: dict[str, tuple[generation.RunRecord, Backend]] = field(default_factory=dict)
    last_seed: int | None = None
    storyboard: list[dict[str, Any]] = field(default_factory=list)  # chained shots, in order

    def __deepcopy__(self, memo: dict[int, Any]) -> Session:
        # Gradio deep-copies a gr.State's initial value for each browser session: each copy
        # is a new visitor, with its own owner id and no key, client, uploads or runs.
        return Session(offline=self.offline)

    def sign_in(self, account: str | None) -> None:
        """Who this session is signed in as with Hugging Face (None: nobody), as Gradio
        tells each event from the session cookie: the account id, or a username (which
        HF treats case-insensitively)."""
        self.user = f"{USER_PREFIX}{account.lower()}" if account else None

    @property
    def current(self) -> generation.RunRecord | None:
        """The latest run this session waits for, if any."""
        latest = next(reversed(self.pending.values()), None)
        return latest[0] if latest else None

    def track(self, record: generation.RunRecord, backend: Backend) -> None:
        """Remember a run while it is unfinished; forget it once it has an outcome."""
        self.last_seed = record.seed
        if record.status in history.FINISHED:
            self.pending.pop(record.id, None)
        else:
            self.pending[record.id] = (record, backend)


class Backends:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stats = generation.DurationStats()
        self._server_client: WaveSpeedClient | None = None
        self._server_uploads = generation.UploadCache()
        self._offline_client: WaveSpeedClient | None = None
        self._offline_uploads = generation.UploadCache()
        self._emulator: Any = None
        self._server_pacer = generation.Pacer(self.videos_per_minute)
        self._key_pacers: dict[str, generation.Pacer] = {}  # sha256 of a visitor's key

    @cached_property
    def history(self) -> history.History:
        return history.History(self.settings.data_dir / history.DATABASE)

    @cached_property
    def recovery(self) -> recovery.Recovery:
        return recovery.Recovery(self.history, self.stats)

    @property
    def shared(self) -> bool:
        """A public server (a Space): each session sees only its own runs."""
        return self.settings.shared

    def owner_of(self, session: Session) -> str:
        """Whose runs these are, for history and quotas: on a shared server the signed-in
        HF user (the same in every tab and session), else the session itself."""
        return (session.user or session.owner) if self.shared else history.LOCAL_OWNER

    def visible_owner(self, session: Session) -> str | None:
        """Whose runs a session may list: its own on a shared server, all of them locally."""
        return self.owner_of(session) if self.shared else None

    def backend_for(self, session: Session) -> Backend:
        if session.offline:
            return Backend(OFFLINE_KEY, self.emulator_url(), "offline", "offline emulator")
        if session.api_key:
            return Backend(
                session.api_key, self.settings.base_url, "session", "WaveSpeed (your key)"
            )
        if self.owner_key_usable:
            return Backend(self.settings.api_key or "", self.settings.base_url, "env", "WaveSpeed")
        raise NoKey

    @property
    def owner_key_usable(self) -> bool:
        """The owner's key serves visitors of a public server only within limits they set."""
        return bool(self.settings.api_key) and (
            not self.shared or self.settings.visitor_limits is not None
        )

    def must_sign_in(self, session: Session) -> bool:
        """The owner asked that only visitors signed in with HF spend their key. Without
        sign-in on the Space nobody can: refused rather than opened to everyone."""
        return self.shared and self.settings.require_login and session.user is None

    @cached_property
    def quota(self) -> quotas.Quota | None:
        """Limits on the owner's key for visitors; None where none apply (a local app)."""
        limits = self.settings.visitor_limits
        return quotas.Quota(limits, self.history) if self.shared and limits else None

    def output_dir(self, session: Session) -> Path:
        """Where a session's videos go. On a public server, under the visitor's random
        owner id: file URLs are then unguessable to other visitors."""
        data = self.settings.data_dir
        return data / "visitors" / session.owner if self.shared else data

    def client_for(
        self, session: Session, backend: Backend
    ) -> tuple[WaveSpeedClient, generation.UploadCache]:
        """A client for the UI's event loop, reused across runs of the same backend."""
        if backend.source == "session":
            if session.client is None:
                session.client = backend.new_client()
            return session.client, session.uploads
        if backend.source == "env":
            if self._server_client is None:
                self._server_client = backend.new_client()
            return self._server_client, self._server_uploads
        if self._offline_client is None:
            self._offline_client = backend.new_client()
        return self._offline_client, self._offline_uploads

    @property
    def videos_per_minute(self) -> int:
        return generation.TIER_VIDEOS_PER_MINUTE[self.settings.tier]

    def pacer_for(self, session: Session, backend: Backend) -> generation.Pacer | None:
        """One pacer per account: the owner's key is shared by every session."""
        if backend.source == "env":
            return self._server_pacer
        if backend.source == "session":
            # by the key, not the session: two tabs with one key are one account
            account = hashlib.sha256(backend.api_key.encode()).hexdigest()
            if account not in self._key_pacers:
                self._key_pacers[account] = generation.Pacer(self.videos_per_minute)
            return self._key_pacers[account]
        return None  # the emulator has no rate limit

    def emulator_url(self) -> str:
        if self._emulator is None:
            import emulator  # only offline mode needs the server and its renderer

            config = emulator.EmulatorConfig(inference_seconds=self.settings.offline_seconds)
            self._emulator = emulator.start_in_thread(config)  # its files live in a temp dir
        return self._emulator.base_url

    def save(self, session: Session, backend: Backend, record: generation.RunRecord) -> None:
        self.history.save(
            record.to_json(), owner=self.owner_of(session), resumable=backend.resumable
        )
        if record.status == "completed":
            self.prune()

    def prune(self) -> list[str]:
        """Housekeeping by the limits in settings; with none set, nothing is ever deleted."""
        s = self.settings
        max_bytes = int(s.max_data_mb * 1024 * 1024) if s.max_data_mb else None
        deleted = self.history.prune(max_age_days=s.max_age_days, max_bytes=max_bytes)
        if deleted:
            log.info("housekeeping deleted %d old run(s)", len(deleted))
        return deleted

    def finish_in_background(
        self, session: Session, backend: Backend, record: generation.RunRecord
    ) -> None:
        """Nobody waits any more, but the task may still complete and be billed: keep it."""
        self.recovery.finish(
            backend.new_client, record, owner=self.owner_of(session), resumable=backend.resumable
        )

    def close(self) -> None:
        """Stop background work and the offline emulator (tests, and a clean shutdown)."""
        if "recovery" in self.__dict__:
            self.recovery.stop()
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None
        if "history" in self.__dict__:
            self.history.close()

    def resume(self) -> list[str]:
        """Start-up: poll again the runs a previous process left unfinished."""
        return recovery.resume_unfinished(
            self.history,
            self.recovery,
            api_key=self.settings.api_key,
            base_url=self.settings.base_url,
        )


@cache
def backends() -> Backends:
    return Backends(load_settings())


def new_session() -> Session:
    b = backends()
    return Session(offline=b.settings.offline or not b.owner_key_usable)
