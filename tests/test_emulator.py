"""The WaveSpeed emulator, driven over loopback HTTP with plain httpx and the official SDK."""

import base64
import io
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import wavespeed
from conftest import free_port
from PIL import Image, ImageDraw

from playground.emulator import RunningEmulator
from playground.media import videos
from playground.model import seedance

LITE_720 = "bytedance/seedance-v1-lite-i2v-720p"
LITE_480 = "bytedance/seedance-v1-lite-i2v-480p"
PRO_480 = "bytedance/seedance-v1-pro-i2v-480p"
AUTH = {"Authorization": "Bearer test-key"}
REMOTE_IMAGE = "https://example.com/never-fetched.jpg"  # the emulator must not fetch it
POLL_TIMEOUT_S = 20  # renders take ~1 s here; generous for a loaded CI machine
ROOT = Path(__file__).resolve().parent.parent


def png_bytes(
    size: tuple[int, int] = (640, 480),
    color: tuple[int, int, int] = (200, 40, 40),
    fmt: str = "PNG",
) -> bytes:
    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 80):
        draw.rectangle((x, 0, x + 30, size[1]), fill=tuple(c // 2 for c in color))
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


IMAGE = data_uri(png_bytes())


@pytest.fixture
def api(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url, headers=AUTH, timeout=10) as client:
        yield client


def submit(api: httpx.Client, model: str = LITE_480, **body: Any) -> httpx.Response:
    payload = {"image": IMAGE, "duration": 2, "seed": 1, **body}
    return api.post(f"/api/v3/{model}", json=payload)


def wait_done(api: httpx.Client, task_id: str) -> tuple[dict[str, Any], list[str]]:
    """Poll until a terminal status; return the last prediction and every status seen."""
    seen: list[str] = []
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while time.monotonic() < deadline:
        data = api.get(f"/api/v3/predictions/{task_id}/result").json()["data"]
        if not seen or seen[-1] != data["status"]:
            seen.append(data["status"])
        if data["status"] in ("completed", "failed"):
            return data, seen
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} still {seen[-1]} after {POLL_TIMEOUT_S}s")


def run_task(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = submit(api, **body)
    assert response.status_code == 200, response.text
    return wait_done(api, response.json()["data"]["id"])[0]


def download_clip(url: str, dest: Path) -> videos.VideoInfo:
    response = httpx.get(url, timeout=10)  # no auth: outputs are served like a CDN
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    dest.write_bytes(response.content)
    return videos.probe_video(dest)


# ---------------------------------------------------------------- auth and envelope


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dGVzdA=="},
        {"Authorization": "test-key"},
    ],
)
def test_missing_or_malformed_key_is_401(
    emulator: RunningEmulator, headers: dict[str, str]
) -> None:
    for method, path in [
        ("GET", "/api/v3/balance"),
        ("POST", f"/api/v3/{LITE_480}"),
        ("GET", "/api/v3/predictions/abc/result"),
    ]:
        response = httpx.request(method, emulator.base_url + path, headers=headers, json={})
        assert response.status_code == 401
        assert response.json() == {"code": 401, "message": "Invalid API key"}
    assert emulator.stats()["submits"] == 0


