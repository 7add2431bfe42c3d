"""“Copy as code”: every snippet reproduces the run's exact request and nothing else.

The curl snippet is run by bash (with `curl` replaced by a function that prints its argv),
the Python script is run for real against the emulator, and the gradio_client snippet is
run against a stand-in `gradio_client` that records the call.
"""

from __future__ import annotations

import ast
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PIL import Image

from playground.emulator import RunningEmulator
from playground.ui import snippets

MODEL = "bytedance/seedance-v1-lite-i2v-720p"
URL = "https://cdn.example.com/uploads/start.png"
END_URL = "https://cdn.example.com/uploads/end.png"
NASTY = "It's a \"test\" with $HOME and `id` and \\ back\\slash,\nnew line\ttab 'quoted' ü 雪 🎬"
CANARY = "sk-CANARY-5f1e2d3c4b5a69788796a5b4c3d2e1f0"
BASH = shutil.which("bash")
needs_bash = pytest.mark.skipif(BASH is None, reason="needs bash")


def record(**inputs: Any) -> dict[str, Any]:
    """A run record as RunRecord.to_json() gives it: `inputs` has the model too."""
    sent = {
        "image": URL,
        "prompt": "A woman turns and smiles. Slow push-in toward the subject.",
        "duration": 5,
        "camera_fixed": False,
        "seed": 1234567,
        **inputs,
    }
    sent = {k: v for k, v in sent.items() if v is not None}
    return {
        "id": "e6832d4abffb4d79bfbca19783fca133",
        "model": MODEL,
        "status": "completed",
        "seed": sent.get("seed", 1234567),
        "inputs": {**sent, "model": MODEL},
        "cost_usd": 0.16,
        "backend": "WaveSpeed",
        "created_at": "2025-05-19T06:09:15+00:00",
        "api_base": "https://api.wavespeed.ai",
        "timings": {"upload_s": 0.1, "total_s": 30.0, "queue_s": 1.0},
        "video_path": "/data/2025-05-19/060915_e6832d4a_1234567.mp4",
        "output_url": "https://cdn.example.com/out.mp4",
        "input_files": {},
        "error": "",
    }


def sent_body(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec["inputs"].items() if k != "model"}


# --------------------------------------------------------------------------- curl


def curl_calls(snippet: str, **env: str) -> tuple[list[list[str]], subprocess.CompletedProcess]:
    """Run the snippet in bash with `curl` as a function that prints its argv."""
    script = 'curl() { printf "%s\\0" "$@"; printf "\\1"; }\n' + snippet
    environment = {"PATH": os.environ.get("PATH", ""), **env}
    done = subprocess.run(
        [BASH or "bash", "-c", script], capture_output=True, env=environment, timeout=10
    )
    calls = [
        call.decode().split("\0")[:-1]
        for call in done.stdout.split(b"\1")
        if call.strip(b"\n")  # the snippet prints nothing itself
    ]
    return calls, done


@needs_bash
@pytest.mark.parametrize("prompt", [NASTY, "'", "'''", "\\'", "$(exit 7)", "a'b\"c"])
def test_curl_is_valid_bash_and_sends_the_exact_body(prompt: str) -> None:
    rec = record(prompt=prompt, aspect_ratio="9:16", last_image=END_URL)
    snippet = snippets.curl_snippet(rec)
    syntax = subprocess.run([BASH or "bash", "-n"], input=snippet.encode(), capture_output=True)
    assert syntax.returncode == 0, syntax.stderr.decode()

    calls, done = curl_calls(snippet, WAVESPEED_API_KEY="k-from-env", TASK_ID="abc123")
    assert done.returncode == 0, done.stderr.decode()
    submit, poll = calls
    assert submit[submit.index("-X") + 1] == "POST"
    assert f"https://api.wavespeed.ai/api/v3/{MODEL}" in submit
    assert "Authorization: Bearer k-from-env" in submit
    assert "Content-Type: application/json" in submit
    assert json.loads(submit[submit.index("-d") + 1]) == sent_body(rec)
    assert "https://api.wavespeed.ai/api/v3/predictions/abc123/result" in poll
    assert "Authorization: Bearer k-from-env" in poll


def test_curl_body_read_back_with_shlex_is_the_request() -> None:
    rec = record(prompt=NASTY, aspect_ratio="21:9", camera_fixed=True)
    words = shlex.split(snippets.curl_snippet(rec), comments=True)
    assert json.loads(words[words.index("-d") + 1]) == sent_body(rec)


