"""Seedance playground: a Gradio app for image-to-video with ByteDance Seedance on WaveSpeed.

The entry point: `python app.py` reads the settings, builds the service (the run flow, its
store and workers), builds the page over it and launches. Nothing runs at import. The
layers are in `playground/` (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import logging

from playground.flow.service import Playground
from playground.logs import configure_logging
from playground.settings import load_settings
from playground.ui.app import build_demo, launch

log = logging.getLogger("playground")


def main() -> None:
    configure_logging()
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    backend = "offline emulator" if settings.offline or not settings.api_key else settings.base_url
    log.info("backend %s · model %s · data %s", backend, settings.default_model, settings.data_dir)
    if settings.require_login and settings.shared and not settings.oauth:
        log.warning(
            "PLAYGROUND_REQUIRE_LOGIN is set but sign-in is not (hf_oauth: true in the "
            "Space's README): no visitor can spend the owner's key"
        )
    service = Playground(settings)
    service.prune()
    service.resume()
    models = service.load_catalog()  # the page is built from it; bounded, never fatal
    log.info("catalog: %s, %d models", models.note or models.source, len(models.models))
    launch(build_demo(service), settings, mcp_server=settings.mcp, webhooks=service.webhooks)


if __name__ == "__main__":
    main()
