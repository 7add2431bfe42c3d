"""A local server speaking WaveSpeed's v3 HTTP contract, for offline mode, tests and benchmarks.

Its models are the catalog the app bundles (playground/model/catalog_snapshot.json, read
as data: the emulator never imports the app's model code, so it validates on its own and a
bug shared with the client cannot hide). It serves:

- `GET /api/v3/models`: that catalog, in either `api_schema` shape WaveSpeed's tools use
  (`catalog_shape`: "api_schemas" or "openapi").
- `POST /api/v3/model/price` and `/api/v3/model/pricing`: quotes, the model's JSONata
  `formula` evaluated over the inputs, inputs left out taking their schema defaults.
- `POST /api/v3/{model_id}`: any image-to-video or text-to-video model of the catalog; the
  body is checked against that model's request schema (required fields, types, enum,
  minimum/maximum, maxLength, maxItems; a field the schema lacks is refused), and every
  image field (uploaders, and each item of an image list) must be a jpg/png data URI of at
  least 300x300 px, one of our uploads, or a URL (never fetched: a stand-in is drawn).
- `GET /api/v3/predictions/{id}[/result]`, `DELETE /api/v3/predictions/{id}` (cancel: the
  status becomes "deleted", after `cancel_lag_s`), uploads, balance.
- Webhooks: a submit's `?webhook=<url>` gets the task's final prediction (the result GET's
  `data`) POSTed once the task ends (completed, failed or deleted), signed as WaveSpeed
  signs (`webhook-id`, `webhook-timestamp`, `webhook-signature: v3,<hex>`) with the key's
  secret from `GET /api/v3/webhook/secret`; refused deliveries are retried. Only loopback
  receivers, unless `webhook_any_host`.

Each task runs on a wall-clock schedule and renders a labelled synthetic clip
(synthetic.render_motion_clip) that follows the inputs: duration, size from `resolution`
(or the model id's suffix), an AAC soundtrack when the model's `generate_audio` is on. It
can inject the faults a client must survive (`Faults`; `served_model` for 1.0's silent
fallback). See shared/WAVESPEED_API.md for the contract it follows.

    python emulator.py --port 8765            # then WAVESPEED_BASE_URL=http://127.0.0.1:8765
    python emulator.py --reuse-renders        # load tests: one render per distinct clip
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import hashlib
import hmac
import io
import ipaddress
import json
import logging
import mimetypes
import os
import random
import re
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonata
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from PIL import Image, ImageDraw, UnidentifiedImageError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from playground.emulator import synthetic

log = logging.getLogger("emulator")

CATALOG_PATH = Path(__file__).resolve().parent.parent / "model" / "catalog_snapshot.json"
VIDEO_TYPES = ("image-to-video", "text-to-video")  # the model types a submit accepts
CATALOG_SHAPES = ("api_schemas", "openapi")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # the API's limit for images and uploads
MIN_IMAGE_SIDE = 300
DEFAULT_DURATION = 5  # for a model whose schema has no duration
DEFAULT_RESOLUTION = "720p"  # for a model with neither a resolution field nor a suffix
SEED_MAX = 2_147_483_647
START_FIELDS = ("image", "start_image", "first_image")  # the clip's first frame
END_FIELDS = ("last_image", "end_image", "tail_image")  # the frame it fades to
DELETED_MESSAGE = "the task was deleted"
AUDIO_FLAGGED = "the generated audio was flagged by content moderation"
KEEP_ALIVE_S = 75  # idle keep-alive connections, see start_in_thread
CREATED_PHASE_S = 0.2  # how long a new task reports "created" before "processing"
PLACEHOLDER_SIZE = (1280, 720)  # stand-in source for URLs the emulator will not fetch
RENDER_WORKERS = 2  # concurrent clip renders; each already uses both cores
SIMPLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
RESULT_5XX = ((502, "Bad Gateway"), (503, "Service Unavailable"), (500, "Internal Server Error"))
_SERVER_SEND = "emulator.server_send"  # scope key: the server's own send (see _DropConnection)
TERMINAL_STATUSES = ("completed", "failed", "deleted")  # a webhook is due on reaching one
WEBHOOK_POLL_S = 0.01  # tasks end lazily, by the clock: a webhook's watcher looks this often
WEBHOOK_RETRIES_S = (0.5, 1.0, 2.0)  # waits before each retry of a refused delivery
WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_MAX_URL = 2048
WEBHOOK_STALE_AGE_S = 400  # faults.webhook_stale: past the 300 s a receiver must accept
WEBHOOK_DUPLICATE_GAP_S = 0.05  # faults.webhook_duplicate: the second copy comes this late


@dataclass
class Faults:
    """Injected failures. Counters apply to the next N matching requests (webhook_*: the
    next N webhook deliveries, as tasks end) and count down; fail_code/fail_message,
    never_finish and nsfw stick to the tasks created while set; hold holds the tasks
    created while set only for as long as it stays set."""

    submit_429: int = 0  # 429 + Retry-After: 1, no task
    submit_503: int = 0  # 503, no task
    drop_after_accept: int = 0  # task created, then the connection closes with no reply
    result_5xx: int = 0  # result GETs answer 502, 503, 500 in turn
    result_drop: int = 0  # result GETs: the connection closes with no reply (a lost link)
    slow_seconds: float = 0.0  # delay before every API reply
    catalog_5xx: int = 0  # GET /models answers 503
    catalog_delay_s: float = 0.0  # extra delay before every catalog reply
    quote_5xx: int = 0  # price quotes answer 503
    quote_delay_s: float = 0.0  # extra delay before every quote reply
    audio_moderation: int = 0  # tasks with generate_audio on fail, code 1200 (audio flagged)
    fail_code: int | None = None  # tasks end "failed" with this data.code
    fail_message: str = ""
    never_finish: bool = False  # tasks stay "processing"
    hold: bool = False  # new tasks stay "processing" until it is cleared, then finish as due
    envelope_error: int = 0  # API replies are HTTP 200 carrying {"code": 500, ...}
    nsfw: bool = False  # completed tasks report has_nsfw_contents [true]
    webhook_drop: int = 0  # the delivery is never made (nor are the extras below)
    webhook_duplicate: int = 0  # delivered twice: same webhook-id and body, 50 ms apart
    # First a delivery of the same body under a fresh webhook-id, signed with a wrong
    # secret, as an attacker would send it; then the genuine one.
    webhook_forged: int = 0
    # First a delivery signed correctly under a fresh webhook-id but with a timestamp 400 s
    # old, as a replay would be; then the genuine one.
    webhook_stale: int = 0
    webhook_delay_s: float = 0.0  # every delivery starts this long after its task ends


@dataclass
class EmulatorConfig:
    """Behaviour of a running emulator; safe to change between requests."""

    inference_seconds: float = 3.0
    jitter: float = 0.0  # fraction: 0.2 draws each task's time uniformly within +-20%
    rng_seed: int = 0
    api_keys: frozenset[str] | None = None  # None: any non-empty bearer token is accepted
    balance: float = 10.0
    # Load tests only: render each distinct clip (resolution, aspect ratio, duration,
    # camera_fixed, input images) once and give later tasks a copy, whatever their seed.
    # Every task still has its own schedule and output URL; only the MP4 encoding, which
    # real WaveSpeed does on its GPUs, stays off the CPUs the app under test shares.
    reuse_renders: bool = False
    # GET /models: "api_schemas" (api_schema.api_schemas[] model_run request_schema, as the
    # MCP server and CLI read it) or "openapi" (api_schema.components.schemas.Request).
    catalog_shape: str = "api_schemas"
    # DELETE "may not stop generation immediately": a cancelled task keeps reporting its
    # status this long before it reads "deleted".
    cancel_lag_s: float = 0.0
    # Seedance 1.0 "may fall back to alternative models without notice": when set, the
    # result GETs of tasks created meanwhile report this `model` instead of the one asked.
    served_model: str | None = None
    # Webhook receivers may be any http(s) host, not only loopback ones: off, so that an
    # emulator run on its own cannot be made to POST anywhere.
    webhook_any_host: bool = False
    faults: Faults = field(default_factory=Faults)


_CHOICES = {"catalog_shape": CATALOG_SHAPES}  # config fields with a fixed set of values


class _Reply(Exception):
    """Ends request handling early with `response` (auth failures, faults, 400s)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class _FetchError(Exception):
    """An input image could not be obtained or decoded (API code 1402)."""


