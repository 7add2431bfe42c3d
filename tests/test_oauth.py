"""Optional "Sign in with Hugging Face" on a Space: quotas follow the account, not the session.

Handlers are called with a real `gr.OAuthProfile` holding made-up data (Gradio injects one
from the signed session cookie on a Space); the launched app uses Gradio's mocked sign-in
routes (what it serves off a Space) with a fake profile instead of the machine's HF login.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import gradio.oauth
import httpx
import pytest
from conftest import API_PARAMETERS, LaunchedApp, UIs, form, launch_app, make_image
from gradio import helpers
from gradio_client.exceptions import AppError

from playground import settings
from playground.emulator import EmulatorConfig, RunningEmulator
from playground.flow.service import sign_in_message
from playground.flow.session import Session
from playground.store import history
from playground.ui.app import build_demo
from playground.ui.handlers import PAGE_FIELDS, Handlers

CANARY = "sk-CANARY-0a7e"
VISITOR_KEY = "sk-visitor-own-5c21"
TOKEN = "hf_oauth-token-CANARY-77"  # what HF would put in the session: never shown or logged
MODEL = "bytedance/seedance-v1-lite-i2v-480p"  # the cheapest render


def userinfo(username: str) -> dict[str, str]:
    return {
        "preferred_username": username,
        "name": username.title(),
        "profile": f"https://huggingface.co/{username}",
        "picture": "https://example.com/avatar.png",
    }


def profile(username: str) -> gr.OAuthProfile:
    return gr.OAuthProfile(userinfo(username))


def oauth_info(username: str) -> dict[str, Any]:
    """A session's `oauth_info` as Gradio keeps it after a sign-in."""
    return {
        "access_token": TOKEN,
        "scope": "openid profile",
        "expires_at": 2**31,
        "userinfo": userinfo(username),
    }


def space_vars(data_dir: Path, *, oauth: bool = True, **more: str) -> dict[str, str]:
    """A Space (with `hf_oauth: true` unless told otherwise) spending the owner's key."""
    values = {
        "SPACE_ID": "someone/seedance-playground",
        "WAVESPEED_API_KEY": CANARY,
        "WAVESPEED_TIER": "gold",
        "PLAYGROUND_DATA_DIR": str(data_dir),
        "PLAYGROUND_DAILY_USD": "5",
        "PLAYGROUND_RUNS_PER_SESSION": "1",
        **more,
    }
    if oauth:
        values |= {"SYSTEM": "spaces", "OAUTH_CLIENT_ID": "client-id-is-public"}
    return values


def space_env(monkeypatch: pytest.MonkeyPatch, data_dir: Path, **options: Any) -> None:
    for name, value in space_vars(data_dir, **options).items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def start_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_image(tmp_path_factory.mktemp("images") / "start.png")


async def drive(ui: Handlers, session: Session, image: Path, who: gr.OAuthProfile | None) -> list:
    inputs = form(image, model=MODEL)
    return [out async for out in ui.generate(**inputs, session=session, profile=who)]


# ---------------------------------------------------------------- when sign-in is on


def test_sign_in_is_on_only_on_a_space_with_hf_oauth(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not settings.load_settings(env_file=None).oauth  # local: nothing changes
    monkeypatch.setenv("OAUTH_CLIENT_ID", "x")
    assert not settings.load_settings(env_file=None).oauth  # Gradio would only mock it here
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "someone/demo")
    s = settings.load_settings(env_file=None)
    assert s.oauth and not s.require_login  # signing in is optional by default
    monkeypatch.setenv("PLAYGROUND_REQUIRE_LOGIN", "1")
    assert settings.load_settings(env_file=None).require_login
    monkeypatch.delenv("OAUTH_CLIENT_ID")
    assert not settings.load_settings(env_file=None).oauth  # a Space without hf_oauth


def test_locally_there_is_no_login_button(ui: Handlers) -> None:
    # off a Space, a gr.LoginButton would need this machine's HF login even to build
    demo = build_demo(ui.service)
    assert not any(isinstance(block, gr.LoginButton) for block in demo.blocks.values())


