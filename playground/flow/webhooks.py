"""WaveSpeed's webhooks, where the app has a public address: which URL a submit gives,
which deliveries are genuine, and whose wait a delivery cuts short.

A delivery is only a reason to look: the run then asks the API for the task's result, as
it would have at its next poll, and believes that. So a delivery's body is never trusted;
what is checked is that it is WaveSpeed's (HMAC-SHA256 over `{id}.{timestamp}.{body}` with
the account's secret, `whsec_` stripped), recent (300 s either way) and new (one per
webhook-id), before it may wake anything: a stranger's POSTs cost a signature check, never
a request to WaveSpeed.

Each account (the owner's key, a visitor's key, the emulator) has its own secret and its
own random address token, held in memory: after a restart the old addresses answer 404
and recovery polls. If WaveSpeed's deliveries do not arrive or do not verify (a private Space,
a proxy, a regenerated secret), a run found ended by polling with no delivery turns
webhooks off for that account for a while (runs poll as before); then the secret is read
again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

PATH_PREFIX = "/webhooks/wavespeed/"
MAX_AGE_S = 300  # WaveSpeed's WebhookMaxAgeSeconds: older (or as far ahead) is refused
MAX_BODY_BYTES = 256 * 1024  # a prediction is a few KB
SEEN_KEPT = 10_000  # webhook-ids remembered (each only needs to outlive MAX_AGE_S)
DELIVERED_KEPT = 10_000  # task ids delivered for, remembered for a wait that starts late
SECRET_RETRY_S = 60.0  # after a failed secret read, runs poll this long before asking again
MISS_GRACE_S = 15.0  # a delivery later than this after the run was seen ended is a miss
MISS_OFF_S = 600.0  # after a miss, the account's runs poll for this long
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SIGNATURE = re.compile(r"^v3,([0-9a-fA-F]{64})$")


@dataclass(frozen=True)
class Verdict:
    """What the endpoint answers a delivery: the HTTP status, a sentence, and its kind
    (counted in `WebhookHub.verdicts`)."""

    status: int
    message: str
    kind: str = "accepted"

    @property
    def accepted(self) -> bool:
        return self.status == 200


@dataclass
class _Account:
    token: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    key: bytes | None = None  # the HMAC key: the secret without its prefix
    secret_failed_at: float | None = None
    off_until: float = 0.0
    unconfirmed: dict[str, float] = field(default_factory=dict)  # task id -> seen ended at


class WebhookHub:
    """The process's webhook endpoint state: accounts, deliveries seen, waits to wake."""

    def __init__(self, public_url: str, *, clock: Callable[[], float] = time.time) -> None:
        self.public_url = public_url.rstrip("/")
        self._clock = clock
        self._accounts: dict[str, _Account] = {}
        self._by_token: dict[str, _Account] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()  # webhook-ids, oldest first
        self._delivered: OrderedDict[str, None] = OrderedDict()  # task ids, oldest first
        # task id -> the waits for it (the page's and recovery's may overlap), with loops
        self._waits: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self.verdicts: Counter[str] = Counter()  # deliveries by kind: accepted, forged...

    # ---------------------------------------------------------------- submitting

    async def url_for(self, account: str, secret: Callable[[], Awaitable[str]]) -> str | None:
        """The address to give this account's next submit, or None (poll instead): no
        secret could be read lately, or deliveries did not arrive."""
        entry = self._accounts.get(account)
        if entry is None:
            entry = self._accounts[account] = _Account()
            self._by_token[entry.token] = entry
        now = self._clock()
        self._count_misses(entry, now)
        if now < entry.off_until:
            return None
        if entry.key is None:
            if entry.secret_failed_at is not None and now - entry.secret_failed_at < SECRET_RETRY_S:
                return None
            try:
                entry.key = _hmac_key(await asyncio.wait_for(secret(), timeout=5.0))
            except Exception as exc:  # any failure: this run polls, as without webhooks
                entry.secret_failed_at = now
                log.warning("no webhook secret (%s): runs are followed by polling", type(exc))
                return None
        return f"{self.public_url}{PATH_PREFIX}{entry.token}"

    def expect(self, task_id: str) -> asyncio.Event:
        """An event set when a genuine delivery for `task_id` arrives (at once if one
        already has); in the calling loop, set from whichever loop receives it."""
        event = asyncio.Event()
        self._waits.setdefault(task_id, []).append((asyncio.get_running_loop(), event))
        if task_id in self._delivered:
            event.set()
        return event

    def settle(self, task_id: str, event: asyncio.Event, account: str, *, ended: bool) -> None:
        """A wait for `task_id` is over. If it ended the task's run and no delivery came
        for it, one should come soon (else deliveries do not arrive: `_count_misses`)."""
        waits = [w for w in self._waits.get(task_id, []) if w[1] is not event]
        if waits:
            self._waits[task_id] = waits
        else:
            self._waits.pop(task_id, None)
        entry = self._accounts.get(account)
        if ended and entry is not None and task_id not in self._delivered:
            entry.unconfirmed[task_id] = self._clock()

    # ---------------------------------------------------------------- receiving

    def receive(self, token: str, headers: Mapping[str, str], body: bytes) -> Verdict:
        """Check one delivery and wake its wait; never raises, whatever was sent."""
        verdict = self._check(token, headers, body)
        self.verdicts[verdict.kind] += 1
        if verdict.status != 200:
            log.info("webhook refused (%s): %s", verdict.kind, verdict.message)
        return verdict

    def _check(self, token: str, headers: Mapping[str, str], body: bytes) -> Verdict:
        entry = self._by_token.get(token) if TOKEN.match(token or "") else None
        if entry is None or entry.key is None:
            return Verdict(404, "No webhook is expected at this address.", "unknown")
        webhook_id = headers.get("webhook-id", "")
        stamp = headers.get("webhook-timestamp", "")
        signatures = headers.get("webhook-signature", "").split()
        if not (0 < len(webhook_id) <= 200) or not stamp.isdigit() or not signatures:
            return Verdict(
                400, "A webhook needs webhook-id, webhook-timestamp and -signature.", "malformed"
            )
        if len(body) > MAX_BODY_BYTES:
            return Verdict(413, "That webhook body is too large.", "malformed")
        now = self._clock()
        if abs(now - int(stamp)) > MAX_AGE_S:
            return Verdict(401, "That webhook is too old (or dated ahead): refused.", "stale")
        signed = f"{webhook_id}.{stamp}.".encode() + body
        expected = hmac.new(entry.key, signed, hashlib.sha256).hexdigest()
        if not any(_matches(sig, expected) for sig in signatures[:8]):
            return Verdict(401, "That webhook's signature does not match: refused.", "forged")
        if webhook_id in self._seen:
            return Verdict(200, "Already received; ignored.", "duplicate")
        self._remember(self._seen, webhook_id, SEEN_KEPT)
        task_id = _task_id(body)
        if task_id is None:
            return Verdict(200, "Received, but it names no task; ignored.", "no task")
        self._remember(self._delivered, task_id, DELIVERED_KEPT)
        entry.unconfirmed.pop(task_id, None)
        for loop, event in self._waits.get(task_id, []):
            with contextlib.suppress(RuntimeError):  # that wait's loop has closed
                loop.call_soon_threadsafe(event.set)
        return Verdict(200, "Received.")

    # ---------------------------------------------------------------- internals

    def _count_misses(self, entry: _Account, now: float) -> None:
        """Runs seen ended with no delivery within MISS_GRACE_S: deliveries do not arrive
        here (or not in time), so this account's runs poll for a while."""
        late = [t for t, at in entry.unconfirmed.items() if now - at > MISS_GRACE_S]
        for task_id in late:
            del entry.unconfirmed[task_id]
        if late and now >= entry.off_until:
            # The secret is read again when they resume: a regenerated one would make
            # every genuine delivery look forged.
            entry.off_until, entry.key = now + MISS_OFF_S, None
            log.warning(
                "WaveSpeed's webhooks are not arriving at %s: polling for %d minutes",
                self.public_url,
                MISS_OFF_S // 60,
            )

    @staticmethod
    def _remember(kept: OrderedDict[str, None], key: str, most: int) -> None:
        kept[key] = None
        while len(kept) > most:
            kept.popitem(last=False)


def _hmac_key(secret: str) -> bytes:
    """WaveSpeed's rule: strip `whsec_` and use the rest as it is (not base64-decoded)."""
    return secret.strip().removeprefix("whsec_").encode()


def _matches(signature: str, expected: str) -> bool:
    found = SIGNATURE.match(signature)
    return bool(found) and hmac.compare_digest(found.group(1).lower(), expected)


def _task_id(body: bytes) -> str | None:
    """The task a delivery is about: a prediction, bare or in the API's envelope."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"]
    task_id = data.get("id") if isinstance(data, dict) else None
    return task_id if isinstance(task_id, str) and 0 < len(task_id) <= 200 else None
