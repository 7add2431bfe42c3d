"""What the browser keeps of the page between visits (gr.BrowserState, in localStorage).

The form's values are saved by the browser itself at each change (a script, no request)
and read back once when the page loads; the server's records, not the browser, say what
was made (the last result and the runs in flight come back from the session and the run
store). A visitor's own key is kept only when they ask for it. Whatever comes back from a
browser is a stranger's input: read here field by field, and checked again by the form
and by Generate like anything typed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

FORM_KEY = "seedance-playground-form"
KEY_KEY = "seedance-playground-key"
VERSION = 1
# Files are not kept: an upload lives in Gradio's cache, which is cleaned by age, and a
# path sent back by a browser could name anyone's file.
NOT_SAVED = ("image", "last_image", "extra_images")
MAX_TEXT = 20_000  # far above any prompt a model takes; more is not a form someone typed
MAX_KEY = 512


def saved_fields(page_fields: Sequence[str]) -> tuple[str, ...]:
    """The page's fields the browser keeps, in the page's order."""
    return tuple(name for name in page_fields if name not in NOT_SAVED)


def save_form_js(names: Sequence[str]) -> str:
    """The browser-side function that turns the widgets' values (`names`, in order) into
    what is kept."""
    pairs = f"{json.dumps(list(names))}.map((n, i) => [n, values[i]])"
    return f"(...values) => ({{v: {VERSION}, form: Object.fromEntries({pairs})}})"


def remembered_form(kept: Any, names: Sequence[str]) -> dict[str, Any] | None:
    """The form values a browser kept, those of a shape a widget could have held; None when
    there is nothing usable (none kept, another version, not a form)."""
    if not isinstance(kept, Mapping) or kept.get("v") != VERSION:
        return None
    form = kept.get("form")
    if not isinstance(form, Mapping) or not isinstance(form.get("model"), str):
        return None
    return {name: form[name] for name in names if name in form and _plain(form[name])}


def remembered_key(kept: Any) -> str | None:
    """The key a browser was asked to keep, if it looks like one."""
    key = kept.get("key") if isinstance(kept, Mapping) else None
    if not isinstance(key, str) or not 0 < len(key.strip()) <= MAX_KEY:
        return None
    return key.strip()


def key_kept(key: str | None) -> dict[str, str | None]:
    """What to keep for the key (None: nothing). Never a falsy value: Gradio's BrowserState
    does not write one, so "forget" would leave the old key in place."""
    return {"key": key}


def _plain(value: Any) -> bool:
    """A value a form widget holds: short text, a finite number, a flag, nothing, or a
    short list of such (a multi-choice)."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= MAX_TEXT
    if isinstance(value, list):
        return len(value) <= 64 and all(
            isinstance(v, str | int | float) and not isinstance(v, bool) and _plain(v)
            for v in value
        )
    return False
