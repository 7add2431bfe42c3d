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
from conftest import API_PARAMETERS, LaunchedApp, form, launch_app, make_image, shutdown_backends
from gradio import helpers
from gradio_client.exceptions import AppError

import app
import history
import sessions
import settings
from emulator import EmulatorConfig, RunningEmulator

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


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """No setting in the environment, no `.env`, fresh process-wide backends."""
    monkeypatch.chdir(tmp_path)
    for name in settings.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    sessions.backends.cache_clear()
    yield monkeypatch
    shutdown_backends()


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


async def drive(session: sessions.Session, image: Path, who: gr.OAuthProfile | None) -> list:
    inputs = form(image, model=MODEL)
    return [out async for out in app.generate(**inputs, session=session, profile=who)]


# ---------------------------------------------------------------- when sign-in is on


def test_sign_in_is_on_only_on_a_space_with_hf_oauth(clean_env: pytest.MonkeyPatch) -> None:
    assert not settings.load_settings(env_file=None).oauth  # local: nothing changes
    clean_env.setenv("OAUTH_CLIENT_ID", "x")
    assert not settings.load_settings(env_file=None).oauth  # Gradio would only mock it here
    clean_env.setenv("SYSTEM", "spaces")
    clean_env.setenv("SPACE_ID", "someone/demo")
    s = settings.load_settings(env_file=None)
    assert s.oauth and not s.require_login  # signing in is optional by default
    clean_env.setenv("PLAYGROUND_REQUIRE_LOGIN", "1")
    assert settings.load_settings(env_file=None).require_login
    clean_env.delenv("OAUTH_CLIENT_ID")
    assert not settings.load_settings(env_file=None).oauth  # a Space without hf_oauth


