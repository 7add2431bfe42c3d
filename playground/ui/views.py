"""What the page shows, as pure functions from values to HTML (or text): no Gradio here.

Every value from a record or a visitor is escaped here; the CSS classes are those of
`static/style.css`, and the status line's data attributes are what `static/page.js`
reads to keep its clock running between the server's updates.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from playground.flow.generation import Progress, Stage
from playground.flow.jobs import Job, JobState
from playground.flow.prices import Price
from playground.flow.service import RunList, Standing, Stitched
from playground.model import seedance
from playground.model.status import RunStatus
from playground.store.history import OFFLINE_BACKEND

OFFLINE = OFFLINE_BACKEND  # the backend an offline run records (flow.routes)
OFFLINE_LABEL = "Offline · synthetic motion, not Seedance"
READY = "Ready · add a start image, describe the motion, press Generate"
COMPARED_FIELDS = (
    "model",
    "prompt",
    "seed",
    "duration",
    "aspect_ratio",
    "resolution",
    "camera_fixed",
    "generate_audio",
)


def status_html(text: str, kind: str = "idle") -> str:
    """The status line: idle, busy, ok, warn or error (anything but busy stops the page's
    clock)."""
    return f"<div class='status {kind}'>{html.escape(text)}</div>"


def progress_html(progress: Progress) -> str:
    """The status line, with what the page's clock needs to keep it live between updates."""
    live = progress.stage in (Stage.QUEUED, Stage.PROCESSING)
    eta = f" data-eta='{progress.eta_s:.1f}'" if live and progress.eta_s is not None else ""
    return (
        f"<div class='status busy' data-elapsed='{progress.elapsed_s:.1f}'"
        f" data-stage='{html.escape(progress.stage.value.capitalize())}'{eta}>"
        f"{html.escape(progress.describe())}</div>"
    )


def done_text(total_s: float, seed: int | None) -> str:
    return f"Done in {total_s:.1f} s · " + ("no seed" if seed is None else f"seed {seed}")


def note(text: str) -> str:
    """A warning under a widget."""
    return f"<div class='hint warn-text'>{html.escape(text)}</div>"


def hint(text_html: str) -> str:
    """A quiet line of help; `text_html` is trusted markup made here."""
    return f"<div class='hint'>{text_html}</div>"


# --------------------------------------------------------------------------- prices


def price_text(price: Price, duration: Any, *, offline: bool = False) -> str:
    """What the click costs, said before the click: quoted, estimated ("≈") or unknown."""
    cost = seedance.format_price(price.usd, quoted=price.quoted)
    if offline:
        elsewhere = (
            f"on WaveSpeed: {html.escape(cost)}"
            if price.known
            else "WaveSpeed's price for this model is unknown here"
        )
        return hint(f"Offline runs are <b>free</b> ({elsewhere}). Ctrl+Enter generates.")
    where = "quoted by WaveSpeed" if price.quoted else "estimated from the catalog"
    if not price.known:
        return hint(
            "This model's price is <b>unknown</b> here: runs on this demo's key are refused; "
            "with your own key you pay WaveSpeed's price. Ctrl+Enter generates."
        )
    return hint(
        f"This run costs <b>{html.escape(cost)}</b> ({html.escape(str(duration))} s, {where}). "
        "Ctrl+Enter generates."
    )


def generate_text(price: Price, *, offline: bool = False) -> str:
    cost = "free" if offline else seedance.format_price(price.usd, quoted=price.quoted)
    return f"Generate · {cost}"


def batch_text(price: Price, runs: int, *, offline: bool = False) -> str:
    """The batch's price on its button, before the click."""
    total = "free" if offline else seedance.format_price(price.usd, quoted=price.quoted, runs=runs)
    return f"Run {runs} variations · {total}"


def prompt_count(prompt: str | None) -> str:
    n = len(prompt or "")
    cls = "count over" if n > seedance.PROMPT_MAX_CHARS else "count"
    return f"<div class='{cls}'>{n} / {seedance.PROMPT_MAX_CHARS}</div>"


# --------------------------------------------------------------------------- the run


