"""The prompt builder: beats become clean sentences; camera moves replace each other."""

from __future__ import annotations

import itertools

import pytest

from playground.model import prompting
from playground.model.prompting import (
    CAMERA_MOVES,
    PromptTooLong,
    apply_camera_move,
    compose_prompt,
    toggle_camera_move,
)

BEATS = {
    "subject_action": "a woman turns toward the window and smiles",
    "camera": CAMERA_MOVES["push-in"],
    "environment": "warm sunset light through lace curtains",
    "continuity": "her red scarf stays in frame",
}
SENTENCES = {
    "subject_action": "A woman turns toward the window and smiles.",
    "camera": "Slow push-in toward the subject.",
    "environment": "Warm sunset light through lace curtains.",
    "continuity": "Her red scarf stays in frame.",
}


# --------------------------------------------------------------------------- compose_prompt


@pytest.mark.parametrize("present", list(itertools.product([False, True], repeat=4)))
def test_every_combination_of_beats_joins_in_order(present: tuple[bool, ...]) -> None:
    chosen = [name for name, on in zip(BEATS, present, strict=True) if on]
    parts = {name: BEATS[name] if name in chosen else "" for name in BEATS}
    assert compose_prompt(**parts) == " ".join(SENTENCES[name] for name in chosen)


@pytest.mark.parametrize("blank", ["", " ", "\n\t ", " , ", "...", "…", ";", " - "])
def test_blank_or_punctuation_only_beats_are_left_out(blank: str) -> None:
    assert compose_prompt("a cat jumps", blank, blank, "") == "A cat jumps."
    assert compose_prompt(blank, blank, blank, blank) == ""


def test_positional_arguments_follow_the_beat_order() -> None:
    assert compose_prompt(*BEATS.values()) == " ".join(SENTENCES.values())


@pytest.mark.parametrize(
    ("beat", "sentence"),
    [
        ("a cat jumps..", "A cat jumps."),
        ("a cat jumps...", "A cat jumps."),
        ("a cat jumps…", "A cat jumps."),
        ("a cat jumps,", "A cat jumps."),
        ("a cat jumps ;", "A cat jumps."),
        ("a cat jumps -", "A cat jumps."),
        ("  a   cat\n jumps  ", "A cat jumps."),
        (", a cat jumps", "A cat jumps."),
        ("a cat , jumps,, high", "A cat, jumps, high."),
        ("wow!!", "Wow!"),
        ("wow!.", "Wow!"),
        ("really?!", "Really?!"),
        ("really?!?!", "Really?!"),
        ("is it?", "Is it?"),
        ('she says "go."', 'She says "go."'),
        ('she says "go.."', 'She says "go."'),
        ('she says "go!"', 'She says "go!"'),
        ('she says "go"', 'She says "go".'),
        ("(slowly)", "(slowly)."),
        ("Mr. Lee waves", "Mr. Lee waves."),
        ("wait… then runs", "Wait… then runs."),
    ],
)
def test_punctuation_is_cleaned_to_one_sentence_end(beat: str, sentence: str) -> None:
    assert compose_prompt(beat) == sentence


@pytest.mark.parametrize(
    ("beat", "sentence"),
    [
        ("iPhone glows on the desk", "iPhone glows on the desk."),
        ("eBay box opens", "eBay box opens."),
        ("NASA rocket lifts off", "NASA rocket lifts off."),
        ("élan of the dancer", "Élan of the dancer."),
        ("3 birds take off", "3 birds take off."),
    ],
)
def test_sentences_start_with_a_capital_unless_the_word_is_mixed_case(
    beat: str, sentence: str
) -> None:
    assert compose_prompt(beat) == sentence


def test_unicode_text_is_kept_and_cjk_sentence_ends_are_respected() -> None:
    assert (
        compose_prompt("一只猫跳上窗台。", "镜头缓慢推进", "", "")
        == "一只猫跳上窗台。 镜头缓慢推进."
    )
    bang, query = "\uff01", "\uff1f"  # full-width ! and ?
    assert compose_prompt(f"女孩回头{bang}", f"她笑了{query}") == f"女孩回头{bang} 她笑了{query}"
    assert compose_prompt("ein Vogel fliegt über München 🎈") == "Ein Vogel fliegt über München 🎈."
    assert compose_prompt("a cat jumps\uff0c") == "A cat jumps."  # full-width comma