def _ok(data: Any) -> JSONResponse:
    return JSONResponse({"code": 200, "message": "success", "data": data})


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(JSONResponse({"code": status, "message": message}, status, headers=headers))


def _stored_name(filename: str) -> str:
    """A fresh simple file name for an upload, keeping its extension when that is safe."""
    suffix = Path(filename).suffix.lower()
    return uuid.uuid4().hex + (suffix if SIMPLE_NAME.match("x" + suffix) else "")


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------- config patching


def _coerce(name: str, kind: str, value: Any) -> Any:
    """Check one JSON value against a config field's annotation (as written above)."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    base = kind.split("|")[0].strip()
    if value is None and kind.endswith("| None"):
        return None
    if base == "float" and (is_int or isinstance(value, float)):
        return float(value)
    if base == "int" and is_int:
        return value
    if base == "bool" and isinstance(value, bool):
        return value
    if base == "str" and isinstance(value, str):
        if value not in _CHOICES.get(name, (value,)):
            raise ValueError(f"{name} must be one of {', '.join(_CHOICES[name])}")
        return value
    if (
        base.startswith("frozenset")
        and isinstance(value, list)
        and all(isinstance(v, str) for v in value)
    ):
        return frozenset(value)
    raise ValueError(f"{name} must be {kind}")


def _planned_patch(
    target: Any, patch: dict[str, Any], prefix: str = ""
) -> list[tuple[Any, str, Any]]:
    """(object, field, value) assignments for a JSON patch; ValueError before any is made."""
    kinds = {f.name: str(f.type) for f in fields(target)}
    plan: list[tuple[Any, str, Any]] = []
    for key, value in patch.items():
        if key not in kinds:
            raise ValueError(f"unknown config field {prefix}{key}")
        if key == "faults":
            if not isinstance(value, dict):
                raise ValueError("faults must be an object")
            plan += _planned_patch(target.faults, value, "faults.")
        else:
            plan.append((target, key, _coerce(prefix + key, kinds[key], value)))
    return plan


def apply_config_patch(config: EmulatorConfig, patch: dict[str, Any]) -> None:
    """Update `config` in place from partial JSON (as POST /__emulator__/config takes)."""
    for target, key, value in _planned_patch(config, patch):
        setattr(target, key, value)


def _config_json(config: EmulatorConfig) -> dict[str, Any]:
    data = asdict(config)
    data["api_keys"] = sorted(config.api_keys) if config.api_keys is not None else None
    return data


# ---------------------------------------------------------------- the catalog


def load_catalog(path: Path = CATALOG_PATH) -> list[dict[str, Any]]:
    """The catalog entries of a snapshot file ({"models": [...]}, or the bare list)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    models = data.get("models") if isinstance(data, dict) else data
    if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
        raise ValueError(f"{path}: expected a JSON object with a list of models")
    return models


def request_schema(entry: dict[str, Any]) -> dict[str, Any] | None:
    """A catalog entry's request JSON schema, from either api_schema shape."""
    api_schema = entry.get("api_schema")
    if not isinstance(api_schema, dict):
        return None
    for item in api_schema.get("api_schemas") or []:
        if isinstance(item, dict) and item.get("type") == "model_run":
            schema = item.get("request_schema")
            return schema if isinstance(schema, dict) else None
    schema = (api_schema.get("components") or {}).get("schemas", {}).get("Request")
    return schema if isinstance(schema, dict) else None


def _openapi_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A catalog entry with its api_schema in the OpenAPI shape WaveSpeed Desktop reads."""
    return {**entry, "api_schema": {"components": {"schemas": {"Request": request_schema(entry)}}}}


@dataclass(frozen=True)
class _Model:
    """One catalog entry, as submits and quotes use it."""

    id: str
    type: str
    base_price: float | None
    formula: str | None
    schema: dict[str, Any]

    @property
    def properties(self) -> dict[str, dict[str, Any]]:
        props = self.schema.get("properties")
        return props if isinstance(props, dict) else {}

    @property
    def field_order(self) -> list[str]:
        order = self.schema.get("x-order-properties")
        return list(order) if isinstance(order, list) else list(self.properties)

    def defaults(self) -> dict[str, Any]:
        return {k: p["default"] for k, p in self.properties.items() if "default" in p}


def _models(catalog: list[dict[str, Any]]) -> dict[str, _Model]:
    """The catalog's models by id; entries without a request schema cannot be run."""
    models = {}
    for entry in catalog:
        schema = request_schema(entry)
        model_id = entry.get("model_id")
        if schema is None or not isinstance(model_id, str):
            continue
        price = entry.get("base_price")
        formula = entry.get("formula")
        models[model_id] = _Model(
            model_id,
            str(entry.get("type", "")),
            float(price)
            if isinstance(price, int | float) and not isinstance(price, bool)
            else None,
            formula if isinstance(formula, str) and formula.strip() else None,
            schema,
        )
    return models


# ---------------------------------------------------------------- input validation


