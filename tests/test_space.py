"""A public server (a Hugging Face Space): settings, whose key pays, visitor limits, secrets
and isolation.

Settings and quotas are checked as units; the limits then through the app's generate
handler against the emulator; last, one launched app (as `launch()` serves it: blocked
database, allowed paths, upload limit) is driven over HTTP and gradio_client by two
visitors. The owner's key is a canary: every place it might leak to is searched for it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gradio as gr
import httpx
import pytest
from conftest import (
    LaunchedApp,
    UIs,
    form,
    launch_app,
    make_image,
    page_values,
    public_server,
    select,
)
from gradio_client import handle_file
from gradio_client.exceptions import AppError

import app
from playground.emulator import EmulatorConfig, RunningEmulator
from playground.errors import NoKey
from playground.flow.service import Playground
from playground.flow.session import Session
from playground.model import seedance
from playground.settings import SPACE_DATA_DIR, load_settings
from playground.store.history import History
from playground.store.quotas import Limits, Quota, QuotaExceeded
from playground.ui.handlers import Handlers
from playground.ui.presets import PRESETS_DIR

CANARY = "sk-CANARY-91c4"
VISITOR_KEY = "sk-visitor-own-3a7d"
MODEL_720 = seedance.DEFAULT_MODEL  # lite 720p: $0.032/s, so 2 s cost $0.064
MODEL_480P = "bytedance/seedance-v1-lite-i2v-480p"
ENV_NAMES = (
    "WAVESPEED_API_KEY",
    "WAVESPEED_BASE_URL",
    "WAVESPEED_TIER",
    "PLAYGROUND_DATA_DIR",
    "SEEDANCE_MODEL",
    "PLAYGROUND_OFFLINE",
    "PLAYGROUND_OFFLINE_SECONDS",
    "PLAYGROUND_SHARED",
    "PLAYGROUND_MAX_AGE_DAYS",
    "PLAYGROUND_MAX_DATA_MB",
    "PLAYGROUND_DAILY_USD",
    "PLAYGROUND_MAX_DURATION",
    "PLAYGROUND_MAX_VARIATIONS",
    "PLAYGROUND_RUNS_PER_SESSION",
    "PLAYGROUND_RUNS_PER_HOUR",
    "PLAYGROUND_MCP",
    "SPACE_ID",
    "LOG_LEVEL",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No playground variable set, cwd without a `.env`."""
    monkeypatch.chdir(tmp_path)
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def start_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_image(tmp_path_factory.mktemp("images") / "start.png")


# ---------------------------------------------------------------- settings


