"""Which key and API address a run is sent by, and the clients and pacers that go with them.

Three sources of a key: the owner's (the environment's `WAVESPEED_API_KEY`, spent for
visitors of a public server only within the owner's limits), a visitor's own (pasted into
their session, never stored), and the offline emulator (any key; free). One pacer per
WaveSpeed account: every session on the owner's key shares one; two tabs with one visitor
key share theirs.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from playground.errors import NoKey
from playground.flow.generation import TIER_VIDEOS_PER_MINUTE, Pacer, UploadCache
from playground.flow.session import Session
from playground.settings import Settings
from playground.store.history import OFFLINE_BACKEND
from wavespeed_client import ConnectionPools, WaveSpeedClient

KeySource = Literal["owner", "visitor", "offline"]
OFFLINE_KEY = "offline-emulator"  # the in-process emulator accepts any non-empty key


@dataclass(frozen=True, repr=False)
class Route:
    """Where a run goes and with which key; `label` is what the run card shows."""

    api_key: str
    base_url: str
    source: KeySource
    label: str

    def __repr__(self) -> str:  # never shows the key
        return f"Route({self.source}, {self.base_url!r})"

    @property
    def account(self) -> str:
        """Whose account this is, without the key: the owner, the emulator, or a visitor's
        key by its sha256 (two tabs with one key are one account)."""
        if self.source == "visitor":
            return hashlib.sha256(self.api_key.encode()).hexdigest()
        return self.source

    @property
    def resumable(self) -> bool:
        """Only the owner's key survives a restart, so only its runs can be resumed."""
        return self.source == "owner"

    def new_client(self, pools: ConnectionPools) -> WaveSpeedClient:
        """A client with this route's key over `pools`' connections (the calling loop's)."""
        return pools.client(self.api_key, self.base_url)


class Routes:
    """The process-wide half: the connections, the offline emulator, the pacers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # One pool of connections per API base for every key: a client per session costs
        # nothing but its key (docs/ARCHITECTURE.md, memory per session).
        self.pools = ConnectionPools()
        self._owner_uploads = UploadCache()
        self._offline_uploads = UploadCache()
        self._emulator = None
        self._owner_pacer = Pacer(self.videos_per_minute)
        self._key_pacers: dict[str, Pacer] = {}  # by sha256 of a visitor's key

    @property
    def owner_key_usable(self) -> bool:
        """The owner's key serves visitors of a public server only within limits they set."""
        s = self.settings
        return bool(s.api_key) and (not s.shared or s.visitor_limits is not None)

    def route_for(self, session: Session) -> Route:
        """The route a session's next run takes; NoKey when it has none."""
        if session.offline:
            return Route(OFFLINE_KEY, self.emulator_url(), "offline", OFFLINE_BACKEND)
        if session.api_key:
            return Route(session.api_key, self.settings.base_url, "visitor", "WaveSpeed (your key)")
        if self.owner_key_usable:
            return Route(self.settings.api_key or "", self.settings.base_url, "owner", "WaveSpeed")
        raise NoKey

    def client_for(self, session: Session, route: Route) -> tuple[WaveSpeedClient, UploadCache]:
        """A client for the calling loop, and the uploads already made with its account."""
        uploads = {
            "visitor": session.uploads,
            "owner": self._owner_uploads,
            "offline": self._offline_uploads,
        }[route.source]
        return route.new_client(self.pools), uploads

    def later_client(self, route: Route) -> Callable[[], WaveSpeedClient]:
        """A client made when called, in the caller's loop (recovery's, for a handed-over run)."""
        return functools.partial(route.new_client, self.pools)

    @property
    def videos_per_minute(self) -> int | None:
        """The tier's limit as a hint to start from; None: learned from the API's 429s."""
        tier = self.settings.tier
        return TIER_VIDEOS_PER_MINUTE[tier] if tier else None

    def pacer_for(self, route: Route) -> Pacer | None:
        """One pacer per account: the owner's key is shared by every session."""
        if route.source == "owner":
            return self._owner_pacer
        if route.source == "visitor":
            account = route.account
            if account not in self._key_pacers:
                self._key_pacers[account] = Pacer(self.videos_per_minute)
            return self._key_pacers[account]
        return None  # the emulator has no rate limit

    def emulator_url(self) -> str:
        if self._emulator is None:
            from playground import emulator  # only offline mode needs the server and renderer

            config = emulator.EmulatorConfig(inference_seconds=self.settings.offline_seconds)
            self._emulator = emulator.start_in_thread(config)  # its files live in a temp dir
        return self._emulator.base_url

    def close(self) -> None:
        """Stop the offline emulator, if it was started."""
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None
