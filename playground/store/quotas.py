"""Limits on spending the owner's key on a public server (a Space).

Counts come from history, so they survive restarts: a run counts from the moment the API
accepts it. Runs not yet accepted are held as reservations, so many visitors clicking at
once cannot all slip under the limit together. Stdlib only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from playground.errors import QuotaExceeded
from playground.store import RunStore


@dataclass(frozen=True)
class Limits:
    """What the owner allows visitors to spend of the owner's key (None: no limit)."""

    daily_usd: float
    max_duration_s: int | None = 5
    max_variations: int | None = 2
    runs_per_session: int | None = 3
    runs_per_hour: int | None = 20
    # Sessions (each with its own runs_per_session) one network address may start on the
    # owner's key in an hour: a script opening session after session gets no more.
    sessions_per_address: int | None = 10


@dataclass
class _Held:
    runs: int = 0
    usd: float = 0.0


class Quota:
    def __init__(self, limits: Limits, store: RunStore) -> None:
        self.limits = limits
        self.store = store
        self._lock = threading.RLock()  # usage() is called with it held, from _check()
        self._held: dict[str, _Held] = {}  # per account, not yet in history
        # per network address: the accounts it started spending with, and when (memory
        # only: a restart forgets, and the hourly and daily caps still hold)
        self._by_address: dict[str, dict[str, datetime]] = {}

    def reserve(
        self,
        account: str,
        *,
        runs: int,
        usd: float,
        duration_s: int,
        address: str | None = None,
    ) -> Hold:
        """Check every limit now (QuotaExceeded), and hold `runs` costing `usd` until each
        is accepted (then history counts it) or the returned context exits. `address` is
        where the request came from (None: not known, as for calls inside the process)."""
        with self._lock:
            self._check(account, runs, usd, duration_s)
            if address is not None:
                self._admit_from(address, account)
            held = self._held.setdefault(account, _Held())
            held.runs += runs
            held.usd += usd
        return Hold(self, held, runs, usd)

    def _check(self, account: str, runs: int, usd: float, duration_s: int) -> None:
        lim = self.limits
        if lim.max_duration_s is not None and duration_s > lim.max_duration_s:
            raise QuotaExceeded(
                f"On this demo, videos are at most {lim.max_duration_s} s. Shorten the "
                "duration, or use your own WaveSpeed key for longer clips."
            )
        if lim.max_variations is not None and runs > lim.max_variations:
            raise QuotaExceeded(
                f"On this demo, at most {lim.max_variations} variations at once. Ask for "
                "fewer, or use your own WaveSpeed key."
            )
        used = self.usage(account)
        if lim.runs_per_session is not None and used.session_runs + runs > lim.runs_per_session:
            raise QuotaExceeded(
                f"You have used your {lim.runs_per_session} runs on this demo's key. Enter "
                "your own WaveSpeed key under “Backend & API key” to go on."
            )
        if lim.runs_per_hour is not None and used.hour_runs + runs > lim.runs_per_hour:
            raise QuotaExceeded(
                f"This demo's key has made its {lim.runs_per_hour} runs this hour for all "
                "visitors. Try again later, or use your own WaveSpeed key."
            )
        if used.day_usd + usd > lim.daily_usd + 1e-9:
            raise QuotaExceeded(
                f"This demo's key has spent its ${lim.daily_usd:.2f} for today. Try again "
                "tomorrow (UTC), or use your own WaveSpeed key."
            )

    def _admit_from(self, address: str, account: str) -> None:
        limit = self.limits.sessions_per_address
        if limit is None:
            return
        now = datetime.now(UTC)
        since = now - timedelta(hours=1)
        started = {a: t for a, t in self._by_address.get(address, {}).items() if t >= since}
        if account not in started and len(started) >= limit:
            raise QuotaExceeded(
                f"{limit} sessions from your network have started on this demo's key in the "
                "last hour. Go on in one you already have (reload it: it comes back), wait "
                "an hour, or use your own WaveSpeed key."
            )
        started.setdefault(account, now)
        self._by_address[address] = started

    def usage(self, account: str) -> Usage:
        now = datetime.now(UTC)
        with self._lock:
            held_all = _Held(
                sum(h.runs for h in self._held.values()), sum(h.usd for h in self._held.values())
            )
            held_own = _Held(**vars(self._held.get(account, _Held())))
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        day_usd = self.store.spent(since=day_start, resumable=True) + held_all.usd
        damaged_at = self.store.damaged_at
        if damaged_at is not None and damaged_at >= day_start:
            # Today's spend was in the damaged store and cannot be read: count it as all of it.
            day_usd = max(day_usd, self.limits.daily_usd)
        return Usage(
            session_runs=self.store.count_runs(account=account, resumable=True) + held_own.runs,
            hour_runs=self.store.count_runs(since=now - timedelta(hours=1), resumable=True)
            + held_all.runs,
            day_usd=day_usd,
        )

    def left(self, account: str) -> str:
        """What a visitor has left, in one line."""
        used, lim = self.usage(account), self.limits
        parts = []
        if lim.runs_per_session is not None:
            parts.append(
                f"{max(0, lim.runs_per_session - used.session_runs)} of "
                f"{lim.runs_per_session} runs left for you"
            )
        parts.append(
            f"${max(0.0, lim.daily_usd - used.day_usd):.2f} of "
            f"${lim.daily_usd:.2f} left today for everyone"
        )
        return " · ".join(parts)


class Hold:
    """Runs reserved but not yet in history. Use as a context: what is still held when it
    exits (runs refused or failed before acceptance) is released."""

    def __init__(self, quota: Quota, held: _Held, runs: int, usd: float) -> None:
        self._quota, self._held, self.runs, self.usd = quota, held, runs, usd

    def accepted(self, usd: float) -> None:
        """One run was accepted and saved: history counts it from now on, not the hold."""
        with self._quota._lock:
            if self.runs <= 0:
                return
            usd = min(usd, self.usd)
            self.runs, self.usd = self.runs - 1, self.usd - usd
            self._held.runs, self._held.usd = self._held.runs - 1, self._held.usd - usd

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._quota._lock:
            self._held.runs -= self.runs
            self._held.usd -= self.usd
            self.runs, self.usd = 0, 0.0


@dataclass(frozen=True)
class Usage:
    session_runs: int
    hour_runs: int
    day_usd: float
