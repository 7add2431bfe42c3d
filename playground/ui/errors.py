"""The one place where errors become what a person reads: `gr.Error(message, title=...)`.

Every public method of the page's handlers is wrapped by `shown` (`@worded` on the class);
whatever the service or the client raises comes out as a sentence with a heading, never a
traceback and never an empty toast. An error nobody foresaw is logged with its traceback
and shown as a sentence too.

Gradio 6 heads every toast with its kind ("Error", "Warning") and drops the error's own
title, so on the page the heading opens the message; API callers get both apart.
"""

from __future__ import annotations

import contextlib
import functools
import html
import inspect
import logging
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from playground.errors import ImageTooSmall, PlaygroundError
from wavespeed_client import SubmissionOutcomeUnknown, TaskFailed, TaskTimeout, WaveSpeedError

log = logging.getLogger("playground.ui")

MORE_IMAGE_OPTIONS = "Image URLs & small images"
UPSCALE_LABEL = "Enlarge images under 300×300 px"
UNEXPECTED = (
    "Something went wrong on the server that the playground did not expect. Nothing was "
    "lost that the API accepted: look in History. Try again, and if it keeps happening, "
    "report it with the time it happened."
)

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)


def describe(exc: BaseException) -> str:
    """A sentence saying what happened and what to do; the errors already speak that way."""
    if isinstance(exc, TaskTimeout):
        return (
            f"Stopped waiting after {exc.waited_s:.0f} s. Task {exc.task_id} may still "
            "finish and be billed; it keeps being polled in the background and will appear "
            "in History when done."
        )
    if isinstance(exc, TaskFailed) and exc.status == "deleted":
        return (
            f"Stopped on WaveSpeed: task {exc.task_id} was deleted before it finished. It "
            "may still be billed in part (partial refunds may apply); History keeps it."
        )
    if isinstance(exc, TaskFailed):
        return f"The task failed: {exc.reason}. Task id {exc.task_id}. Adjust and try again."
    if isinstance(exc, SubmissionOutcomeUnknown):
        return f"{exc} The request is listed in History as “outcome unknown”, and it counts."
    if isinstance(exc, ImageTooSmall) and exc.can_upscale:
        return f"{exc} (tick “{UPSCALE_LABEL}” under “{MORE_IMAGE_OPTIONS}”)"
    if isinstance(exc, PlaygroundError | WaveSpeedError):
        return str(exc)
    return UNEXPECTED


def title(exc: BaseException) -> str:
    if isinstance(exc, PlaygroundError):
        return exc.title
    if isinstance(exc, SubmissionOutcomeUnknown):
        return "Outcome unknown"
    if isinstance(exc, TaskFailed):
        return "Task stopped" if exc.status == "deleted" else "Task failed"
    return "Could not generate"


def as_gr_error(exc: BaseException) -> gr.Error:
    """The error as a person reads it; one an app's message did not foresee is logged with
    its traceback, once."""
    if not isinstance(exc, PlaygroundError | WaveSpeedError):
        log.error("unexpected error in a handler", exc_info=exc)
    return worded_error(describe(exc), title(exc))


def worded_error(message: str, heading: str) -> gr.Error:
    """A gr.Error shown to the person and logged as one line: Gradio would print a traceback
    for every gr.Error unless told not to, and a refusal is not a fault."""
    log.info("refused: %s: %s", heading, message)
    return gr.Error(message, title=heading, print_exception=False)


def toast_html(message: str, heading: str) -> str:
    """A toast's text with its heading first (Gradio shows only the toast's kind above)."""
    return f"<strong>{html.escape(heading)}</strong><br>{html.escape(message)}"


def on_page(error: gr.Error) -> gr.Error:
    """`error` as the page shows it: its heading in its text, both escaped."""
    return gr.Error(
        toast_html(error.message, error.title or "Could not do that"),
        title=error.title,
        print_exception=False,
    )


def shown(fn: F, *, page: bool = True) -> F:
    """`fn` with every error raised as a worded gr.Error (plain functions, coroutines and
    async generators alike; Gradio reads the signature through the wrapper); for the page
    (`page`), with its heading in its text."""
    finish: Callable[[gr.Error], gr.Error] = on_page if page else (lambda error: error)
    _resolve_hints(fn)

    def worded_now(exc: Exception) -> gr.Error:
        return finish(exc if isinstance(exc, gr.Error) else as_gr_error(exc))

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def stream(*args: Any, **kwargs: Any) -> Any:
            try:
                # Closed when this is (a reload, a closed tab), so the run below hears of it.
                async with contextlib.aclosing(fn(*args, **kwargs)) as items:
                    async for item in items:
                        yield item
            except Exception as exc:
                raise worded_now(exc) from None

        return stream  # type: ignore[return-value]
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:
                raise worded_now(exc) from None

        return call_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise worded_now(exc) from None

    return call  # type: ignore[return-value]


def _resolve_hints(fn: Callable[..., Any]) -> None:
    """Evaluate `fn`'s postponed (string) annotations once, in place: Gradio reads every
    handler's type hints at each call, to inject gr.Request and the like, and evaluating
    strings there is most of that cost. Left as they are if they cannot be evaluated."""
    try:
        fn.__annotations__ = typing.get_type_hints(fn)
    except Exception:  # a name only a type checker sees: Gradio evaluates it as before
        return


def worded(*api: str) -> Callable[[C], C]:
    """Wrap every public method of a class (static ones too) with `shown`: those named in
    `api` (public endpoints) plain, the page's with headings in their texts."""

    def wrap(cls: C) -> C:
        for name, member in list(vars(cls).items()):
            if name.startswith("_"):
                continue
            page = name not in api
            if isinstance(member, staticmethod):
                setattr(cls, name, staticmethod(shown(member.__func__, page=page)))
            elif inspect.isfunction(member):
                setattr(cls, name, shown(member, page=page))
        return cls

    return wrap