def run_card(record: Mapping[str, Any] | None, *, starred: bool = False, note: str = "") -> str:
    """A run as a card of facts beside its video; History's card adds the person's star
    and note."""
    if not record:
        return "<div class='card empty'>Your run’s seed, timings and cost appear here.</div>"
    t = record.get("timings") or {}
    inputs = record.get("inputs") or {}

    def secs(value: float | None) -> str:
        return "–" if value is None else f"{value:.1f} s"

    cost = record.get("cost_usd")
    seed = record.get("seed")
    rows = []
    if starred:
        rows.append(("Star", "<b class='star'>★ starred</b>"))
    if note:
        rows.append(("Note", f"<span class='run-note'>{html.escape(note)}</span>"))
    rows += [
        (
            "Seed",
            "not supported by this model"
            if seed is None
            else f"<code>{html.escape(str(seed))}</code>",
        ),
        ("Model", html.escape(str(record.get("model", "")))),
        ("Status", _status_cell(record.get("status"))),
        ("Made", html.escape(_made(record.get("created_at")))),
        (
            "Prompt",
            html.escape(_short(str(inputs.get("prompt") or "no prompt"), CARD_PROMPT_CHARS)),
        ),
    ]
    if served := record.get("served_by"):
        rows.append(
            (
                "Served by",
                f"<b class='flag'>WaveSpeed served this run with {html.escape(str(served))}</b>",
            )
        )
    rows += [
        ("Duration", f"{html.escape(str(inputs.get('duration', '?')))} s"),
        ("Aspect ratio", html.escape(str(inputs.get("aspect_ratio") or "match image"))),
    ]
    if "resolution" in inputs:
        rows.append(("Resolution", html.escape(str(inputs["resolution"]))))
    if "camera_fixed" in inputs:
        rows.append(("Camera", "fixed" if inputs.get("camera_fixed") else "free"))
    if "generate_audio" in inputs:
        rows.append(("Sound", "with sound" if inputs["generate_audio"] else "silent"))
    if stop := record.get("stop"):
        rows.append(("Stop", html.escape(str(stop))))
    rows += [
        ("Cost", _cost(cost, bool(record.get("cost_quoted")), record.get("backend") == OFFLINE)),
        ("Inference (server)", secs(t.get("inference_s"))),
        ("Queue + polling", secs(t.get("queue_s"))),
        ("Upload · download", f"{secs(t.get('upload_s'))} · {secs(t.get('download_s'))}"),
        ("Total wall time", secs(t.get("total_s"))),
        ("NSFW flag", "<b class='flag'>flagged</b>" if record.get("nsfw") else "no"),
        ("Backend", html.escape(str(record.get("backend", "")))),
        ("Task id", f"<code>{html.escape(str(record.get('id', '')))}</code>"),
    ]
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f"<dl class='card'>{body}</dl>"


CARD_PROMPT_CHARS = 280  # a card is a glance; the whole prompt is in the form after Reuse


def _status_cell(status: Any) -> str:
    text = html.escape(str(status or "unknown"))
    return text if status == RunStatus.COMPLETED else f"<b class='flag'>{text}</b>"


def _made(created_at: Any, layout: str = "%Y-%m-%d %H:%M UTC") -> str:
    """When a run was made, in UTC to the minute ("2026-12-04 00:42 UTC")."""
    try:
        when = datetime.fromisoformat(str(created_at))
    except ValueError:
        return "unknown"
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime(layout)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cost(usd: Any, quoted: bool, offline: bool = False) -> str:
    if offline:
        known = isinstance(usd, int | float)
        return "free (offline)" + (
            f" · would cost {seedance.format_price(float(usd), quoted=quoted)} on WaveSpeed"
            if known
            else ""
        )
    if not isinstance(usd, int | float):
        return "price unknown"
    return seedance.format_price(float(usd), quoted=quoted) + ("" if quoted else " (estimate)")


def stored_card(run: Any) -> str:
    """History's card of a stored run (StoredRun): its record, star and note."""
    return run_card(run.record, starred=run.starred, note=run.note)


def caption(record: Mapping[str, Any], *, starred: bool = False) -> str:
    """One line naming a run in a gallery or a list; a starred run's starts with ★."""
    inputs = record.get("inputs") or {}
    status = record.get("status", "")
    mark = ("★ " if starred else "") + ("" if status == RunStatus.COMPLETED else f"[{status}] ")
    prompt = (inputs.get("prompt") or "no prompt")[:40]
    return f"{mark}{seed_text(record.get('seed'))} · {inputs.get('duration', '?')} s · {prompt}"


