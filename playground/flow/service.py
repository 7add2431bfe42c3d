"""The playground as a service: everything a visitor can do, below any UI.

`main()` builds one `Playground` and hands it to the UI, whose handlers only turn widgets
into calls of these methods and results into views. It owns the process-wide parts (the
run store, the recovery worker, quotas, routes, duration statistics, URL previews) and
takes each browser `Session` as an argument. It raises the app's own errors
(`playground.errors`) and the client's (`wavespeed_client`); the UI words neither.

Nothing paid is lost: the `_Ledger` writes a run down the moment the API accepts it and at
every change after, and a run nobody waits for any more (Cancel, a timeout) is handed to
`recovery`, which finishes it and downloads its video.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import threading
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from playground.errors import (
    AudioFlagged,
    ImageError,
    ImageTooSmall,
    InvalidRequest,
    NotFound,
    QuotaExceeded,
    RunContinues,
    SignInRequired,
)
from playground.flow import generation
from playground.flow.catalogs import Catalogs
from playground.flow.generation import ImageInput, Progress, RunContext, RunRecord
from playground.flow.prices import Price, Prices
from playground.flow.recovery import Recovery, collectable, resume_unfinished
from playground.flow.routes import Route, Routes
from playground.flow.session import Session
from playground.flow.sessions import Sessions, load_secret
from playground.flow.thumbnails import Thumbnails, make_thumbnail
from playground.flow.webhooks import WebhookHub
from playground.logs import REQUEST_ID
from playground.media import images, urls, videos
from playground.media.previews import RemotePreviews
from playground.model import catalog, seedance
from playground.model.form import IMAGE_FIELDS, Form, whole_number
from playground.model.status import RunStatus
from playground.settings import Settings
from playground.store import RunStore, StoredRun
from playground.store.history import DATABASE, LOCAL_ACCOUNT, UNDO_GRACE_S, History
from playground.store.quotas import Hold, Quota
from wavespeed_client import (
    APIConnectionError,
    APIStatusError,
    TaskFailed,
    TaskTimeout,
    WaveSpeedError,
)

log = logging.getLogger(__name__)

IMAGE_NAMES = {"image": "start image", "last_image": "end image"}
MODERATION = 1200  # WaveSpeed's error code for content moderation (the API contract)
# Input images decoded at once, for all visitors: bounds the memory a crowd's uploads take.
DECODES_AT_ONCE = 2
# Images prepared lately, by content: a rerun, a preset or another visitor's same photo is
# not decoded again. What is kept is the JPEG sent (a few hundred KB each).
PREPARED_KEPT_BYTES = 64 * 1024 * 1024
# A page loaded while its runs go on reads their records this often (the store, not the
# API: whoever waits for the task writes it down), for as long as a run may take.
FOLLOW_EVERY_S = 1.0
FOLLOW_PATIENCE_S = 30 * 60
HISTORY_WATCHED = 200  # runs of History's listing looked at for their end, at most
STATS_FROM_HISTORY = 500  # completed runs whose waits teach the polling schedule at start
COMPARE_MAX = 6  # runs side by side: more would be too small to tell apart
EMPTY_STORYBOARD = "The storyboard is empty: use “Continue from last frame” on a result."


@dataclass(frozen=True)
class Waiting:
    """A queued run holds its quota and waits for its turn."""


WAITING = Waiting()
# Waits for a queued run's turn: False when it was taken out first and must not start.
Turn = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class PreparedRun:
    """A validated request with its images ready to send and the route it will take:
    what a single run and a batch both start from. `notes` are for the person (an image
    was enlarged, the two images differ in shape)."""

    session: Session
    request: seedance.SeedanceRequest
    start: ImageInput
    end: ImageInput | None
    route: Route
    notes: tuple[str, ...] = ()
    # a model's lists of images (reference images), uploaded with the start image
    image_lists: Mapping[str, tuple[ImageInput, ...]] = field(default_factory=dict)


# offline: the emulator; visitor: their own key; owner: the owner's key (within limits on a
# public server); sign-in: the owner's key needs an HF sign-in; no-key: nothing to spend.
StandingKind = Literal["offline", "visitor", "owner", "sign-in", "no-key"]


@dataclass(frozen=True)
class Standing:
    """How a session stands, for its banner: which route it would take and its limits."""

    kind: StandingKind
    quota_left: str = ""  # on the owner's key of a public server: what is left
    signed_in: bool = False
    sign_in_message: str = ""
    store_damaged: str = ""  # the history was damaged at start: what became of it


# What History's status filter offers (the statuses a finished or running run shows).
HISTORY_STATUSES = (
    RunStatus.COMPLETED,
    RunStatus.FAILED,
    RunStatus.PROCESSING,
    RunStatus.CANCELLED,
    RunStatus.TIMEOUT,
    RunStatus.INTERRUPTED,
    RunStatus.OUTCOME_UNKNOWN,
)


@dataclass(frozen=True)
class RunList:
    runs: list[StoredRun]
    total_spent_usd: float
    would_have_cost_usd: float = 0.0  # the offline emulator's free runs, at WaveSpeed's price
    models: tuple[str, ...] = ()  # the models of the account's runs: the model filter's choices
    # filters that were not applied, each in words (a value the page never offered)
    ignored: tuple[str, ...] = ()

    @property
    def completed(self) -> list[StoredRun]:
        return [r for r in self.runs if r.status is RunStatus.COMPLETED]


@dataclass(frozen=True)
class Stitched:
    path: Path
    reencoded: bool
    shots: int
    total_s: int
    sound_rebuilt: bool = False  # the shots' sound could not be copied: one new soundtrack


@dataclass
class _Ledger:
    """Writes a run down when the API accepts it and at every change after, and moves its
    cost from the quota hold (if any) to history, which counts it from then on."""

    playground: Playground
    session: Session
    route: Route
    hold: Hold | None = None
    accepted: set[str] = field(default_factory=set)  # the tasks the API accepted

    def __call__(self, record: RunRecord) -> None:
        self.session.track(record, self.route)
        self.playground.record(self.session, self.route, record)
        if record.id not in self.accepted:
            if not self.accepted:  # this Generate's first task: the page's latest from now
                self.session.latest = []
            self.session.latest.append(record.id)
            self.accepted.add(record.id)
            if self.hold is not None:
                self.hold.accepted(record.cost_usd or 0.0)


def sign_in_message(oauth: bool) -> str:
    """Why the demo's key is refused to a visitor who is not signed in, and what to do."""
    if oauth:
        return (
            "This demo's key is for visitors signed in with Hugging Face. Sign in under "
            "“Backend & API key”, or paste your own WaveSpeed key there."
        )
    return (
        "This demo's key is for signed-in visitors, but sign-in is not enabled here. Paste "
        "your own WaveSpeed key under “Backend & API key”, or choose Offline."
    )