def test_curl_body_is_pretty_json_with_the_concrete_seed() -> None:
    snippet = snippets.curl_snippet(record(seed=987654321))
    assert '\n  "seed": 987654321\n' in snippet
    assert "-1" not in snippet


@needs_bash
def test_curl_poll_refuses_to_run_without_a_task_id() -> None:
    calls, done = curl_calls(snippets.curl_snippet(record()), WAVESPEED_API_KEY="k")
    assert len(calls) == 1  # the submit ran; the poll stopped before calling curl
    assert done.returncode != 0
    assert b"set TASK_ID to data.id" in done.stderr


@needs_bash
def test_curl_base_url_is_a_parameter() -> None:
    snippet = snippets.curl_snippet(record(), base_url="http://127.0.0.1:8123/")
    calls, done = curl_calls(snippet, WAVESPEED_API_KEY="k", TASK_ID="t1")
    assert done.returncode == 0, done.stderr.decode()
    assert f"http://127.0.0.1:8123/api/v3/{MODEL}" in calls[0]
    assert "http://127.0.0.1:8123/api/v3/predictions/t1/result" in calls[1]


@needs_bash
def test_curl_quotes_a_hostile_model_id_and_base_url() -> None:
    rec = {**record(), "model": "x/$(exit 9);`id`"}
    snippet = snippets.curl_snippet(rec, base_url='http://h/"$(id)`id`')
    calls, done = curl_calls(snippet, WAVESPEED_API_KEY="k", TASK_ID="t")
    assert done.returncode == 0, done.stderr.decode()
    assert 'http://h/"$(id)`id`/api/v3/x/$(exit 9);`id`' in calls[0]
    assert 'http://h/"$(id)`id`/api/v3/predictions/t/result' in calls[1]


# --------------------------------------------------------------------------- python


def payload_literal(snippet: str) -> dict[str, Any]:
    """The `payload = {...}` dict literal of the script, read without running anything."""
    for node in ast.parse(snippet).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == [
            "payload"
        ]:
            return ast.literal_eval(node.value)
    raise AssertionError("no payload assignment")


@pytest.mark.parametrize("prompt", [NASTY, "", '"""', "'''\\", "{API_KEY}", "\x00\x1f\x7f"])
def test_python_compiles_and_its_payload_is_the_request(prompt: str) -> None:
    rec = record(prompt=prompt or None, aspect_ratio="1:1", last_image=END_URL, camera_fixed=True)
    snippet = snippets.python_snippet(rec)
    compile(snippet, "<snippet>", "exec")
    assert payload_literal(snippet) == sent_body(rec)


def test_python_reads_the_key_from_the_environment_and_polls_every_2_s() -> None:
    snippet = snippets.python_snippet(record())
    assert 'os.environ["WAVESPEED_API_KEY"]' in snippet
    assert "time.sleep(2)" in snippet
    assert '"https://api.wavespeed.ai/api/v3"' in snippet
    assert "/predictions/{task_id}/result" in snippet


