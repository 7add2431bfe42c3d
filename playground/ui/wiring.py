"""Every event of the page in one place: which widgets feed which handler, and what it
redraws. Every handler words its own errors (`errors.worded`), so whatever fails reaches
the person as a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.ui.handlers import FORM_SET, PAGE_FIELDS, PRICED_FIELDS, SAVED_FIELDS, Handlers
from playground.ui.layout import CompareTab, HistoryTab, PlayTab, StoryboardTab
from playground.ui.memory import save_form_js
from playground.ui.modelform import EXTRA_FIELDS

# Small events that only touch this page and never speak: no API endpoint, no queue, no
# spinner. Gradio shows no message of an event outside its queue (gr.Info and gr.Warning
# are printed on the server, gr.Error becomes a bare HTTP 500), so these never raise.
PRIVATE: dict[str, Any] = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}
# A person's action on the page: queued, so that what it says (done, or what is wrong and
# what to do) reaches the page as a message.
ACTION: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
# A label fed by several widgets has one listener whose answers arrive in order: with a
# listener per widget, a slow answer for an older value could land last, stale.
LABEL: dict[str, Any] = {**PRIVATE, "trigger_mode": "always_last"}
# Generating is a remote wait, not local compute: many sessions may wait side by side (a
# crowd of 200 in flight, bench/bench_load.py). Spending is bounded by the owner's quotas
# and the account's pacer, not by this.
GENERATE_CONCURRENCY = 256


def wire(
    h: Handlers,
    session: gr.State,
    tabs: gr.Tabs,
    banner: gr.HTML,
    play: PlayTab,
    history: HistoryTab,
    board: StoryboardTab,
    compare: CompareTab,
    memory: Memory,
    loaded: Any,
) -> None:
    """Every event; `loaded` is the page load's (its session found), which the restore of
    what the browser and the server kept follows."""
    f = play.form
    _generate(
        h, session, banner, play, board, _reload(h, session, loaded, banner, play, board, memory)
    )
    _form_helpers(h, session, play)
    _images(h, play)
    _history(h, session, tabs, play, history, compare)

    board.stitch.click(
        h.stitch_storyboard, session, [board.stitched, board.note], api_visibility="private"
    )
    _storyboard(h, session, board)
    play.result.chain.click(
        h.continue_from,
        [play.result.record, session],
        [f.image, f.last_image, board.shots],
        **ACTION,
    )
    play.result.add_shot.click(
        h.add_to_storyboard, [play.result.record, session], board.shots, **ACTION
    )
    play.backend_choice.input(h.set_backend, [play.backend_choice, session], banner, **ACTION)
    # The key is an input of private events only: never recorded in run history.
    keeping = (
        h.keep_key,
        [play.remember_key, session],
        [memory.key, play.key_line, play.forget_key],
    )
    for trigger in (play.save_key.click, play.key.submit):
        trigger(
            h.set_key,
            [play.key, session],
            [play.key, banner, play.backend_choice],
            **ACTION,
        ).success(*keeping, **PRIVATE)
    # Unticking forgets at once what this device kept; ticking keeps the key set now.
    play.remember_key.input(*keeping, **PRIVATE)
    play.forget_key.click(
        h.forget_key,
        session,
        [memory.key, banner, play.backend_choice, play.key_line, play.forget_key],
        **ACTION,
    )
    # The browser keeps the form as it changes, by itself: no request per keystroke.
    kept = [_page_widget(play, name) for name in SAVED_FIELDS]
    gr.on(
        [w.change for w in kept],
        None,
        kept,
        memory.form,
        js=save_form_js(SAVED_FIELDS),
        **PRIVATE,
    )


def _storyboard(h: Handlers, session: gr.State, board: StoryboardTab) -> None:
    """Pick a shot, move or remove it; Clear asks first."""
    picking = [board.picked, board.picked_note]
    board.shots.select(h.pick_shot, session, picking, **ACTION)
    for button, move in ((board.earlier, h.move_shot_earlier), (board.later, h.move_shot_later)):
        button.click(move, [board.picked, session], [board.shots, board.picked_note], **ACTION)
    board.remove.click(h.remove_shot, [board.picked, session], [board.shots, *picking], **ACTION)
    board.clear.click(h.ask_to_clear, session, [board.confirm, board.question], **ACTION)
    board.keep.click(h.keep_storyboard, session, board.confirm, **ACTION)
    board.yes_clear.click(
        h.clear_storyboard,
        session,
        [board.shots, board.stitched, board.note, *picking, board.confirm],
        **ACTION,
    )


def _reload(
    h: Handlers,
    session: gr.State,
    loaded: Any,
    banner: gr.HTML,
    play: PlayTab,
    board: StoryboardTab,
    memory: Memory,
) -> Any:
    """A page (re)load, in order: the key this device kept, the form as it was left, the
    picker's models, the storyboard. Returns the last step, which the result's restore
    follows (it may wait for a run to end)."""
    keyed = loaded.then(
        h.restore_key,
        [session, memory.key],
        [banner, play.backend_choice, play.key_line, play.forget_key],
        **PRIVATE,
    )
    typed = [_page_widget(play, n) for n in ("image_url", "last_image_url", "upscale")]
    formed = keyed.then(h.restore_form, [session, memory.form], [*form_set(play), *typed], **ACTION)
    # The session's catalog (the live one, once read) lists the picker's models. The form
    # was set at build for the default model; a switch would race a person's first clicks
    # (and reset what they chose).
    listed = formed.then(
        h.list_in_picker, [session, play.models.show_all], play.form.model, **PRIVATE
    )
    listed.then(h.storyboard_view, session, board.shots, **PRIVATE)
    return listed


def _generate(
    h: Handlers,
    session: gr.State,
    banner: gr.HTML,
    play: PlayTab,
    board: StoryboardTab,
    reloaded: Any,
) -> None:
    """Generate, its public API twin, Variations, Cancel, and a reloaded page's result."""
    shared_limit = {"concurrency_limit": GENERATE_CONCURRENCY, "concurrency_id": "generate"}
    # The public endpoint takes exactly the API's eight parameters; the page's button adds
    # its extras through a private twin of the same event.
    api_trigger = gr.Button(visible=False)
    # /generate's newer parameters have inputs of their own: a page widget's value (audio on
    # for the model on show) would become the API's default, and spend more than asked.
    resolution = gr.Textbox(visible=False)
    generate_audio = gr.Checkbox(False, visible=False)
    options = gr.Textbox(visible=False)  # other fields of the model by name, as JSON
    # Its status is words for a script (the page's line is HTML).
    said = gr.Textbox(visible=False, label="Status")
    api_trigger.click(
        h.generate,
        [*play.form.api, resolution, generate_audio, options, session],
        [play.result.video, play.result.record, said],
        api_name="generate",
        **shared_limit,
    )
    lister = gr.Button(visible=False)
    everything = gr.Checkbox(visible=False)
    lister.click(
        h.list_models, everything, gr.JSON(visible=False), api_name="list_models", queue=False
    )

    def shown(run: Any) -> Any:
        """What follows a run on show: its card, its code, the banner, the rerun offer."""
        run.then(h.run_card, [play.result.record, session], play.result.card, **PRIVATE).then(
            h.copy_as_code, [play.result.record, session], play.result.code, **PRIVATE
        ).then(h.backend_banner, session, banner, **PRIVATE).then(
            h.rerun_offer, session, play.result.rerun_silent, **PRIVATE
        )
        return run

    r = play.result
    # What a page's run redraws: the result, the status, the grid, the queue, the card.
    page_outputs = [r.video, r.record, r.status, r.batch_view, r.queue, r.card]
    # Each press is a job: pressed during a run, it queues behind it (ui.handlers).
    private = {**shared_limit, "trigger_mode": "multiple", "show_progress": "hidden"}
    private["api_visibility"] = "private"

    def generating(trigger: Any) -> Any:
        return shown(
            trigger(
                h.generate_on_page,
                [session, *play.form.page],
                page_outputs,
                **private,
            )
        )

    run = generating(play.go.click)
    silent = r.rerun_silent.click(
        h.audio_off, session, [play.form.generate_audio, r.rerun_silent], **ACTION
    )
    rerun = generating(silent.then)
    batch = play.batch_go.click(
        h.generate_variations,
        [session, play.var_count, play.variants, *play.form.page],
        page_outputs,
        **private,
    )
    batch.then(h.backend_banner, session, banner, **PRIVATE)  # quota left on a demo key
    # The queue's buttons and the tiles' Open: one event (running paused jobs streams).
    acted = [
        shown(block.click(h.queue_action, session, page_outputs, **private))
        for block in (r.queue, r.batch_view)
    ]
    # What the page showed before it was (re)loaded, from the server's records; a run
    # still going is followed to its end, like one just started.
    latest = [r.video, r.record, r.status, r.batch_view]
    follow = {"api_visibility": "private", "show_progress": "hidden", **shared_limit}
    restored = shown(reloaded.then(h.restore_result, session, latest, **follow))
    reloaded.then(h.restore_queue, session, r.queue, **PRIVATE)
    running = [run, rerun, batch, restored, *acted]
    stopped = play.stop.click(h.cancel, session, [r.status, r.queue], cancels=running, **ACTION)
    # What Cancel stopped waiting for still fills in here when it ends.
    shown(stopped.then(h.fill_in, session, latest, **follow))
    # Not cancelling the runs: whoever waits for a task sees it end as WaveSpeed says.
    play.stop_server.click(h.stop_on_wavespeed, session, r.status, **ACTION)


