"""What became of a run, as one enum from the API's statuses to the app's own.

The client's `Status` is what WaveSpeed says about a task; `RunStatus` is what the app
knows about a run, carried from the record to history, the views and recovery: the API's
statuses plus two that only the app can see (the app restarted and cannot poll again; a
submit was sent and no answer came back). Nothing above the client compares raw strings.
"""

from __future__ import annotations

from enum import StrEnum

from wavespeed_client import Status


class RunStatus(StrEnum):
    CREATED = "created"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    DELETED = "deleted"
    # The app restarted while the task ran and cannot poll it again (a visitor's key, or
    # the in-process emulator): its outcome is on WaveSpeed, under its task id.
    INTERRUPTED = "interrupted"
    # A submit was sent but no answer came back: a task may exist and may be billed.
    OUTCOME_UNKNOWN = "outcome_unknown"

    @classmethod
    def _missing_(cls, value: object) -> RunStatus:
        # A status stored by a newer version, or one the API adds later: still running as
        # far as this app knows, so it is polled again rather than given up.
        return cls.PROCESSING

    @classmethod
    def of(cls, status: Status) -> RunStatus:
        """The API's status of a task as a run status (an unnamed one: still running)."""
        return cls.PROCESSING if status is Status.UNKNOWN else cls(status.value)

    @property
    def finished(self) -> bool:
        """Nothing more will happen to the run: no more polling."""
        return self in _FINISHED

    @property
    def billable(self) -> bool:
        """It is or may be paid for: every accepted run but a failed one."""
        return self is not RunStatus.FAILED


_FINISHED = frozenset(
    {
        RunStatus.COMPLETED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.TIMEOUT,
        RunStatus.DELETED,
        RunStatus.INTERRUPTED,
        RunStatus.OUTCOME_UNKNOWN,
    }
)
FINISHED: tuple[str, ...] = tuple(sorted(_FINISHED))
