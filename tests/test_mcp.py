"""The MCP server (PLAYGROUND_MCP=1): `/generate` is its one tool, described by the handler's
docstring, and an MCP client calling it gets the video, the run record and progress.

The launched app is served as `python app.py` serves it, the owner's key (a canary) in the
environment, and talked to by the official `mcp` client over loopback.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import API_PARAMETERS, LaunchedApp, form, launch_app, make_image
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from playground.ui.handlers import Handlers

CANARY = "sk-CANARY-mcp-1"
MODEL = "bytedance/seedance-v1-lite-i2v-480p"  # not the default: proves the argument is used
MCP_PATH = "/gradio_api/mcp/"  # Gradio's streamable HTTP transport

# Gradio warns that `generate` has a gr.State input (the Session): every MCP call, whichever
# client makes it, gets the same one, through Gradio's single loopback client.
pytestmark = pytest.mark.filterwarnings("ignore:This MCP server includes a tool that has a gr")


@contextlib.asynccontextmanager
async def connect(served: LaunchedApp) -> AsyncIterator[ClientSession]:
    async with (
        streamable_http_client(served.url + MCP_PATH) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def data_uri(path: Path) -> str:
    """A file as an MCP client sends it inline. (Gradio refuses to fetch a URL on a private
    or loopback address, as an SSRF guard, so a loopback URL of the start image would fail.)"""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def test_without_the_setting_there_is_no_mcp_server(tmp_path: Path) -> None:
    with launch_app(tmp_path, make_image(tmp_path / "start.png"), {}) as plain:
        assert plain.get("/").status_code == 200
        assert plain.get(MCP_PATH).status_code == 404
        assert plain.get("/gradio_api/mcp/schema").status_code == 404


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedApp]:
    root = tmp_path_factory.mktemp("mcp")
    image = make_image(root / "start.png", (640, 360))
    with launch_app(root, image, {"WAVESPEED_API_KEY": CANARY}, model=MODEL, mcp=True) as served:
        yield served


async def test_generate_and_list_models_are_the_tools_described_by_docstrings(
    served: LaunchedApp,
) -> None:
    """None of the page's private events is a tool; the description and each parameter's
    come from `Handlers.generate`'s docstring, and an end image is optional, as on the page."""
    async with connect(served) as mcp:
        listed = await mcp.list_tools()
    assert [tool.name for tool in listed.tools] == ["generate", "list_models"]
    tool, lister = listed.tools
    assert "fields follow the model" in tool.description
    assert lister.description.startswith("List the image-to-video models")
    summary = inspect.getdoc(Handlers.generate).splitlines()[0]
    assert summary.startswith("Generate a video from a start image")
    assert tool.description.startswith(summary)
    assert "and a status line" in tool.description  # the Returns section, whole
    assert "job.status()" in tool.description  # the progress note, not read as a return
    schema = tool.inputSchema
    assert list(schema["properties"]) == API_PARAMETERS
    assert "motion prompt" in schema["properties"]["prompt"]["description"]
    assert "start frame" in schema["properties"]["image"]["description"]
    assert "http" in schema["properties"]["image"]["format"]  # a file is given as a URL
    assert schema.get("required") == ["image", "prompt"]
    assert CANARY not in listed.model_dump_json()


async def test_list_models_gives_each_model_its_fields_ranges_and_price(
    served: LaunchedApp,
) -> None:
    async with connect(served) as mcp:
        result = await mcp.call_tool("list_models", {})
    assert not result.isError, result.content
    # Gradio gives this JSON output as the repr of its pydantic root model
    listed = ast.literal_eval(result.content[0].text.removeprefix("root="))
    assert listed["catalog"]  # says where the list came from
    models = listed["models"]
    by_id = {m["id"]: m for m in models}
    two = by_id["bytedance/seedance-2.0/image-to-video"]
    assert two["usd_per_second"] == pytest.approx(0.24) and not two["retiring"]
    fields = {f["name"]: f for f in two["fields"]}
    assert fields["duration"]["minimum"] == 4 and fields["duration"]["maximum"] == 15
    assert fields["generate_audio"]["type"] == "flag" and "seed" not in fields
    lite = by_id["bytedance/seedance-v1-lite-i2v-720p"]
    assert lite["retiring"] and lite["successor"] == "bytedance/seedance-2.0/image-to-video"
    assert all("seedance" in m["id"] for m in models)  # Seedance unless asked for everything
    assert CANARY not in result.model_dump_json()


async def test_an_mcp_client_gets_the_video_its_record_and_progress(served: LaunchedApp) -> None:
    """A call with the start image and prompt (no end image) returns the video as a URL on the
    app, the run record, and the status line; the app's own progress lines ("Processing · 2 s")
    arrive on the way as MCP progress notifications; the owner's key is in none of it."""
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    arguments = form(data_uri(served.image), model=served.model, seed=4242)
    del arguments["last_image"]  # optional: a client leaves it out
    served.emulator.config.inference_seconds = 2.0
    try:
        async with connect(served) as mcp:
            result = await mcp.call_tool("generate", arguments, progress_callback=on_progress)
    finally:
        served.emulator.config.inference_seconds = 0.3
    assert not result.isError, result.content
    video_url, record_text, status = [content.text for content in result.content]

    assert video_url.startswith(f"{served.url}/gradio_api/file=") and video_url.endswith(".mp4")
    video = httpx.get(video_url, timeout=10)
    assert video.status_code == 200 and b"ftyp" in video.content[:32]
    # Gradio gives a JSON output to MCP clients as Python's repr of it, not as JSON.
    record = ast.literal_eval(record_text)
    assert (record["status"], record["seed"], record["model"]) == ("completed", 4242, MODEL)
    assert record["inputs"]["duration"] == 2 and record["inputs"]["aspect_ratio"] == "16:9"
    assert not record["inputs"].get("last_image")  # no end image was sent
    assert "seed 4242" in status

    # Gradio's own notifications say "Processing" too; the app's come as "Progress <desc>".
    assert any(m.startswith("Progress Processing · ") for m in messages), messages
    for text in [result.model_dump_json(), *messages]:
        assert CANARY not in text