def pick_label(record: Mapping[str, Any], *, starred: bool = False) -> str:
    """Compare's label for a run: when (UTC, to the second), seed, the prompt's start and
    the task id's, so that runs of one prompt read apart
    ("★ 05-01 14:32:07 · seed 7 · A kite rises over the dunes… · #3f2a")."""
    made = _made(record.get("created_at"), "%m-%d %H:%M:%S")
    prompt = _short(str((record.get("inputs") or {}).get("prompt") or "no prompt"), 32)
    star = "★ " if starred else ""
    seed = seed_text(record.get("seed"))
    return f"{star}{made} · {seed} · {prompt} · #{str(record.get('id'))[:4]}"


def thumb_label(record: Mapping[str, Any], *, picked: bool, starred: bool = False) -> str:
    """A Compare thumbnail's caption, prompt first (the picture shows the rest): "✓ ★ A kite
    rises over the dunes · 14:32:07"; ✓ marks a picked one (the page rings it too)."""
    prompt = _short(str((record.get("inputs") or {}).get("prompt") or "no prompt"), 40)
    marks = ("✓ " if picked else "") + ("★ " if starred else "")
    return f"{marks}{prompt} · {_made(record.get('created_at'), '%H:%M:%S')}"


def compare_summary(picked: int, available: int, most: int) -> str:
    """The line under Compare's pickers: how many are picked and what to do next."""
    if available < 2:
        what = "No finished runs yet" if not available else "Only one finished run so far"
        text = f"{what}: make runs on Playground, then pick two or more here."
    elif picked == 0:
        text = f"Click two to {most} runs to pick them; click a picked one to unpick it."
    elif picked == 1:
        text = "1 run picked: pick one more to compare it with."
    else:
        full = " (as many as fit side by side)" if picked >= most else ""
        text = f"{picked} runs picked{full}: press Compare."
    return hint(html.escape(text))


def seed_text(seed: Any) -> str:
    return "no seed" if seed is None else f"seed {seed}"


def variation_label(index: int, seed: int | None, prompt: str) -> str:
    return f"#{index + 1} · {seed_text(seed)} · {prompt[:60] or 'no prompt'}"


def batch_summary(done: int, failed: int, total: int) -> tuple[str, str]:
    """The batch's status line and its kind."""
    text = f"{done} of {total} done" + (f", {failed} failed" if failed else "")
    kind = ("ok" if not failed else "warn") if done + failed == total else "busy"
    return text, kind


# --------------------------------------------------------------------------- after a reload


def restored_status(record: Mapping[str, Any], has_video: bool, *, opened: bool = False) -> str:
    """The status line for the run a page shows again when it loads (or, `opened`, the
    run of a tile or a queued job the person opened)."""
    status = RunStatus(record.get("status") or RunStatus.PROCESSING)
    task = str(record.get("id") or "")[:12]
    which = f"Run {task}…" if opened else "Your last run"
    if not status.finished:
        return status_html(
            f"{which} is still going (task {task}…, {status}): it appears in History when "
            "done" + (", and here" if not opened else "") + ".",
            "busy",
        )
    if status is RunStatus.COMPLETED and has_video:
        total = (record.get("timings") or {}).get("total_s") or 0.0
        return status_html(f"{which} · {done_text(total, record.get('seed'))}", "ok")
    if status is RunStatus.COMPLETED:
        return status_html(
            f"{which} finished, but its video is no longer on this server; its settings "
            "are in History.",
            "warn",
        )
    reason = record.get("error") or "WaveSpeed gave no reason"
    return status_html(f"{which} ended {status}: {reason}. Its record is in History.", "warn")


def restored_batch(runs: list[Any]) -> str:
    """The status line for variations a page shows again (runs: StoredRun)."""
    done = sum(run.status is RunStatus.COMPLETED for run in runs)
    ended = sum(run.finished for run in runs)
    text, kind = batch_summary(done, ended - done, len(runs))
    if ended < len(runs):
        text += "; the others are still going and fill in here"
    return status_html(f"Your last variations · {text}", kind)


def stored_cell(index: int, record: Mapping[str, Any]) -> tuple[str | None, str]:
    """A variation's tile from its record: its video once done, else its status."""
    inputs = record.get("inputs") or {}
    label = variation_label(index, record.get("seed"), str(inputs.get("prompt") or ""))
    if record.get("status") == RunStatus.COMPLETED and record.get("video_path"):
        return record["video_path"], label
    return None, f"{label} · {record.get('status', 'waiting')}"


