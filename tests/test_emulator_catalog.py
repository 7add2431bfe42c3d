"""The emulator's catalog, quotes, cancel, per-schema validation and schema-following clips,
driven over loopback HTTP with plain httpx (the `emulator` fixture of conftest.py)."""

from __future__ import annotations

import base64
import copy
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw

from playground.emulator import RunningEmulator, synthetic

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = json.loads((ROOT / "playground/model/catalog_snapshot.json").read_text())["models"]
AUTH = {"Authorization": "Bearer test-key"}
POLL_TIMEOUT_S = 30

TWO = "bytedance/seedance-2.0/image-to-video"
TURBO = "bytedance/seedance-2.0-fast/image-to-video-turbo"
MINI = "bytedance/seedance-2.0-mini/image-to-video"
TWO_FIVE = "bytedance/seedance-2.5/image-to-video"
ONE_FIVE = "bytedance/seedance-v1.5-pro/image-to-video-fast"
LITE_480 = "bytedance/seedance-v1-lite-i2v-480p"
T2V = "bytedance/seedance-v1-lite-t2v-720p"
KLING = "kwaivgi/kling-v2.1-i2v-standard"
WAN = "wavespeed-ai/wan-2.2/i2v-480p"
HAILUO = "minimax/hailuo-02/standard"


def png_uri(size: tuple[int, int] = (320, 320), color: tuple[int, int, int] = (200, 60, 40)) -> str:
    image = Image.new("RGB", size, color)
    ImageDraw.Draw(image).ellipse((40, 40, size[0] - 40, size[1] - 40), fill=(30, 30, 200))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


IMAGE = png_uri()  # 1:1, the smallest side the API takes plus a little: cheap to send
TOO_SMALL = png_uri((299, 320))


def schema_of(model_id: str) -> dict[str, Any]:
    (entry,) = [m for m in SNAPSHOT if m["model_id"] == model_id]
    (run,) = [s for s in entry["api_schema"]["api_schemas"] if s["type"] == "model_run"]
    return run["request_schema"]