@dataclass
class Memory:
    """What the browser keeps between visits (ui.memory)."""

    form: gr.BrowserState
    key: gr.BrowserState


def _page_widget(play: PlayTab, name: str) -> gr.components.Component:
    """The form's widget for a page field (PAGE_FIELDS)."""
    return play.form.page[PAGE_FIELDS.index(name)]


def form_set(play: PlayTab) -> list[gr.components.Component]:
    """What every change of the form's model sets (handlers.FORM_SET), then the slots."""
    f, m = play.form, play.models
    named = {"shown": m.shown, "note": m.note, "successor": m.successor}
    crafted = [named[n] if n in named else getattr(f, n) for n in FORM_SET]
    return [*crafted, *(f.extras[n] for n in EXTRA_FIELDS)]


def _form_helpers(h: Handlers, session: gr.State, play: PlayTab) -> None:
    """The model and the form it sets, prices on the buttons, the prompt's counter and
    builder, seeds, reuse, presets."""
    f, m = play.form, play.models
    setting = form_set(play)
    if play.presets is not None:
        play.presets.select(
            h.apply_preset,
            [session, m.shown],
            [f.image, f.last_image, *setting],
            api_visibility="private",
        )
    f.model.input(h.switch_model, [session, f.model, m.shown, *f.page], setting, **ACTION)
    m.successor.click(h.to_successor, [session, m.shown, *f.page], setting, **ACTION)
    m.show_all.input(h.picker, [session, m.show_all, f.model], f.model, **ACTION)
    # One listener for the three price labels, fed by everything that moves the price
    # (see LABEL); a quote is cached by the inputs that move it.
    priced = [
        f.model,
        *(getattr(f, n) for n in PRICED_FIELDS),
        play.var_count,
        play.variants,
        *(f.extras[n] for n in EXTRA_FIELDS),
    ]
    # The values as the browser sent them (preprocess=False): Gradio's own checks would
    # refuse a slider value from just before a model switch changed its range, and a
    # refused label shows an error badge; the handler checks them itself.
    gr.on(
        [w.change for w in priced],
        h.price_labels,
        [session, *priced],
        [play.price, play.go, play.batch_go],
        preprocess=False,
        **LABEL,
    )
    f.prompt.change(h.prompt_count, f.prompt, play.count, **PRIVATE)
    for move in play.moves:
        move.click(h.camera_move, [f.prompt, move], [f.prompt, f.camera_fixed], **ACTION)
    play.compose.click(h.compose_beats, play.beats, f.prompt, **ACTION)
    play.dice.click(h.random_seed, None, f.seed, **PRIVATE)
    play.reuse_last.click(h.last_seed, session, f.seed, **ACTION)
    play.result.use_seed.click(h.reuse_seed, [play.result.record, session], f.seed, **ACTION)
    play.result.use_all.click(h.reuse_settings, [play.result.record, session], setting, **ACTION)


