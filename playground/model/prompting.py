"""The prompt builder: director-style prompts for Seedance, as pure text functions.

Seedance's prompting guide reads a prompt like a director's beat sheet: what the subject
does, what the camera does, the environment, and what must stay the same (continuity).
`compose_prompt` joins those beats into clean sentences; `apply_camera_move` puts one camera
move into any text a person typed, replacing the move it put there before, so the prompt box
stays the single source of truth.

Length: `compose_prompt` raises `PromptTooLong` (a ValueError) past the model's 2000
characters, since a composed prompt the API refuses is of no use. `apply_camera_move` never
raises on length: it edits the person's own text, and the app's counter already flags an
over-long prompt before the click.
"""

from __future__ import annotations

import re

from playground.model import seedance

PROMPT_MAX_CHARS = seedance.PROMPT_MAX_CHARS
FIXED = "fixed"

# One phrase per move, worded as the guide suggests: direction, speed, what is framed.
# No phrase may contain another, so each is recognised on its own in typed text.
CAMERA_MOVES: dict[str, str] = {
    "push-in": "slow push-in toward the subject",
    "pull-out": "slow pull-out revealing the surroundings",
    "orbit": "the camera orbits slowly around the subject",
    "follow": "handheld follow shot tracking the subject",
    "pan": "slow pan left to right",
    "tilt": "tilt up from the ground to the sky",
    "rack focus": "rack focus from the foreground to the subject",
    FIXED: "static shot, the camera does not move",
}

# Sentence ends kept as typed ("." is added when none is there), with the CJK full stop
# and full-width ! and ?
_TERMINAL = "!?\u3002\uff01\uff1f"
_CLOSERS = "\"'”’)]」』»"  # may follow a sentence end: `She says "go!"`
# Separators dropped at the ends of a beat, with the CJK full-width forms
_TRAILING_JUNK = " \t,;:.…-–—\u3001\uff0c\uff1b\uff1a"
_LEADING_JUNK = " \t,;:.…\u3001\uff0c\uff1b\uff1a"


class PromptTooLong(ValueError):
    """The composed prompt is over the model's limit; says by how much."""

    def __init__(self, length: int, limit: int = PROMPT_MAX_CHARS) -> None:
        super().__init__(
            f"The prompt is {length} characters; the limit is {limit}. "
            f"Shorten it by {length - limit}."
        )
        self.length, self.limit = length, limit


# --------------------------------------------------------------------------- composing


def compose_prompt(
    subject_action: str = "",
    camera: str = "",
    environment: str = "",
    continuity: str = "",
) -> str:
    """The non-empty beats as one prompt: each a trimmed sentence, in beat-sheet order.

    Whitespace is collapsed, stray or doubled punctuation at the ends is dropped, each
    sentence starts with a capital (unless its first word is mixed-case, like "iPhone") and
    ends with exactly one ".", "!" or "?" (or a CJK full stop). Raises PromptTooLong when
    the result is over 2000 characters.
    """
    sentences = [_sentence(part) for part in (subject_action, camera, environment, continuity)]
    prompt = " ".join(s for s in sentences if s)
    if len(prompt) > PROMPT_MAX_CHARS:
        raise PromptTooLong(len(prompt))
    return prompt


def _sentence(part: str | None) -> str:
    text = " ".join((part or "").split())
    text = re.sub(r"\s+([,;:.!?])", r"\1", text)  # "word ," -> "word,"
    text = re.sub(r"([,;:])\1+", r"\1", text)  # ",," -> ","
    text = text.lstrip(_LEADING_JUNK)
    body, closers = _split_closers(text)
    end = re.search(rf"[{_TERMINAL}.…]+$", body)
    if end and any(c in _TERMINAL for c in end.group()):
        # "!!" -> "!", "?!?" -> "?!", "!.." -> "!": one of each, as typed
        marks = "".join(dict.fromkeys(c for c in end.group() if c in _TERMINAL))
        text = body[: end.start()] + marks + closers
    elif end and closers and body[: end.start()]:
        text = body[: end.start()] + "." + closers  # `says "go.."` -> `says "go."`
    else:
        text = text.rstrip(_TRAILING_JUNK)
        if not text:
            return ""
        text += "."
    return _capitalise(text)


def _split_closers(text: str) -> tuple[str, str]:
    body = text.rstrip(_CLOSERS)
    return body, text[len(body) :]


def _capitalise(text: str) -> str:
    first_word = text.split(" ", 1)[0]
    if text[:1].islower() and not any(c.isupper() for c in first_word):
        return text[0].upper() + text[1:]
    return text


# --------------------------------------------------------------------------- camera moves