def test_gradio_injects_the_profile_without_it_being_an_input(ui: Handlers) -> None:
    """What Gradio passes each handler from a signed-in session, and from an anonymous one."""
    signed_in = SimpleNamespace(session={"oauth_info": oauth_info("Alice")})
    page = [None] * len(PAGE_FIELDS)  # the inputs as wired: the session, then the form
    for handler, args in (
        (ui.generate, [*[None] * 8, Session()]),
        (ui.generate_on_page, [Session(), *page]),
        (ui.generate_variations, [Session(), None, None, *page]),
        (ui.init_session, [Session(), None]),
    ):
        at = list(inspect.signature(handler).parameters).index("profile")
        injected = helpers.special_args(handler, list(args), request=signed_in)[0]
        assert isinstance(injected[at], gr.OAuthProfile), handler.__name__
        assert injected[at].username == "Alice"
        assert helpers.special_args(handler, list(args), request=None)[0][at] is None


# ---------------------------------------------------------------- whose quota


def test_a_signed_in_visitor_is_one_owner_across_sessions(
    env: Path, monkeypatch: pytest.MonkeyPatch, uis: UIs
) -> None:
    space_env(monkeypatch, env)
    ui = uis()
    service = ui.service
    tab_1, tab_2, anonymous = service.new_session(), service.new_session(), service.new_session()
    ui.sign_in(tab_1, profile("Alice"))
    ui.sign_in(tab_2, profile("alice"))
    ui.sign_in(anonymous, None)
    assert service.account_of(tab_1) == service.account_of(tab_2) == "hf:alice"
    assert service.visible_account(tab_2) == "hf:alice"  # History follows the account too
    assert service.account_of(anonymous) == anonymous.id != tab_1.id  # as before: the session
    # files stay in unguessable folders
    assert service.output_dir(tab_1) != service.output_dir(tab_2)
    assert "alice" not in repr(tab_1)
    ui.sign_in(tab_1, None)  # signed out
    assert service.account_of(tab_1) == tab_1.id


def test_the_account_id_not_the_username_decides_the_owner(
    env: Path, monkeypatch: pytest.MonkeyPatch, uis: UIs
) -> None:
    space_env(monkeypatch, env)
    ui = uis()
    service = ui.service
    before, after_rename, new_holder = (service.new_session() for _ in range(3))
    ui.sign_in(before, gr.OAuthProfile({**userinfo("alice"), "sub": "61a0c0ffee"}))
    ui.sign_in(after_rename, gr.OAuthProfile({**userinfo("alice-x"), "sub": "61a0c0ffee"}))
    ui.sign_in(new_holder, gr.OAuthProfile({**userinfo("alice"), "sub": "99b0d00d"}))
    assert service.account_of(before) == service.account_of(after_rename) == "hf:61a0c0ffee"
    assert service.account_of(new_holder) == "hf:99b0d00d"  # the name's next owner starts afresh


def test_locally_signing_in_changes_nothing(ui: Handlers) -> None:
    service = ui.service
    session = service.new_session()
    ui.sign_in(session, profile("alice"))
    assert service.account_of(session) == history.LOCAL_ACCOUNT
    assert service.visible_account(session) is None
    assert not service.must_sign_in(session)