def test_locally_there_is_no_login_button(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # off a Space, a gr.LoginButton would need this machine's HF login even to build
    clean_env.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    demo = app.build_demo()
    assert not any(isinstance(block, gr.LoginButton) for block in demo.blocks.values())


def test_gradio_injects_the_profile_without_it_being_an_input() -> None:
    """What Gradio passes each handler from a signed-in session, and from an anonymous one."""
    signed_in = SimpleNamespace(session={"oauth_info": oauth_info("Alice")})
    for handler, inputs in (
        (app.generate, [None] * 8),
        (app.generate_on_page, [None] * 8),
        (app.generate_variations, [None] * 10),
        (app.init_session, []),
    ):
        args = [*inputs, sessions.Session()]
        at = list(inspect.signature(handler).parameters).index("profile")
        injected = helpers.special_args(handler, list(args), request=signed_in)[0]
        assert isinstance(injected[at], gr.OAuthProfile), handler.__name__
        assert injected[at].username == "Alice"
        assert helpers.special_args(handler, list(args), request=None)[0][at] is None


# ---------------------------------------------------------------- whose quota


def test_a_signed_in_visitor_is_one_owner_across_sessions(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    space_env(clean_env, tmp_path / "data")
    b = sessions.backends()
    tab_1, tab_2, anonymous = app.new_session(), app.new_session(), app.new_session()
    app.sign_in(tab_1, profile("Alice"))
    app.sign_in(tab_2, profile("alice"))
    app.sign_in(anonymous, None)
    assert b.owner_of(tab_1) == b.owner_of(tab_2) == "hf:alice"
    assert b.visible_owner(tab_2) == "hf:alice"  # History follows the account too
    assert b.owner_of(anonymous) == anonymous.owner != tab_1.owner  # as before: the session
    assert b.output_dir(tab_1) != b.output_dir(tab_2)  # files stay in unguessable folders
    assert "alice" not in repr(tab_1)
    app.sign_in(tab_1, None)  # signed out
    assert b.owner_of(tab_1) == tab_1.owner


def test_the_account_id_not_the_username_decides_the_owner(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    space_env(clean_env, tmp_path / "data")
    b = sessions.backends()
    before, after_rename, new_holder = app.new_session(), app.new_session(), app.new_session()
    app.sign_in(before, gr.OAuthProfile({**userinfo("alice"), "sub": "61a0c0ffee"}))
    app.sign_in(after_rename, gr.OAuthProfile({**userinfo("alice-x"), "sub": "61a0c0ffee"}))
    app.sign_in(new_holder, gr.OAuthProfile({**userinfo("alice"), "sub": "99b0d00d"}))
    assert b.owner_of(before) == b.owner_of(after_rename) == "hf:61a0c0ffee"
    assert b.owner_of(new_holder) == "hf:99b0d00d"  # the name's next owner starts afresh


def test_locally_signing_in_changes_nothing(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    b = sessions.backends()
    session = app.new_session()
    app.sign_in(session, profile("alice"))
    assert b.owner_of(session) == history.LOCAL_OWNER and b.visible_owner(session) is None
    assert not b.must_sign_in(session)


async def test_new_sessions_do_not_reset_a_signed_in_visitors_quota(
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
    emulator: RunningEmulator,
    start_image: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.config.api_keys = frozenset({CANARY})
    space_env(clean_env, tmp_path / "data", WAVESPEED_BASE_URL=emulator.base_url)
    alice = profile("alice")
    first = app.new_session()
    caplog.set_level(logging.INFO)
    video, record, _ = (await drive(first, start_image, alice))[-1]
    assert Path(video).is_file()

    second = app.new_session()  # a new tab: still alice, still no runs left
    assert "0 of 1 runs left for you" in app.init_session(second, alice)[0]
    with pytest.raises(gr.Error) as info:
        await drive(second, start_image, alice)
    assert "used your 1 runs" in info.value.message
    # ... and her run is in History wherever she opens it
    assert [run.id for run in app.backends().history.list(owner="hf:alice")] == [record["id"]]

    # anonymous visitors keep a quota per session, as before
    assert Path((await drive(app.new_session(), start_image, None))[-1][0]).is_file()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in logged and CANARY not in logged
    assert "alice" not in logged  # no usernames in the logs


# ---------------------------------------------------------------- PLAYGROUND_REQUIRE_LOGIN


async def test_required_sign_in_refuses_anonymous_visitors_before_submitting(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, emulator: RunningEmulator, start_image: Path
) -> None:
    emulator.config.api_keys = frozenset({CANARY, VISITOR_KEY})
    space_env(
        clean_env,
        tmp_path / "data",
        WAVESPEED_BASE_URL=emulator.base_url,
        PLAYGROUND_REQUIRE_LOGIN="1",
    )
    visitor = app.new_session()
    banner, _ = app.init_session(visitor, None)
    assert "Sign in required" in banner and "signed in with Hugging Face" in banner
    with pytest.raises(gr.Error) as info:
        await drive(visitor, start_image, None)
    assert info.value.title == "Sign in required"
    assert info.value.message == app.sign_in_message(oauth=True)
    assert "Sign in under “Backend & API key”" in info.value.message
    assert emulator.stats()["submits"] == 0

    # signed in, the same visitor spends the demo's key; with their own key, no sign-in
    assert Path((await drive(visitor, start_image, profile("bob")))[-1][0]).is_file()
    app.set_key(VISITOR_KEY, other := app.new_session())
    assert Path((await drive(other, start_image, None))[-1][0]).is_file()


async def test_required_sign_in_without_hf_oauth_says_to_bring_a_key(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, start_image: Path
) -> None:
    space_env(clean_env, tmp_path / "data", oauth=False, PLAYGROUND_REQUIRE_LOGIN="1")
    with pytest.raises(gr.Error) as info:
        await drive(app.new_session(), start_image, None)
    assert "sign-in is not enabled here" in info.value.message
    assert "your own WaveSpeed key" in info.value.message


# ---------------------------------------------------------------- the launched Space
#
# Last in this file: the function-scoped `clean_env` above resets backends(), which this
# module-scoped app must keep for its whole life.


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
        assert sessions.backends().settings.oauth
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
    assert list(api["named_endpoints"]) == ["/generate"]
    assert not api["unnamed_endpoints"]
    generate = api["named_endpoints"]["/generate"]
    assert [p["parameter_name"] for p in generate["parameters"]] == API_PARAMETERS


def test_a_signed_in_visitors_quota_holds_across_sessions_over_http(space: LaunchedApp) -> None:
    carol = {"Cookie": sign_in(space)}
    video, record, _ = space.generate(space.client(headers=carol))  # carol's one run
    assert Path(video).is_file()
    assert sessions.backends().history.get(record["id"], owner="hf:carol") is not None
    with pytest.raises(AppError, match="used your 1 runs"):
        space.generate(space.client(headers=carol))  # a new session, still carol
    assert Path(space.generate(space.client())[0]).is_file()  # anonymous: its own quota
    page = space.get("/").text
    assert TOKEN not in page and CANARY not in page
