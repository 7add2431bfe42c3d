"""How a run's progress reaches whoever waits: the page's status line, or an API caller's
Gradio progress events. Both send only news.

Between stage changes the page's own clock advances the status line (static/page.js), so
the server sends an update only when there is news, or as a keep-alive: each status line
update costs Gradio a rebuild of the skipped outputs (docs/ARCHITECTURE.md, "under load").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import gradio as gr

from playground.flow.generation import Progress, Stage
from playground.ui import views

STATUS_KEEPALIVE_S = 5.0


@dataclass
class NewsFilter:
    """What the waiting person last saw, to send only news."""

    stage: Stage | None = None
    eta_s: float | None = None
    elapsed_s: float = 0.0

    def worth_sending(self, progress: Progress) -> bool:
        news = (
            progress.stage != self.stage
            or (progress.eta_s is None) != (self.eta_s is None)
            or abs((progress.eta_s or 0.0) - (self.eta_s or 0.0)) >= 1.0
            or progress.elapsed_s - self.elapsed_s >= STATUS_KEEPALIVE_S
        )
        if news:
            self.stage, self.eta_s = progress.stage, progress.eta_s
            self.elapsed_s = progress.elapsed_s
        return news


class Reporter(Protocol):
    def progress(self, item: Progress) -> str | None: ...

    def done(self, text: str) -> str: ...

    def failed(self, message: str) -> str | None: ...

    def refused(self, message: str) -> str | None: ...


class StatusLine:
    """The page's progress: the status line, redrawn only on news."""

    def __init__(self) -> None:
        self.news = NewsFilter()

    def progress(self, item: Progress) -> str | None:
        return views.progress_html(item) if self.news.worth_sending(item) else None

    def done(self, text: str) -> str:
        return views.status_html(text, "ok")

    def failed(self, message: str) -> str | None:
        return views.status_html(message, "warn")  # stops the page's clock

    def refused(self, message: str) -> str | None:
        """Nothing started: the line says why, in place of "Ready" or an old result's."""
        return views.status_html(f"Not started · {message}", "error")


class ProgressEvents:
    """An API caller's progress: Gradio progress events, which touch no output. A script
    reads the status line once, at the end; updating it on the way would cost Gradio a
    rebuild of the other outputs per update, for nobody to see."""

    def __init__(self, tracker: gr.Progress) -> None:
        self.tracker = tracker
        self.news = NewsFilter()

    def progress(self, item: Progress) -> None:
        if self.news.worth_sending(item):
            # Steps in seconds, "elapsed of expected": MCP clients show a step count.
            expected = round(item.eta_s) if item.eta_s else None
            self.tracker((round(item.elapsed_s), expected), desc=item.describe(), unit="s")

    def done(self, text: str) -> str:
        return text  # a script reads words, not the page's markup

    def failed(self, message: str) -> None:
        return None  # the error itself tells the caller

    def refused(self, message: str) -> None:
        return None
