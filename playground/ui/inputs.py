"""The form's input widgets, with Gradio's input handling made safe for strangers.

Gradio prepares each input before the handler runs, and what it raises there reaches an API
caller as `error: null` and the page as an empty toast. So these widgets prepare nothing
they cannot word: an image is passed on as the file it arrived as (never decoded here;
`media.images` checks its header first and says what is wrong), a `data:` image is written
out as its bytes within the API's size limit, and a number that is not one says so.
Each is Gradio's own widget with its input step replaced (on the instance: a subclass
would make Gradio write a type stub beside this module at import), so the page is the same.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from pathlib import Path
from typing import Any

import gradio as gr

from playground.model import seedance
from playground.ui.errors import worded_error

# A data: URI carries base64, 4 characters for every 3 bytes; a little over for the header.
MAX_DATA_URI_CHARS = seedance.IMAGE_MAX_BYTES * 4 // 3 + 1024
_DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[\w.+-]+)*)(;base64)?,", re.ASCII)
_SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}


def source_image(**kwargs: Any) -> gr.Image:
    """An image input that hands the handler a file path and decodes nothing."""
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    what = "end image" if "end" in str(kwargs.get("label", "")).lower() else "start image"

    def preprocess(payload: Any) -> str | None:
        if payload is None:
            return None
        url = getattr(payload, "url", None)
        if isinstance(url, str) and url.startswith("data:"):
            return str(data_uri_file(url, Path(image.GRADIO_CACHE)))
        path = getattr(payload, "path", None)
        if not path:
            raise worded_error(f"The {what} was not received: upload it again.", "Image not usable")
        return str(path)

    image.preprocess = preprocess  # type: ignore[method-assign]
    return image


def data_uri_file(uri: str, cache_dir: Path) -> Path:
    """A `data:` image's bytes, written as they are to a file in the upload cache (content-
    addressed, so the same image is one file). Refused, with words, when it is not a base64
    data: URI or is over the API's size limit; what the bytes are is checked later."""
    if len(uri) > MAX_DATA_URI_CHARS:
        raise worded_error(
            f"The data: image is over {seedance.IMAGE_MAX_BYTES // 2**20} MB; send a smaller "
            "image, or an http(s) address.",
            "Image not usable",
        )
    match = _DATA_URI.match(uri)
    if match is None or not match.group(3):
        raise worded_error(
            "That is not a base64 data: URI (data:image/png;base64,…); send the image as a "
            "file, a base64 data: URI or an http(s) address.",
            "Image not usable",
        )
    try:
        data = base64.b64decode(uri[match.end() :], validate=True)
    except (binascii.Error, ValueError):
        raise worded_error(
            "The data: URI's base64 is damaged; encode the image again.", "Image not usable"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    path = cache_dir / digest[:32] / f"image{_SUFFIXES.get(match.group(1) or '', '.bin')}"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


def finite_number(payload: Any, widget: gr.Slider | gr.Number) -> float:
    """A number input's value as a float; its odd values ("abc", null, a list, nan, 1e309)
    are refused by the widget's name and range."""
    try:
        number = float(payload)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(payload, bool) or not math.isfinite(number):
        name = str(widget.label or "The value").split(" (")[0]
        low, high = widget.minimum, widget.maximum
        wanted = (
            "a number" if low is None or high is None else f"a number from {low:.0f} to {high:.0f}"
        )
        raise worded_error(
            f"{name} must be {wanted}, not {repr(payload)[:40]}.", "Check the settings"
        )
    return number


def checked_number(widget: gr.Slider | gr.Number) -> gr.Slider | gr.Number:
    """`widget` with its odd values refused in words before Gradio's own checks."""
    gradio_preprocess = widget.preprocess
    widget.preprocess = lambda payload: gradio_preprocess(finite_number(payload, widget))  # type: ignore[method-assign]
    return widget
