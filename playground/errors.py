"""The app's own errors: each message is a sentence saying what is wrong and what to do.

The layers raise these; the UI turns every one into a `gr.Error` in one place
(`playground.ui.errors`), with `title` as its heading. WaveSpeed's own errors come from
`wavespeed_client` and are worded the same way.
"""

from __future__ import annotations


class PlaygroundError(Exception):
    """Base of the app's errors; `str()` is the sentence a person reads."""

    title = "Could not generate"


class ImageError(PlaygroundError, ValueError):
    """An input image that cannot be used; the message says why and what to do."""

    title = "Image not usable"


class ImageTooSmall(ImageError):
    """Under 300 px on a side. `can_upscale`: enlarging (`upscale=True`) would work."""

    title = "Image too small"

    def __init__(self, message: str, *, can_upscale: bool) -> None:
        super().__init__(message)
        self.can_upscale = can_upscale


class InvalidRequest(PlaygroundError, ValueError):
    """One or more inputs break the model's limits; `problems` lists each in plain words."""

    title = "Check the settings"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


class QuotaExceeded(PlaygroundError):
    """Over a limit on the owner's key; the message says which, and what the visitor can do."""

    title = "Demo limit reached"


class NoKey(PlaygroundError):
    """No key to generate with: the visitor is asked for one, or offered offline mode."""

    title = "No API key"

    def __init__(self) -> None:
        super().__init__(
            "No WaveSpeed API key is set. Paste your key under “Backend & API key”, or "
            "choose Offline to try the playground with synthetic motion."
        )


class SignInRequired(PlaygroundError):
    """The owner's key is for visitors signed in with Hugging Face."""

    title = "Sign in required"


class NotFound(PlaygroundError):
    """A run, storyboard or selection that is not (or no longer) there for this visitor."""

    title = "Nothing to show"


class RunContinues(PlaygroundError):
    """A run the API accepted could not be followed to its end here (WaveSpeed stopped
    answering, the disk is full...): it is safe, finished in the background, and will
    appear in History. Never "try again" for a task that exists: that would pay twice."""

    title = "Your run is safe"

    def __init__(self, task_ids: list[str], what_happened: str) -> None:
        tasks = ", ".join(task_ids)
        super().__init__(
            f"Your run (task {tasks}) is safe: {what_happened}. It keeps being followed in the "
            "background and will appear in History when done; there is no need to generate "
            "it again."
        )
        self.task_ids = task_ids


class AudioFlagged(PlaygroundError):
    """WaveSpeed's content check (code 1200) failed a run that generated sound: the sound
    may be what was flagged, and a take without it may pass."""

    title = "Flagged by the content check"

    def __init__(self, task_id: str, reason: str) -> None:
        super().__init__(
            f"WaveSpeed's content check flagged task {task_id} ({reason}). It was made with "
            "sound on, and generated audio is checked too: try it again with audio off "
            "(“Rerun without audio” under the result, or untick “Generate audio”)."
        )
        self.task_id = task_id