@dataclass(frozen=True)
class _ImageRef:
    """An input image as the request gave it: inline bytes, one of our uploads, or elsewhere."""

    data: bytes | None = None
    upload_name: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class _Job:
    model: str
    image: _ImageRef | None  # None: text-to-video (the clip starts on a drawn stand-in)
    last_image: _ImageRef | None
    duration: float
    aspect_ratio: str | None  # None: follow the start image
    camera_fixed: bool
    seed: int  # -1: the emulator picks one
    resolution: str
    audio: bool
    prompt: str = ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_data_uri(name: str, value: str) -> _ImageRef:
    header, _, payload = value.partition(",")
    mime = header[len("data:") :].split(";")[0].lower()
    if not header.endswith(";base64"):
        raise _error(400, f"{name} data URI must be base64-encoded")
    if mime not in ("image/png", "image/jpeg", "image/jpg"):
        raise _error(400, f"{name} must be a jpg or png image")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _error(400, f"{name} is not valid base64") from None
    if len(data) > MAX_UPLOAD_BYTES:
        raise _error(400, f"{name} must be at most 10 MB")
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, size = im.format, im.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError):
        raise _error(400, f"{name} is not a decodable jpg or png image") from None
    if fmt not in ("PNG", "JPEG"):
        raise _error(400, f"{name} must be a jpg or png image")
    if min(size) < MIN_IMAGE_SIDE:
        raise _error(400, f"{name} must be at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} pixels")
    return _ImageRef(data=data)