class Playground:
    def __init__(self, settings: Settings, *, store: RunStore | None = None) -> None:
        self.settings = settings
        self.store: RunStore = store or History(settings.data_dir / DATABASE)
        self.stats = generation.DurationStats()
        self.thumbnails = Thumbnails()
        # What earlier processes learned: a restart's first runs poll like later ones.
        finished = self.store.list(status=RunStatus.COMPLETED.value, limit=STATS_FROM_HISTORY)
        self.stats.learn_from([run.record for run in finished])
        # Those a previous process left without a thumbnail: `resume` makes them.
        self._thumbless = [
            r for r in finished if "thumb" not in (r.record.get("input_files") or {})
        ]
        self.routes = Routes(settings)
        # Deliveries by webhook where WaveSpeed can reach this app (ui.app mounts the path).
        base = settings.webhook_base
        self.webhooks = WebhookHub(base) if base else None
        self.recovery = Recovery(self.store, self.stats)
        limits = settings.visitor_limits
        self.quota = Quota(limits, self.store) if settings.shared and limits else None
        self.previews = RemotePreviews()
        self.sessions = Sessions(load_secret(settings.data_dir))
        self.catalogs = Catalogs(settings.data_dir / "catalog")
        self.prices = Prices()
        self._decoding = asyncio.Semaphore(DECODES_AT_ONCE)
        self._prepared = _PreparedImages(PREPARED_KEPT_BYTES)
        self._closing = threading.Event()
        self._backfill: threading.Thread | None = None

    # ------------------------------------------------------------------ life cycle

    def close(self) -> None:
        """Stop background work and the offline emulator (tests, and a clean shutdown)."""
        self._closing.set()
        self.recovery.stop()
        self.routes.close()
        if self._backfill is not None:
            self._backfill.join(timeout=5)
        self.store.close()

    def resume(self) -> list[str]:
        """Start-up: poll again the runs a previous process left unfinished, and make the
        thumbnails a previous process left for later (in a thread of their own)."""
        self._backfill = threading.Thread(
            target=self._backfill_thumbnails, name="thumbnails", daemon=True
        )
        self._backfill.start()
        return resume_unfinished(
            self.store,
            self.recovery,
            api_key=self.settings.api_key,
            base_url=self.settings.base_url,
            pools=self.routes.pools,
        )

    def _backfill_thumbnails(self) -> None:
        try:
            if made := self._make_missing_thumbnails():
                log.info("made %d thumbnail(s) a previous process left for later", made)
        except Exception:  # a damaged store is reported where it is used; never fatal here
            log.warning("thumbnails left for later were not made", exc_info=True)

    def _make_missing_thumbnails(self) -> int:
        """Finished runs whose thumbnail waited for a crowd to pass when the process
        stopped: made now, one at a time, and saved. Only videos in the data directory."""
        data = self.settings.data_dir.resolve()
        made = 0
        for run in self._thumbless:
            if self._closing.is_set():
                break
            video = Path(str(run.record.get("video_path") or ""))
            if not video.is_file() or not video.resolve().is_relative_to(data):
                continue
            if thumb := make_thumbnail(video):
                record = RunRecord.from_json(run.record)
                record.input_files["thumb"] = str(thumb)
                try:
                    generation.write_sidecar(record)
                    self.store.save(record.to_json(), account=run.account, resumable=run.resumable)
                except (OSError, sqlite3.Error) as exc:  # a full disk, or closing: next start
                    log.warning("the thumbnail of run %s was not kept: %s", run.id, exc)
                    break
                made += 1
        self._thumbless = []
        return made

    def prune(self) -> list[str]:
        """Housekeeping by the limits in settings; with none set, nothing is ever deleted."""
        s = self.settings
        max_bytes = int(s.max_data_mb * 1024 * 1024) if s.max_data_mb else None
        deleted = self.store.prune(max_age_days=s.max_age_days, max_bytes=max_bytes)
        if deleted:
            log.info("housekeeping deleted %d old run(s)", len(deleted))
        return deleted

    # ------------------------------------------------------------------ who is this

    def new_session(self) -> Session:
        return Session(offline=self.settings.offline or not self.routes.owner_key_usable)

    def returning(self, session: Session, token: object) -> tuple[Session, str]:
        """A page (re)loads with `session` and the signed id its browser kept, if any: the
        session it comes back to (`sessions` explains), and the signed id to keep now."""
        if not session.valued:
            session = self.sessions.restore(token, offline=session.offline) or session
        return session, self.sessions.token(session)

    def account_of(self, session: Session) -> str:
        """Whose runs these are, for history and quotas: on a shared server the signed-in
        HF user (the same in every tab and session), else the session itself."""
        return (session.user or session.id) if self.settings.shared else LOCAL_ACCOUNT

    def visible_account(self, session: Session) -> str | None:
        """Whose runs a session may see: its own on a shared server, all of them locally."""
        return self.account_of(session) if self.settings.shared else None

    def must_sign_in(self, session: Session) -> bool:
        """The owner asked that only visitors signed in with HF spend their key. Without
        sign-in on the Space nobody can: refused rather than opened to everyone."""
        return self.settings.shared and self.settings.require_login and session.user is None

    def output_dir(self, session: Session) -> Path:
        """Where a session's videos go. On a public server, under the session's random id:
        file URLs are then unguessable to other visitors."""
        data = self.settings.data_dir
        return data / "visitors" / session.id if self.settings.shared else data

    def use_key(self, session: Session, key: str | None) -> list[str]:
        """The visitor's own key, kept in their session only; the ids of runs made with it
        before a restart, being fetched now (`_collect`)."""
        key = (key or "").strip()
        if not key:
            raise InvalidRequest(
                ["Paste a WaveSpeed API key first (from wavespeed.ai → Access keys)."]
            )
        session.use_key(key)
        return self._collect(session)

    def _collect(self, session: Session) -> list[str]:
        """Runs made with this key that a restart interrupted: fetched in the background
        now that the key is back (recovery), into the account's History. Their ids."""
        route = self.routes.route_for(session)
        tag = self.sessions.key_tag(route.api_key)
        collected = []
        for run in self.store.list(account=self.account_of(session)):
            record = RunRecord.from_json(run.record)
            if not collectable(record, tag, route.base_url):
                continue
            record.status, record.error = RunStatus.PROCESSING, ""
            self.record(session, route, record)
            self.recovery.adopt(
                self.routes.later_client(route),
                record,
                account=self.account_of(session),
                resumable=False,
            )
            collected.append(record.id)
        if collected:
            log.info("collecting %d interrupted run(s) with a key pasted again", len(collected))
        return collected

    def standing(self, session: Session) -> Standing:
        standing = self._standing(session)
        if (aside := self.store.damaged) is not None:
            standing = replace(
                standing,
                store_damaged=(
                    f"The run history was damaged and has been kept as {aside.name} beside "
                    "the outputs; History starts afresh"
                    + (
                        ", and this demo's key rests for the rest of the day (UTC)"
                        if self.quota
                        else ""
                    )
                    + "."
                ),
            )
        return standing

    def _standing(self, session: Session) -> Standing:
        if session.offline:
            return Standing("offline")
        if session.api_key:
            return Standing("visitor")
        if not self.routes.owner_key_usable:
            return Standing("no-key")
        if self.quota is None:
            return Standing("owner")
        if self.must_sign_in(session):
            return Standing("sign-in", sign_in_message=sign_in_message(self.settings.oauth))
        left = self.quota.left(self.account_of(session))
        return Standing("owner", quota_left=left, signed_in=session.user is not None)

    # ------------------------------------------------------------------ runs

    async def prepare(self, session: Session, form: Form) -> PreparedRun:
        """Everything checked and made ready before anything is uploaded or paid: the
        request against the model's limits, the images, the route and its key."""
        REQUEST_ID.set(uuid.uuid4().hex[:8])
        sources = {name: self._image_source(form, name) for name in IMAGE_FIELDS}
        if not sources["image"]:
            raise InvalidRequest(["Add a start image first: drop a photo in “Start image”."])
        request = form.request(self.catalog(session), self.settings.default_model)
        uploaded = {
            name: paths for name, paths in form.image_lists.items() if name in request.inputs
        }
        request = _checked_addresses(request, skip=uploaded)
        # A resolution this app has no frame sizes for (a new one in the catalog): images
        # are prepared for 1080p, which any bigger one takes without loss that matters.
        resolution = request.resolution if request.resolution in seedance.OUTPUT_SIZES else "1080p"
        ready = {
            name: await self._decode(source, IMAGE_NAMES[name], resolution, form.upscale)
            for name, source in sources.items()
            if source
        }
        start, end = ready["image"], ready.get("last_image")
        notes = [r.note for r in ready.values() if r.note]
        if start.info and end and end.info:
            notes += filter(None, [images.aspect_mismatch_note(start.info.size, end.info.size)])
        lists = {}
        for name, paths in uploaded.items():
            label = request.spec.field(name).label.lower()
            lists[name] = tuple(
                [
                    (
                        await self._decode(p, f"image {i + 1} of {label}", resolution, form.upscale)
                    ).image
                    for i, p in enumerate(paths)
                ]
            )
        route = self.routes.route_for(session)
        client, _ = self.routes.client_for(session, route)
        request = await self.prices.quoted(client, request)
        end_image = end.image if end else None
        return PreparedRun(
            session, request, start.image, end_image, route, tuple(notes), image_lists=lists
        )

    # ------------------------------------------------------------------ catalog and prices

    def _keyless(self, session: Session) -> bool:
        """Offline, or with no key to read WaveSpeed's catalog and quotes with."""
        return session.offline or not (session.api_key or self.routes.owner_key_usable)

    def load_catalog(self) -> catalog.Catalog:
        """Start-up: the owner's catalog read now (cached on disk for an hour, within a
        bound), so that the page is built from it; the bundled one without a key."""
        session = self.new_session()
        if self._keyless(session):
            return catalog.snapshot()
        route = self.routes.route_for(session)

        async def read() -> catalog.Catalog:
            client, _ = self.routes.client_for(session, route)
            try:
                return await self.catalogs.load(route.base_url, client)
            finally:
                await client.connections.aclose()  # this loop ends here

        return asyncio.run(read())

    def catalog(self, session: Session | None = None) -> catalog.Catalog:
        """The models this session's runs can take: the catalog of the API it would use
        (read with its key, refreshed in the background past an hour), or the bundled one
        offline (which is what the emulator serves) and before any key is set."""
        session = session or self.new_session()
        if self._keyless(session):
            return catalog.snapshot()
        route = self.routes.route_for(session)
        with contextlib.suppress(RuntimeError):  # no event loop here: refreshed another time
            asyncio.get_running_loop()
            client, _ = self.routes.client_for(session, route)
            self.catalogs.refresh_soon(route.base_url, client)
        return self.catalogs.current(route.base_url)

    async def price(self, session: Session, model: str, inputs: dict[str, Any]) -> Price:
        """What one run with these inputs costs: quoted when WaveSpeed answers in time, else
        the catalog's estimate, else unknown. InvalidRequest when a value that moves the
        price does not fit (a half-typed number)."""
        spec = Form.of(model).spec(self.catalog(session), self.settings.default_model)
        request = seedance.SeedanceRequest.for_price(spec, inputs)
        if self._keyless(session):
            # Offline runs are free (the emulator quotes the bundled formulas); without a
            # key there is nobody to ask: what WaveSpeed would charge, as estimated.
            return self.prices.cached(self.settings.base_url, request)
        route = self.routes.route_for(session)
        client, _ = self.routes.client_for(session, route)
        return await self.prices.price(client, request)

    async def _decode(
        self, source: str, what: str, resolution: str | None, upscale: bool
    ) -> _Ready:
        """Off the event loop (a big PNG takes a good part of a second), and only a few at
        once: each may hold a few hundred MB while it decodes, and strangers click together."""
        key = await asyncio.to_thread(_content_key, source, resolution, upscale)
        if key is not None and (ready := self._prepared.get(key)) is not None:
            return ready  # the same picture again (a rerun, a preset): no decode at all
        async with self._decoding:
            ready = await asyncio.to_thread(_prepare_image, source, what, resolution, upscale)
        if key is not None:
            self._prepared.put(key, ready)
        return ready

    @staticmethod
    def _image_source(form: Form, name: str) -> str | None:
        """A typed address is checked as one (the text is never read as a server path)."""
        source = form.image_source(name)
        if source is None or source == form.get(name):
            return source
        try:
            return urls.validate_url(source)
        except ImageError as exc:
            raise ImageError(f"The {IMAGE_NAMES[name]} URL: {exc}") from None

    async def generate(
        self, run: PreparedRun, turn: Turn | None = None
    ) -> AsyncIterator[Progress | RunRecord | Waiting]:
        """One run: progress, then its record. Once the API has accepted it, a run nobody
        can follow here any more (WaveSpeed stopped answering, a full disk, a timeout, a
        reload or a closed tab) goes on in recovery: nothing paid is lost. With a `turn`,
        it waits for it once its quota is held (`Waiting`), and ends there if it is taken
        out before its turn."""
        with self._spending(run, runs=1) as ledger:
            if turn is not None:
                yield WAITING
                if not await turn():
                    return
            ctx = self._context(run, ledger)
            try:
                async with contextlib.aclosing(
                    generation.run(ctx, run.request, run.start, run.end, run.image_lists)
                ) as items:
                    async for item in items:
                        yield item
            except Exception as exc:
                log.warning("generation failed: %s", exc)
                if (failure := self._after(run.session, exc, run.request)) is exc:
                    raise
                raise failure from exc
            finally:
                self._hand_over_all(run.session, ledger)  # nobody waits for it any more

    def variations(
        self, run: PreparedRun, count: object, variants: str | None
    ) -> list[seedance.SeedanceRequest]:
        """The batch's requests: `count` seeds, or one seed across prompt variants."""
        problems: list[str] = []
        whole = whole_number(count, "Variations", problems)
        if problems:
            raise InvalidRequest(problems)
        return seedance.variations(run.request, whole, prompt_lines(variants))

    async def generate_batch(
        self,
        run: PreparedRun,
        requests: list[seedance.SeedanceRequest],
        turn: Turn | None = None,
    ) -> AsyncIterator[tuple[int, Progress | RunRecord | Exception | Waiting]]:
        """Several runs at once, each failing alone; the images go up once for all. A
        `turn` is waited for as by `generate`."""
        with self._spending(run, runs=len(requests)) as ledger:
            if turn is not None:
                yield 0, WAITING
                if not await turn():
                    return
            ctx = self._context(run, ledger)
            try:
                batch = generation.run_many(ctx, requests, run.start, run.end, run.image_lists)
                async for index, item in batch:
                    if isinstance(item, Exception):
                        log.warning("variation %d failed: %s", index + 1, item)
                        item = self._after(run.session, item, requests[index])
                    yield index, item
            finally:
                self._hand_over_all(run.session, ledger)

    def cancel(self, session: Session) -> list[str]:
        """Stop waiting. The tasks keep running on the server and may be billed, so they
        are finished in the background and land in History. Returns their ids."""
        handed = [task_id for task_id in list(session.pending) if self._hand_over(session, task_id)]
        handed += [task_id for task_id in session.abandoned if task_id not in handed]
        session.abandoned.clear()
        return handed

    async def stop_on_server(self, session: Session) -> list[tuple[str, str]]:
        """Ask WaveSpeed to stop the session's unfinished tasks (DELETE), those the page
        waits for and those recovery follows. Whoever follows a task sees it end ("it may
        not stop at once", and it may be billed in part). Each task id with what WaveSpeed
        answered, in words; the record keeps that answer."""
        answers = []
        running = {**session.handed, **session.pending}
        for task_id, (record, route) in running.items():
            if record.status.finished:
                continue
            client, _ = self.routes.client_for(session, route)
            try:
                await client.cancel(task_id)
            except WaveSpeedError as exc:
                record.stop = f"Stop asked; WaveSpeed answered: {exc}"
            else:
                record.stop = (
                    "Stop asked on WaveSpeed and accepted: it may not stop at once, and a "
                    "partial refund may apply."
                )
            self.record(session, route, record)
            answers.append((task_id, record.stop))
        return answers

    def record(self, session: Session, route: Route, record: RunRecord) -> None:
        """Save a run's record as it is now (the ledger calls this at every change)."""
        if route.source == "visitor" and record.key_tag is None:
            record.key_tag = self.sessions.key_tag(route.api_key)
        self.store.save(
            record.to_json(), account=self.account_of(session), resumable=route.resumable
        )
        if record.status is RunStatus.COMPLETED:
            self.prune()

    def _context(self, run: PreparedRun, ledger: _Ledger) -> RunContext:
        client, uploads = self.routes.client_for(run.session, run.route)
        return RunContext(
            client=client,
            uploads=uploads,
            output_dir=self.output_dir(run.session),
            stats=self.stats,
            backend=run.route.label,
            on_save=ledger,
            pacer=self.routes.pacer_for(run.route),
            webhooks=self.webhooks,
            account=run.route.account,
            thumbnails=self.thumbnails,
        )

    @contextlib.contextmanager
    def _spending(self, run: PreparedRun, runs: int) -> Iterator[_Ledger]:
        """Hold `runs` against the demo's limits when they are spent on the owner's key."""
        ledger = _Ledger(self, run.session, run.route)
        if run.route.source != "owner" or self.quota is None:
            yield ledger
            return
        if self.must_sign_in(run.session):
            raise SignInRequired(sign_in_message(self.settings.oauth))
        if run.request.cost_usd is None:  # a cap cannot hold what it cannot price
            raise QuotaExceeded(
                f"This demo's key is not spent on {run.request.model}: its price is not known "
                "here, so the daily limit could not hold. Choose one of the listed models, or "
                "use your own WaveSpeed key."
            )
        with self.quota.reserve(
            self.account_of(run.session),
            runs=runs,
            usd=(run.request.cost_usd or 0.0) * runs,
            duration_s=run.request.duration,
            address=run.session.address,
        ) as hold:
            ledger.hold = hold
            yield ledger

    def _after(
        self, session: Session, exc: Exception, request: seedance.SeedanceRequest
    ) -> Exception:
        """What a failure means once a task may exist: a task the API accepted and did not
        fail is handed to recovery, and the person is told it is safe, not to try again.
        A run with sound that the content check failed may pass without it: said so."""
        task_id = getattr(exc, "task_id", None)
        if isinstance(exc, TaskFailed):
            session.flagged_audio = exc.code == MODERATION and request.has_audio
            return AudioFlagged(exc.task_id or "", exc.reason) if session.flagged_audio else exc
        if not self._hand_over(session, task_id):
            return exc
        if isinstance(exc, TaskTimeout):
            return exc
        return RunContinues([str(task_id)], _interruption(exc))

    def _hand_over_all(self, session: Session, ledger: _Ledger) -> None:
        """A run's generator closed (done, cancelled, or its tab gone): whatever it accepted
        and nobody follows now goes on in recovery."""
        session.abandoned += [t for t in sorted(ledger.accepted) if self._hand_over(session, t)]

    def _hand_over(self, session: Session, task_id: str | None) -> bool:
        """Nobody waits any more, but the task may still complete and be billed: recovery
        finishes it, downloads its video and completes its record. Whether it was handed."""
        pending = session.pending.pop(task_id, None) if task_id else None
        if pending is None:
            return False
        session.remember_handed(task_id, pending)  # "Stop the task on WaveSpeed" may follow
        record, route = pending
        self.recovery.adopt(
            self.routes.later_client(route),
            record,
            account=self.account_of(session),
            resumable=route.resumable,
        )
        return True

    # ------------------------------------------------------------------ after a reload

    def latest_runs(self, session: Session) -> list[StoredRun]:
        """The runs of the session's latest Generate as recorded now (none once the session
        was forgotten, an hour after its tab closed or at a restart: History has them)."""
        account = self.visible_account(session)
        found = (self.store.get(run_id, account=account) for run_id in session.latest)
        return [stored for stored in found if stored is not None]

    async def follow(
        self,
        session: Session,
        *,
        every: float = FOLLOW_EVERY_S,
        patience: float = FOLLOW_PATIENCE_S,
    ) -> AsyncIterator[list[StoredRun]]:
        """The latest runs now, then again at each change, until every one has finished or
        `patience` ran out (they still land in History: recovery or their waiter ends them)."""
        runs = self.latest_runs(session)
        yield runs
        account = self.visible_account(session)
        followed, waited = list(session.latest), 0.0
        while runs and not all(run.finished for run in runs) and waited < patience:
            if session.latest != followed:
                return  # a newer Generate's runs are the latest now
            await asyncio.sleep(every)
            waited += every
            now = [self.store.get(run.id, account=account) or run for run in runs]
            if [run.record for run in now] != [run.record for run in runs]:
                runs = now
                yield runs

    # ------------------------------------------------------------------ the library

    def runs(
        self,
        session: Session,
        search: object = "",
        *,
        status: object = None,
        model: object = None,
        starred: object = False,
    ) -> RunList:
        """The session's runs (every run on a local app), newest first, and the spend;
        narrowed by search text, a status, a model and the star. A filter value that is
        none of the choices is not applied, and the list says so (`ignored`)."""
        account = self.visible_account(session)
        models = tuple(self.store.models(account=account))
        status_filter, status_note = _chosen(status, [s.value for s in HISTORY_STATUSES], "status")
        model_filter, model_note = _chosen(model, models, "model")
        return RunList(
            self.store.list(
                account=account,
                search=search if isinstance(search, str) else "",
                status=status_filter,
                model=model_filter,
                starred=starred is True,
            ),
            self.store.total_spent(account=account),
            self.store.total_spent(account=account, offline=True),
            models=models,
            ignored=tuple(n for n in (status_note, model_note) if n),
        )

    def completed_runs(self, session: Session) -> list[StoredRun]:
        """The session's completed runs, newest first: what Compare can pick from."""
        return self.store.list(
            account=self.visible_account(session), status=RunStatus.COMPLETED.value
        )

    def run(self, session: Session, run_id: object) -> StoredRun:
        """A run by id as this server recorded it, if this session may see it: the page's
        copy of a record is only a pointer, and a client can send it edited."""
        stored = (
            self.store.get(run_id, account=self.visible_account(session))
            if isinstance(run_id, str)
            else None
        )
        if stored is None:
            raise NotFound("That run is not in your history any more; press Refresh.")
        return stored

    def unfinished(self, session: Session, run_ids: object) -> list[str]:
        """Those of `run_ids` (History's listing, as the page sends it back) that this
        session may see and that are still going; anything else is left out."""
        if not isinstance(run_ids, list):
            return []
        account = self.visible_account(session)
        ids = [i for i in run_ids[:HISTORY_WATCHED] if isinstance(i, str)]
        stored = (self.store.get(i, account=account) for i in ids)
        return [run.id for run in stored if run is not None and not run.finished]

    def finished_run(self, session: Session, run_id: object, *, action: str) -> RunRecord:
        """A completed run of this session's whose video is still on disk."""
        try:
            stored = self.run(session, run_id)
        except NotFound:
            stored = None
        record = RunRecord.from_json(stored.record) if stored else None
        if record is None or record.status is not RunStatus.COMPLETED or not _has_video(record):
            raise NotFound(f"Generate a video first, then {action}.")
        return record

    def delete(self, session: Session, run_id: object) -> None:
        """Delete a finished run when the user asks (and only then). It is hidden at once;
        its files stay for `UNDO_GRACE_S`, so that Undo can bring it back."""
        if not isinstance(run_id, str) or not self.store.delete(
            run_id, account=self.visible_account(session)
        ):
            raise NotFound("Only finished runs of yours can be deleted.")
        session.remember_deleted(run_id)
        self.prune()  # frees what others deleted past the grace, never this one

    def undo_delete(self, session: Session) -> StoredRun:
        """Bring back the latest run this session deleted, if its files are still here."""
        if not session.deleted:
            raise NotFound("There is nothing to undo: no run was deleted on this page.")
        run_id = session.deleted.pop()
        if not self.store.restore(run_id, account=self.visible_account(session)):
            raise NotFound(
                f"Run {run_id[:8]} cannot come back any more: a deleted run is kept "
                f"{UNDO_GRACE_S // 60} minutes, then its files are freed."
            )
        return self.run(session, run_id)

    def star(self, session: Session, run_id: object, on: bool) -> StoredRun:
        """Star one of the session's runs, or take its star off; the run as it is now."""
        if not isinstance(run_id, str) or not self.store.star(
            run_id, bool(on), account=self.visible_account(session)
        ):
            raise NotFound("Only runs in your History can be starred: choose one, or Refresh.")
        return self.run(session, run_id)

    def annotate(self, session: Session, run_id: object, text: object) -> StoredRun:
        """Set the note of one of the session's runs (clean_note: plain text, at most
        NOTE_MAX_CHARS); an empty note removes it. The run as it is now."""
        if text is not None and not isinstance(text, str):
            raise InvalidRequest(["A note is text: type it in the box, then Save note."])
        if not isinstance(run_id, str) or not self.store.annotate(
            run_id, text or "", account=self.visible_account(session)
        ):
            raise NotFound("Only runs in your History can have a note: choose one, or Refresh.")
        return self.run(session, run_id)

    def compare(self, session: Session, run_ids: list[str] | None) -> list[RunRecord]:
        """Finished runs of this session's, in the order picked, with their videos."""
        account = self.visible_account(session)
        found = [self.store.get(i, account=account) for i in run_ids or [] if isinstance(i, str)]
        records = [RunRecord.from_json(r.record) for r in found if r]
        records = [r for r in records if _has_video(r)]
        if len(records) < 2:
            raise NotFound("Pick at least two finished runs to compare.")
        if len(records) > COMPARE_MAX:
            raise NotFound(
                f"Compare shows up to {COMPARE_MAX} runs side by side and {len(records)} are "
                f"picked: unpick {len(records) - COMPARE_MAX}, then press Compare again."
            )
        return records

    # ------------------------------------------------------------------ the storyboard

    def continue_from(self, session: Session, run_id: object) -> Path:
        """Chain shots: the run joins the storyboard; its last frame is the next start."""
        record = self.finished_run(session, run_id, action="continue from its last frame")
        video = Path(record.video_path or "")
        frame = video.with_name(f"{video.stem}_last.png")
        if not frame.is_file():
            videos.read_frame(video).save(frame)  # full quality, lossless
        self._add_shot(session, record.id)
        return frame

    def add_shot(self, session: Session, run_id: object) -> int:
        """Add a finished run to the storyboard; the number of shots, as shown."""
        record = self.finished_run(session, run_id, action="add it to the storyboard")
        self._add_shot(session, record.id)
        return len(self.shots(session))

    def shots(self, session: Session) -> list[RunRecord]:
        """The storyboard's runs still in history with their videos, in order."""
        account = self.visible_account(session)
        found = [self.store.get(i, account=account) for i in session.storyboard]
        records = [RunRecord.from_json(r.record) for r in found if r]
        return [r for r in records if _has_video(r)]

    def stitch(self, session: Session) -> Stitched:
        """One MP4 of every shot in order; without re-encoding when the clips allow."""
        shots = self.shots(session)
        if not shots:
            raise NotFound(EMPTY_STORYBOARD)
        name = f"{shots[0].id[:8]}_{len(shots)}_shots.mp4"
        dest = self.output_dir(session) / "storyboards" / name
        joined = videos.stitch([s.video_path or "" for s in shots], dest)
        total = sum(int(s.inputs.get("duration", 0)) for s in shots)
        return Stitched(joined.path, joined.reencoded, len(shots), total, joined.sound_rebuilt)

    # Shots are addressed by their place as `shots` shows them (0-based). A run that lost its
    # video is not shown but keeps its place in `session.storyboard`: a sign-in can hide
    # runs for a while, and nothing should drop them for good but Clear.

    def shot(self, session: Session, index: object) -> RunRecord:
        """The shot shown at `index`."""
        shots = self.shots(session)
        return shots[_shot_index(index, len(shots))]

    def move_shot(self, session: Session, index: object, step: object) -> int:
        """Move the shot shown at `index` one place earlier (step -1) or later (+1); its
        index now (unchanged at either end)."""
        if isinstance(step, bool) or not isinstance(step, int) or step not in (-1, 1):
            raise InvalidRequest(["A shot moves one place at a time: earlier (-1) or later (+1)."])
        shown = [shot.id for shot in self.shots(session)]
        at = _shot_index(index, len(shown))
        to = at + step
        if not 0 <= to < len(shown):
            return at
        board = session.storyboard
        i, j = board.index(shown[at]), board.index(shown[to])
        board[i], board[j] = board[j], board[i]
        return to

    def remove_shot(self, session: Session, index: object) -> RunRecord:
        """Take the shot shown at `index` off the storyboard (the run stays in history)."""
        record = self.shot(session, index)
        session.storyboard.remove(record.id)
        return record

    def clear_shots(self, session: Session) -> int:
        """Empty the storyboard (the runs stay in history); how many shots were shown."""
        count = len(self.shots(session))
        session.storyboard.clear()
        return count

    @staticmethod
    def _add_shot(session: Session, run_id: str) -> None:
        if run_id not in session.storyboard:
            session.storyboard.append(run_id)


