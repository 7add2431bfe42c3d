"""Callers of `/generate` from before it grew: eight positional values still work.

gradio_client and MCP clients name their arguments and get the newer parameters' defaults;
a raw HTTP caller posts `{"data": [...]}` positionally, and Gradio refuses a list shorter
than the event's inputs. This ASGI middleware appends the newer parameters' defaults
(resolution, generate_audio, options) to an eight-value call, before Gradio reads it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The paths of Gradio's one-shot API for this endpoint.
PATHS = ("/gradio_api/call/generate", "/gradio_api/run/generate")
OLD_COUNT = 8  # image, prompt, last_image, duration, aspect_ratio, camera_fixed, seed, model
NEWER_DEFAULTS: list[Any] = [None, False, None]  # resolution, generate_audio, options
MAX_BODY = 64 * 1024 * 1024  # bigger bodies are left for Gradio to refuse


class OldGenerateCalls:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in PATHS:
            await self.app(scope, receive, send)
            return
        body, more = await read_body(receive, MAX_BODY)
        if not more:
            body = padded(body)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": more}
            return await receive()

        headers = scope["headers"]
        if not more:  # the whole body was read, and may have grown
            headers = [(k, v) for k, v in headers if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": headers}, replay, send)


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """A request's body as far as `limit`: (what was read, whether more is left unread)."""
    body, more = b"", True
    while more and len(body) <= limit:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body, more


def padded(body: bytes) -> bytes:
    """The body with the newer defaults appended to an eight-value `data`; else as it was."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list) or len(data) != OLD_COUNT:
        return body
    return json.dumps({**payload, "data": [*data, *NEWER_DEFAULTS]}).encode()