def test_python_script_runs_against_the_emulator(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole script: upload the end image (it was inlined), submit, poll, download."""
    Image.new("RGB", (320, 320), (200, 80, 40)).save(tmp_path / "run_end.jpg", "JPEG")
    rec = record(duration=2, last_image="data:image/jpeg;base64,AAAA")
    rec["input_files"] = {"end": "/somewhere/else/run_end.jpg"}
    snippet = snippets.python_snippet(rec, base_url=emulator.base_url)

    real_sleep = time.sleep
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", lambda s: (waits.append(s), real_sleep(0.1)))
    monkeypatch.setenv("WAVESPEED_API_KEY", "emulator-key")
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "<snippet>", "exec"), {"__name__": "__main__"})

    videos = list(tmp_path.glob("seedance_*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 0
    assert waits and set(waits) == {2}
    seen = emulator.emulator.counters
    # One upload of the end image; the submit was accepted, so its URL replaced the
    # placeholder (the emulator refuses anything but an http(s) URL or a data URI).
    assert (seen.uploads, seen.upload_bytes) == (1, (tmp_path / "run_end.jpg").stat().st_size)
    assert seen.submits == 1 and seen.result_gets == len(waits)


# --------------------------------------------------------------------------- gradio_client


class FakeGradioClient:
    calls: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def __init__(self, src: str) -> None:
        self.src = src

    def predict(self, **kwargs: Any) -> tuple[str, dict[str, Any], str]:
        FakeGradioClient.calls.append((self.src, kwargs))
        return "video.mp4", {}, "done"


def run_gradio_snippet(snippet: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict]:
    fake = types.ModuleType("gradio_client")
    fake.Client = FakeGradioClient  # type: ignore[attr-defined]
    fake.handle_file = lambda path: ("file", path)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gradio_client", fake)
    FakeGradioClient.calls = []
    monkeypatch.setattr("sys.stdout", io.StringIO())
    exec(compile(snippet, "<snippet>", "exec"), {})
    [(src, kwargs)] = FakeGradioClient.calls
    return src, kwargs


def generate_parameters() -> list[str]:
    """The public /generate's parameters: Handlers.generate's before `session` (the page's
    own extras come after it), read from the source (importing Gradio is slow)."""
    source = Path(__file__).parents[1] / "playground" / "ui" / "handlers.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    (handlers,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Handlers"]
    for node in handlers.body:
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and node.name == "generate":
            names = [a.arg for a in node.args.args if a.arg != "self"]
            return names[: names.index("session")]
    raise AssertionError("Handlers.generate not found")


def test_gradio_client_calls_generate_with_the_runs_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec = record(prompt=NASTY, aspect_ratio="16:9", last_image=END_URL, camera_fixed=True)
    snippet = snippets.gradio_client_snippet(rec, "https://me-seedance.hf.space/")
    assert "from gradio_client import Client, handle_file" in snippet
    src, kwargs = run_gradio_snippet(snippet, monkeypatch)
    assert src == "https://me-seedance.hf.space/"
    assert kwargs == {
        "image": ("file", URL),
        "prompt": NASTY,
        "last_image": ("file", END_URL),
        "duration": 5,
        "aspect_ratio": "16:9",
        "camera_fixed": True,
        "seed": 1234567,
        "model": MODEL,
        "api_name": "/generate",
    }
    # the first eight, as /generate has had them from the start; the newer ones (resolution,
    # generate_audio, options) only for a run that used them
    assert [k for k in kwargs if k != "api_name"] == generate_parameters()[:8]


def test_gradio_client_defaults_auto_ratio_and_no_end_image(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, kwargs = run_gradio_snippet(
        snippets.gradio_client_snippet(record(), "http://127.0.0.1:7860/"), monkeypatch
    )
    assert kwargs["aspect_ratio"] == "auto"
    assert kwargs["last_image"] is None
    assert kwargs["seed"] == 1234567


def test_gradio_client_names_kept_files_never_their_directories(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec = record(image="(inline image)", last_image="data:image/png;base64,AAAA")
    rec["input_files"] = {
        "start": "/srv/private/data/2025-05-19/060915_e6832d4a_1234567_start.jpg",
        "end": "C:\\Users\\me\\runs\\060915_end.jpg",
    }
    snippet = snippets.gradio_client_snippet(rec, "http://127.0.0.1:7860/")
    _, kwargs = run_gradio_snippet(snippet, monkeypatch)
    assert kwargs["image"] == ("file", "060915_e6832d4a_1234567_start.jpg")
    assert kwargs["last_image"] == ("file", "060915_end.jpg")
    assert "/srv/private" not in snippet and "Users" not in snippet


# --------------------------------------------------------------------------- images & secrets


@pytest.mark.parametrize(
    "image",
    [
        "data:image/png;base64,iVBORw0KGgo=",
        "(inline image)",
        "/home/me/photos/cat.jpg",
        "cat.jpg",
        "file:///home/me/cat.jpg",
        "ftp://example.com/cat.jpg",
    ],
)
def test_images_not_sent_as_urls_become_placeholders(image: str) -> None:
    rec = record(image=image)
    body = payload_literal(snippets.python_snippet(rec))
    assert body["image"] == "<URL of your start image: upload it first>"
    words = shlex.split(snippets.curl_snippet(rec), comments=True)
    assert json.loads(words[words.index("-d") + 1])["image"] == body["image"]
    for snippet in snippets.all_snippets(rec, "http://127.0.0.1:7860/").values():
        assert image not in snippet


def test_an_upload_step_is_shown_for_each_placeholder() -> None:
    rec = record(image="(inline image)", last_image="(inline image)")
    rec["input_files"] = {"start": "/d/a_start.jpg", "end": "/d/a_end.jpg"}
    curl = snippets.curl_snippet(rec)
    assert "-F file=@a_start.jpg" in curl and "-F file=@a_end.jpg" in curl
    python = snippets.python_snippet(rec)
    assert 'payload["image"] = upload("a_start.jpg")' in python
    assert 'payload["last_image"] = upload("a_end.jpg")' in python
    assert "upload(" not in snippets.python_snippet(record())  # not when all are URLs


@pytest.mark.parametrize("prompt_chars", [60, 2000])
def test_a_2_mb_data_uri_never_reaches_a_snippet(prompt_chars: int) -> None:
    big = "data:image/png;base64," + "A" * (2 * 1024 * 1024)
    rec = record(image=big, last_image=big, prompt="x" * prompt_chars)
    for name, snippet in snippets.all_snippets(rec, "http://127.0.0.1:7860/").items():
        # A few KB of code around the prompt, whatever the images were.
        assert len(snippet.encode()) - prompt_chars < 4096 - 60, name
        assert "base64" not in snippet and "AAAA" not in snippet, name


def test_the_key_never_appears_only_its_variable() -> None:
    rec = record(prompt="A cat.")
    rec.update(api_key=CANARY, error=CANARY, api_base=f"https://{CANARY}.example", backend=CANARY)
    rec["inputs"].update(api_key=CANARY, Authorization=f"Bearer {CANARY}", webhook=CANARY)
    rec["input_files"] = {"key": CANARY, "start": f"/{CANARY}/x.jpg", "thumb": CANARY}
    rec["timings"]["secret"] = CANARY
    rec["headers"] = {"Authorization": f"Bearer {CANARY}"}
    found = snippets.all_snippets(rec, "http://127.0.0.1:7860/")
    for name, snippet in found.items():
        assert CANARY not in snippet, name
        assert "webhook" not in snippet and "api_key" not in snippet, name
    assert "${WAVESPEED_API_KEY}" in found["curl"]
    assert 'os.environ["WAVESPEED_API_KEY"]' in found["python"]
    assert "WAVESPEED_API_KEY" not in found["gradio_client"]


def test_unexpected_value_types_are_left_out_not_guessed() -> None:
    rec = record()
    rec["inputs"].update(duration="5; rm -rf /", camera_fixed="yes", seed=True, prompt={"a": 1})
    body = payload_literal(snippets.python_snippet(rec))
    assert body == {"image": URL, "seed": 1234567}  # the record's own seed stands in


@pytest.mark.parametrize("seed", [None, -1])
def test_a_random_seed_is_replaced_by_the_concrete_one(seed: int | None) -> None:
    rec = record(seed=seed)
    rec["seed"] = 42
    assert payload_literal(snippets.python_snippet(rec))["seed"] == 42
    assert "seed=42," in snippets.gradio_client_snippet(rec, "http://x/")


def test_all_snippets_has_the_three_tabs() -> None:
    found = snippets.all_snippets(record(), "http://127.0.0.1:7860/")
    assert set(found) == {"curl", "python", "gradio_client"}
    assert all(text.endswith("\n") for text in found.values())


def test_model_falls_back_to_inputs_then_default() -> None:
    rec = record()
    del rec["model"]
    rec["inputs"]["model"] = "bytedance/seedance-v1-pro-i2v-480p"
    assert "api/v3/bytedance/seedance-v1-pro-i2v-480p" in snippets.curl_snippet(rec)
    del rec["inputs"]["model"]
    assert f"api/v3/{MODEL}" in snippets.curl_snippet(rec)


def test_a_2x_run_repeats_with_its_own_field_names_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A model's own fields come along by name: the named parameters /generate has, the
    rest in `options`; a field the model's schema lacks is never emitted, whatever the
    record holds."""
    rec = record(
        seed=None,
        camera_fixed=None,
        generate_audio=True,
        resolution="1080p",
        negative_prompt="blur",
        api_key="sk-INJECTED",
        Authorization="Bearer x",
    )
    rec["model"] = "bytedance/seedance-2.5/image-to-video"
    fields = ["image", "prompt", "duration", "resolution", "generate_audio", "negative_prompt"]
    _, kwargs = run_gradio_snippet(
        snippets.gradio_client_snippet(rec, "http://127.0.0.1:7860/", fields), monkeypatch
    )
    assert kwargs["model"] == "bytedance/seedance-2.5/image-to-video"
    assert kwargs["generate_audio"] is True and kwargs["resolution"] == "1080p"
    assert kwargs["options"] == {"negative_prompt": "blur"}
    every = snippets.all_snippets(rec, fields=fields)
    for text in every.values():
        assert "sk-INJECTED" not in text and "Bearer x" not in text
    assert '"negative_prompt": "blur"' in every["curl"]
    without = snippets.curl_snippet(rec)  # the model's fields unknown: Seedance's only
    assert "negative_prompt" not in without and "generate_audio" not in without