def _parse_image(name: str, value: Any, own_netloc: str) -> _ImageRef:
    if not isinstance(value, str) or not value:
        raise _error(400, f"{name} must be an http(s) URL or a base64 data URI")
    if value.startswith("data:"):
        return _parse_data_uri(name, value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _error(400, f"{name} must be an http(s) URL or a base64 data URI")
    upload = parts.path.removeprefix("/uploads/")
    if parts.netloc == own_netloc and upload != parts.path:
        return _ImageRef(upload_name=upload, url=value)
    return _ImageRef(url=value)


def _is_image(prop: dict[str, Any]) -> bool:
    """An image input: an uploader, or a string that accepts image types."""
    return prop.get("x-ui-component") == "uploader" or "image/" in str(prop.get("x-accept", ""))


def _is_image_list(name: str, prop: dict[str, Any]) -> bool:
    """A list of images: uploaders, an item schema of images, or a field named "...images"."""
    items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
    return prop.get("type") == "array" and (
        prop.get("x-ui-component") == "uploaders" or _is_image(items) or name.endswith("images")
    )


def _absent(prop: dict[str, Any] | None, value: Any) -> bool:
    """Whether a value counts as left out: null, or an empty image."""
    return value is None or (value == "" and prop is not None and _is_image(prop))


def _between(noun: str, prop: dict[str, Any]) -> str:
    """ "an integer between 2 and 12", "-1 or an integer between 0 and 2147483647"..."""
    low, high = prop.get("minimum"), prop.get("maximum")
    if noun == "an integer" and low == -1 and high is not None:  # -1 asks for a random pick
        return f"-1 or an integer between 0 and {high}"
    if low is not None and high is not None:
        return f"{noun} between {low} and {high}"
    if low is not None:
        return f"{noun} of at least {low}"
    if high is not None:
        return f"{noun} of at most {high}"
    return noun


def _check_value(name: str, prop: dict[str, Any], value: Any) -> None:
    """`value` against one property's type, enum, range and lengths, as 400 messages."""
    kinds = prop.get("type")
    kind = kinds[0] if isinstance(kinds, list) and kinds else kinds
    enum = prop.get("enum")
    # An enum holds its values exactly: true is not 1, "5" is not 5.
    if isinstance(enum, list) and not any(
        value == e
        and isinstance(value, bool) == isinstance(e, bool)
        and isinstance(value, str) == isinstance(e, str)
        for e in enum
    ):
        raise _error(400, f"{name} must be one of {', '.join(str(e) for e in enum)}")
    if kind in ("integer", "number"):
        ok = _is_int(value) if kind == "integer" else _is_number(value)
        low, high = prop.get("minimum"), prop.get("maximum")
        if not ok or (low is not None and value < low) or (high is not None and value > high):
            noun = "an integer" if kind == "integer" else "a number"
            raise _error(400, f"{name} must be {_between(noun, prop)}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _error(400, f"{name} must be a boolean")
    elif kind == "string":
        most, least = prop.get("maxLength"), prop.get("minLength")
        if (
            not isinstance(value, str)
            or (most is not None and len(value) > most)
            or (least is not None and len(value) < least)
        ):
            if most is not None:
                raise _error(400, f"{name} must be a string of at most {most} characters")
            if least is not None:
                raise _error(400, f"{name} must be a string of at least {least} characters")
            raise _error(400, f"{name} must be a string")
    elif kind == "array":
        most, least = prop.get("maxItems"), prop.get("minItems")
        if not isinstance(value, list):
            raise _error(400, f"{name} must be a list")
        if most is not None and len(value) > most:
            raise _error(400, f"{name} must be a list of at most {most} items")
        if least is not None and len(value) < least:
            raise _error(400, f"{name} must be a list of at least {least} items")
        items = prop.get("items")
        if isinstance(items, dict) and not _is_image_list(name, prop):
            for i, item in enumerate(value):
                _check_value(f"{name}[{i}]", items, item)
    elif kind == "object" and not isinstance(value, dict):
        raise _error(400, f"{name} must be an object")


def _checked_inputs(
    model: _Model, body: dict[str, Any], own_netloc: str | None
) -> tuple[dict[str, Any], dict[str, _ImageRef | list[_ImageRef]]]:
    """The inputs given (left-out ones dropped) and their images, checked against the
    model's schema. A submit (own_netloc: our address, to recognise our uploads) refuses a
    field the schema lacks; a quote (own_netloc None) ignores it (only price-driving inputs
    matter), requires nothing and does not decode images."""
    props = model.properties
    unknown = [name for name in body if name not in props]
    if unknown and own_netloc is not None:
        raise _error(
            400,
            f"{unknown[0]} is not a parameter of {model.id}; "
            f"it takes {', '.join(model.field_order)}",
        )
    given = {k: v for k, v in body.items() if k in props and not _absent(props[k], v)}
    if own_netloc is not None:
        for name in model.schema.get("required") or []:
            if given.get(name) in (None, ""):
                raise _error(400, f"{name} is required for {model.id}")
    images: dict[str, _ImageRef | list[_ImageRef]] = {}
    for name in model.field_order + [k for k in props if k not in model.field_order]:
        if name not in given:
            continue
        prop, value = props[name], given[name]
        if _is_image(prop):
            if own_netloc is None:
                _check_value(name, {"type": "string"}, value)
            else:
                images[name] = _parse_image(name, value, own_netloc)
            continue
        _check_value(name, prop, value)
        if _is_image_list(name, prop) and own_netloc is not None:
            images[name] = [
                _parse_image(f"{name}[{i}]", item, own_netloc) for i, item in enumerate(value)
            ]
    return given, images


_RESOLUTION_SUFFIX = re.compile(r"-(\d{3,4}p|[248]k)$")


def _validate(model: _Model, body: Any, own_netloc: str) -> _Job:
    """The model's request schema, as 400 messages; then what its clip is made of."""
    if not isinstance(body, dict):
        raise _error(400, "request body must be a JSON object")
    given, images = _checked_inputs(model, body, own_netloc)
    props, values = model.properties, {**model.defaults(), **given}

    def image(names: tuple[str, ...]) -> _ImageRef | None:
        for name in names:
            ref = images.get(name)
            if isinstance(ref, _ImageRef):
                return ref
        return None

    start = image(START_FIELDS)
    if start is None:  # a model whose first frame has another name
        others = tuple(n for n in props if _is_image(props[n]) and n not in END_FIELDS)
        start = image(others)
    suffix = _RESOLUTION_SUFFIX.search(model.id)
    resolution = values.get("resolution") if "resolution" in props else None
    if resolution is None:
        resolution = suffix.group(1) if suffix else DEFAULT_RESOLUTION
    if resolution not in synthetic.OUTPUT_SIZES:
        resolution = DEFAULT_RESOLUTION
    aspect_ratio = values.get("aspect_ratio") if "aspect_ratio" in props else None
    duration = values.get("duration", DEFAULT_DURATION) if "duration" in props else None
    seed = values.get("seed", -1) if "seed" in props else -1
    prompt = values.get("prompt")
    return _Job(
        model=model.id,
        image=start,
        last_image=image(END_FIELDS),
        duration=duration if _is_number(duration) and duration > 0 else DEFAULT_DURATION,
        aspect_ratio=aspect_ratio if aspect_ratio in synthetic.ASPECT_RATIOS else None,
        camera_fixed=values.get("camera_fixed") is True and "camera_fixed" in props,
        seed=seed if _is_int(seed) and 0 <= seed <= SEED_MAX else -1,
        resolution=resolution,
        audio="generate_audio" in props and values.get("generate_audio") is True,
        prompt=prompt if isinstance(prompt, str) else "",
    )


# ---------------------------------------------------------------- price quotes

_FORMULAS: dict[str, Any] = {}  # compiled JSONata expressions, by source text
_FORMULA_LOCK = threading.Lock()


def _quote(model: _Model, inputs: Any) -> float:
    """What the model's formula makes of `inputs` (left-out inputs take their defaults).

    A formula that yields no total_price (a price-driving input with no default) falls
    back to the model's floor price, base_price; a model with none has no quote at all.
    """
    if not isinstance(inputs, dict):
        raise _error(400, "inputs must be a JSON object")
    given, _ = _checked_inputs(model, inputs, None)
    if model.base_price is None:
        raise _error(400, f"the price of {model.id} is not available")
    if model.formula is None:
        return round(model.base_price, 4)
    try:
        with _FORMULA_LOCK:
            expr = _FORMULAS.get(model.formula)
            if expr is None:
                expr = _FORMULAS[model.formula] = jsonata.Jsonata(model.formula)
            result = expr.evaluate({**model.defaults(), **given, "base_price": model.base_price})
    except Exception as exc:  # jsonata raises JException (a RuntimeError) and others
        raise _error(400, f"could not price these inputs for {model.id}: {exc}") from None
    total = result.get("total_price") if isinstance(result, dict) else result
    if not _is_number(total):
        return round(model.base_price, 4)
    return round(float(total), 4)


# ---------------------------------------------------------------- rendering (worker threads)


def _placeholder(url: str, size: tuple[int, int] = PLACEHOLDER_SIZE) -> Image.Image:
    """A deterministic gradient with a few shapes, standing in for an image we never fetch."""
    digest = hashlib.sha256(url.encode()).digest()
    corners = Image.frombytes("RGB", (2, 2), digest[:12])
    image = corners.resize(size, Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    for i in range(4):
        x, y = digest[12 + i] / 255 * size[0], digest[16 + i] / 255 * size[1]
        r = size[1] * (0.08 + digest[20 + i] / 255 * 0.12)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(digest[24 + i : 27 + i]))
    return image


def _load(ref: _ImageRef, uploads: Path) -> Image.Image:
    if ref.data is None and ref.upload_name is None:
        return _placeholder(ref.url or "")
    try:
        if ref.data is not None:
            source: Any = io.BytesIO(ref.data)
        elif SIMPLE_NAME.match(ref.upload_name or "") and (uploads / ref.upload_name).is_file():
            source = uploads / ref.upload_name
        else:
            raise _FetchError(f"media URL fetch failed: {ref.url} returned 404")
        with Image.open(source) as im:
            return im.convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as exc:
        raise _FetchError(
            f"media URL fetch failed: {ref.url or 'image'} is not a decodable image"
        ) from exc


def _clip_key(job: _Job) -> tuple[Any, ...]:
    """What a rendered clip depends on, but the seed (for reuse_renders)."""

    def image(ref: _ImageRef | None) -> str | None:
        if ref is None:
            return None
        if ref.data is not None:  # a digest, not the bytes: the key outlives the request
            return "sha256:" + hashlib.sha256(ref.data).hexdigest()
        return ref.upload_name or ref.url

    return (
        job.resolution,
        job.aspect_ratio,
        job.duration,
        job.camera_fixed,
        job.audio,
        image(job.image) if job.image is not None else "text:" + job.prompt,
        image(job.last_image),
    )


def _link_or_copy(source: Path, dest: Path) -> Path:
    """`dest` as another name for `source` (outputs are never changed once written)."""
    try:
        os.link(source, dest)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, dest)
    return dest


def _render(job: _Job, seed: int, dest: Path, uploads: Path) -> Path:
    # Text-to-video starts on a stand-in drawn from the prompt (16:9 unless asked otherwise).
    start = _load(job.image, uploads) if job.image else _placeholder("text:" + job.prompt)
    end = _load(job.last_image, uploads) if job.last_image else None
    size = synthetic.output_size(job.resolution, job.aspect_ratio, start.size)
    return synthetic.render_motion_clip(
        start,
        dest,
        size=size,
        duration_s=job.duration,
        end=end,
        camera_fixed=job.camera_fixed,
        seed=seed,
        audio=job.audio,
    )


# ---------------------------------------------------------------- tasks


@dataclass
class _Task:
    id: str
    model: str
    created_at: str
    started: float  # time.monotonic() at submit
    inference_s: float
    fail_code: int | None
    fail_message: str
    never_finish: bool
    nsfw: bool
    render: Future[Path] | None
    served_model: str | None = None  # what result GETs report as `model` (None: `model`)
    rendered_at: float | None = None  # time.monotonic() when the render finished
    deleted_at: float | None = None  # time.monotonic() from which it reads "deleted"
    hold_by: EmulatorConfig | None = None  # created under faults.hold: held while it is set
    released_at: float | None = None  # time.monotonic() when a poll first saw the hold gone
    webhook: str | None = None  # where its final prediction is POSTed (checked at submit)
    api_key: str = ""  # the submit's bearer key: its account's secret signs the webhook

    def _held(self, now: float) -> bool:
        """Whether faults.hold still holds this task; notes when it is first seen released."""
        if self.hold_by is None:
            return False
        if self.hold_by.faults.hold:
            return True
        if self.released_at is None:
            self.released_at = now
        return False

    @property
    def done_at(self) -> float | None:
        """Monotonic time from which `state` reports a terminal status (None: not yet known).

        For benchmarks: in one process it is comparable with a client's time.monotonic().
        """
        finished = self._finished_at()
        if self.deleted_at is None:
            return finished
        return self.deleted_at if finished is None else min(finished, self.deleted_at)

    def _finished_at(self) -> float | None:
        if self.never_finish or self._held(time.monotonic()):
            return None
        due = max(self.started + self.inference_s, self.released_at or 0.0)
        if self.render is None:
            return due
        if self.rendered_at is None:
            return None
        return max(due, self.rendered_at)

    def state(self, now: float) -> tuple[str, str, int | None]:
        """(status, error, code) at monotonic time `now`."""
        if self.deleted_at is not None and now >= self.deleted_at:
            return "deleted", DELETED_MESSAGE, None
        elapsed = now - self.started
        rendered = self.render is None or self.render.done()
        held = self._held(now)
        if self.never_finish or held or elapsed < self.inference_s or not rendered:
            return ("created" if elapsed < CREATED_PHASE_S else "processing"), "", None
        if self.fail_code is not None:
            return "failed", self.fail_message, self.fail_code
        if self.render is not None and self.render.cancelled():
            return "failed", "internal error: the emulator shut down", 5000
        exc = self.render.exception() if self.render is not None else None
        if isinstance(exc, _FetchError):
            return "failed", str(exc), 1402
        if exc is not None:
            return "failed", f"internal error: {exc}", 5000
        return "completed", "", None


# ---------------------------------------------------------------- webhooks


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # 127.0.0.0/8 and ::1
    except ValueError:
        return False


def _webhook_target(url: str, any_host: bool) -> str:
    """A submit's `webhook` parameter, checked: an http(s) URL, on a loopback host unless
    `any_host` (so that an emulator run on its own cannot be made to POST anywhere)."""
    if len(url) > WEBHOOK_MAX_URL:
        raise _error(400, f"webhook must be a URL of at most {WEBHOOK_MAX_URL} characters")
    try:  # urlsplit raises on a bad [IPv6] host, .port on a port out of range
        parts = urlsplit(url)
        host = parts.hostname if parts.port != 0 else None
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        parts, host = urlsplit(""), None
    if parts.scheme not in ("http", "https") or not host or any(c <= " " for c in url):
        raise _error(400, "webhook must be an http(s) URL")
    if not any_host and not _is_loopback(host):
        raise _error(
            400,
            "webhook must be on a loopback host (127.0.0.1, ::1, localhost): "
            "this emulator delivers nowhere else",
        )
    return url


def _webhook_signature(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """`webhook-signature`: HMAC-SHA256 keyed by the secret's text after `whsec_` (as
    UTF-8, not base64-decoded), over "{id}.{timestamp}." and the raw body."""
    key = secret.removeprefix("whsec_").encode()
    message = f"{webhook_id}.{timestamp}.".encode() + body
    return "v3," + hmac.new(key, message, hashlib.sha256).hexdigest()


def _json_bytes(data: Any) -> bytes:
    """JSON as JSONResponse writes it, so a webhook's body reads like a result GET's."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


@dataclass
class Stats:
    submits: int = 0
    result_gets: int = 0
    uploads: int = 0
    upload_bytes: int = 0
    renders: int = 0  # clips actually encoded (fewer than tasks with reuse_renders)
    cancels: int = 0  # DELETE /predictions/{id} of a known task (repeats count too)
    catalog_gets: int = 0  # GET /models that passed auth (faults included)
    quotes: int = 0  # price quotes that passed auth, on either path (faults included)
    webhooks_sent: int = 0  # webhook POSTs that got an HTTP answer (retries, fault extras)
    webhooks_failed: int = 0  # webhook deliveries given up after their retries


class Emulator:
    """State behind one app: config, tasks, uploads, counters. Lives in `app.state.emulator`."""

    def __init__(
        self,
        config: EmulatorConfig,
        data_dir: Path,
        catalog: list[dict[str, Any]] | None = None,
    ) -> None:
        self.config = config
        self.catalog = load_catalog() if catalog is None else catalog
        self.models = _models(self.catalog)
        self.data_dir = data_dir
        self.uploads_dir = data_dir / "uploads"
        self.outputs_dir = data_dir / "outputs"
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self.outputs_dir.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(config.rng_seed)
        self.tasks: dict[str, _Task] = {}
        self.tickets: dict[str, tuple[str, int]] = {}  # token -> (stored name, declared size)
        self.counters = Stats()
        self._fault_lock = threading.Lock()
        self._result_5xx_turn = 0
        self._executor = ThreadPoolExecutor(RENDER_WORKERS, thread_name_prefix="emulator-render")
        self._shared_renders: dict[tuple[Any, ...], Future[Path]] = {}  # for reuse_renders
        self._shared_lock = threading.Lock()
        self._webhook_salt = os.urandom(32)  # secrets differ between emulators
        self._webhook_jobs: set[asyncio.Task[None]] = set()  # referenced until they end
        self._webhook_http: httpx.AsyncClient | None = None  # made in the server's loop

    def stats(self) -> dict[str, int]:
        return {**asdict(self.counters), "tasks": len(self.tasks)}

    def take(self, fault: str) -> bool:
        """Use up one count of a counter fault; False when none is left."""
        with self._fault_lock:
            left = getattr(self.config.faults, fault)
            if left <= 0:
                return False
            setattr(self.config.faults, fault, left - 1)
            return True

    def next_result_5xx(self) -> tuple[int, str]:
        code = RESULT_5XX[self._result_5xx_turn % len(RESULT_5XX)]
        self._result_5xx_turn += 1
        return code

    def catalog_data(self) -> list[dict[str, Any]]:
        """GET /models' `data`: the catalog, in the configured api_schema shape."""
        if self.config.catalog_shape == "openapi":
            return [_openapi_entry(entry) for entry in self.catalog]
        return self.catalog

    def video_model(self, model_id: str) -> _Model | None:
        model = self.models.get(model_id)
        return model if model is not None and model.type in VIDEO_TYPES else None

    def create_task(self, job: _Job, *, webhook: str | None = None, api_key: str = "") -> _Task:
        cfg, faults = self.config, self.config.faults
        task_id = uuid.uuid4().hex
        spread = self.rng.uniform(-cfg.jitter, cfg.jitter)
        inference_s = max(0.0, cfg.inference_seconds * (1 + spread))
        seed = job.seed if job.seed != -1 else self.rng.randint(0, SEED_MAX)
        fail_code, fail_message = faults.fail_code, faults.fail_message
        doomed = fail_code is not None or faults.never_finish
        if not doomed and job.audio and self.take("audio_moderation"):
            fail_code, fail_message, doomed = 1200, AUDIO_FLAGGED, True
        render = None if doomed else self._start_render(job, seed, f"{task_id}.mp4")
        task = _Task(
            task_id,
            job.model,
            _now_iso(),
            time.monotonic(),
            inference_s,
            fail_code,
            fail_message,
            faults.never_finish,
            faults.nsfw,
            render,
            served_model=cfg.served_model,
            hold_by=cfg if faults.hold else None,
            webhook=webhook,
            api_key=api_key,
        )
        if render is not None:
            render.add_done_callback(lambda _: setattr(task, "rendered_at", time.monotonic()))
        self.tasks[task_id] = task
        log.info("task %s created (%s, %.2fs)", task_id, job.model, inference_s)
        return task

    def _start_render(self, job: _Job, seed: int, name: str) -> Future[Path]:
        """Render the task's clip to outputs/<name>; with reuse_renders, copy an earlier
        render of the same clip (or the one in progress) instead."""
        dest = self.outputs_dir / name
        if not self.config.reuse_renders:
            return self._submit_render(job, seed, dest)
        key = _clip_key(job)
        with self._shared_lock:
            shared = self._shared_renders.get(key)
            first = shared is None
            if shared is None:
                shared = self._shared_renders[key] = self._submit_render(job, seed, dest)
        if first:  # callbacks outside the lock: one on a done future runs right here
            shared.add_done_callback(lambda f: self._forget_failed(key, f))
            return shared
        copy: Future[Path] = Future()

        def copy_when_done(source: Future[Path]) -> None:
            if source.cancelled():
                copy.cancel()
                return
            try:
                copy.set_result(_link_or_copy(source.result(), dest))
            except Exception as exc:  # the task then fails as the shared render did
                copy.set_exception(exc)

        shared.add_done_callback(copy_when_done)
        return copy

    def _submit_render(self, job: _Job, seed: int, dest: Path) -> Future[Path]:
        self.counters.renders += 1
        return self._executor.submit(_render, job, seed, dest, self.uploads_dir)

    def _forget_failed(self, key: tuple[Any, ...], render: Future[Path]) -> None:
        """A failed render is not reused: the next task with these inputs tries again."""
        if render.cancelled() or render.exception() is not None:
            with self._shared_lock:
                if self._shared_renders.get(key) is render:
                    del self._shared_renders[key]

    def cancel(self, task: _Task) -> None:
        """DELETE: the task reads "deleted" from cancel_lag_s on (a repeat changes nothing).

        Its render, if under way, runs on: deleting "may not stop generation immediately".
        """
        with self._fault_lock:
            if task.deleted_at is None:
                task.deleted_at = time.monotonic() + max(0.0, self.config.cancel_lag_s)
            self.counters.cancels += 1

    def prediction(self, task: _Task, base_url: str, *, result: bool = False) -> dict[str, Any]:
        """The prediction object; `result` for result GETs (and DELETE), which report the
        model that served the task, where a submit's reply echoes the one asked for."""
        status, error, code = task.state(time.monotonic())
        done = status in ("completed", "failed")
        data: dict[str, Any] = {
            "id": task.id,
            "model": (task.served_model or task.model) if result else task.model,
            "outputs": [f"{base_url}/outputs/{task.id}.mp4"] if status == "completed" else [],
            "urls": {"get": f"{base_url}/api/v3/predictions/{task.id}/result"},
            "has_nsfw_contents": [task.nsfw] if status == "completed" else [],
            "status": status,
            "created_at": task.created_at,
            "error": error,
            "timings": {"inference": round(task.inference_s * 1000) if done else 0},
        }
        if code is not None:
            data["code"] = code
        return data

    def store_upload(self, filename: str, data: bytes) -> str:
        """Save bytes under a fresh simple name (keeping a safe extension); return that name."""
        name = _stored_name(filename)
        self.save_upload(name, data)
        return name

    def save_upload(self, name: str, data: bytes) -> None:
        (self.uploads_dir / name).write_bytes(data)
        self.counters.uploads += 1
        self.counters.upload_bytes += len(data)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------ webhooks (server loop)

    def webhook_secret(self, api_key: str) -> str:
        """The account's signing secret, as GET /webhook/secret gives it: one per key,
        the same for as long as this emulator lives."""
        digest = hmac.new(self._webhook_salt, api_key.encode(), hashlib.sha256).hexdigest()
        return "whsec_" + digest[:48]

    def watch_webhook(self, task: _Task, base_url: str) -> None:
        """Deliver the task's webhook once it ends; call from the server's event loop."""
        job = asyncio.get_running_loop().create_task(self._webhook_when_done(task, base_url))
        self._webhook_jobs.add(job)
        job.add_done_callback(self._webhook_jobs.discard)

    async def _webhook_when_done(self, task: _Task, base_url: str) -> None:
        # A task ends by the clock, not by an event: only a look at its state tells.
        while task.state(time.monotonic())[0] not in TERMINAL_STATUSES:
            await asyncio.sleep(WEBHOOK_POLL_S)
        # The final prediction, as it reads now: a later DELETE must not change it.
        body = _json_bytes(self.prediction(task, base_url, result=True))
        url, secret = task.webhook, self.webhook_secret(task.api_key)
        assert url is not None
        if self.take("webhook_drop"):
            log.info("webhook of task %s dropped (fault)", task.id)
            return
        duplicate, forged, stale = (
            self.take(f"webhook_{kind}") for kind in ("duplicate", "forged", "stale")
        )
        if (delay := self.config.faults.webhook_delay_s) > 0:
            await asyncio.sleep(delay)
        if forged:
            wrong = "whsec_" + os.urandom(24).hex()
            await self._post_webhook(url, uuid.uuid4().hex, body, wrong)
        if stale:
            await self._post_webhook(url, uuid.uuid4().hex, body, secret, WEBHOOK_STALE_AGE_S)
        event_id = uuid.uuid4().hex  # a retry or a duplicate is the same event: same id
        if not await self._deliver_webhook(url, event_id, body, secret):
            self.counters.webhooks_failed += 1
            log.info("webhook %s of task %s given up after retries", event_id, task.id)
        if duplicate:
            await asyncio.sleep(WEBHOOK_DUPLICATE_GAP_S)
            await self._post_webhook(url, event_id, body, secret)

    async def _deliver_webhook(self, url: str, event_id: str, body: bytes, secret: str) -> bool:
        """POST until the receiver answers 2xx, retrying a few times (True: it did)."""
        for wait in (0.0, *WEBHOOK_RETRIES_S):
            await asyncio.sleep(wait)
            if await self._post_webhook(url, event_id, body, secret):
                return True
        return False

    async def _post_webhook(
        self, url: str, event_id: str, body: bytes, secret: str, age_s: int = 0
    ) -> bool:
        """One signed POST, timestamped `age_s` in the past; True when answered 2xx."""
        timestamp = str(int(time.time()) - age_s)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": event_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": _webhook_signature(secret, event_id, timestamp, body),
        }
        if self._webhook_http is None:
            # No proxy from the environment: deliveries go straight to the checked host.
            self._webhook_http = httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S, trust_env=False)
        try:
            response = await self._webhook_http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.info("webhook %s to %s failed: %r", event_id, url, exc)
            return False
        self.counters.webhooks_sent += 1
        return response.is_success

    async def close_webhooks(self) -> None:
        """Cancel the deliveries still pending or under way, and close their client."""
        for job in list(self._webhook_jobs):
            job.cancel()
        await asyncio.gather(*self._webhook_jobs, return_exceptions=True)
        if self._webhook_http is not None:
            await self._webhook_http.aclose()
            self._webhook_http = None