@pytest.fixture
def api(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    emulator.config.inference_seconds = 0.1
    with httpx.Client(base_url=emulator.base_url, headers=AUTH, timeout=10) as client:
        yield client


def admin(emulator: RunningEmulator, patch: dict[str, Any]) -> httpx.Response:
    return httpx.post(emulator.base_url + "/__emulator__/config", json=patch)


def submit(api: httpx.Client, model: str, **body: Any) -> httpx.Response:
    return api.post(f"/api/v3/{model}", json=body)


def accepted(api: httpx.Client, model: str, **body: Any) -> str:
    response = submit(api, model, **body)
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def result(api: httpx.Client, task_id: str) -> dict[str, Any]:
    response = api.get(f"/api/v3/predictions/{task_id}/result")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def wait_done(api: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while time.monotonic() < deadline:
        data = result(api, task_id)
        if data["status"] in ("completed", "failed", "deleted"):
            return data
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} not done after {POLL_TIMEOUT_S}s")


def download(url: str, dest: Path) -> Path:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    dest.write_bytes(response.content)
    return dest


def streams(path: Path) -> dict[str, Any]:
    """What PyAV reads of a clip: video size, frames and duration, and the audio if any."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        info: dict[str, Any] = {
            "size": (video.codec_context.width, video.codec_context.height),
            "frames": video.frames,
            "video_s": float(video.duration * video.time_base),
            "fps": float(video.average_rate),
            "audio": None,
        }
        if container.streams.audio:
            audio = container.streams.audio[0]
            info["audio"] = {
                "codec": audio.codec_context.name,
                "rate": audio.sample_rate,
                "channels": audio.codec_context.channels,
                "seconds": float(audio.duration * audio.time_base),
            }
            peak = max(float(np.abs(f.to_ndarray()).max()) for f in container.decode(audio))
            info["audio"]["peak"] = peak
    return info


# ---------------------------------------------------------------- the catalog


def test_catalog_is_the_snapshot_in_the_api_schemas_shape(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    response = api.get("/api/v3/models")
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["message"]) == (200, "success")
    assert body["data"] == SNAPSHOT
    assert emulator.stats()["catalog_gets"] == 1
    assert httpx.get(emulator.base_url + "/api/v3/models").status_code == 401


def test_catalog_in_the_openapi_shape(api: httpx.Client, emulator: RunningEmulator) -> None:
    assert admin(emulator, {"catalog_shape": "openapi"}).json()["catalog_shape"] == "openapi"
    data = api.get("/api/v3/models").json()["data"]
    assert [m["model_id"] for m in data] == [m["model_id"] for m in SNAPSHOT]
    for entry, original in zip(data, SNAPSHOT, strict=True):
        request = schema_of(original["model_id"])
        assert entry["api_schema"] == {"components": {"schemas": {"Request": request}}}
        assert {k: v for k, v in entry.items() if k != "api_schema"} == {
            k: v for k, v in original.items() if k != "api_schema"
        }
    assert admin(emulator, {"catalog_shape": "yaml"}).status_code == 400
    assert emulator.config.catalog_shape == "openapi"
    admin(emulator, {"catalog_shape": "api_schemas"})
    assert api.get("/api/v3/models").json()["data"] == SNAPSHOT


def test_catalog_5xx_and_delay(api: httpx.Client, emulator: RunningEmulator) -> None:
    assert admin(emulator, {"faults": {"catalog_5xx": 2}}).status_code == 200
    codes = [api.get("/api/v3/models").status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert emulator.config.faults.catalog_5xx == 0
    emulator.config.faults.catalog_delay_s = 0.3
    started = time.monotonic()
    assert api.get("/api/v3/models").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        api.get("/api/v3/models", timeout=0.1)
    assert api.get("/api/v3/balance", timeout=0.2).status_code == 200  # only the catalog waits


def test_a_catalog_given_to_the_emulator_replaces_the_snapshot(tmp_path: Path) -> None:
    from playground.emulator import start_in_thread

    entry = copy.deepcopy(next(m for m in SNAPSHOT if m["model_id"] == LITE_480))
    entry["model_id"] = "acme/only-model"
    with (
        start_in_thread(catalog=[entry], data_dir=tmp_path) as running,
        httpx.Client(base_url=running.base_url, headers=AUTH) as client,
    ):
        assert [m["model_id"] for m in client.get("/api/v3/models").json()["data"]] == [
            "acme/only-model"
        ]
        running.config.faults.never_finish = True
        assert submit(client, "acme/only-model", image=IMAGE).status_code == 200
        assert submit(client, LITE_480, image=IMAGE).status_code == 404


# ---------------------------------------------------------------- price quotes


PRICE_PATHS = ["/api/v3/model/price", "/api/v3/model/pricing"]


def quote(api: httpx.Client, path: str, model: str, inputs: Any = None) -> httpx.Response:
    body: dict[str, Any] = {"model_id": model}
    if inputs is not None:
        body["inputs"] = inputs
    return api.post(path, json=body)


@pytest.mark.parametrize(
    ("model", "inputs", "price"),
    [
        (TURBO, {}, 0.6),  # defaults: 720p, 5 s
        (TURBO, {"resolution": "1080p"}, 1.2),  # the formula doubles 1080p
        (TURBO, {"resolution": "1080p", "duration": 10}, 2.4),
        (TURBO, {"resolution": "720p", "duration": 7}, 0.84),
        (TWO, {"duration": 15}, 3.6),
        (LITE_480, {"duration": 3}, 0.048),
        (HAILUO, {}, 0.23),  # its default duration is 6 s, priced per 6 s
        (HAILUO, {"duration": 10}, 0.3833),  # 0.38333… rounded to 4 decimals
        (TURBO, {"image": IMAGE, "prompt": "p", "seed": 4}, 0.6),  # non-pricing fields: ignored
        (TURBO, None, 0.6),  # no inputs at all: every default
    ],
)
def test_quotes_on_both_endpoints_fill_defaults_and_follow_the_formula(
    api: httpx.Client, model: str, inputs: Any, price: float
) -> None:
    cheap = quote(api, "/api/v3/model/price", model, inputs)
    assert cheap.status_code == 200, cheap.text
    assert cheap.json() == {
        "code": 200,
        "message": "success",
        "data": {
            "model_id": model,
            "price": price,
            "discounted_price": price,
            "currency": "USD",
        },
    }
    docs = quote(api, "/api/v3/model/pricing", model, inputs)
    assert docs.json()["data"] == {"model_id": model, "unit_price": price, "currency": "USD"}


@pytest.mark.parametrize("path", PRICE_PATHS)
def test_quote_errors(api: httpx.Client, path: str) -> None:
    for model in (TWO_FIVE, MINI, ONE_FIVE):  # their pages give no price
        response = quote(api, path, model, {"duration": 5})
        assert response.status_code == 400
        assert response.json() == {
            "code": 400,
            "message": f"the price of {model} is not available",
        }
    missing = quote(api, path, "acme/no-such-model", {})
    assert missing.status_code == 404
    assert "acme/no-such-model" in missing.json()["message"]
    for body in ([1], {"inputs": {}}, {"model_id": 3}, {"model_id": ""}):
        assert api.post(path, json=body).status_code == 400, body
    bad_json = api.post(path, content=b"{nope", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400
    not_object = quote(api, path, TWO, [5])
    assert (not_object.status_code, not_object.json()["message"]) == (
        400,
        "inputs must be a JSON object",
    )
    out_of_range = quote(api, path, TWO, {"duration": 99})
    assert out_of_range.status_code == 400
    assert out_of_range.json()["message"] == "duration must be an integer between 4 and 15"
    bad_enum = quote(api, path, TURBO, {"resolution": "4k"})
    assert bad_enum.json()["message"] == "resolution must be one of 720p, 1080p"
    assert httpx.post(str(api.base_url) + path, json={"model_id": TWO}).status_code == 401


@pytest.mark.parametrize("path", PRICE_PATHS)
def test_quote_5xx_and_delay(api: httpx.Client, emulator: RunningEmulator, path: str) -> None:
    assert admin(emulator, {"faults": {"quote_5xx": 1}}).status_code == 200
    assert [quote(api, path, TWO, {}).status_code for _ in range(2)] == [503, 200]
    emulator.config.faults.quote_delay_s = 0.3
    started = time.monotonic()
    assert quote(api, path, TWO, {}).status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        api.post(path, json={"model_id": TWO}, timeout=0.1)
    assert emulator.stats()["quotes"] == 4  # faults and the timed-out one included
    assert emulator.stats()["tasks"] == 0


# ---------------------------------------------------------------- cancel


def test_delete_turns_a_task_deleted_for_good(api: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.config.faults.never_finish = True
    task_id = accepted(api, LITE_480, image=IMAGE, duration=2)
    response = api.delete(f"/api/v3/predictions/{task_id}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["id"], data["status"], data["outputs"]) == (task_id, "deleted", [])
    assert data["model"] == LITE_480
    time.sleep(0.3)
    assert result(api, task_id)["status"] == "deleted"
    assert api.get(f"/api/v3/predictions/{task_id}").json()["data"]["status"] == "deleted"
    assert api.delete(f"/api/v3/predictions/{task_id}").json()["data"]["status"] == "deleted"
    assert emulator.stats()["cancels"] == 2


def test_delete_of_an_unknown_task_is_404_and_needs_the_key(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    response = api.delete("/api/v3/predictions/" + "0" * 32)
    assert response.status_code == 404
    assert response.json()["code"] == 404
    assert httpx.delete(emulator.base_url + "/api/v3/predictions/abc").status_code == 401
    assert emulator.stats()["cancels"] == 0


def test_delete_of_a_completed_task_reads_deleted(api: httpx.Client) -> None:
    task_id = accepted(api, LITE_480, image=IMAGE, duration=2)
    assert wait_done(api, task_id)["status"] == "completed"
    data = api.delete(f"/api/v3/predictions/{task_id}").json()["data"]
    assert (data["status"], data["outputs"]) == ("deleted", [])


def test_cancel_lag_keeps_the_old_status_for_a_while(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.faults.never_finish = True
    assert admin(emulator, {"cancel_lag_s": 0.5}).json()["cancel_lag_s"] == 0.5
    task_id = accepted(api, LITE_480, image=IMAGE, duration=2)
    time.sleep(0.25)  # past the "created" phase
    started = time.monotonic()
    assert api.delete(f"/api/v3/predictions/{task_id}").json()["data"]["status"] == "processing"
    assert result(api, task_id)["status"] == "processing"
    while result(api, task_id)["status"] != "deleted":
        assert time.monotonic() - started < 5
        time.sleep(0.05)
    assert time.monotonic() - started >= 0.5
    assert result(api, task_id)["status"] == "deleted"


# ---------------------------------------------------------------- per-schema validation


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        # required
        (TWO, {"image": IMAGE}, f"prompt is required for {TWO}"),
        (TWO, {"image": IMAGE, "prompt": ""}, f"prompt is required for {TWO}"),
        (TWO, {"prompt": "p", "image": ""}, f"image is required for {TWO}"),
        ("bytedance/seedance-v1-pro-i2v-480p", {"image": IMAGE}, "duration is required for"),
        (T2V, {"duration": 2}, f"prompt is required for {T2V}"),
        # a field the schema does not have, visible or x-hidden alike
        (TWO, {"image": IMAGE, "prompt": "p", "seed": 1}, f"seed is not a parameter of {TWO}"),
        (TWO, {"image": IMAGE, "prompt": "p", "camera_fixed": True}, "camera_fixed is not a"),
        (TURBO, {"image": IMAGE, "prompt": "p", "generate_audio": True}, "generate_audio is not"),
        (T2V, {"prompt": "p", "image": IMAGE}, f"image is not a parameter of {T2V}"),
        (LITE_480, {"image": IMAGE, "resolution": "480p"}, "resolution is not a parameter"),
        # types
        (TWO, {"image": IMAGE, "prompt": "p", "duration": "5"}, "duration must be an integer"),
        (TWO, {"image": IMAGE, "prompt": "p", "duration": 5.0}, "duration must be an integer"),
        (TWO, {"image": IMAGE, "prompt": "p", "generate_audio": "yes"}, "generate_audio must be"),
        (TWO, {"image": IMAGE, "prompt": "p", "generate_audio": 1}, "generate_audio must be a"),
        (TWO, {"image": IMAGE, "prompt": 7}, "prompt must be a string of at most 2000"),
        (WAN, {"image": IMAGE, "prompt": "p", "negative_prompt": 5}, "negative_prompt must be a"),
        (KLING, {"image": IMAGE, "prompt": "p", "guidance_scale": "0.5"}, "guidance_scale must"),
        (KLING, {"image": IMAGE, "prompt": "p", "guidance_scale": True}, "guidance_scale must"),
        (HAILUO, {"image": IMAGE, "prompt": "p", "reference_images": IMAGE}, "reference_images"),
        # x-hidden fields are real fields, with their types
        (TWO, {"image": IMAGE, "prompt": "p", "enable_sync_mode": "yes"}, "enable_sync_mode must"),
        (TWO, {"image": IMAGE, "prompt": "p", "enable_base64_output": 0}, "enable_base64_output"),
        # enum
        (TWO_FIVE, {"image": IMAGE, "prompt": "p", "resolution": "8k"}, "resolution must be one"),
        (TURBO, {"image": IMAGE, "prompt": "p", "resolution": "480p"}, "resolution must be one"),
        (TWO, {"image": IMAGE, "prompt": "p", "aspect_ratio": "2:1"}, "aspect_ratio must be one"),
        (KLING, {"image": IMAGE, "prompt": "p", "duration": 7}, "duration must be one of 5, 10"),
        (KLING, {"image": IMAGE, "prompt": "p", "duration": "5"}, "duration must be one of 5, 10"),
        # minimum / maximum
        (TWO, {"image": IMAGE, "prompt": "p", "duration": 3}, "duration must be an integer"),
        (TWO, {"image": IMAGE, "prompt": "p", "duration": 16}, "duration must be an integer"),
        (KLING, {"image": IMAGE, "prompt": "p", "guidance_scale": 1.01}, "guidance_scale must"),
        (ONE_FIVE, {"image": IMAGE, "seed": -2}, "seed must be -1 or an integer between 0"),
        (ONE_FIVE, {"image": IMAGE, "seed": 2**31}, "seed must be -1 or an integer between 0"),
        # maxLength, maxItems
        (TWO, {"image": IMAGE, "prompt": "x" * 2001}, "prompt must be a string of at most 2000"),
        (
            KLING,
            {"image": IMAGE, "prompt": "p", "negative_prompt": "n" * 2501},
            "negative_prompt must be a string of at most 2500",
        ),
        (
            HAILUO,
            {"image": IMAGE, "prompt": "p", "reference_images": [IMAGE] * 4},
            "reference_images must be a list of at most 3 items",
        ),
        # every image field, and every image in a list, passes the image checks
        (TWO, {"image": TOO_SMALL, "prompt": "p"}, "image must be at least 300x300 pixels"),
        (TWO, {"image": IMAGE, "prompt": "p", "last_image": "x"}, "last_image must be an http(s)"),
        (HAILUO, {"image": IMAGE, "prompt": "p", "end_image": TOO_SMALL}, "end_image must be at"),
        (
            HAILUO,
            {"image": IMAGE, "prompt": "p", "reference_images": [IMAGE, "nope"]},
            "reference_images[1] must be an http(s) URL or a base64 data URI",
        ),
        (
            HAILUO,
            {"image": IMAGE, "prompt": "p", "reference_images": [TOO_SMALL]},
            "reference_images[0] must be at least 300x300 pixels",
        ),
    ],
)
def test_each_schema_rule_is_a_400_naming_the_field(
    api: httpx.Client, emulator: RunningEmulator, model: str, body: dict[str, Any], message: str
) -> None:
    response = submit(api, model, **body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 400
    assert response.json()["message"].startswith(message), response.json()["message"]
    assert emulator.stats()["tasks"] == 0


def test_the_unknown_field_message_lists_what_the_model_takes(api: httpx.Client) -> None:
    message = submit(api, TWO, image=IMAGE, prompt="p", seed=1).json()["message"]
    assert message == (
        f"seed is not a parameter of {TWO}; it takes "
        + ", ".join(schema_of(TWO)["x-order-properties"])
    )


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (TWO, {"image": IMAGE, "prompt": "p", "duration": 4, "enable_sync_mode": False}),
        (TWO, {"image": IMAGE, "prompt": "p", "duration": 15, "generate_audio": False}),
        (TWO, {"image": IMAGE, "prompt": "p", "enable_base64_output": True, "last_image": None}),
        (TWO_FIVE, {"image": IMAGE, "prompt": "p", "resolution": "4k", "seed": 2147483647}),
        (TURBO, {"image": IMAGE, "prompt": "x" * 2000, "resolution": "1080p"}),
        (ONE_FIVE, {"image": IMAGE, "seed": -1, "camera_fixed": True, "resolution": "480p"}),
        (KLING, {"image": IMAGE, "prompt": "p", "guidance_scale": 0, "duration": 10}),
        (KLING, {"image": IMAGE, "prompt": "p", "guidance_scale": 1.0}),
        (HAILUO, {"image": IMAGE, "prompt": "p", "reference_images": [IMAGE] * 3}),
        (HAILUO, {"image": IMAGE, "prompt": "p", "reference_images": []}),
        (T2V, {"prompt": "a lighthouse at dusk", "aspect_ratio": "9:16"}),
        (LITE_480, {"image": IMAGE, "prompt": None, "duration": None}),  # null: left out
    ],
)
def test_what_the_schema_allows_is_accepted(
    api: httpx.Client, emulator: RunningEmulator, model: str, body: dict[str, Any]
) -> None:
    emulator.config.faults.never_finish = True  # accept only; no need to render
    response = submit(api, model, **body)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["model"] == model


def test_only_video_models_of_the_catalog_are_served(tmp_path: Path) -> None:
    from playground.emulator import start_in_thread

    image_model = copy.deepcopy(next(m for m in SNAPSHOT if m["model_id"] == LITE_480))
    image_model.update(model_id="acme/text-to-image", type="text-to-image")
    with (
        start_in_thread(catalog=[*SNAPSHOT, image_model], data_dir=tmp_path) as running,
        httpx.Client(base_url=running.base_url, headers=AUTH) as client,
    ):
        for model in ("acme/text-to-image", "bytedance/seedance-v9-ultra"):
            response = submit(client, model, image=IMAGE)
            assert response.status_code == 404
            assert model in response.json()["message"]
        assert running.stats()["tasks"] == 0


# ---------------------------------------------------------------- clips follow the schema


def test_a_2_0_clip_carries_sound_exactly_as_long_as_its_picture(
    api: httpx.Client, tmp_path: Path
) -> None:
    loud = accepted(api, TWO, image=IMAGE, prompt="p", duration=4)  # generate_audio: default on
    quiet = accepted(api, TWO, image=IMAGE, prompt="p", duration=4, generate_audio=False)
    clips = {}
    for name, task_id in (("loud", loud), ("quiet", quiet)):
        data = wait_done(api, task_id)
        assert data["status"] == "completed", data
        clips[name] = streams(download(data["outputs"][0], tmp_path / f"{name}.mp4"))

    loud_info = clips["loud"]
    assert loud_info["size"] == (960, 960)  # 720p (no resolution field, no suffix), 1:1 source
    assert (loud_info["frames"], loud_info["video_s"]) == (96, 4.0)
    audio = loud_info["audio"]
    assert audio is not None and audio["codec"] == "aac"
    assert audio["rate"] in (44_100, 48_000) and audio["channels"] in (1, 2)
    assert abs(audio["seconds"] - loud_info["video_s"]) <= 1 / loud_info["fps"]
    assert audio["peak"] > 0.05  # a sound, not a silent track
    assert clips["quiet"]["audio"] is None
    assert clips["quiet"]["size"] == loud_info["size"]


def test_resolution_duration_and_the_model_id_suffix_set_the_clip(
    api: httpx.Client, tmp_path: Path
) -> None:
    wide = png_uri((640, 360))
    jobs = {
        # resolution from the body
        "mini": accepted(api, MINI, image=IMAGE, prompt="p", resolution="480p", duration=4),
        # no resolution field: the id's suffix (720p); the schema's default ratio, 16:9
        "t2v": accepted(api, T2V, prompt="a lighthouse at dusk", duration=2),
        # resolution and aspect_ratio as asked, over a 16:9 source; sound turned off
        "one_five": accepted(
            api,
            ONE_FIVE,
            image=wide,
            resolution="480p",
            aspect_ratio="9:16",
            duration=4,
            generate_audio=False,
            seed=3,
        ),
    }
    expected = {"mini": ((640, 640), 96), "t2v": ((1248, 704), 48), "one_five": ((480, 864), 96)}
    for name, task_id in jobs.items():
        data = wait_done(api, task_id)
        assert data["status"] == "completed", data
        info = streams(download(data["outputs"][0], tmp_path / f"{name}.mp4"))
        assert (info["size"], info["frames"]) == expected[name], name
        assert info["audio"] is None, name  # mini and 1.0 have no sound; 1.5's is off


@pytest.mark.parametrize(("resolution", "wide"), [("2k", (2560, 1456)), ("4k", (3840, 2176))])
def test_2k_and_4k_sizes_are_encoder_friendly_and_true_to_ratio(
    resolution: str, wide: tuple[int, int]
) -> None:
    table = synthetic.output_sizes(resolution)
    assert set(table) == set(synthetic.ASPECT_RATIOS)
    assert table["16:9"] == wide
    for ratio, (w, h) in table.items():
        rw, rh = (int(x) for x in ratio.split(":"))
        assert w % 16 == 0 and h % 16 == 0, ratio
        assert abs((w / h) / (rw / rh) - 1) < 0.04, ratio
        if f"{rh}:{rw}" in table:  # 21:9 has no portrait twin
            assert table[f"{rh}:{rw}"] == (h, w)
    assert synthetic.output_size(resolution, None, (1000, 1000)) == table["1:1"]


def test_the_tone_pattern_is_seeded_and_exactly_long() -> None:
    one, again, other = (synthetic.tone_pattern(s, 2.5) for s in (1, 1, 2))
    assert one.shape == (2, round(2.5 * synthetic.AUDIO_RATE)) and one.dtype == np.float32
    assert np.array_equal(one, again)
    assert not np.array_equal(one, other)
    assert 0.05 < float(np.abs(one).max()) <= 1.0


# ---------------------------------------------------------------- fallback and moderation


def test_served_model_is_what_results_report(api: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.config.faults.never_finish = True
    fallback = "bytedance/seedance-2.0-fast/image-to-video"
    assert admin(emulator, {"served_model": fallback}).json()["served_model"] == fallback
    reply = submit(api, LITE_480, image=IMAGE, duration=2).json()["data"]
    assert reply["model"] == LITE_480  # the submit echoes what was asked
    assert result(api, reply["id"])["model"] == fallback
    assert api.get(f"/api/v3/predictions/{reply['id']}").json()["data"]["model"] == fallback

    assert admin(emulator, {"served_model": None}).json()["served_model"] is None
    later = accepted(api, LITE_480, image=IMAGE, duration=2)
    assert result(api, later)["model"] == LITE_480
    assert result(api, reply["id"])["model"] == fallback  # stuck to the task served so
    assert admin(emulator, {"served_model": 3}).status_code == 400


def test_audio_moderation_fails_the_next_tasks_with_sound(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    assert admin(emulator, {"faults": {"audio_moderation": 1}}).status_code == 200
    silent = accepted(api, TWO, image=IMAGE, prompt="p", duration=4, generate_audio=False)
    assert emulator.config.faults.audio_moderation == 1  # no sound asked: not counted
    flagged = accepted(api, TWO, image=IMAGE, prompt="p", duration=4)  # sound by default
    assert emulator.config.faults.audio_moderation == 0
    data = wait_done(api, flagged)
    assert (data["status"], data["code"], data["outputs"]) == ("failed", 1200, [])
    assert "audio" in data["error"] and "content moderation" in data["error"]
    assert wait_done(api, silent)["status"] == "completed"
    assert emulator.stats()["renders"] == 1  # the flagged task never rendered