def _images(h: Handlers, play: PlayTab) -> None:
    """Upload or address, whichever came last; the framing preview and the shape note."""
    f = play.form
    checks = (
        (f.image, play.image_checks["image"], h.check_start_image),
        (f.last_image, play.image_checks["last_image"], h.check_end_image),
    )
    for picture, note, check in checks:
        # Checked as it arrives (dropped, a preset, a chained frame: a header read); the
        # upscale box changes what a small image means.
        gr.on(
            [picture.change, f.upscale.change],
            check,
            [picture, f.upscale, note],
            [picture, note],
            **PRIVATE,
        )
    for picture, address in ((f.image, f.image_url), (f.last_image, f.last_image_url)):
        picture.change(h.upload_replaces_url, [picture, address], address, **PRIVATE)
        gr.on(
            [address.submit, address.blur],
            h.url_replaces_upload,
            [address, picture],
            picture,
            **ACTION,
        )
    url_typed = [
        f.image_url.submit,
        f.image_url.blur,
        f.last_image_url.submit,
        f.last_image_url.blur,
    ]
    gr.on(
        [f.image.change, f.aspect_ratio.change, f.image_url.submit, f.image_url.blur],
        h.preview_framing,
        [f.image, f.aspect_ratio, f.image_url],
        play.framing,
        **PRIVATE,
    )
    gr.on(
        [f.image.change, f.last_image.change, *url_typed],
        h.end_image_note,
        [f.image, f.last_image, f.image_url, f.last_image_url],
        play.end_note,
        **PRIVATE,
    )