# ---------------------------------------------------------------- HTTP layer


class _EmulatorApp(FastAPI):
    """Keeps the server's own `send` in the scope so a fault can drop the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[_SERVER_SEND] = send
        await super().__call__(scope, receive, send)


class _DropConnection(Response):
    """Closes the TCP connection without any reply, as a dropped link or proxy would.

    uvicorn's `send` is a method of its per-request cycle, which holds the transport;
    aborting that is the only way ASGI offers to send nothing at all. Elsewhere (another
    server, a test client) it falls back to a reply cut off after its status line.
    """

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cycle = getattr(scope.get(_SERVER_SEND), "__self__", None)
        transport = getattr(cycle, "transport", None)
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()
            # Let the server see the connection is gone, so it does not answer a 500.
            for _ in range(10):
                if getattr(cycle, "disconnected", True):
                    break
                await asyncio.sleep(0)
            return
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]}
        )
        raise ConnectionAbortedError("emulator fault: a dropped connection")


def _emulator(request: Request) -> Emulator:
    return request.app.state.emulator


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _bearer(request: Request) -> str:
    """The request's bearer token ("" when it has none)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else ""


async def _api_guard(request: Request) -> None:
    """What stands before every API reply: the slow fault, the key check, envelope errors."""
    emu = _emulator(request)
    if emu.config.faults.slow_seconds > 0:
        await asyncio.sleep(emu.config.faults.slow_seconds)
    token = _bearer(request)
    keys = emu.config.api_keys
    if not token.strip() or (keys is not None and token not in keys):
        raise _error(401, "Invalid API key")
    if emu.take("envelope_error"):
        raise _Reply(
            JSONResponse({"code": 500, "message": "internal envelope error", "data": None})
        )


