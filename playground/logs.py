"""Log lines that follow one run among many visitors', and never carry a key."""

from __future__ import annotations

import logging
import os
from contextvars import ContextVar

# Each generation's log lines carry a short id, to follow one run among many visitors'.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def configure_logging() -> None:
    """Levels from LOG_LEVEL (default INFO). httpx logs URLs, never headers: no key."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestId())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, handlers=[handler])
    if level != "DEBUG":  # one line per poll is noise; our own lines say what matters
        logging.getLogger("httpx").setLevel(logging.WARNING)
