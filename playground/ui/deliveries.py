"""WaveSpeed's webhook deliveries, `POST /webhooks/wavespeed/<token>`, answered here before
Gradio's routes: the body is read within its limit and handed to `flow.webhooks`, which
checks it; the answer is its verdict in plain words.
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from playground.flow.webhooks import MAX_BODY_BYTES, PATH_PREFIX, WebhookHub
from playground.ui.compat import read_body


class WebhookDeliveries:
    def __init__(self, app: ASGIApp, hub: WebhookHub) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PATH_PREFIX):
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            answer = PlainTextResponse("Webhooks are POSTed here.", 405, {"Allow": "POST"})
            await answer(scope, receive, send)
            return
        body, more = await read_body(receive, MAX_BODY_BYTES)
        if more or len(body) > MAX_BODY_BYTES:
            await PlainTextResponse("That webhook body is too large.", 413)(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        verdict = self.hub.receive(path.removeprefix(PATH_PREFIX), headers, body)
        await PlainTextResponse(verdict.message, verdict.status)(scope, receive, send)