def _chosen(value: object, choices: Any, what: str) -> tuple[str | None, str]:
    """A filter's value if it is one of `choices` ("" or None: no filter), else no filter
    and a sentence saying it was not applied."""
    if value is None or value == "":
        return None, ""
    if isinstance(value, str) and value in choices:
        return value, ""
    shown = str(value)[:40] if isinstance(value, str) else type(value).__name__
    return None, f"“{shown}” is not a {what} of your runs, so every {what} is shown."


def _interruption(exc: Exception) -> str:
    """What stopped the wait for an accepted run, in a few words (its own message may say
    "try again", which is wrong for a task that exists)."""
    if isinstance(exc, APIStatusError):
        return f"WaveSpeed answered with an error (HTTP {exc.status_code}) while it ran"
    if isinstance(exc, APIConnectionError):
        return "WaveSpeed could not be reached while it ran"
    if isinstance(exc, OSError):
        return f"this server could not save it just now ({exc.strerror or exc})"
    return f"following it was interrupted ({type(exc).__name__})"


def _checked_addresses(
    request: seedance.SeedanceRequest, skip: Mapping[str, Any]
) -> seedance.SeedanceRequest:
    """Image fields beyond the start and end images (a model's reference images, set
    through `options`) are sent as addresses: each is checked as one, like a typed URL;
    the page's uploads (`skip`) are prepared and uploaded instead."""
    changes = {}
    for spec in request.spec.fields:
        if spec.name in IMAGE_FIELDS or spec.name in skip or spec.kind not in ("image", "images"):
            continue
        value = request.get(spec.name)
        if value is None:
            continue
        try:
            if isinstance(value, str):
                changes[spec.name] = urls.validate_url(value)
            else:
                changes[spec.name] = [urls.validate_url(v) for v in value]
        except ImageError as exc:
            raise ImageError(f"{spec.label}: {exc}") from None
    return request.with_inputs(**changes) if changes else request