# --------------------------------------------------------------------------- the queue

JOB_STATES = {
    JobState.QUEUED: ("busy", "Queued"),
    JobState.RUNNING: ("busy", "Running"),
    JobState.DONE: ("ok", "Done"),
    JobState.FAILED: ("warn", "Failed"),
    JobState.LEFT: ("warn", "In the background"),
    JobState.PAUSED: ("idle", "Paused"),
    JobState.REMOVED: ("idle", "Removed"),
}


def job_label(request: seedance.SeedanceRequest) -> str:
    """What a job asks for, in a line: its seed, length and prompt's start."""
    seed = "random seed" if request.seed == seedance.RANDOM_SEED else seed_text(request.seed)
    prompt = _short(request.prompt or "no prompt", 60)
    return f"{seed} · {request.duration} s · {prompt}"


def job_price(request: seedance.SeedanceRequest, runs: int, offline: bool) -> str:
    cost = seedance.format_price(request.cost_usd, quoted=request.quoted_usd is not None, runs=runs)
    return f"free · would cost {cost} on WaveSpeed" if offline else cost


def queue_view(jobs: list[Job], position: Callable[[Job], int]) -> str:
    """The page's queue, newest first: each job's state, what it asks, its price, how it
    ended, and its buttons (data attributes the panel's script sends back)."""
    if not jobs:
        return ""
    rows = [_job_row(job, position(job)) for job in reversed(jobs)]
    paused = sum(job.state is JobState.PAUSED for job in jobs)
    head = ""
    if paused:
        head = (
            "<div class='queue-paused'>"
            + html.escape(
                f"{paused} queued run{'s' if paused > 1 else ''} paused when the page went "
                f"away; nothing was spent on {'them' if paused > 1 else 'it'}."
            )
            + _button("Run them now", "resume", primary=True)
            + "</div>"
        )
    return f"<div class='queue'><h4>Queue</h4>{head}<ol>{''.join(rows)}</ol></div>"


def _job_row(job: Job, ahead: int) -> str:
    kind, word = JOB_STATES[job.state]
    if job.state is JobState.QUEUED and ahead:
        word = f"Queued · {ahead} ahead"
    buttons = ""
    if job.state.waiting:
        buttons = _button("Remove", "remove", job=job.id)
    elif job.state is JobState.RUNNING:
        buttons = _button("Stop on WaveSpeed", "stop", job=job.id)
    elif job.run_ids and job.runs == 1:
        buttons = _button("Open", "open", run=job.run_ids[0])
    note = f"<div class='job-note'>{html.escape(job.note)}</div>" if job.note else ""
    return (
        f"<li class='job {job.state}' data-job='{html.escape(job.id)}'>"
        f"<span class='badge {kind}'>{html.escape(word)}</span>"
        f"<span class='job-what'>{html.escape(job.label)}</span>"
        f"<span class='job-price'>{html.escape(job.price)}</span>{buttons}{note}</li>"
    )


def _button(text: str, act: str, *, primary: bool = False, **data: str) -> str:
    attrs = "".join(f" data-{k}='{html.escape(v)}'" for k, v in data.items())
    cls = "act primary" if primary else "act"
    label = html.escape(text)
    return f"<button type='button' class='{cls}' data-act='{act}'{attrs}>{label}</button>"


def key_line(kept: bool) -> str:
    """Shown while the visitor's own key is set; `kept`: this device keeps it as well."""
    where = "set for this page and kept on this device (encrypted)" if kept else "set for this page"
    return (
        f"<div class='hint key-line'>Your key is {where}. Forget drops it here"
        + (" and from this device." if kept else ".")
        + "</div>"
    )


# --------------------------------------------------------------------------- the session


def banner(standing: Standing) -> str:
    """Which backend this session generates with, said plainly wherever it matters."""
    kind, text = {
        "offline": (
            "offline",
            f"<b>{OFFLINE_LABEL}.</b> A local emulator animates your image for free, so you "
            "can try everything. Add a WaveSpeed key under “Backend & API key” for real "
            "Seedance videos.",
        ),
        "visitor": ("live", "<b>WaveSpeed · Seedance.</b> Using the key you entered."),
        "sign-in": (
            "warn",
            f"<b>Sign in required.</b> {html.escape(standing.sign_in_message)}",
        ),
        "no-key": (
            "warn",
            "<b>No WaveSpeed API key is set.</b> Enter yours under “Backend & API key”, or "
            "switch to Offline.",
        ),
    }.get(standing.kind) or _owner_banner(standing)
    if standing.store_damaged:
        kind, text = "warn", f"<b>{html.escape(standing.store_damaged)}</b> {text}"
    return f"<div class='banner {kind}'><span class='dot'></span><span>{text}</span></div>"