def test_only_configured_keys_pass_when_set(emulator: RunningEmulator) -> None:
    emulator.config.api_keys = frozenset({"good"})
    url = emulator.base_url + "/api/v3/balance"
    assert httpx.get(url, headers={"Authorization": "Bearer other"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer good"}).status_code == 200


def test_balance_on_both_paths(api: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.config.balance = 12.5
    for path in ("/api/v3/balance", "/api/v3/account/balance"):
        assert api.get(path).json() == {
            "code": 200,
            "message": "success",
            "data": {"balance": 12.5},
        }


def test_submit_reply_is_a_created_prediction(api: httpx.Client, emulator: RunningEmulator) -> None:
    response = submit(api, model=LITE_720)
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["message"]) == (200, "success")
    data = body["data"]
    assert re.fullmatch(r"[0-9a-f]{32}", data["id"])
    assert data == {
        "id": data["id"],
        "model": LITE_720,
        "outputs": [],
        "urls": {"get": f"{emulator.base_url}/api/v3/predictions/{data['id']}/result"},
        "has_nsfw_contents": [],
        "status": "created",
        "created_at": data["created_at"],
        "error": "",
        "timings": {"inference": 0},
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", data["created_at"])
    assert emulator.stats()["tasks"] == 1


# ---------------------------------------------------------------- validation


TOO_SMALL = data_uri(png_bytes((299, 400)))
GIF = data_uri(png_bytes(fmt="GIF"))


@pytest.mark.parametrize(
    ("model", "change", "message"),
    [
        (LITE_480, {"image": None}, "image is required"),
        (LITE_480, {"image": 42}, "image must be an http(s) URL or a base64 data URI"),
        (LITE_480, {"image": "ftp://example.com/a.png"}, "image must be an http(s) URL"),
        (LITE_480, {"image": "/tmp/a.png"}, "image must be an http(s) URL"),
        (LITE_480, {"image": data_uri(b"GIF89a", "image/gif")}, "image must be a jpg or png image"),
        (
            LITE_480,
            {"image": GIF.replace("image/gif", "image/png")},
            "image must be a jpg or png image",
        ),
        (LITE_480, {"image": "data:image/png;base64,@@not base64@@"}, "image is not valid base64"),
        (LITE_480, {"image": data_uri(b"plain text, not pixels")}, "image is not a decodable"),
        (LITE_480, {"image": "data:image/png," + "x" * 10}, "image data URI must be base64"),
        (LITE_480, {"image": TOO_SMALL}, "image must be at least 300x300 pixels"),
        (LITE_480, {"last_image": "nope"}, "last_image must be an http(s) URL"),
        (LITE_480, {"last_image": TOO_SMALL}, "last_image must be at least 300x300 pixels"),
        (LITE_480, {"prompt": "x" * 2001}, "prompt must be a string of at most 2000 characters"),
        (LITE_480, {"prompt": ["a"]}, "prompt must be a string"),
        (LITE_480, {"duration": 1}, "duration must be an integer between 2 and 12"),
        (LITE_480, {"duration": 13}, "duration must be an integer between 2 and 12"),
        (LITE_480, {"duration": "5"}, "duration must be an integer between 2 and 12"),
        (LITE_480, {"duration": 5.5}, "duration must be an integer between 2 and 12"),
        (LITE_480, {"duration": True}, "duration must be an integer between 2 and 12"),
        (PRO_480, {"duration": None}, f"duration is required for {PRO_480}"),
        (LITE_480, {"aspect_ratio": "2:1"}, "aspect_ratio must be one of 21:9, 16:9, 4:3, 1:1"),
        (LITE_480, {"camera_fixed": "yes"}, "camera_fixed must be a boolean"),
        (LITE_480, {"camera_fixed": 1}, "camera_fixed must be a boolean"),
        (LITE_480, {"seed": -2}, "seed must be -1 or an integer between 0 and 2147483647"),
        (LITE_480, {"seed": 2147483648}, "seed must be -1 or an integer between 0 and 2147483647"),
        (LITE_480, {"seed": "7"}, "seed must be -1 or an integer"),
    ],
)
def test_bad_parameters_are_400_and_create_nothing(
    api: httpx.Client,
    emulator: RunningEmulator,
    model: str,
    change: dict[str, Any],
    message: str,
) -> None:
    body = {"image": IMAGE, "duration": 5, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post(f"/api/v3/{model}", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert response.json()["message"].startswith(message)
    assert emulator.stats()["tasks"] == 0


@pytest.mark.parametrize("content", [b"[1, 2]", b"{not json"])
def test_body_must_be_a_json_object(api: httpx.Client, content: bytes) -> None:
    response = api.post(
        f"/api/v3/{LITE_480}", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": "request body must be a JSON object"}


@pytest.mark.parametrize(
    "change",
    [
        {"duration": 2},
        {"duration": 12},
        {"seed": 0},
        {"seed": 2147483647},
        {"seed": -1},
        {"prompt": "x" * 2000},
        {"camera_fixed": True},
        {"aspect_ratio": "21:9"},
        {"image": data_uri(png_bytes((300, 300), fmt="JPEG"), "image/jpeg")},
        {"image": REMOTE_IMAGE, "last_image": IMAGE},
    ],
)
def test_boundary_values_are_accepted(
    api: httpx.Client, emulator: RunningEmulator, change: dict[str, Any]
) -> None:
    emulator.config.faults.never_finish = True  # accept only; no need to render
    assert submit(api, **change).status_code == 200


def test_pro_models_accept_an_explicit_duration(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.faults.never_finish = True
    assert submit(api, model=PRO_480, duration=3).status_code == 200


def test_unknown_model_is_404(api: httpx.Client, emulator: RunningEmulator) -> None:
    response = submit(api, model="bytedance/seedance-v9-ultra")
    assert response.status_code == 404
    assert "bytedance/seedance-v9-ultra" in response.json()["message"]
    assert emulator.stats()["tasks"] == 0


# ---------------------------------------------------------------- lifecycle and results


def test_lifecycle_ends_with_a_downloadable_clip_of_the_right_shape(
    api: httpx.Client, emulator: RunningEmulator, tmp_path: Path
) -> None:
    started = time.monotonic()
    response = submit(api, model=LITE_720, aspect_ratio="9:16", duration=2)
    assert response.json()["data"]["status"] == "created"
    data, seen = wait_done(api, response.json()["data"]["id"])
    # The first poll lands inside the 0.2 s "created" phase unless the machine stalls.
    assert seen in (["created", "processing", "completed"], ["processing", "completed"])
    assert time.monotonic() - started >= emulator.config.inference_seconds
    assert data["outputs"] == [f"{emulator.base_url}/outputs/{data['id']}.mp4"]
    assert data["has_nsfw_contents"] == [False]
    assert data["timings"] == {"inference": 500}
    assert data["error"] == ""
    info = download_clip(data["outputs"][0], tmp_path / "out.mp4")
    assert (info.width, info.height, info.frames, info.duration_s, info.codec) == (
        704,
        1248,
        48,
        2.0,
        "h264",
    )


def test_result_is_served_on_both_paths(api: httpx.Client) -> None:
    data = run_task(api)
    short = api.get(f"/api/v3/predictions/{data['id']}").json()
    assert short == {"code": 200, "message": "success", "data": data}


def test_unknown_prediction_is_404(api: httpx.Client) -> None:
    for path in ("/api/v3/predictions/" + "0" * 32 + "/result", "/api/v3/predictions/nope"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == 404


def test_aspect_follows_the_source_and_the_end_image_is_used(
    api: httpx.Client, tmp_path: Path
) -> None:
    start = data_uri(png_bytes((800, 600), color=(30, 30, 220)))  # 4:3, blue
    end = data_uri(png_bytes((800, 600), color=(30, 220, 30)))  # green
    data = run_task(api, image=start, last_image=end)
    info = download_clip(data["outputs"][0], tmp_path / "c.mp4")
    assert (info.width, info.height) == seedance.OUTPUT_SIZES_480P["4:3"]
    first, last = (
        np.asarray(videos.read_frame(tmp_path / "c.mp4", i), dtype=float) for i in (0, -1)
    )
    assert first[..., 2].mean() > first[..., 1].mean() + 50  # starts blue
    assert last[..., 1].mean() > last[..., 2].mean() + 50  # ends green


def test_remote_urls_are_not_fetched_but_still_render(api: httpx.Client, tmp_path: Path) -> None:
    data = run_task(api, image=REMOTE_IMAGE)
    assert data["status"] == "completed"
    info = download_clip(data["outputs"][0], tmp_path / "c.mp4")
    assert (info.width, info.height) == seedance.OUTPUT_SIZES_480P["16:9"]


# ---------------------------------------------------------------- reuse_renders (load tests)


def test_each_task_renders_its_own_clip_by_default(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    clips = [run_task(api, seed=seed)["outputs"][0] for seed in (1, 2)]
    assert emulator.stats()["renders"] == 2
    assert httpx.get(clips[0]).content != httpx.get(clips[1]).content  # the seed moves it


def test_reuse_renders_encodes_each_distinct_clip_once(
    api: httpx.Client, emulator: RunningEmulator, tmp_path: Path
) -> None:
    emulator.config.reuse_renders = True
    # Submitted together: the later tasks wait for the render already under way.
    ids = [submit(api, seed=seed).json()["data"]["id"] for seed in (1, 2, 3)]
    done = [wait_done(api, task_id)[0] for task_id in ids]
    assert [d["status"] for d in done] == ["completed"] * 3
    assert emulator.stats()["renders"] == 1
    urls = [d["outputs"][0] for d in done]
    assert urls == [f"{emulator.base_url}/outputs/{task_id}.mp4" for task_id in ids]
    assert len({httpx.get(url).content for url in urls}) == 1  # one clip, whatever the seed
    info = download_clip(urls[2], tmp_path / "c.mp4")
    assert (info.width, info.height, info.duration_s) == (*seedance.OUTPUT_SIZES_480P["4:3"], 2.0)

    run_task(api, seed=4, duration=3)  # another clip: rendered afresh
    run_task(api, seed=5, camera_fixed=True)
    run_task(api, seed=6, image=data_uri(png_bytes(color=(20, 20, 200))))
    assert emulator.stats()["renders"] == 4
    assert emulator.stats()["tasks"] == 6


def test_reuse_renders_keeps_each_task_on_its_own_schedule(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.reuse_renders = True
    run_task(api, seed=1)
    started = time.monotonic()  # the clip exists already: the copy is instant, the task not
    data, seen = wait_done(api, submit(api, seed=2).json()["data"]["id"])
    assert (data["status"], seen[-2]) == ("completed", "processing")
    assert time.monotonic() - started >= emulator.config.inference_seconds
    assert emulator.stats()["renders"] == 1


def test_reuse_renders_does_not_keep_a_failed_render(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.reuse_renders = True
    missing = f"{emulator.base_url}/uploads/{'f' * 32}.png"
    for _ in range(2):
        data = run_task(api, image=missing)
        assert (data["status"], data["code"]) == ("failed", 1402)
    assert emulator.stats()["renders"] == 2  # tried again, not served the old failure


def test_reuse_renders_is_a_config_field_and_a_command_line_flag(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    admin = emulator.base_url + "/__emulator__/config"
    assert httpx.get(admin).json()["reuse_renders"] is False
    assert httpx.post(admin, json={"reuse_renders": True}).json()["reuse_renders"] is True
    assert emulator.config.reuse_renders is True
    assert httpx.post(admin, json={"reuse_renders": "yes"}).status_code == 400

    port = free_port()
    command = [sys.executable, "emulator.py", "--port", str(port), "--reuse-renders"]
    command += ["--data-dir", str(tmp_path / "data")]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            assert (
                proc.stdout.readline().strip() == f"WaveSpeed emulator at http://127.0.0.1:{port}"
            )
            config = httpx.get(f"http://127.0.0.1:{port}/__emulator__/config").json()
            assert config["reuse_renders"] is True
        finally:
            proc.terminate()


# ---------------------------------------------------------------- uploads


def test_binary_upload_is_served_and_usable_as_an_input(
    api: httpx.Client, emulator: RunningEmulator, tmp_path: Path
) -> None:
    blob = png_bytes((800, 800), color=(230, 200, 20))
    response = api.post(
        "/api/v3/media/upload/binary", files={"file": ("photo.png", blob, "image/png")}
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["type"] == "image"
    assert data["filename"] == "photo.png"
    assert data["size"] == len(blob)
    assert data["download_url"].startswith(emulator.base_url + "/uploads/")
    assert httpx.get(data["download_url"]).content == blob  # no auth needed
    assert emulator.stats()["uploads"] == 1
    assert emulator.stats()["upload_bytes"] == len(blob)

    result = run_task(api, image=data["download_url"])
    info = download_clip(result["outputs"][0], tmp_path / "c.mp4")
    assert (info.width, info.height) == seedance.OUTPUT_SIZES_480P["1:1"]  # the upload's shape
    first = np.asarray(videos.read_frame(tmp_path / "c.mp4", 0), dtype=float)
    assert first[..., 0].mean() > 100 and first[..., 2].mean() < 60  # yellow, not placeholder


def test_binary_upload_over_10_mb_is_413(api: httpx.Client, emulator: RunningEmulator) -> None:
    too_big = b"\0" * (10 * 1024 * 1024 + 1)
    response = api.post(
        "/api/v3/media/upload/binary", files={"file": ("big.png", too_big, "image/png")}
    )
    assert response.status_code == 413
    assert response.json()["code"] == 413
    assert emulator.stats()["uploads"] == 0


def test_binary_upload_needs_the_file_field(api: httpx.Client) -> None:
    response = api.post("/api/v3/media/upload/binary", files={"other": ("a.png", b"x")})
    assert response.status_code == 400


def test_ticket_upload_flow(api: httpx.Client, emulator: RunningEmulator) -> None:
    blob = png_bytes()
    ticket = api.post(
        "/api/v3/media/uploads",
        json={"filename": "a.png", "size": len(blob), "content_type": "image/png"},
    )
    assert ticket.status_code == 200
    data = ticket.json()["data"]
    assert data["upload"]["method"] == "PUT"
    assert httpx.get(data["download_url"]).status_code == 404  # nothing stored yet
    put = httpx.put(data["upload"]["url"], content=blob, headers=data["upload"]["headers"])
    assert put.status_code == 200
    assert httpx.get(data["download_url"]).content == blob
    assert httpx.put(data["upload"]["url"], content=blob).status_code == 404  # single use
    assert (emulator.stats()["uploads"], emulator.stats()["upload_bytes"]) == (1, len(blob))


def test_ticket_for_more_than_10_mb_is_413(api: httpx.Client) -> None:
    response = api.post(
        "/api/v3/media/uploads", json={"filename": "a.png", "size": 10 * 1024 * 1024 + 1}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body", [{"filename": "a.png"}, {"size": 3}, ["a.png", 3], {"filename": "a.png", "size": -1}]
)
def test_ticket_needs_a_filename_and_size(api: httpx.Client, body: Any) -> None:
    response = api.post("/api/v3/media/uploads", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == 400


def test_undecodable_upload_fails_the_task_with_1402(api: httpx.Client) -> None:
    uploaded = api.post(
        "/api/v3/media/upload/binary", files={"file": ("fake.png", b"not an image", "image/png")}
    )
    data = run_task(api, image=uploaded.json()["data"]["download_url"])
    assert (data["status"], data["code"], data["outputs"]) == ("failed", 1402, [])
    assert "media URL fetch failed" in data["error"]


def test_missing_upload_fails_the_task_with_1402(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    data = run_task(api, image=f"{emulator.base_url}/uploads/{'f' * 32}.png")
    assert (data["status"], data["code"]) == ("failed", 1402)


def test_files_refuse_path_traversal(emulator: RunningEmulator) -> None:
    (emulator.data_dir / "secret.txt").write_text("do not serve")
    for folder in ("outputs", "uploads"):
        for name in ("..%2Fsecret.txt", "%2E%2E%2Fsecret.txt", "..", "%2E%2E", "..%5Csecret.txt"):
            response = httpx.get(f"{emulator.base_url}/{folder}/{name}")
            assert response.status_code == 404, (folder, name)
            assert "do not serve" not in response.text
    response = httpx.get(emulator.base_url + "/outputs/../secret.txt")  # client normalises
    assert response.status_code == 404


# ---------------------------------------------------------------- faults


def test_submit_429_carries_retry_after_and_creates_no_task(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.faults.submit_429 = 1
    response = submit(api)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json() == {"code": 429, "message": "Too Many Requests"}
    assert emulator.stats()["tasks"] == 0
    assert submit(api).status_code == 200
    assert (emulator.stats()["submits"], emulator.stats()["tasks"]) == (2, 1)
    assert emulator.config.faults.submit_429 == 0


def test_submit_503_creates_no_task(api: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.config.faults.submit_503 = 2
    assert [submit(api).status_code for _ in range(3)] == [503, 503, 200]
    assert emulator.stats()["tasks"] == 1


def test_drop_after_accept_creates_the_task_but_sends_no_reply(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.faults.drop_after_accept = 1
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        submit(api)
    assert (emulator.stats()["submits"], emulator.stats()["tasks"]) == (1, 1)
    assert submit(api).status_code == 200  # the same client recovers
    assert emulator.stats()["tasks"] == 2


def test_result_5xx_answers_502_503_500_in_turn(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.faults.never_finish = True
    task_id = submit(api).json()["data"]["id"]
    emulator.config.faults.result_5xx = 3
    codes = [api.get(f"/api/v3/predictions/{task_id}/result").status_code for _ in range(4)]
    assert codes == [502, 503, 500, 200]
    assert emulator.stats()["result_gets"] == 4


def test_envelope_error_is_http_200_with_code_500(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.faults.envelope_error = 2
    for path in ("/api/v3/balance", "/api/v3/account/balance"):
        response = api.get(path)
        assert response.status_code == 200
        assert response.json() == {"code": 500, "message": "internal envelope error", "data": None}
    assert api.get("/api/v3/balance").json()["code"] == 200


def test_fail_code_ends_new_tasks_failed(api: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.config.faults.fail_code = 1200
    emulator.config.faults.fail_message = "content flagged by moderation"
    data = run_task(api)
    assert data["status"] == "failed"
    assert (data["code"], data["error"], data["outputs"]) == (
        1200,
        "content flagged by moderation",
        [],
    )


def test_never_finish_keeps_processing(api: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.config.faults.never_finish = True
    task_id = submit(api).json()["data"]["id"]
    time.sleep(emulator.config.inference_seconds + 0.3)
    data = api.get(f"/api/v3/predictions/{task_id}/result").json()["data"]
    assert (data["status"], data["outputs"]) == ("processing", [])


def test_nsfw_is_reported_on_completion(api: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.config.faults.nsfw = True
    data = run_task(api)
    assert (data["status"], data["has_nsfw_contents"]) == ("completed", [True])


def test_slow_seconds_delays_every_api_reply(api: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.config.faults.slow_seconds = 0.4
    started = time.monotonic()
    assert api.get("/api/v3/balance").status_code == 200
    assert time.monotonic() - started >= 0.4
    with pytest.raises(httpx.ReadTimeout):
        api.get("/api/v3/balance", timeout=0.1)


def test_jitter_is_reproducible_from_rng_seed(api: httpx.Client, emulator: RunningEmulator) -> None:
    def inference_times() -> list[int]:
        ids = [submit(api).json()["data"]["id"] for _ in range(3)]
        return [wait_done(api, task_id)[0]["timings"]["inference"] for task_id in ids]

    # fail_code: tasks end on schedule without rendering, which is all this needs.
    settings = {
        "inference_seconds": 0.1,
        "jitter": 0.5,
        "rng_seed": 42,
        "faults": {"fail_code": 5000},
    }
    assert httpx.post(emulator.base_url + "/__emulator__/config", json=settings).is_success
    first = inference_times()
    httpx.post(emulator.base_url + "/__emulator__/config", json={"rng_seed": 42})
    assert inference_times() == first
    assert len(set(first)) == 3 and all(50 <= ms <= 150 for ms in first)


# ---------------------------------------------------------------- admin endpoints


def test_config_endpoint_patches_config_and_faults(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    admin = emulator.base_url + "/__emulator__/config"
    response = httpx.post(
        admin,
        json={
            "inference_seconds": 1,
            "balance": 3.5,
            "api_keys": ["test-key"],
            "faults": {"submit_429": 1, "fail_message": "x"},
        },
    )
    assert response.status_code == 200
    assert response.json()["faults"]["submit_429"] == 1
    assert emulator.config.inference_seconds == 1.0
    assert emulator.config.api_keys == frozenset({"test-key"})
    assert emulator.config.faults.fail_message == "x"
    assert httpx.get(admin).json()["balance"] == 3.5
    assert submit(api).status_code == 429
    assert submit(api).status_code == 200


@pytest.mark.parametrize(
    "patch",
    [
        {"no_such_field": 1},
        {"faults": {"no_such_fault": 1}},
        {"inference_seconds": "fast"},
        {"faults": {"submit_429": 1.5}},
        {"faults": {"nsfw": 1}},
        {"faults": 3},
        [1],
        {"balance": 1.0, "faults": {"submit_503": 1, "never_finish": "yes"}},  # all or nothing
    ],
)
def test_config_endpoint_rejects_bad_patches(emulator: RunningEmulator, patch: Any) -> None:
    before = httpx.get(emulator.base_url + "/__emulator__/config").json()
    response = httpx.post(emulator.base_url + "/__emulator__/config", json=patch)
    assert response.status_code == 400
    assert httpx.get(emulator.base_url + "/__emulator__/config").json() == before


def test_stats_endpoint_matches_in_process_stats(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.faults.never_finish = True
    task_id = submit(api).json()["data"]["id"]
    api.get(f"/api/v3/predictions/{task_id}/result")
    stats = httpx.get(emulator.base_url + "/__emulator__/stats").json()
    assert (
        stats
        == emulator.stats()
        == {
            "submits": 1,
            "result_gets": 1,
            "uploads": 0,
            "upload_bytes": 0,
            "renders": 0,
            "tasks": 1,
            "catalog_gets": 0,
            "quotes": 0,
            "cancels": 0,
            "webhooks_sent": 0,
            "webhooks_failed": 0,
        }
    )


def test_a_field_the_model_s_schema_lacks_is_refused_by_name(api: httpx.Client) -> None:
    """Strict where WaveSpeed may be lenient: a client that sends a field the model does
    not have is caught here, not silently ignored."""
    refused = submit(api, unknown_extra=1)
    assert refused.status_code == 400 and "unknown_extra" in refused.text


# ---------------------------------------------------------------- the official SDK


def test_official_sdk_runs_a_task_end_to_end(emulator: RunningEmulator, tmp_path: Path) -> None:
    client = wavespeed.Client(api_key="sdk-key", base_url=emulator.base_url)
    output = client.run(
        LITE_720,
        {
            "image": IMAGE,
            "prompt": "slow push-in",
            "duration": 2,
            "aspect_ratio": "16:9",
            "seed": 5,
        },
        poll_interval=0.2,
        timeout=30,
    )
    info = download_clip(output["outputs"][0], tmp_path / "sdk.mp4")
    assert (info.width, info.height, info.frames) == (1248, 704, 48)


def test_official_sdk_upload_ticket_flow(emulator: RunningEmulator, tmp_path: Path) -> None:
    blob = png_bytes()
    (tmp_path / "frame.png").write_bytes(blob)
    client = wavespeed.Client(api_key="sdk-key", base_url=emulator.base_url)
    url = client.upload(str(tmp_path / "frame.png"))
    assert url.startswith(emulator.base_url + "/uploads/")
    assert httpx.get(url).content == blob


def test_official_sdk_sees_a_dropped_submit_as_no_response(emulator: RunningEmulator) -> None:
    emulator.config.faults.drop_after_accept = 1
    client = wavespeed.Client(api_key="sdk-key", base_url=emulator.base_url)
    with pytest.raises(RuntimeError, match="did not return a response"):
        client.run(LITE_480, {"image": REMOTE_IMAGE, "duration": 2}, timeout=10)
    assert emulator.stats()["tasks"] == 1


def test_hold_keeps_new_tasks_processing_until_released(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.faults.hold = True
    task_id = submit(api).json()["data"]["id"]
    task = emulator.emulator.tasks[task_id]
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while not (task.render is not None and task.render.done()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(max(0.0, task.started + task.inference_s - time.monotonic()) + 0.1)
    # Past its inference time and rendered, the task is still held.
    data = api.get(f"/api/v3/predictions/{task_id}/result").json()["data"]
    assert (data["status"], data["outputs"]) == ("processing", [])
    assert task.done_at is None

    admin = emulator.base_url + "/__emulator__/config"
    assert httpx.post(admin, json={"faults": {"hold": False}}).json()["faults"]["hold"] is False
    data, seen = wait_done(api, task_id)
    assert data["status"] == "completed" and len(data["outputs"]) == 1
    assert seen == ["completed"]  # released after its time: it finishes at the next poll
    assert task.done_at is not None and task.done_at >= task.started + task.inference_s
    assert run_task(api)["status"] == "completed"  # tasks created after the release run freely
