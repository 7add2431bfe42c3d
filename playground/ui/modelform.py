"""The form follows the model: its schema decides which widgets show, with which ranges,
choices and defaults, and which values carry over when the model changes.

The crafted widgets (images, prompt, duration, aspect ratio, camera fixed, seed,
resolution, audio) stay where they are and are set from the schema; a field without one
gets one of the `EXTRA_SLOTS` generic widgets by its type (choice: dropdown; flag:
checkbox; bounded number: slider; other number: number box; text: textbox), in the
schema's order, with its description as help. Gradio cannot add widgets to a live page
per session, so the slots are placed once and relabelled.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.model import catalog, seedance
from playground.model.catalog import FieldSpec, ModelSpec
from playground.model.form import AUTO_RATIO, FIELDS

EXTRA_SLOTS = 4  # fields beyond the crafted ones a model can show on the page
SLOT_KINDS = ("choice", "flag", "slider", "number", "text")
# The slots' widgets as page fields, in the order they are wired: extra0_choice, ...
EXTRA_FIELDS = tuple(f"extra{i}_{kind}" for i in range(EXTRA_SLOTS) for kind in SLOT_KINDS)
SLOTTED = ("text", "choice", "flag", "integer", "number")
# What the crafted widgets show when the model lacks their field.
NEUTRAL: dict[str, Any] = {"aspect_ratio": AUTO_RATIO, "camera_fixed": False, "seed": -1}


def slot_kind(spec: FieldSpec) -> str:
    """The generic widget a field gets."""
    if spec.kind in ("choice", "flag", "text"):
        return spec.kind
    bounded = spec.minimum is not None and spec.maximum is not None
    return "slider" if bounded else "number"


def extra_fields(spec: ModelSpec | None) -> list[FieldSpec]:
    """The model's fields that get a generic slot, in the schema's order."""
    if spec is None:
        return []
    return [f for f in spec.shown if f.name not in FIELDS and f.kind in SLOTTED][:EXTRA_SLOTS]


def images_field(spec: ModelSpec | None) -> FieldSpec | None:
    """The model's list of images (reference images), which the page's multi-image upload
    takes; the first, if it has several."""
    if spec is None:
        return None
    return next((f for f in spec.shown if f.kind == "images"), None)


def images_label(field: FieldSpec) -> str:
    most = f", up to {field.max_items}" if field.max_items else ""
    return f"{field.label}{most}" + (" (required)" if field.required else "")


def images_update(spec: ModelSpec) -> Any:
    listed = images_field(spec)
    if listed is None:
        return gr.File(visible=False)
    return gr.File(visible=True, label=images_label(listed))


def unplaced(spec: ModelSpec) -> list[FieldSpec]:
    """Fields the page has no widget for (the API's `options` takes them)."""
    listed = images_field(spec)
    placed = (
        {f.name for f in extra_fields(spec)} | set(FIELDS) | ({listed.name} if listed else set())
    )
    return [f for f in spec.shown if f.name not in placed]


def extra_values(spec: ModelSpec | None, named: Mapping[str, Any]) -> dict[str, Any]:
    """The slots' values by the model's field names."""
    return {f.name: named.get(f"extra{i}_{slot_kind(f)}") for i, f in enumerate(extra_fields(spec))}


@dataclass(frozen=True)
class Switch:
    """The form for a model: one update per widget (in `FormOutputs` order), and what a
    person should be told about values that changed."""

    updates: list[Any]
    changed: list[str]


def carried(
    spec: ModelSpec, values: Mapping[str, Any], previous: ModelSpec | None
) -> tuple[dict[str, Any], list[str]]:
    """The values that still fit `spec`, the others replaced by its defaults, and each
    change said in words. A field the previous model lacked starts at its default."""
    kept: dict[str, Any] = {}
    changed: list[str] = []
    for field in spec.shown:
        value = values.get(field.name)
        fresh = previous is not None and not previous.has(field.name)
        if field.kind in ("text", "image", "images") and not fresh:
            kept[field.name] = value  # a person's words are never replaced: checks say why
            continue
        if fresh or value is None or value == "":
            kept[field.name] = field.default if field.has_default else value
            continue
        if value == NEUTRAL.get(field.name):  # "auto" ratio, seed -1: the page's unset
            kept[field.name] = value
            continue
        fitted, problem = field.coerce(value)
        if problem is None:
            kept[field.name] = fitted
            continue
        replacement = _nearest(field, value)
        kept[field.name] = replacement
        changed.append(
            f"{field.label} {_said(value)} → {_said(replacement)} ({spec.name} takes "
            f"{field.accepts()})"
        )
    if previous is not None:
        dropped = [
            f.label.lower()
            for f in previous.shown
            if not spec.has(f.name) and _was_set(f, values.get(f.name))
        ]
        if dropped:
            changed.append(f"{', '.join(dropped)}: not offered by {spec.name}, so not sent")
    return kept, changed


def _nearest(field: FieldSpec, value: Any) -> Any:
    """The closest value the field takes: a number clamped to its range, else its default."""
    number = catalog._number(value)
    if number is not None and field.kind in ("integer", "number") and not field.choices:
        low = field.minimum if field.minimum is not None else number
        high = field.maximum if field.maximum is not None else number
        clamped = min(max(number, low), high)
        return int(clamped) if field.kind == "integer" else clamped
    if (
        number is not None
        and field.choices
        and all(catalog._number(c) is not None for c in field.choices)
    ):
        return min(field.choices, key=lambda c: abs(float(c) - number))
    return field.default if field.has_default else None


def _was_set(field: FieldSpec, value: Any) -> bool:
    """Whether leaving the field out loses something: a flag that was on (sound, even by
    default), any other value that is neither neutral nor the default."""
    if field.kind == "flag":
        return value is True
    if value is None or value == "" or value == NEUTRAL.get(field.name):
        return False
    return not (field.has_default and value == field.default)


def _said(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a slider's 2.0 is 2 to a person
    text = str(value)
    return f"“{text[:30]}”" if isinstance(value, str) else text


# --------------------------------------------------------------------------- updates


def crafted_updates(
    spec: ModelSpec, kept: Mapping[str, Any], *, set_prompt: bool = False
) -> dict[str, Any]:
    """gr updates for the crafted widgets, by field name. The images and the seed are
    never updated themselves (their checked input steps live on the page's own instances,
    and an update gives the session a fresh copy): their containers are."""
    updates: dict[str, Any] = {}
    duration = spec.field("duration")
    if duration is not None:
        low, high, step = _slider_range(duration)
        updates["duration"] = gr.Slider(
            minimum=low,
            maximum=high,
            step=step,
            value=kept.get("duration"),
            visible=True,
            label=f"Duration (s) · {low:g}–{high:g}",
        )
    else:
        updates["duration"] = gr.Slider(visible=False)
    ratio = spec.field("aspect_ratio")
    if ratio is not None:
        choices = [("Auto · match start image", AUTO_RATIO)] if not ratio.required else []
        choices += [(str(c), str(c)) for c in ratio.choices]
        value = kept.get("aspect_ratio") or (AUTO_RATIO if not ratio.required else None)
        updates["aspect_ratio"] = gr.Dropdown(choices=choices, value=value, visible=True)
    else:
        updates["aspect_ratio"] = gr.Dropdown(visible=False)
    updates["camera_fixed"] = gr.Checkbox(
        visible=spec.has("camera_fixed"), value=bool(kept.get("camera_fixed", False))
    )
    updates["seed_row"] = gr.Row(visible=spec.has("seed"))
    resolution = spec.field("resolution")
    if resolution is not None and resolution.choices:
        updates["resolution"] = gr.Dropdown(
            choices=[str(c) for c in resolution.choices],
            value=kept.get("resolution") or resolution.default,
            visible=True,
        )
    else:
        updates["resolution"] = gr.Dropdown(visible=False, value=None)
    audio = spec.field("generate_audio")
    updates["generate_audio"] = (
        gr.Checkbox(visible=True, value=bool(kept.get("generate_audio", audio.default)))
        if audio is not None
        else gr.Checkbox(visible=False)  # its value waits for a model that has sound
    )
    prompt = spec.field("prompt")
    # A switch never sets the prompt (a person may be typing it as the switch lands);
    # reuse, load and presets do.
    label = "Motion prompt" + (" (required)" if prompt is not None and prompt.required else "")
    words = {"value": kept.get("prompt") or ""} if set_prompt else {}
    updates["prompt"] = gr.Textbox(label=label, visible=prompt is not None, **words)
    updates["end_box"] = gr.Column(visible=spec.has("last_image"))
    return updates


def _slider_range(field: FieldSpec) -> tuple[float, float, float]:
    """A slider for a number field; evenly spaced choices (5, 10, 15) become its steps."""
    if field.choices:
        numbers = sorted(float(c) for c in field.choices if catalog._number(c) is not None)
        if len(numbers) >= 2:
            steps = {round(b - a, 6) for a, b in itertools.pairwise(numbers)}
            step = steps.pop() if len(steps) == 1 else 1
            return numbers[0], numbers[-1], step
        if numbers:
            return numbers[0], numbers[0], 1
    low = field.minimum if field.minimum is not None else seedance.DURATION_MIN_S
    high = field.maximum if field.maximum is not None else seedance.DURATION_MAX_S
    return low, high, field.step or 1


def slot_updates(spec: ModelSpec, kept: Mapping[str, Any]) -> list[Any]:
    """gr updates for every slot widget, in EXTRA_FIELDS order."""
    placed = extra_fields(spec)
    updates: list[Any] = []
    for i in range(EXTRA_SLOTS):
        field = placed[i] if i < len(placed) else None
        kind = slot_kind(field) if field else None
        for widget in SLOT_KINDS:
            if field is None or widget != kind:
                updates.append(_hidden(widget))
            else:
                updates.append(_slot(widget, field, kept.get(field.name)))
    return updates


def _hidden(widget: str) -> Any:
    return {
        "choice": gr.Dropdown(visible=False),
        "flag": gr.Checkbox(visible=False),
        "slider": gr.Slider(visible=False),
        "number": gr.Number(visible=False),
        "text": gr.Textbox(visible=False),
    }[widget]


def _slot(widget: str, field: FieldSpec, value: Any) -> Any:
    label = field.label + (" (required)" if field.required else "")
    info = field.description or None
    if widget == "choice":
        return gr.Dropdown(
            choices=[str(c) for c in field.choices],
            value=None if value is None else str(value),
            label=label,
            info=info,
            visible=True,
        )
    if widget == "flag":
        return gr.Checkbox(value=bool(value), label=label, info=info, visible=True)
    if widget == "slider":
        return gr.Slider(
            minimum=field.minimum,
            maximum=field.maximum,
            step=field.step or (1 if field.kind == "integer" else 0.01),
            value=value if value is not None else field.minimum,
            label=label,
            info=info,
            visible=True,
        )
    if widget == "number":
        return gr.Number(
            value=value,
            label=label,
            info=info,
            visible=True,
            precision=0 if field.kind == "integer" else None,
        )
    return gr.Textbox(value=value or "", label=label, info=info, visible=True)


# --------------------------------------------------------------------------- notes


def model_note(
    spec: ModelSpec, successor: ModelSpec | None, changed: list[str], source: str = ""
) -> str:
    """What the person should know about this model: retiring, what it lacks, changes, and
    which catalog the models come from (`source`)."""
    parts = []
    if spec.retiring:
        instead = f" WaveSpeed recommends {html.escape(successor.name)}." if successor else ""
        parts.append(
            "<b>Retiring.</b> WaveSpeed is retiring this model: runs may be served by another "
            f"model without notice.{instead}"
        )
    if not spec.has("seed"):
        parts.append("seed: not supported by this model, so a take cannot be repeated exactly.")
    if spec.has("generate_audio"):
        parts.append("This model can generate sound with the video.")
    if missing := unplaced(spec):
        names = ", ".join(f"<code>{html.escape(f.name)}</code>" for f in missing)
        parts.append(f"Also takes {names}: set through the API's <code>options</code>.")
    if changed:
        parts.append("Changed for this model: " + html.escape("; ".join(changed)) + ".")
    if source:
        parts.append(f"<span class='catalog-source'>Models: {html.escape(source)}.</span>")
    if not parts:
        return ""
    return "<div class='hint model-note'>" + "<br>".join(parts) + "</div>"


def describe(spec: ModelSpec, successor: ModelSpec | None) -> dict[str, Any]:
    """A model as `list_models` gives it to scripts and MCP clients."""
    duration = spec.field("duration")
    seconds = duration.default if duration and isinstance(duration.default, int) else 5
    usd = spec.estimate({"duration": seconds})
    return {
        "id": spec.id,
        "name": spec.name,
        "family": spec.family,
        "usd_per_second": None if usd is None else round(usd / seconds, 4),
        "retiring": spec.retiring,
        "successor": successor.id if successor else None,
        "fields": [
            {
                "name": f.name,
                "type": f.kind,
                "required": f.required,
                **({"default": f.default} if f.has_default else {}),
                **({"minimum": f.minimum} if f.minimum is not None else {}),
                **({"maximum": f.maximum} if f.maximum is not None else {}),
                **({"choices": list(f.choices)} if f.choices else {}),
                "description": f.description,
            }
            for f in spec.shown
        ],
    }


def picker_choices(models: catalog.Catalog, everything: bool) -> list[tuple[str, str]]:
    """The model picker: Seedance by family (2.x, 1.5, 1.0 retiring), then the rest, each
    with its price per second."""
    return [
        (f"{m.name} · {per_second(m)}" + (" · retiring" if m.retiring else ""), m.id)
        for m in models.image_to_video(everything)
    ]


def per_second(spec: ModelSpec) -> str:
    duration = spec.field("duration")
    seconds = duration.default if duration and isinstance(duration.default, int) else 5
    usd = spec.estimate({"duration": seconds})
    if usd is None or not seconds:
        return "price unknown"
    return f"≈ ${usd / seconds:.3f}/s"