def _owner_banner(standing: Standing) -> tuple[str, str]:
    if not standing.quota_left:
        return "live", "<b>WaveSpeed · Seedance.</b> Using the key from the environment."
    signed_in = (
        " Signed in: your runs and limits follow your account." if standing.signed_in else ""
    )
    return "live", (
        "<b>WaveSpeed · Seedance on this demo's key.</b> "
        f"{html.escape(standing.quota_left)}. Your own key has no limits.{signed_in}"
    )


# --------------------------------------------------------------------------- the library


def history_summary(listed: RunList) -> str:
    """Runs, and money: spent on WaveSpeed, and what the free offline runs would have cost."""
    text = (
        f"{len(listed.runs)} runs · {len(listed.completed)} completed · total spent "
        f"<b>{seedance.format_usd(listed.total_spent_usd)}</b>"
    )
    if listed.would_have_cost_usd:
        text += (
            f" · offline runs were free (they would have cost "
            f"{seedance.format_usd(listed.would_have_cost_usd)} on WaveSpeed)"
        )
    ignored = "".join(note(n) for n in listed.ignored)
    return hint(text) + ignored


def undo_note(run_id: str) -> str:
    """Shown beside Undo after a delete."""
    return (
        f"<div class='hint' id='undo-text'>Run deleted · <code>{html.escape(run_id[:8])}</code>"
        " · Undo brings it back with its files</div>"
    )


def stitch_note(stitched: Stitched) -> str:
    if stitched.reencoded:
        how = "re-encoded (the clips differ)"
    elif stitched.sound_rebuilt:  # the pictures copied, the sound not: say so
        how = "joined without re-encoding the picture; sound rebuilt (the shots' sound differs)"
    else:
        how = "joined without re-encoding"
    return hint(f"{stitched.shots} shots · {stitched.total_s} s · {how}")


def video_grid(cells: list[tuple[str | None, str]], run_ids: list[str | None] | None = None) -> str:
    """Videos side by side that the page script plays in sync; a cell without a video
    shows its caption as a status instead. With `run_ids`, each tile whose task exists
    has an "Open" button that puts its run in the result area. Captions are escaped here."""
    figures = []
    for index, (path, text) in enumerate(cells):
        if path:
            media_html = (
                f"<video src='/gradio_api/file={quote(path)}' muted loop playsinline autoplay "
                "preload='auto'></video>"
            )
        else:
            media_html = f"<div class='pending'>{html.escape(text)}</div>"
        run_id = run_ids[index] if run_ids and index < len(run_ids) else None
        opener = _button("Open", "open", run=run_id) if run_id else ""
        figures.append(
            f"<figure>{media_html}<figcaption>{html.escape(text)}</figcaption>{opener}</figure>"
        )
    return (
        "<div class='sync-block'><div class='compare-grid'>"
        + "".join(figures)
        + "</div><div class='compare-controls'><button class='compare-play'>Play all</button>"
        "<button class='compare-pause'>Pause all</button></div></div>"
    )


def compare_view(records: list[Mapping[str, Any]]) -> str:
    """Videos side by side (played in sync by the page script) and the settings that differ."""
    rows = []
    for name in COMPARED_FIELDS:
        values = [_field(r, name) for r in records]
        cls = " class='diff'" if len(set(values)) > 1 else ""
        cells = "".join(f"<td>{html.escape(v)}</td>" for v in values)
        rows.append(f"<tr{cls}><th>{name}</th>{cells}</tr>")
    grid = video_grid([(r.get("video_path"), seed_text(r.get("seed"))) for r in records])
    return f"{grid}<table class='compare-table'>{''.join(rows)}</table>"


def _field(record: Mapping[str, Any], name: str) -> str:
    inputs = record.get("inputs") or {}
    value = record.get(name) if name in ("seed", "model") else inputs.get(name)
    return "match image" if name == "aspect_ratio" and not value else str(value)