async def test_new_sessions_do_not_reset_a_signed_in_visitors_quota(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    uis: UIs,
    emulator: RunningEmulator,
    start_image: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.config.api_keys = frozenset({CANARY})
    space_env(monkeypatch, env, WAVESPEED_BASE_URL=emulator.base_url)
    ui = uis()
    alice = profile("alice")
    first = ui.service.new_session()
    caplog.set_level(logging.INFO)
    video, record, _ = (await drive(ui, first, start_image, alice))[-1]
    assert Path(video).is_file()

    second = ui.service.new_session()  # a new tab: still alice, still no runs left
    assert "0 of 1 runs left for you" in ui.init_session(second, None, alice)[2]
    with pytest.raises(gr.Error) as info:
        await drive(ui, second, start_image, alice)
    assert "used your 1 runs" in info.value.message
    # ... and her run is in History wherever she opens it
    assert [run.id for run in ui.service.store.list(account="hf:alice")] == [record["id"]]

    # anonymous visitors keep a quota per session, as before
    assert Path((await drive(ui, ui.service.new_session(), start_image, None))[-1][0]).is_file()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in logged and CANARY not in logged
    assert "alice" not in logged  # no usernames in the logs


# ---------------------------------------------------------------- PLAYGROUND_REQUIRE_LOGIN


async def test_required_sign_in_refuses_anonymous_visitors_before_submitting(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    uis: UIs,
    emulator: RunningEmulator,
    start_image: Path,
) -> None:
    emulator.config.api_keys = frozenset({CANARY, VISITOR_KEY})
    space_env(monkeypatch, env, WAVESPEED_BASE_URL=emulator.base_url, PLAYGROUND_REQUIRE_LOGIN="1")
    ui = uis()
    visitor = ui.service.new_session()
    _, _, banner, _ = ui.init_session(visitor, None, None)
    assert "Sign in required" in banner and "signed in with Hugging Face" in banner
    with pytest.raises(gr.Error) as info:
        await drive(ui, visitor, start_image, None)
    assert info.value.title == "Sign in required"
    assert info.value.message == sign_in_message(oauth=True)
    assert "Sign in under “Backend & API key”" in info.value.message
    assert emulator.stats()["submits"] == 0

    # signed in, the same visitor spends the demo's key; with their own key, no sign-in
    assert Path((await drive(ui, visitor, start_image, profile("bob")))[-1][0]).is_file()
    ui.set_key(VISITOR_KEY, other := ui.service.new_session())
    assert Path((await drive(ui, other, start_image, None))[-1][0]).is_file()


async def test_required_sign_in_without_hf_oauth_says_to_bring_a_key(
    env: Path, monkeypatch: pytest.MonkeyPatch, uis: UIs, start_image: Path
) -> None:
    space_env(monkeypatch, env, oauth=False, PLAYGROUND_REQUIRE_LOGIN="1")
    ui = uis()
    with pytest.raises(gr.Error) as info:
        await drive(ui, ui.service.new_session(), start_image, None)
    assert "sign-in is not enabled here" in info.value.message
    assert "your own WaveSpeed key" in info.value.message


# ---------------------------------------------------------------- the launched Space


def sign_in(space: LaunchedApp) -> str:
    """Sign in through Gradio's routes; the session cookie, sent by hand (it is marked
    Secure, and this test server speaks plain http)."""
    response = httpx.get(f"{space.url}/login/huggingface", follow_redirects=True, timeout=10)
    cookie = response.history[-1].headers["set-cookie"].split(";")[0]
    assert cookie.startswith("session=")
    return cookie


@pytest.fixture(scope="module")
def space(tmp_path_factory: pytest.TempPathFactory, start_image: Path) -> Iterator[LaunchedApp]:
    """A Space with `hf_oauth: true`, one run per visitor on the owner's canary key. Off a
    real Space, Gradio mocks sign-in with the machine's HF account: a fake one here."""
    root = tmp_path_factory.mktemp("oauth-space")
    config = EmulatorConfig(inference_seconds=0.3, jitter=0.0, api_keys=frozenset({CANARY}))

    def mock_sign_in(mp: pytest.MonkeyPatch) -> None:
        on_the_space = settings.load_settings()  # what the app reads, SYSTEM still set
        assert on_the_space.oauth
        mp.setattr(settings, "load_settings", lambda **_: on_the_space)
        mp.delenv("SYSTEM")  # for Gradio: mocked sign-in routes, not HF's
        mp.setattr(gradio.oauth, "_get_mocked_oauth_info", lambda: oauth_info("carol"))

    env = space_vars(root / "data")
    with launch_app(
        root, start_image, env, emulator_config=config, model=MODEL, prepare=mock_sign_in
    ) as space:
        yield space


def test_the_login_button_leaves_the_public_api_as_it_was(space: LaunchedApp) -> None:
    assert any(isinstance(block, gr.LoginButton) for block in space.demo.blocks.values())
    api = space.client().view_api(return_format="dict", print_info=False)
    assert list(api["named_endpoints"]) == ["/generate", "/list_models"]
    assert not api["unnamed_endpoints"]
    generate = api["named_endpoints"]["/generate"]
    assert [p["parameter_name"] for p in generate["parameters"]] == API_PARAMETERS


def test_a_signed_in_visitors_quota_holds_across_sessions_over_http(space: LaunchedApp) -> None:
    carol = {"Cookie": sign_in(space)}
    video, record, _ = space.generate(space.client(headers=carol))  # carol's one run
    assert Path(video).is_file()
    assert space.service.store.get(record["id"], account="hf:carol") is not None
    with pytest.raises(AppError, match="used your 1 runs"):
        space.generate(space.client(headers=carol))  # a new session, still carol
    assert Path(space.generate(space.client())[0]).is_file()  # anonymous: its own quota
    page = space.get("/").text
    assert TOKEN not in page and CANARY not in page