async def _read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) > limit:
            raise _error(413, f"file too large: the limit is {limit // (1024 * 1024)} MB")
    return bytes(buf)


def _media_type(filename: str, content_type: str | None) -> str:
    mime = content_type or mimetypes.guess_type(filename)[0] or ""
    major = mime.split("/")[0]
    return major if major in ("image", "video", "audio") else "file"


def _api_router() -> APIRouter:
    api = APIRouter(prefix="/api/v3", dependencies=[Depends(_api_guard)])

    @api.get("/balance")
    @api.get("/account/balance")
    async def balance(request: Request) -> Response:
        return _ok({"balance": _emulator(request).config.balance})

    @api.post("/media/upload/binary")
    async def upload_binary(request: Request) -> Response:
        form = await request.form(max_files=1)
        part = form.get("file")
        if part is None or isinstance(part, str):
            raise _error(400, "multipart field 'file' is required")
        data = await _read_limited(_chunks(part), MAX_UPLOAD_BYTES)
        filename = Path(part.filename or "upload").name
        name = _emulator(request).store_upload(filename, data)
        return _ok(
            {
                "type": _media_type(filename, part.content_type),
                "download_url": f"{_base_url(request)}/uploads/{name}",
                "filename": filename,
                "size": len(data),
            }
        )

    @api.post("/media/uploads")
    async def upload_ticket(request: Request) -> Response:
        body = await _json_body(request)
        body = body if isinstance(body, dict) else {}
        filename, size = body.get("filename"), body.get("size")
        if not isinstance(filename, str) or not filename or not _is_int(size) or size < 0:
            raise _error(400, "filename (string) and size (integer bytes) are required")
        if size > MAX_UPLOAD_BYTES:
            raise _error(413, "file too large: the limit is 10 MB")
        content_type = body.get("content_type") or "application/octet-stream"
        token = uuid.uuid4().hex
        name = _stored_name(filename)
        _emulator(request).tickets[token] = (name, size)
        base = _base_url(request)
        return _ok(
            {
                "upload": {
                    "method": "PUT",
                    "url": f"{base}/__upload__/{token}",
                    "headers": {"Content-Type": content_type},
                },
                "download_url": f"{base}/uploads/{name}",
                "filename": Path(filename).name,
                "size": size,
            }
        )

    @api.get("/webhook/secret")
    async def webhook_secret(request: Request) -> Response:
        return _ok({"secret": _emulator(request).webhook_secret(_bearer(request))})

    @api.get("/predictions/{task_id}/result")
    @api.get("/predictions/{task_id}")
    async def result(task_id: str, request: Request) -> Response:
        emu = _emulator(request)
        emu.counters.result_gets += 1
        if emu.take("result_5xx"):
            status, message = emu.next_result_5xx()
            raise _error(status, message)
        if emu.take("result_drop"):
            return _DropConnection()
        task = emu.tasks.get(task_id)
        if task is None:
            raise _error(404, f"prediction {task_id} not found")
        return _ok(emu.prediction(task, _base_url(request), result=True))

    @api.delete("/predictions/{task_id}")
    async def cancel(task_id: str, request: Request) -> Response:
        emu = _emulator(request)
        task = emu.tasks.get(task_id)
        if task is None:
            raise _error(404, f"prediction {task_id} not found")
        emu.cancel(task)
        return _ok(emu.prediction(task, _base_url(request), result=True))

    async def faulted(emu: Emulator, kind: str) -> None:
        """The slow and failing replies injected for the catalog and for quotes."""
        if (delay := getattr(emu.config.faults, f"{kind}_delay_s")) > 0:
            await asyncio.sleep(delay)
        if emu.take(f"{kind}_5xx"):
            raise _error(503, "Service Unavailable")

    @api.get("/models")
    async def models(request: Request) -> Response:
        emu = _emulator(request)
        emu.counters.catalog_gets += 1
        await faulted(emu, "catalog")
        return _ok(emu.catalog_data())

    async def quote(request: Request) -> tuple[str, float]:
        emu = _emulator(request)
        emu.counters.quotes += 1
        await faulted(emu, "quote")
        body = await _json_body(request)
        model_id = body.get("model_id") if isinstance(body, dict) else None
        if not isinstance(model_id, str) or not model_id:
            raise _error(400, 'request body must be {"model_id": "...", "inputs": {...}}')
        model = emu.models.get(model_id)
        if model is None:
            raise _error(404, f"model {model_id} not found")
        inputs = body.get("inputs")
        return model_id, _quote(model, {} if inputs is None else inputs)

    @api.post("/model/price")
    async def price(request: Request) -> Response:
        model_id, total = await quote(request)
        return _ok(
            {"model_id": model_id, "price": total, "discounted_price": total, "currency": "USD"}
        )

    @api.post("/model/pricing")
    async def pricing(request: Request) -> Response:
        model_id, total = await quote(request)
        return _ok({"model_id": model_id, "unit_price": total, "currency": "USD"})

    @api.post("/{model_id:path}")
    async def submit(model_id: str, request: Request) -> Response:
        emu = _emulator(request)
        emu.counters.submits += 1
        model = emu.video_model(model_id)
        if model is None:
            raise _error(404, f"model {model_id} not found")
        if emu.take("submit_429"):
            raise _error(429, "Too Many Requests", headers={"Retry-After": "1"})
        if emu.take("submit_503"):
            raise _error(503, "Service Unavailable")
        job = _validate(model, await _json_body(request), request.url.netloc)
        webhook = request.query_params.get("webhook")
        if webhook is not None:
            webhook = _webhook_target(webhook, emu.config.webhook_any_host)
        task = emu.create_task(job, webhook=webhook, api_key=_bearer(request))
        if webhook is not None:  # due even if the reply is lost (drop_after_accept)
            emu.watch_webhook(task, _base_url(request))
        if emu.take("drop_after_accept"):
            return _DropConnection()
        return _ok(emu.prediction(task, _base_url(request)))

    return api