def _history(
    h: Handlers,
    session: gr.State,
    tabs: gr.Tabs,
    play: PlayTab,
    history: HistoryTab,
    compare: CompareTab,
) -> None:
    """History's list and its filters, selection, star, note, load, delete and undo;
    Compare's picks."""
    f = play.form
    listing = [history.runs, history.listed, history.spent, history.model]
    narrowed = [history.search, session, *history.filters]
    watched = [history.unfinished, history.watch]
    watch = (h.watch_unfinished, [history.listed, session], watched)  # after every listing
    for trigger in (history.tab.select, history.refresh.click):
        trigger(h.list_runs, narrowed, listing, **ACTION).then(*watch, **PRIVATE)
    # Search as you type, and each filter as it is picked: only the newest answer is drawn
    # (one SQLite query each). `.input`, not `.change`: the list redraws the model filter.
    gr.on(
        [history.search.change, *(w.input for w in history.filters)],
        h.list_runs,
        narrowed,
        listing,
        trigger_mode="always_last",
        **ACTION,
    ).then(*watch, **PRIVATE)
    selected = [history.video, history.card, history.record, history.star, history.note]
    # A run still going updates itself: the timer looks until none of the listed is.
    history.watch.tick(
        h.history_tick,
        [history.unfinished, history.record, *narrowed],
        [*listing, *selected, *watched],
        **PRIVATE,
    )
    history.runs.select(h.show_run, [history.listed, session], selected, **ACTION)
    history.load.click(
        h.load_run_into_form,
        [history.record, session],
        [f.image, f.last_image, f.image_url, f.last_image_url, tabs, *form_set(play)],
        **ACTION,
    )
    history.star.click(
        h.toggle_star,
        [history.record, *narrowed],
        [*listing, history.card, history.star],
        **ACTION,
    )
    history.save_note.click(
        h.save_note,
        [history.record, history.note, session],
        [history.card, history.note],
        **ACTION,
    )
    undoable = [history.undo_row, history.undo_note]
    picks = (h.compare_choices, [compare.picks, session], compare.board)
    history.delete.click(
        h.delete_run, [history.record, *narrowed], [*listing, *selected, *undoable], **ACTION
    ).success(*picks, **PRIVATE)
    history.undo.click(h.undo_delete, narrowed, [*listing, *selected, *undoable], **ACTION).then(
        *picks, **PRIVATE
    )
    history.add_compare.click(
        h.add_to_compare, [history.record, compare.picks, session], compare.board, **ACTION
    )
    compare.tab.select(*picks, **ACTION)
    # Picking by thumbnail or from the list: both redraw the other and the line.
    compare.thumbs.select(
        h.toggle_pick, [compare.shown, compare.picks, session], compare.board, **ACTION
    )
    compare.picks.input(*picks, **ACTION)
    compare.compare.click(h.compare_runs, [compare.picks, session], compare.view, **ACTION)