def test_a_space_is_shared_keeps_data_in_tmp_for_a_day(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SPACE_ID", "someone/seedance-playground")
    s = load_settings(env_file=None)
    assert s.space and s.shared
    assert s.data_dir == Path(SPACE_DATA_DIR) == Path("/tmp/seedance-playground")
    assert s.max_age_days == 1
    assert s.visitor_limits is None  # no daily cap: the owner's key is not for visitors
    clean_env.setenv("PLAYGROUND_DATA_DIR", "/data/mine")
    clean_env.setenv("PLAYGROUND_MAX_AGE_DAYS", "7")
    s = load_settings(env_file=None)
    assert (s.data_dir, s.max_age_days) == (Path("/data/mine"), 7)


def test_not_a_space_is_local_unless_shared_is_set(clean_env: pytest.MonkeyPatch) -> None:
    s = load_settings(env_file=None)
    assert not s.space and not s.shared and s.max_age_days is None
    assert s.data_dir == Path("outputs")
    clean_env.setenv("PLAYGROUND_SHARED", "1")
    s = load_settings(env_file=None)
    assert s.shared and not s.space and s.data_dir == Path("outputs")


def test_a_daily_cap_sets_visitor_limits_with_defaults(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PLAYGROUND_DAILY_USD", "2.5")
    assert load_settings(env_file=None).visitor_limits == Limits(
        daily_usd=2.5, max_duration_s=5, max_variations=2, runs_per_session=3, runs_per_hour=20
    )
    for name, value in [
        ("PLAYGROUND_MAX_DURATION", "8"),
        ("PLAYGROUND_MAX_VARIATIONS", "4"),
        ("PLAYGROUND_RUNS_PER_SESSION", "10"),
        ("PLAYGROUND_RUNS_PER_HOUR", "99"),
    ]:
        clean_env.setenv(name, value)
    assert load_settings(env_file=None).visitor_limits == Limits(2.5, 8, 4, 10, 99)


@pytest.mark.parametrize(
    "name",
    [
        "PLAYGROUND_DAILY_USD",
        "PLAYGROUND_MAX_DURATION",
        "PLAYGROUND_RUNS_PER_SESSION",
        "PLAYGROUND_RUNS_PER_HOUR",
        "PLAYGROUND_MAX_VARIATIONS",
        "PLAYGROUND_MAX_AGE_DAYS",
    ],
)
@pytest.mark.parametrize("value", ["lots", "-1"])
def test_a_bad_number_names_its_variable(
    clean_env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    clean_env.setenv("PLAYGROUND_DAILY_USD", "1")
    clean_env.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        load_settings(env_file=None)


# ---------------------------------------------------------------- whose key pays


def test_without_a_daily_cap_visitors_never_spend_the_owners_key(
    monkeypatch: pytest.MonkeyPatch, uis: UIs
) -> None:
    monkeypatch.setenv("PLAYGROUND_SHARED", "1")
    monkeypatch.setenv("WAVESPEED_API_KEY", CANARY)
    ui = uis()
    service = ui.service
    assert not service.routes.owner_key_usable
    assert service.quota is None
    assert service.new_session().offline  # a visitor starts offline
    with pytest.raises(NoKey):  # ... and switching to WaveSpeed without a key of their own
        service.routes.route_for(Session(offline=False))
    mine = service.routes.route_for(Session(offline=False, api_key=VISITOR_KEY))
    assert (mine.source, mine.api_key) == ("visitor", VISITOR_KEY)
    assert "no wavespeed api key" in ui.backend_banner(Session()).lower()


def test_with_a_daily_cap_visitors_spend_the_owners_key_within_a_quota(
    monkeypatch: pytest.MonkeyPatch, uis: UIs
) -> None:
    monkeypatch.setenv("SPACE_ID", "someone/demo")
    monkeypatch.setenv("WAVESPEED_API_KEY", CANARY)
    monkeypatch.setenv("PLAYGROUND_DAILY_USD", "1")
    service = uis().service
    assert service.routes.owner_key_usable
    assert isinstance(service.quota, Quota) and service.quota.limits.daily_usd == 1
    visitor = service.new_session()
    assert not visitor.offline
    route = service.routes.route_for(visitor)
    assert route.source == "owner" and route.resumable
    assert CANARY not in repr(route) and CANARY not in repr(service.settings)


def test_a_local_app_with_a_key_has_no_quota(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("WAVESPEED_API_KEY", CANARY)
    clean_env.setenv("PLAYGROUND_DAILY_USD", "1")  # meaningless off a public server
    clean_env.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    service = Playground(load_settings(env_file=None))
    try:
        assert service.routes.owner_key_usable and service.quota is None
    finally:
        service.close()


# ---------------------------------------------------------------- the quota, as a unit


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    h = History(tmp_path / "history.db")
    yield h
    h.close()


def add_run(
    history: History,
    account: str,
    *,
    usd: float = 0.064,
    status: str = "completed",
    ago: timedelta = timedelta(0),
    resumable: bool = True,
) -> str:
    run_id = f"task-{history.count_runs()}-{account}"  # deleted runs too: ids stay unique
    created = (datetime.now(UTC) - ago).isoformat(timespec="seconds")
    record = {"id": run_id, "status": status, "cost_usd": usd, "created_at": created}
    history.save(record, account=account, resumable=resumable)
    return run_id


def quota(history: History, **limits: Any) -> Quota:
    values: dict[str, Any] = {
        "daily_usd": 100.0,
        "max_duration_s": 5,
        "max_variations": 2,
        "runs_per_session": None,
        "runs_per_hour": None,
    }
    values.update(limits)
    return Quota(Limits(**values), history)


def reserve(q: Quota, account: str = "alice", runs: int = 1, usd: float = 0.064, duration: int = 2):
    return q.reserve(account, runs=runs, usd=usd, duration_s=duration)


def test_a_clip_longer_than_allowed_is_refused_with_a_sentence(history: History) -> None:
    q = quota(history, max_duration_s=5)
    with reserve(q, duration=5):
        pass
    with pytest.raises(QuotaExceeded, match=r"at most 5 s.*own WaveSpeed key"):
        reserve(q, duration=6)


def test_more_variations_than_allowed_are_refused(history: History) -> None:
    q = quota(history, max_variations=2)
    with reserve(q, runs=2, usd=0.128):
        pass
    with pytest.raises(QuotaExceeded, match=r"at most 2 variations"):
        reserve(q, runs=3, usd=0.192)


def test_runs_per_session_count_each_owner_apart(history: History) -> None:
    q = quota(history, runs_per_session=2)
    add_run(history, "alice")
    add_run(history, "alice", status="failed")  # an attempt counts, failed or not
    add_run(history, "alice", resumable=False)  # her own key's run is not the demo's
    with pytest.raises(QuotaExceeded, match=r"used your 2 runs.*your own WaveSpeed key"):
        reserve(q, "alice")
    with reserve(q, "bob"):
        pass


def test_runs_per_hour_count_every_owner_within_the_hour(history: History) -> None:
    q = quota(history, runs_per_hour=3)
    add_run(history, "alice", ago=timedelta(hours=2))  # outside the hour
    add_run(history, "alice")
    add_run(history, "bob")
    with reserve(q, "carol"):  # the third this hour
        pass
    add_run(history, "carol")
    with pytest.raises(QuotaExceeded, match=r"3 runs this hour for all visitors"):
        reserve(q, "dave")


def test_the_daily_cap_counts_todays_spend_but_not_failed_runs(history: History) -> None:
    q = quota(history, daily_usd=0.2)
    add_run(history, "alice", usd=0.064)
    add_run(history, "bob", usd=0.064, status="failed")  # not billed
    add_run(history, "bob", usd=0.064, resumable=False)  # a visitor's own key
    add_run(history, "carol", usd=5.0, ago=timedelta(days=2))  # another day
    with reserve(q, "bob", usd=0.128):  # 0.064 + 0.128 = 0.192 <= 0.2
        pass
    add_run(history, "bob", usd=0.064)
    with pytest.raises(QuotaExceeded, match=r"\$0\.20 for today.*own WaveSpeed key"):
        reserve(q, "dave", usd=0.128)  # 0.128 + 0.128 > 0.2
    with reserve(q, "dave", usd=0.064):  # exactly at the cap is still allowed
        pass


def test_deleting_runs_gives_no_fresh_allowance(history: History) -> None:
    q = quota(history, daily_usd=0.2, runs_per_session=2)
    mine = [add_run(history, "alice") for _ in range(2)]
    theirs = add_run(history, "bob")
    used = q.usage("alice")
    assert history.delete(theirs, account="bob")
    for run_id in mine:
        assert history.delete(run_id, account="alice")
    assert history.list() == []  # gone from the History tab
    assert q.usage("alice") == used
    with pytest.raises(QuotaExceeded, match="used your 2 runs"):
        reserve(q, "alice")
    with pytest.raises(QuotaExceeded, match="for today"):  # 3 x 0.064 spent + 0.064
        reserve(q, "carol")
    with pytest.raises(QuotaExceeded, match="3 runs this hour"):
        reserve(quota(history, runs_per_hour=3), "carol")


def test_reservations_are_held_while_in_flight_and_released_after(history: History) -> None:
    q = quota(history, daily_usd=0.2, runs_per_session=1)
    first = reserve(q, "alice", usd=0.128)
    with first:
        # together over the cap: the second visitor is refused while the first is in flight
        with pytest.raises(QuotaExceeded, match="for today"):
            reserve(q, "bob", usd=0.128)
        # and the same visitor cannot slip a second run past runs_per_session
        with pytest.raises(QuotaExceeded, match="used your 1 runs"):
            reserve(q, "alice", usd=0.01)
        assert q.usage("bob").day_usd == pytest.approx(0.128)
    assert q.usage("bob").day_usd == 0  # released: it never reached history
    with reserve(q, "bob", usd=0.128):
        pass


def test_a_run_that_raises_releases_its_reservation(history: History) -> None:
    q = quota(history, daily_usd=0.1)
    with pytest.raises(RuntimeError), reserve(q, "alice", usd=0.1):
        raise RuntimeError("the API refused the upload")
    with reserve(q, "bob", usd=0.1):
        pass


def test_an_accepted_run_counts_once_while_it_is_still_running(history: History) -> None:
    q = quota(history, daily_usd=0.2)
    with reserve(q, "alice", usd=0.128) as hold:
        add_run(history, "alice", usd=0.128, status="processing")  # accepted: on_save
        hold.accepted(0.128)
        assert q.usage("bob").day_usd == pytest.approx(0.128)
        assert q.usage("bob").hour_runs == 1
    assert q.usage("bob").day_usd == pytest.approx(0.128)


def test_left_says_what_a_visitor_and_everyone_have_left(history: History) -> None:
    q = quota(history, daily_usd=0.5, runs_per_session=3)
    add_run(history, "alice", usd=0.064)
    add_run(history, "bob", usd=0.1)
    assert q.left("alice") == "2 of 3 runs left for you · $0.34 of $0.50 left today for everyone"
    assert q.left("carol").startswith("3 of 3 runs left for you")
    add_run(history, "bob", usd=1.0)
    assert "$0.00 of $0.50 left today" in q.left("alice")  # never negative


# ---------------------------------------------------------------- limits, through the handler


async def drive(ui: Handlers, session: Session, image: Path, **overrides: Any) -> list[tuple]:
    inputs = form(image, model=MODEL_720) | overrides
    return [out async for out in ui.generate(**inputs, session=session)]


@pytest.fixture
def demo_key(env: Path, monkeypatch: pytest.MonkeyPatch, emulator: RunningEmulator) -> Path:
    """A shared server spending the owner's (canary) key within $0.20 a day, 1 run each."""
    emulator.config.api_keys = frozenset({CANARY, VISITOR_KEY})
    public_server(monkeypatch, emulator, CANARY, DAILY_USD="0.2", RUNS_PER_SESSION="1")
    return env


async def test_a_visitor_on_the_demo_key_is_stopped_at_the_limit_and_told_why(
    demo_key: Path, emulator: RunningEmulator, start_image: Path, ui: Handlers
) -> None:
    visitor = ui.service.new_session()
    assert not visitor.offline
    assert "1 of 1 runs left for you" in ui.backend_banner(visitor)
    assert "$0.20 of $0.20 left today" in ui.backend_banner(visitor)
    video, record, _ = (await drive(ui, visitor, start_image))[-1]
    assert Path(video).is_file() and record["cost_usd"] == pytest.approx(0.064)
    banner = ui.backend_banner(visitor)
    assert "0 of 1 runs left for you" in banner and "$0.14 of $0.20 left today" in banner
    assert "Your own key has no limits" in banner

    submits = emulator.stats()["submits"]
    with pytest.raises(gr.Error) as info:
        await drive(ui, visitor, start_image)
    assert "limit" in (info.value.title or "").lower()
    assert "your own WaveSpeed key" in info.value.message
    assert emulator.stats()["submits"] == submits  # refused before anything was sent

    # with a key of their own, the same visitor is not limited
    ui.set_key(VISITOR_KEY, visitor)
    for _ in range(2):
        video, record, _ = (await drive(ui, visitor, start_image))[-1]
        assert Path(video).is_file()
    assert "Using the key you entered" in ui.backend_banner(visitor)
    # another visitor still has a run on the demo key (their own limit, the shared spend)
    other = ui.service.new_session()
    assert "1 of 1 runs left for you · $0.14 of $0.20" in ui.backend_banner(other)


async def test_a_visitor_who_deletes_their_run_gets_no_new_run_on_the_demo_key(
    demo_key: Path, emulator: RunningEmulator, start_image: Path, ui: Handlers
) -> None:
    visitor = ui.service.new_session()
    video, record, _ = (await drive(ui, visitor, start_image))[-1]
    ui.delete_run(record, "", visitor)
    assert ui.list_runs("", visitor)[1] == []
    assert ui.service.store.purge() == [record["id"]]  # Undo's grace over: files freed
    assert not Path(video).exists()
    banner = ui.backend_banner(visitor)
    assert "0 of 1 runs left for you" in banner and "$0.14 of $0.20 left today" in banner
    submits = emulator.stats()["submits"]
    with pytest.raises(gr.Error) as info:
        await drive(ui, visitor, start_image)
    assert "your own WaveSpeed key" in info.value.message
    assert emulator.stats()["submits"] == submits


async def test_the_demo_keys_limits_refuse_long_clips_and_big_batches(
    demo_key: Path, start_image: Path, ui: Handlers
) -> None:
    with pytest.raises(gr.Error) as info:
        await drive(ui, ui.service.new_session(), start_image, duration=6)
    assert "at most 5 s" in info.value.message
    # variations: 3 asked, 2 allowed; the handler refuses before the first cell
    values = page_values(form(start_image, prompt="x", model=MODEL_720))
    run = ui.generate_variations(None, None, ui.service.new_session(), 3, "", *values)
    with pytest.raises(gr.Error) as info:
        await anext(run)
    assert "at most 2 variations" in info.value.message


# ---------------------------------------------------------------- the launched Space


@pytest.fixture(scope="module")
def space(tmp_path_factory: pytest.TempPathFactory, start_image: Path) -> Iterator[LaunchedApp]:
    """A shared server launched by `launch()` (as `python app.py` does), spending the
    owner's canary key within generous limits; data in a tmp dir, with a secret file
    beside it that must never be served."""
    root = tmp_path_factory.mktemp("space")
    (root / "secret.txt").write_text("not for visitors")
    config = EmulatorConfig(inference_seconds=0.3, jitter=0.0, api_keys=frozenset({CANARY}))
    env = {
        "PLAYGROUND_SHARED": "1",
        "PLAYGROUND_DAILY_USD": "50",
        "PLAYGROUND_RUNS_PER_SESSION": "50",
        "PLAYGROUND_RUNS_PER_HOUR": "500",
        "PLAYGROUND_SESSIONS_PER_ADDRESS": "1000",  # every test's visitor is on loopback
        "WAVESPEED_API_KEY": CANARY,
    }
    with launch_app(
        root, start_image, env, emulator_config=config, model=MODEL_480P, unset=ENV_NAMES
    ) as space:
        yield space


def session_id_of(video_path: str, data_dir: Path) -> str:
    relative = Path(video_path).resolve().relative_to(data_dir.resolve())
    assert relative.parts[0] == "visitors", relative
    return relative.parts[1]


def test_each_visitors_files_are_under_their_own_unguessable_folder(space: LaunchedApp) -> None:
    _, record_a, _ = space.generate(space.client(), seed=11)
    _, record_b, _ = space.generate(space.client(), seed=22)
    folder_a, folder_b = (
        session_id_of(r["video_path"], space.data_dir) for r in (record_a, record_b)
    )
    assert folder_a != folder_b
    for folder in (folder_a, folder_b):
        assert re.fullmatch(r"[0-9a-f]{32}", folder), folder  # a uuid4: 122 random bits
    for path in (record_a.get("input_files") or {}).values():
        if path:
            assert session_id_of(path, space.data_dir) == folder_a
    stored = space.service.store.get(record_a["id"])
    assert stored is not None and stored.account == folder_a


def test_another_visitor_cannot_see_delete_or_compare_my_runs(space: LaunchedApp) -> None:
    client = space.client()
    _, first, _ = space.generate(client, seed=31)
    _, second, _ = space.generate(client, seed=32)
    alice = Session(id=session_id_of(first["video_path"], space.data_dir))
    bob = Session()
    ui = Handlers(space.service)
    ids = [first["id"], second["id"]]
    # Alice (her session id) sees them: the refusals below are about Bob, not a broken setup
    assert ui.show_run(ids, alice, select(0))[2]["id"] == first["id"]
    assert "<video" in ui.compare_runs(ids, alice)
    assert ui.list_runs("", bob)[1] == []
    with pytest.raises(gr.Error):
        ui.show_run(ids, bob, select(0))
    with pytest.raises(gr.Error):
        ui.compare_runs(ids, bob)
    with pytest.raises(gr.Error):
        ui.delete_run(first, "", bob)
    assert space.service.store.get(first["id"]) is not None
    assert Path(first["video_path"]).is_file()


def file_url(path: Path | str) -> str:
    return f"/gradio_api/file={path}"


def test_the_history_database_and_files_outside_are_refused_over_http(space: LaunchedApp) -> None:
    space.generate(space.client(), seed=41)  # the database exists, with a WAL beside it
    data = space.data_dir.resolve()
    assert (data / "history.db").is_file()
    refused = [
        file_url(data / "history.db"),
        file_url(data / "history.db-wal"),
        file_url(data / "history.db-shm"),
        file_url(data / ".session-secret"),  # signs browsers' session ids
        file_url(f"{data}/visitors/../.session-secret"),
        file_url(f"{data}/visitors/../history.db"),
        file_url(f"{data}/./history.db"),
        file_url(f"{data}//history.db"),
        file_url(quote(str(data / "history.db"))),
        file_url(f"{data}/../secret.txt"),
        file_url(f"{data}/%2e%2e/secret.txt"),
        file_url(f"{data}/%2E%2E%2Fsecret.txt"),
        file_url(f"{data}/../../../../../../etc/passwd"),
        file_url(f"{data}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
        file_url(f"{data}/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd"),
        file_url("/etc/passwd"),
        file_url(space.root / "secret.txt"),
        file_url(Path(app.__file__).resolve().parent / "app.py"),
        file_url(PRESETS_DIR / ".." / "playground" / "settings.py"),
        file_url(PRESETS_DIR / ".." / "playground" / "ui" / "app.py"),  # imports gradio
    ]
    for path in refused:
        response = space.get(path)
        assert response.status_code in (400, 403, 404), (path, response.status_code)
        assert b"SQLite format" not in response.content, path
        assert b"root:" not in response.content, path
        assert b"not for visitors" not in response.content, path
        assert b"import gradio" not in response.content, path
    assert space.get(file_url(data / "history.db")).status_code == 403
    assert (data / ".session-secret").is_file()
    assert space.get(file_url(data / ".session-secret")).status_code == 403
    # what must be served still is: presets, and a visitor's own video
    preset = next(p for p in PRESETS_DIR.glob("*.jpg"))
    response = space.get(file_url(preset.resolve()))
    assert response.status_code == 200 and response.content == preset.read_bytes()
    _, record, _ = space.generate(space.client(), seed=42)
    response = space.get(file_url(Path(record["video_path"]).resolve()))
    assert response.status_code == 200 and response.content[4:8] == b"ftyp"


def test_uploads_are_capped_in_size(space: LaunchedApp) -> None:
    config = space.get("/config").json()
    assert config.get("max_file_size") == 40 * 1024 * 1024, config.get("max_file_size")
    big = b"\0" * (41 * 1024 * 1024)
    response = httpx.post(
        space.url + "/gradio_api/upload",
        files={"files": ("big.png", big, "image/png")},
        timeout=30,
    )
    assert response.status_code == 413, (response.status_code, response.text[:200])


def test_strangers_uploads_are_cleaned_from_the_cache_within_the_hour(space: LaunchedApp) -> None:
    every, older_than = space.demo.delete_cache
    assert every <= 900 and older_than <= 3600


# ---------------------------------------------------------------- the canary key


def responses_text(response: httpx.Response) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{headers}\n{response.text}"


def test_the_owners_key_never_leaves_the_server(
    space: LaunchedApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    places: dict[str, str] = {}
    timings: dict[str, float] = {}
    client = space.client(download_files=False)
    _, record, status = space.generate(client, seed=51)
    places["record"], places["status"] = json.dumps(record), status
    places["api info"] = json.dumps(client.view_api(return_format="dict", print_info=False))
    for path in ("/", "/config", "/gradio_api/info", "/gradio_api/info?all_endpoints=true"):
        response = space.get(path)
        assert response.status_code == 200, path
        places[f"GET {path}"] = responses_text(response)
    # the result as the browser gets it: the raw event stream, then the file download
    upload = httpx.post(
        space.url + "/gradio_api/upload",
        files={"files": ("start.png", space.image.read_bytes(), "image/png")},
        timeout=10,
    )
    places["POST /upload"] = responses_text(upload)
    (uploaded,) = upload.json()
    event = httpx.post(
        space.url + "/gradio_api/call/generate",
        json={
            "data": [
                {"path": uploaded, "meta": {"_type": "gradio.FileData"}},
                "slow push-in",
                None,
                2,
                "16:9",
                False,
                52,
                MODEL_480P,
            ]
        },
        timeout=10,
    )
    places["POST /call/generate"] = responses_text(event)
    event_id = event.json()["event_id"]
    stream = httpx.get(f"{space.url}/gradio_api/call/generate/{event_id}", timeout=60)
    places["result stream"] = responses_text(stream)
    urls = re.findall(r'"url": ?"([^"]+)"', stream.text)
    assert urls, stream.text[:500]
    for url in set(urls):
        download = httpx.get(url, timeout=10)
        assert download.status_code == 200, url
        places[f"download {url}"] = responses_text(download)
        assert CANARY.encode() not in download.content
    # the snippets, however they are asked for
    request = gr.Request(headers={"host": "space.example"})  # type: ignore[call-arg]
    mine = Session(id=session_id_of(record["video_path"], space.data_dir))  # whose run it is
    for snippet in Handlers(space.service).copy_as_code(record, mine, request):
        places["snippet"] = places.get("snippet", "") + snippet
    assert "WAVESPEED_API_KEY" in places["snippet"]
    # error paths: faults the emulator can inject, then a key the API refuses
    faults = space.emulator.config.faults
    errors = []
    for name, value in [
        ("fail_code", 1200),  # the task fails
        ("drop_after_accept", 1),  # accepted, then no reply: outcome unknown
        ("submit_503", 4),  # refused on every attempt the client makes
        ("envelope_error", 10),  # HTTP 200 carrying an error
    ]:
        setattr(faults, name, value)
        faults.fail_message = "content moderation"
        t0 = time.monotonic()
        try:
            with pytest.raises(AppError) as info:
                space.generate(space.client(), seed=60)
            errors.append(f"{name}: {info.value}")
        finally:
            setattr(faults, name, None if name == "fail_code" else 0)
        timings[name] = time.monotonic() - t0
    # 429 on every attempt the client makes: the pacer backs off and submits again
    faults.submit_429 = 4
    try:
        _, record_429, status_429 = space.generate(space.client(), seed=62)
    finally:
        faults.submit_429 = 0
    places["after 429s"] = json.dumps(record_429) + status_429
    keys = space.emulator.config.api_keys
    space.emulator.config.api_keys = frozenset({"some-other-key"})
    try:
        with pytest.raises(AppError) as info:
            preset = handle_file(str(PRESETS_DIR / "astronaut-closeup.jpg"))
            space.generate(space.client(), seed=61, image=preset)  # not uploaded yet
        errors.append(str(info.value))
    finally:
        space.emulator.config.api_keys = keys
    assert "key" in errors[-1].lower(), errors[-1]
    places["errors"] = "\n".join(errors)
    places["log"] = caplog.text + "".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )
    for name, text in places.items():
        assert CANARY not in text, name
    files = [p for p in space.data_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".mp4" for p in files) and any(p.suffix == ".json" for p in files)
    assert any(p.name == "history.db" for p in files)
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), path