def test_the_length_limit_raises_a_value_error_saying_by_how_much() -> None:
    limit = prompting.PROMPT_MAX_CHARS
    assert limit == 2000
    fits = "a" * (limit - 1)  # + the added period = exactly the limit
    assert len(compose_prompt(fits)) == limit
    with pytest.raises(PromptTooLong) as caught:
        compose_prompt("a" * limit, "slow pan")
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.length, error.limit) == (limit + 1 + len(" Slow pan."), limit)
    assert "limit is 2000" in str(error) and f"Shorten it by {error.length - limit}" in str(error)


# --------------------------------------------------------------------------- camera moves


def test_the_guide_moves_are_all_offered_and_no_phrase_contains_another() -> None:
    required = {"push-in", "pull-out", "orbit", "follow", "pan", "tilt", "rack focus", "fixed"}
    assert required <= set(CAMERA_MOVES)
    phrases = list(CAMERA_MOVES.values())
    for a, b in itertools.permutations(phrases, 2):
        assert a.lower() not in b.lower()


@pytest.mark.parametrize("move", list(CAMERA_MOVES))
def test_a_move_is_added_to_typed_text_as_a_sentence(move: str) -> None:
    prompt, fixed = apply_camera_move("A dog runs across the beach.", move)
    phrase = CAMERA_MOVES[move]
    assert prompt == f"A dog runs across the beach. {phrase[0].upper()}{phrase[1:]}."
    assert fixed is (move == "fixed")


@pytest.mark.parametrize(("first", "second"), list(itertools.permutations(CAMERA_MOVES, 2)))
def test_moves_replace_each_other_instead_of_stacking(first: str, second: str) -> None:
    once, _ = apply_camera_move("A dog runs. Golden hour.", first)
    twice, fixed = apply_camera_move(once, second)
    alone, _ = apply_camera_move("A dog runs. Golden hour.", second)
    assert twice == alone
    assert CAMERA_MOVES[first].lower() not in twice.lower()
    assert fixed is (second == "fixed")


def test_clicking_the_same_move_twice_changes_nothing() -> None:
    once, _ = apply_camera_move("A dog runs.", "orbit")
    assert apply_camera_move(once, "orbit") == (once, False)


def test_only_fixed_sets_camera_fixed_and_switching_away_clears_it() -> None:
    fixed_prompt, fixed = apply_camera_move("A dog runs.", "fixed")
    assert fixed is True
    assert fixed_prompt == "A dog runs. Static shot, the camera does not move."
    moving, fixed = apply_camera_move(fixed_prompt, "pan")
    assert fixed is False
    assert moving == "A dog runs. Slow pan left to right."


def test_a_move_already_in_the_text_is_replaced_where_it_stands() -> None:
    typed = "Slow pan left to right. A dog runs, then stops.\nGolden hour."
    assert apply_camera_move(typed, "tilt") == (
        "Tilt up from the ground to the sky. A dog runs, then stops.\nGolden hour.",
        False,
    )
    mid = "a dog runs, slow pan left to right, toward the sea."
    assert apply_camera_move(mid, "orbit")[0] == (
        "a dog runs, the camera orbits slowly around the subject, toward the sea."
    )


def test_phrases_are_found_whatever_their_case_and_line_wrapping() -> None:
    typed = "A dog runs. SLOW PUSH-IN\n  toward the   subject. Dusk."
    assert apply_camera_move(typed, "pull-out")[0] == (
        "A dog runs. Slow pull-out revealing the surroundings. Dusk."
    )


def test_several_moves_in_the_text_leave_one() -> None:
    typed = "Slow pan left to right. A dog runs. Static shot, the camera does not move. Dusk."
    assert apply_camera_move(typed, "follow") == (
        "Handheld follow shot tracking the subject. A dog runs. Dusk.",
        False,
    )


@pytest.mark.parametrize("none", ["", "none", "None", None])
def test_no_move_removes_the_camera_phrase_and_keeps_the_rest(none: str | None) -> None:
    assert apply_camera_move("A dog runs. Slow pan left to right. Dusk.", none) == (
        "A dog runs. Dusk.",
        False,
    )
    assert apply_camera_move("A dog runs. Slow pan left to right.", none)[0] == "A dog runs."
    assert apply_camera_move("A dog runs, slow pan left to right.", none)[0] == "A dog runs."
    assert apply_camera_move("A dog runs", none) == ("A dog runs", False)