async def _chunks(part: Any, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    while chunk := await part.read(size):
        yield chunk


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise _error(400, "request body must be a JSON object") from None


def _file_routes(app: FastAPI) -> None:
    """Uploads and outputs, served without auth like a CDN; only simple names."""

    def serve(folder: Path, name: str, media_type: str | None = None) -> Response:
        path = folder / name
        if not SIMPLE_NAME.match(name) or ".." in name or not path.is_file():
            raise _error(404, "file not found")
        return FileResponse(path, media_type=media_type)

    @app.get("/uploads/{name}")
    async def get_upload(name: str, request: Request) -> Response:
        return serve(_emulator(request).uploads_dir, name)

    @app.get("/outputs/{name}")
    async def get_output(name: str, request: Request) -> Response:
        return serve(_emulator(request).outputs_dir, name, "video/mp4")

    @app.put("/__upload__/{token}")
    async def put_upload(token: str, request: Request) -> Response:
        emu = _emulator(request)
        ticket = emu.tickets.pop(token, None)
        if ticket is None:
            raise _error(404, "unknown or used upload ticket")
        name, declared = ticket
        data = await _read_limited(request.stream(), MAX_UPLOAD_BYTES)
        if len(data) != declared:
            raise _error(400, f"expected {declared} bytes, got {len(data)}")
        emu.save_upload(name, data)
        return Response(status_code=200)


def _admin_routes(app: FastAPI) -> None:
    """Test and benchmark controls; no auth, since the emulator only serves this machine."""

    @app.get("/__emulator__/stats")
    async def stats(request: Request) -> Response:
        return JSONResponse(_emulator(request).stats())

    @app.get("/__emulator__/config")
    async def get_config(request: Request) -> Response:
        return JSONResponse(_config_json(_emulator(request).config))

    @app.post("/__emulator__/config")
    async def set_config(request: Request) -> Response:
        emu, patch = _emulator(request), await _json_body(request)
        if not isinstance(patch, dict):
            raise _error(400, "config patch must be a JSON object")
        try:
            apply_config_patch(emu.config, patch)
        except ValueError as exc:
            raise _error(400, str(exc)) from None
        if "rng_seed" in patch:
            emu.rng.seed(emu.config.rng_seed)
        return JSONResponse(_config_json(emu.config))


def create_app(
    config: EmulatorConfig | None = None,
    data_dir: Path | None = None,
    catalog: list[dict[str, Any]] | None = None,
) -> FastAPI:
    """The emulator as an ASGI app; data_dir holds uploads and rendered outputs. `catalog`
    (entries as GET /models returns them) defaults to the bundled snapshot."""
    emu = Emulator(
        config or EmulatorConfig(),
        Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="emulator-")),
        catalog,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await emu.close_webhooks()
        await asyncio.to_thread(emu.close)  # let in-flight renders finish writing

    app = _EmulatorApp(
        title="WaveSpeed emulator",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.emulator = emu

    async def reply(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Reply)
        return exc.response

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return JSONResponse({"code": exc.status_code, "message": str(exc.detail)}, exc.status_code)

    app.add_exception_handler(_Reply, reply)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.include_router(_api_router())
    _file_routes(app)
    _admin_routes(app)
    return app


# ---------------------------------------------------------------- running it


class RunningEmulator:
    """An emulator served by uvicorn in a daemon thread. Use as a context manager."""

    def __init__(
        self,
        server: uvicorn.Server,
        thread: threading.Thread,
        app: FastAPI,
        base_url: str,
        owned_dir: Path | None,
    ) -> None:
        self._server = server
        self._thread = thread
        self._owned_dir = owned_dir
        self.app = app
        self.base_url = base_url
        self.emulator: Emulator = app.state.emulator

    @property
    def config(self) -> EmulatorConfig:
        return self.emulator.config

    @property
    def data_dir(self) -> Path:
        return self.emulator.data_dir

    def stats(self) -> dict[str, int]:
        return self.emulator.stats()

    def wait(self) -> None:
        """Block until the server stops (short joins keep Ctrl+C responsive)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def start_in_thread(
    config: EmulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    data_dir: Path | None = None,
    catalog: list[dict[str, Any]] | None = None,
) -> RunningEmulator:
    """Serve an emulator on host:port (0 picks a free port); returns once it accepts."""
    owned_dir = None if data_dir else Path(tempfile.mkdtemp(prefix="emulator-"))
    app = create_app(config, data_dir or owned_dir, catalog)
    # Binding here, not in uvicorn, tells us the port that port=0 picked.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            http="h11",
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
            # Idle keep-alive connections live longer here than in clients' pools (httpx
            # drops them after 5 s), as behind real proxies (nginx: 75 s). uvicorn's default
            # of 5 s equals httpx's: a client then reuses a connection the server is just
            # closing, and a submit sent on it ends as "outcome unknown".
            timeout_keep_alive=KEEP_ALIVE_S,
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="emulator", daemon=True
    )
    thread.start()
    startup_deadline = time.monotonic() + 10  # uvicorn starts in well under a second
    while not server.started:
        if not thread.is_alive() or time.monotonic() > startup_deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the emulator failed to start")
        time.sleep(0.01)
    base_url = f"http://{_display_host(host)}:{sock.getsockname()[1]}"
    return RunningEmulator(server, thread, app, base_url, owned_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Local WaveSpeed v3 emulator (its catalog's video models)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--inference-seconds", type=float, default=3.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument(
        "--reuse-renders",
        action="store_true",
        help="load tests: render each distinct clip once and serve copies, whatever the seed",
    )
    parser.add_argument(
        "--webhook-any-host",
        action="store_true",
        help="deliver webhooks to any http(s) host, not only loopback ones",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = EmulatorConfig(
        inference_seconds=args.inference_seconds,
        jitter=args.jitter,
        reuse_renders=args.reuse_renders,
        webhook_any_host=args.webhook_any_host,
    )
    if args.data_dir:
        args.data_dir.mkdir(parents=True, exist_ok=True)
    running = start_in_thread(config, host=args.host, port=args.port, data_dir=args.data_dir)
    print(f"WaveSpeed emulator at {running.base_url}", flush=True)
    try:
        running.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


if __name__ == "__main__":
    main()
