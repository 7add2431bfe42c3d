"""“Copy as code” for a run: the same request as curl, a Python (httpx) script, or a
gradio_client call to this app.

Pure stdlib functions over a run record as `RunRecord.to_json()` gives it. Only whitelisted
fields are read (`model`, `seed`, `id`, the seven model inputs in `inputs`, the file names
in `input_files`), so nothing else a record carries can leak into a snippet. The API key is
never written: it appears only as `${WAVESPEED_API_KEY}` (shell) or
`os.environ["WAVESPEED_API_KEY"]` (Python). Images that were not sent as an http(s) URL
(inlined data URIs, local paths, the "(inline image)" marker) are never inlined: the
snippet says where to put your own copy instead, so a snippet stays a few KB.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Collection, Mapping
from pathlib import PurePath
from typing import Any

from playground.model import seedance

DEFAULT_BASE_URL = "https://api.wavespeed.ai"
DEFAULT_APP_URL = "http://127.0.0.1:7860/"
POLL_INTERVAL_S = 2

# Seedance's inputs first, in the order the API documents them, then any other field of the
# model by its own name; a field's name must be a plain identifier and its value plain JSON.
INPUT_FIELDS = ("image", "prompt", "last_image", "duration", "aspect_ratio", "camera_fixed", "seed")
# /generate's named parameters; any other field goes in its `options`.
APP_PARAMETERS = (*INPUT_FIELDS, "resolution", "generate_audio")
_TYPES: dict[str, type] = {
    "image": str,
    "prompt": str,
    "last_image": str,
    "duration": int,
    "aspect_ratio": str,
    "camera_fixed": bool,
    "seed": int,
    "resolution": str,
    "generate_audio": bool,
}
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_IMAGE_ROLES = {"image": "start", "last_image": "end"}
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_SAFE_NAME = re.compile(r"[\w][\w.\-]{0,120}")
_TASK_ID = re.compile(r"[\w\-]{1,64}")
_TASK_HINT = "set TASK_ID to data.id from the submit reply"


def placeholder(role: str) -> str:
    """What stands in for an image that was not sent as a URL ("start" or "end")."""
    return f"<URL of your {role} image: upload it first>"


# --------------------------------------------------------------------------- record access


def _payload(record: Mapping[str, Any], fields: Collection[str] = ()) -> dict[str, Any]:
    """The JSON body as sent: Seedance's inputs and the model's own `fields` (its catalog
    schema's) only, images that are not URLs replaced."""
    inputs = record.get("inputs") or {}
    body: dict[str, Any] = {}
    others = [k for k in inputs if k in fields and k not in INPUT_FIELDS]
    for key in (*INPUT_FIELDS, *others):
        value = inputs.get(key)
        if value is None or value == "" or not _FIELD_NAME.fullmatch(str(key)):
            continue
        kind = _TYPES.get(key)
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            continue  # not what the API was sent; never guess
        if kind is not None and not isinstance(value, kind):
            continue
        if kind is None and not _plain(value):
            continue
        if key in _IMAGE_ROLES and not _is_url(value):
            value = placeholder(_IMAGE_ROLES[key])
        body[key] = value
    seed = body.get("seed")
    if seed is None or seed == seedance.RANDOM_SEED:
        # The record's seed is the concrete one chosen before submitting.
        record_seed = record.get("seed")
        concrete = isinstance(record_seed, int) and not isinstance(record_seed, bool)
        if concrete and record_seed != seedance.RANDOM_SEED:
            body["seed"] = record_seed
    return body


def _plain(value: Any) -> bool:
    """A JSON value a snippet may carry: a scalar, or a short list of strings."""
    if isinstance(value, str | bool | int | float):
        return True
    return isinstance(value, list) and len(value) <= 16 and all(isinstance(v, str) for v in value)


def _model(record: Mapping[str, Any]) -> str:
    model = record.get("model") or (record.get("inputs") or {}).get("model")
    return model if isinstance(model, str) and model else seedance.DEFAULT_MODEL


def _is_url(value: str) -> bool:
    return bool(_URL.fullmatch(value))


def _missing_images(body: Mapping[str, Any]) -> list[str]:
    """The payload keys whose image must be uploaded again by whoever runs the snippet."""
    return [key for key, role in _IMAGE_ROLES.items() if body.get(key) == placeholder(role)]


def _file_name(record: Mapping[str, Any], key: str) -> str:
    """The kept input file's name (never its directory), or a generic one."""
    role = _IMAGE_ROLES[key]
    kept = (record.get("input_files") or {}).get(role)
    if isinstance(kept, str) and kept:
        name = PurePath(kept.replace("\\", "/")).name
        if _SAFE_NAME.fullmatch(name):
            return name
    return f"{role}.jpg"


def _about(record: Mapping[str, Any], body: Mapping[str, Any]) -> str:
    """One safe comment line: which run this repeats (ids checked, no free text)."""
    task = record.get("id")
    task_text = f" task {task}" if isinstance(task, str) and _TASK_ID.fullmatch(task) else ""
    seed = body.get("seed")
    seed_text = f" with seed {seed}" if isinstance(seed, int) else ""
    return f"Repeats Seedance{task_text}{seed_text}."


def _base(base_url: str) -> str:
    return (base_url or DEFAULT_BASE_URL).rstrip("/")


def _py(value: Any) -> str:
    """A Python literal: JSON's string escapes are all valid Python, and read naturally."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _dq(text: str) -> str:
    """Escape text for inside double quotes in a POSIX shell."""
    return re.sub(r'(["$`\\])', r"\\\1", text)


# --------------------------------------------------------------------------- snippets


def curl_snippet(
    record: Mapping[str, Any], base_url: str = DEFAULT_BASE_URL, fields: Collection[str] = ()
) -> str:
    """Shell commands that submit the run's exact request, then poll its result."""
    body = _payload(record, fields)
    base = _base(base_url)
    auth = '-H "Authorization: Bearer ${WAVESPEED_API_KEY}"'
    lines = [f"# {_about(record, body)} Needs WAVESPEED_API_KEY in the environment."]
    for key in _missing_images(body):
        role = _IMAGE_ROLES[key]
        lines += [
            f"# The {role} image was not sent as a URL: upload your copy, then put the",
            "# reply's data.download_url in the body below instead of the placeholder.",
            f"curl -sS -X POST {shlex.quote(base + '/api/v3/media/upload/binary')} \\",
            f"  {auth} \\",
            f"  -F {shlex.quote('file=@' + _file_name(record, key))}",
            "",
        ]
    data = json.dumps(body, indent=2, ensure_ascii=False).replace("'", "'\\''")
    lines += [
        "# Submit. The reply's data.id is the new task's id.",
        f"curl -sS -X POST {shlex.quote(base + '/api/v3/' + _model(record))} \\",
        f"  {auth} \\",
        '  -H "Content-Type: application/json" \\',
        f"  -d '{data}'",
        "",
        f'# Poll every {POLL_INTERVAL_S} s until data.status is "completed" (the video is at',
        '# data.outputs[0]; download it within 7 days) or "failed" (see data.error).',
        "# Set TASK_ID=<data.id from the reply above> first, then:",
        f"curl -sS {auth} \\",
        f'  "{_dq(base)}/api/v3/predictions/${{TASK_ID:?{_TASK_HINT}}}/result"',
    ]
    return "\n".join(lines) + "\n"


_PY_UPLOAD = '''

def upload(path):
    """Upload a local image to WaveSpeed (kept 7 days) and return its URL."""
    with open(path, "rb") as file:
        reply = client.post(f"{API}/media/upload/binary", files={"file": file})
    reply.raise_for_status()
    return reply.json()["data"]["download_url"]

'''

_PY_RUN = """
task = client.post(f"{API}/{MODEL}", json=payload)
task.raise_for_status()
task_id = task.json()["data"]["id"]
print("submitted task", task_id)

deadline = time.monotonic() + 15 * 60  # give up waiting (the task may still finish)
while True:
    time.sleep(%(interval)s)
    reply = client.get(f"{API}/predictions/{task_id}/result")
    reply.raise_for_status()
    data = reply.json()["data"]
    if data["status"] == "completed":
        break
    if data["status"] in ("failed", "cancelled", "timeout", "deleted"):
        raise SystemExit(f"task {task_id} {data['status']}: {data.get('error')}")
    if time.monotonic() > deadline:
        raise SystemExit(f"task {task_id} still {data['status']}; poll it again later")

output = data["outputs"][0]
url = output["url"] if isinstance(output, dict) else output
# The output is on a CDN: fetch it without the API key.
with httpx.stream("GET", url, timeout=120, follow_redirects=True) as video:
    video.raise_for_status()
    with open(f"seedance_{task_id}.mp4", "wb") as file:
        for chunk in video.iter_bytes():
            file.write(chunk)
print("saved", f"seedance_{task_id}.mp4")
"""


def python_snippet(
    record: Mapping[str, Any], base_url: str = DEFAULT_BASE_URL, fields: Collection[str] = ()
) -> str:
    """A runnable httpx script: submit, poll every 2 s, download the video."""
    body = _payload(record, fields)
    missing = _missing_images(body)
    items = "".join(f"    {_py(key)}: {_py(value)},\n" for key, value in body.items())
    parts = [
        f'"""{_about(record, body)}\n\n'
        'Run: pip install httpx; WAVESPEED_API_KEY=... python seedance_run.py\n"""\n\n'
        "import os\nimport time\n\nimport httpx\n\n",
        f"API = {_py(_base(base_url) + '/api/v3')}\n",
        f"MODEL = {_py(_model(record))}\n",
        'API_KEY = os.environ["WAVESPEED_API_KEY"]\n',
        "client = httpx.Client(\n"
        '    headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60  # seconds per request\n'
        ")\n",
        _PY_UPLOAD if missing else "",
        f"\npayload = {{\n{items}}}\n",
    ]
    for key in missing:
        role = _IMAGE_ROLES[key]
        parts.append(
            f"# The {role} image was not sent as a URL: upload your copy of it.\n"
            f"payload[{_py(key)}] = upload({_py(_file_name(record, key))})\n"
        )
    parts.append(_PY_RUN % {"interval": POLL_INTERVAL_S})
    return "".join(parts)


def gradio_client_snippet(
    record: Mapping[str, Any], app_url: str = DEFAULT_APP_URL, fields: Collection[str] = ()
) -> str:
    """The same settings through this app's public `/generate` endpoint."""
    body = _payload(record, fields)

    def image(key: str) -> tuple[str, str]:
        value = body.get(key)
        if value is None:
            return "None", ""
        if _is_url(value):
            return f"handle_file({_py(value)})", ""
        role = _IMAGE_ROLES[key]
        return f"handle_file({_py(_file_name(record, key))})", f"  # your copy of the {role} image"

    arguments = {
        "image": image("image"),
        "prompt": (_py(body.get("prompt", "")), ""),
        "last_image": image("last_image"),
        "duration": (_py(body.get("duration", seedance.DURATION_DEFAULT_S)), ""),
        "aspect_ratio": (_py(body.get("aspect_ratio", "auto")), ""),
        "camera_fixed": (_py(body.get("camera_fixed", False)), ""),
        "seed": (_py(body.get("seed", seedance.RANDOM_SEED)), ""),
        "model": (_py(_model(record)), ""),
    }
    for name in ("resolution", "generate_audio"):
        if name in body:
            arguments[name] = (_py(body[name]), "")
    if options := {k: v for k, v in body.items() if k not in APP_PARAMETERS}:
        arguments["options"] = (_py(options), "")
    lines = [
        f"# {_about(record, body)} The app submits with its own backend and key.",
        "from gradio_client import Client, handle_file",
        "",
        f"client = Client({_py(app_url or DEFAULT_APP_URL)})",
        "video, record, status = client.predict(",
        *(f"    {name}={value},{comment}" for name, (value, comment) in arguments.items()),
        '    api_name="/generate",',
        ")",
        "print(video)",
    ]
    return "\n".join(lines) + "\n"


def all_snippets(
    record: Mapping[str, Any],
    app_url: str = DEFAULT_APP_URL,
    base_url: str = DEFAULT_BASE_URL,
    fields: Collection[str] = (),
) -> dict[str, str]:
    """Every snippet for the UI's “Copy as code” tabs; `fields`: the names the model's
    schema has, beyond Seedance's (nothing else in a record is ever emitted)."""
    return {
        "curl": curl_snippet(record, base_url, fields),
        "python": python_snippet(record, base_url, fields),
        "gradio_client": gradio_client_snippet(record, app_url, fields),
    }