def test_user_text_is_preserved_around_the_move() -> None:
    typed = "  ¡Hola!  Un perro corre 🐕 — rápido;\n\nluz dorada  "
    prompt, _ = apply_camera_move(typed, "orbit")
    assert prompt.startswith("  ¡Hola!  Un perro corre 🐕 — rápido;\n\nluz dorada")
    assert prompt.endswith("\nThe camera orbits slowly around the subject.")
    back, _ = apply_camera_move(prompt, "")
    assert back == "  ¡Hola!  Un perro corre 🐕 — rápido;\n\nluz dorada."


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", "Slow pan left to right."),
        ("   ", "Slow pan left to right."),
        ("a dog runs", "a dog runs. Slow pan left to right."),
        ("a dog runs,", "a dog runs. Slow pan left to right."),
        ("a dog runs!", "a dog runs! Slow pan left to right."),
        ('she says "go!"', 'she says "go!" Slow pan left to right.'),
        ("一只狗在跑。", "一只狗在跑。 Slow pan left to right."),
        ("A dog runs.\nDusk.\n", "A dog runs.\nDusk.\nSlow pan left to right."),
    ],
)
def test_a_new_move_joins_the_text_as_its_own_sentence(typed: str, expected: str) -> None:
    assert apply_camera_move(typed, "pan")[0] == expected


@pytest.mark.parametrize("spelling", ["rack focus", "Rack-Focus", "rack_focus", " RACK  FOCUS "])
def test_move_names_are_read_as_people_spell_them(spelling: str) -> None:
    assert prompting.camera_move_key(spelling) == "rack focus"
    assert (
        apply_camera_move("A dog.", spelling)[0]
        == "A dog. Rack focus from the foreground to the subject."
    )


def test_an_unknown_move_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"Unknown camera move 'zoom'.*push-in.*fixed"):
        apply_camera_move("A dog.", "zoom")


def test_a_longer_word_is_not_mistaken_for_a_phrase() -> None:
    typed = "A dog. Slow pan left to rightward drift."
    assert apply_camera_move(typed, "") == (typed, False)


def test_a_move_in_the_text_is_found_where_it_stands() -> None:
    """Any move's phrase is recognised in typed text: removing the move takes it out, and
    a text without one is left alone."""
    orbit = "A dog runs. The camera orbits slowly around the subject."
    assert apply_camera_move(orbit, "") == ("A dog runs.", False)
    assert apply_camera_move("Static shot, the camera does not move.", "") == ("", False)
    assert apply_camera_move("A dog runs.", "") == ("A dog runs.", False)
    assert apply_camera_move("", "") == ("", False)


def test_composed_prompts_and_camera_moves_work_together() -> None:
    composed = compose_prompt(**BEATS)
    prompt, fixed = apply_camera_move(composed, "fixed")
    assert prompt == compose_prompt(**{**BEATS, "camera": CAMERA_MOVES["fixed"]})
    assert fixed is True


def test_apply_never_raises_on_length_the_counter_flags_it() -> None:
    long_text = "a" * 2500
    prompt, _ = apply_camera_move(long_text, "pan")
    assert prompt.startswith(long_text) and len(prompt) > prompting.PROMPT_MAX_CHARS


def test_camera_chips_combine_and_a_second_press_takes_a_move_out() -> None:
    both, fixed = toggle_camera_move("A dog runs. Golden hour.", "push-in")
    both, fixed = toggle_camera_move(both, "orbit")
    assert both == (
        "A dog runs. Golden hour. Slow push-in toward the subject, the camera orbits slowly "
        "around the subject."
    )
    assert fixed is False
    three, _ = toggle_camera_move(both, "pan")
    assert three.endswith("the camera orbits slowly around the subject, slow pan left to right.")
    # pressed again: only that move goes, the sentence stays whole
    assert toggle_camera_move(three, "orbit")[0] == (
        "A dog runs. Golden hour. Slow push-in toward the subject, slow pan left to right."
    )
    assert toggle_camera_move("A dog runs. Slow pan left to right.", "pan") == (
        "A dog runs.",
        False,
    )


def test_a_still_camera_replaces_every_move_and_a_move_replaces_it() -> None:
    moving, _ = toggle_camera_move("A dog runs.", "push-in")
    moving, _ = toggle_camera_move(moving, "tilt")
    still, fixed = toggle_camera_move(moving, "fixed")
    assert (still, fixed) == ("A dog runs. Static shot, the camera does not move.", True)
    again, fixed = toggle_camera_move(still, "orbit")
    assert (again, fixed) == ("A dog runs. The camera orbits slowly around the subject.", False)
    assert toggle_camera_move(again, "none") == ("A dog runs.", False)
