"""Every event of the page in one place: which widgets feed which handler, and what it
redraws. Every handler words its own errors (`errors.worded`), so whatever fails reaches
the person as a sentence.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.ui.handlers import Handlers
from playground.ui.layout import CompareTab, HistoryTab, PlayTab, StoryboardTab

# Small events that only touch this page: no API endpoint, no queue, no spinner.
PRIVATE: dict[str, Any] = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}
# A label fed by several widgets has one listener whose answers arrive in order: with a
# listener per widget, a slow answer for an older value could land last, stale.
LABEL: dict[str, Any] = {**PRIVATE, "trigger_mode": "always_last"}
# Generating is a remote wait, not local compute: many sessions may wait side by side.
GENERATE_CONCURRENCY = 64


def wire(
    h: Handlers,
    session: gr.State,
    tabs: gr.Tabs,
    banner: gr.HTML,
    play: PlayTab,
    history: HistoryTab,
    board: StoryboardTab,
    compare: CompareTab,
) -> None:
    f = play.form
    _generate(h, session, banner, play, board)
    _form_helpers(h, session, play)
    _images(h, play)
    _history(h, session, tabs, play, history, compare)

    board.stitch.click(
        h.stitch_storyboard, session, [board.stitched, board.note], api_visibility="private"
    )
    board.clear.click(
        h.clear_storyboard, session, [board.shots, board.stitched, board.note], **PRIVATE
    )
    play.result.chain.click(
        h.continue_from,
        [play.result.record, session],
        [f.image, f.last_image, board.shots],
        **PRIVATE,
    )
    play.result.add_shot.click(
        h.add_to_storyboard, [play.result.record, session], board.shots, **PRIVATE
    )
    play.backend_choice.input(h.set_backend, [play.backend_choice, session], banner, **PRIVATE)
    # The key is an input of private events only: never recorded in run history.
    for trigger in (play.save_key.click, play.key.submit):
        trigger(
            h.set_key,
            [play.key, session],
            [play.key, banner, play.backend_choice],
            **PRIVATE,
        )


def _generate(
    h: Handlers, session: gr.State, banner: gr.HTML, play: PlayTab, board: StoryboardTab
) -> None:
    """Generate, its public API twin, Variations and Cancel."""
    shared_limit = {"concurrency_limit": GENERATE_CONCURRENCY, "concurrency_id": "generate"}
    outputs = [play.result.video, play.result.record, play.result.status]
    # The public endpoint takes exactly the API's eight parameters; the page's button adds
    # its extras through a private twin of the same event.
    api_trigger = gr.Button(visible=False)
    api_trigger.click(
        h.generate, [*play.form.api, session], outputs, api_name="generate", **shared_limit
    )
    run = play.go.click(
        h.generate_on_page,
        [session, *play.form.page],
        outputs,
        api_visibility="private",
        show_progress="minimal",
        **shared_limit,
    )
    run.then(h.run_card, [play.result.record, session], play.result.card, **PRIVATE).then(
        h.copy_as_code, [play.result.record, session], play.result.code, **PRIVATE
    ).then(h.backend_banner, session, banner, **PRIVATE)
    batch = play.batch_go.click(
        h.generate_variations,
        [session, play.var_count, play.variants, *play.form.page],
        [play.result.batch_view, play.result.status],
        api_visibility="private",
        concurrency_limit=GENERATE_CONCURRENCY,
        show_progress="hidden",
    )
    batch.then(h.backend_banner, session, banner, **PRIVATE)  # quota left on a demo key
    play.stop.click(h.cancel, session, play.result.status, cancels=[run, batch], **PRIVATE)


def _form_helpers(h: Handlers, session: gr.State, play: PlayTab) -> None:
    """Prices on the buttons, the prompt's counter and builder, seeds, reuse, presets."""
    f = play.form
    if play.presets is not None:
        play.presets.select(
            h.apply_preset,
            None,
            [f.image, f.prompt, f.last_image, f.duration, f.aspect_ratio, f.camera_fixed, f.seed],
            api_visibility="private",
        )
    # One listener per label, fed by all its widgets (see LABEL).
    batch_inputs = [f.model, f.duration, play.var_count, play.variants]
    gr.on([w.change for w in batch_inputs], h.batch_label, batch_inputs, play.batch_go, **LABEL)
    price_inputs = [f.model, f.duration]
    price_changes = [w.change for w in price_inputs]
    gr.on(price_changes, h.price_text, price_inputs, play.price, **LABEL)
    gr.on(price_changes, h.generate_label, price_inputs, play.go, **LABEL)
    f.prompt.change(h.prompt_count, f.prompt, play.count, **PRIVATE)
    for move in play.moves:
        move.click(h.camera_move, [f.prompt, move], [f.prompt, f.camera_fixed], **PRIVATE)
    play.compose.click(h.compose_beats, play.beats, f.prompt, **PRIVATE)
    play.dice.click(h.random_seed, None, f.seed, **PRIVATE)
    play.reuse_last.click(h.last_seed, session, f.seed, **PRIVATE)
    play.result.use_seed.click(h.reuse_seed, [play.result.record, session], f.seed, **PRIVATE)
    settings = [f.prompt, f.duration, f.aspect_ratio, f.camera_fixed, f.seed, f.model]
    play.result.use_all.click(h.reuse_settings, [play.result.record, session], settings, **PRIVATE)


def _images(h: Handlers, play: PlayTab) -> None:
    """Upload or address, whichever came last; the framing preview and the shape note."""
    f = play.form
    for picture, address in ((f.image, f.image_url), (f.last_image, f.last_image_url)):
        picture.change(h.upload_replaces_url, [picture, address], address, **PRIVATE)
        gr.on(
            [address.submit, address.blur],
            h.url_replaces_upload,
            [address, picture],
            picture,
            **PRIVATE,
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
    """History's list, selection, load and delete; Compare's picks."""
    f = play.form
    listing = [history.runs, history.listed, history.spent, compare.picks]
    for trigger in (
        history.tab.select,
        compare.tab.select,
        history.refresh.click,
        history.search.submit,
    ):
        trigger(h.list_runs, [history.search, session], listing, **PRIVATE)
    history.runs.select(
        h.show_run,
        [history.listed, session],
        [history.video, history.card, history.record],
        **PRIVATE,
    )
    history.load.click(
        h.load_run_into_form,
        [history.record, session],
        [
            *(f.image, f.last_image, f.prompt, f.duration, f.aspect_ratio, f.camera_fixed),
            *(f.seed, f.model, tabs, f.image_url, f.last_image_url),
        ],
        **PRIVATE,
    )
    history.delete.click(
        h.delete_run,
        [history.record, history.search, session],
        [*listing, history.video, history.card, history.record],
        **PRIVATE,
    )
    compare.compare.click(h.compare_runs, [compare.picks, session], compare.view, **PRIVATE)