def prompt_lines(text: str | None) -> list[str]:
    """Prompt variants: one per non-empty line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _shot_index(index: object, count: int) -> int:
    """`index` as a place on a storyboard of `count` shots, or a sentence saying what to do
    (the page sends it, so it may be anything)."""
    if count == 0:
        raise NotFound(EMPTY_STORYBOARD)
    if isinstance(index, bool) or not isinstance(index, int):
        raise NotFound("Pick a shot first: click its picture on the storyboard.")
    if not 0 <= index < count:
        raise NotFound(
            f"That shot is not on the storyboard any more (it has {count}); pick a shot again."
        )
    return index


def _has_video(record: RunRecord) -> bool:
    return bool(record.video_path) and Path(record.video_path or "").is_file()


@dataclass(frozen=True)
class _Ready:
    """An image ready to send, what it was made from (None for an address), and a note for
    the person (it was enlarged)."""

    image: ImageInput
    info: images.PreparedImage | None = None
    note: str = ""


def _content_key(source: str, resolution: str | None, upscale: bool) -> tuple | None:
    """What a prepared image depends on: the file's bytes (by sha256) and name, and the
    preparation's settings; None for an address or a file that cannot be read (then
    preparing it says why)."""
    if urls.is_url(source):
        return None
    try:
        with open(source, "rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
    except (OSError, ValueError):
        return None
    return digest, Path(source).name, resolution, bool(upscale)


class _PreparedImages:
    """A few recently prepared images, the least recently used dropped past a byte budget."""

    def __init__(self, budget: int) -> None:
        self._budget, self._bytes = budget, 0
        self._kept: OrderedDict[tuple, _Ready] = OrderedDict()

    def get(self, key: tuple) -> _Ready | None:
        if (ready := self._kept.get(key)) is not None:
            self._kept.move_to_end(key)
        return ready

    def put(self, key: tuple, ready: _Ready) -> None:
        size = len(ready.image.data or b"")
        if key in self._kept or size > self._budget // 8:
            return
        self._kept[key], self._bytes = ready, self._bytes + size
        while self._bytes > self._budget:
            _, gone = self._kept.popitem(last=False)
            self._bytes -= len(gone.image.data or b"")


def _prepare_image(source: str, what: str, resolution: str | None, upscale: bool) -> _Ready:
    """A URL passes through; a file is normalised to what the model's resolution can use."""
    try:
        if urls.is_url(source):
            return _Ready(ImageInput(url=urls.validate_url(source.strip())))
        prepared = images.prepare_image(source, resolution=resolution, upscale=upscale)
    except ImageTooSmall as exc:
        raise ImageTooSmall(f"The {what}: {exc}", can_upscale=exc.can_upscale) from None
    except ImageError as exc:
        raise ImageError(f"The {what}: {exc}") from None
    note = ""
    if prepared.upscaled:
        (w, h), (big_w, big_h) = prepared.source_size, prepared.size
        note = (
            f"The {what} is {w}×{h} px; it was enlarged to {big_w}×{big_h}, so the video "
            "will be softer."
        )
    image = ImageInput(data=prepared.data, filename=prepared.filename)
    return _Ready(image, prepared, note)