def _phrase_pattern(phrase: str) -> str:
    words = (re.escape(word) for word in phrase.split())
    return r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)"


# Longest first, so no shorter phrase wins inside a longer one.
_MOVES_BY_LENGTH = sorted(CAMERA_MOVES.items(), key=lambda item: -len(item[1]))
_ANY_MOVE = re.compile(
    "|".join(f"(?P<m{i}>{_phrase_pattern(p)})" for i, (_, p) in enumerate(_MOVES_BY_LENGTH)),
    re.IGNORECASE,
)


def _normalise(move: str) -> str:
    return " ".join(move.replace("_", " ").replace("-", " ").lower().split())


_KEYS = {_normalise(key): key for key in CAMERA_MOVES}


def camera_move_key(move: str | None) -> str | None:
    """The CAMERA_MOVES key for a name as a button or person may spell it ("Push in",
    "rack-focus"), None for no move ("" or "none"); ValueError for an unknown move."""
    name = _normalise(move or "")
    if name in ("", "none"):
        return None
    if name not in _KEYS:
        raise ValueError(
            f"Unknown camera move {move!r}: choose one of {', '.join(CAMERA_MOVES)}, or none."
        )
    return _KEYS[name]


def apply_camera_move(prompt: str, move: str | None) -> tuple[str, bool]:
    """The prompt with this camera move's phrase, and whether the camera is fixed.

    A phrase of another move already in the text is replaced where it stands (keeping
    its capitalisation), and any further ones are removed, so moves never stack. Otherwise
    the phrase is added as a sentence at the end (on a new line when the text is written
    one beat per line). All other text is kept as typed. `move` "" or "none" removes the
    camera move. `camera_fixed` is True only for "fixed".
    """
    key = camera_move_key(move)
    text = prompt or ""
    phrase = CAMERA_MOVES[key] if key else ""
    matches = list(_ANY_MOVE.finditer(text))
    if not matches:
        return (_append_sentence(text, phrase) if phrase else text), key == FIXED

    # Edit from the end so earlier offsets stay valid; the first match gets the new phrase.
    for match in reversed(matches[1:] if phrase else matches):
        text = _remove(text, match.start(), match.end())
    if phrase:
        first = matches[0]
        new = phrase[0].upper() + phrase[1:] if first.group(0)[:1].isupper() else phrase
        text = text[: first.start()] + new + text[first.end() :]
    return text, key == FIXED


def toggle_camera_move(prompt: str, move: str | None) -> tuple[str, bool]:
    """The page's camera chips: moves combine, a chip pressed again takes its move out, and
    "fixed" (a still camera) replaces every move, as any move replaces it. A new move
    joins the last one already written ("Slow push-in toward the subject, slow pan left
    to right."); otherwise as `apply_camera_move`."""
    key = camera_move_key(move)
    text = prompt or ""
    matches = list(_ANY_MOVE.finditer(text))
    written = {_move_of(m) for m in matches}
    if key is None or key == FIXED or not matches or FIXED in written:
        return apply_camera_move(text, key)
    if key in written:  # pressed again: that move goes, the others stay
        for match in reversed(matches):
            if _move_of(match) == key:
                text = _remove(text, match.start(), match.end())
        return text, False
    last = matches[-1]
    return f"{text[: last.end()]}, {CAMERA_MOVES[key]}{text[last.end() :]}", False


def _move_of(match: re.Match[str]) -> str:
    """The CAMERA_MOVES key of a phrase `_ANY_MOVE` found."""
    group = next(name for name, value in match.groupdict().items() if value is not None)
    return _MOVES_BY_LENGTH[int(group[1:])][0]


def _append_sentence(text: str, phrase: str) -> str:
    sentence = phrase[0].upper() + phrase[1:] + "."
    body = text.rstrip()
    if not body:
        return sentence
    separator = "\n" if "\n" in body else " "
    core, _ = _split_closers(body)
    if not core or core[-1] not in _TERMINAL + ".":
        body = body.rstrip(",;: \t") + "."
    return body + separator + sentence


def _remove(text: str, start: int, end: int) -> str:
    """Cut a phrase out: with its sentence end if it was a sentence of its own, else with
    the comma or space that joined it to the sentence around it."""
    before, after = text[:start], text[end:]
    sentence_start = not before.strip() or before.rstrip()[-1] in _TERMINAL + ".\n"
    if sentence_start:
        after = re.sub(r"^[ \t]*[.!?]?[ \t]*", "", after)
        if not after.strip():  # it was the last sentence: drop the space before it too
            before, after = before.rstrip(), ""
        return before + after
    before = re.sub(r"[ \t]*[,;]?[ \t]*$", "", before)
    if after[:1].isalnum():
        after = " " + after
    return before + after
