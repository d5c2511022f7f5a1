"""A deadline that can be started, stopped and tested, for the association's timers.

The core never reads a clock: a timer only remembers when it is due, the association's
``get_timer()`` reports the earliest deadline and ``handle_timer(now)`` fires those that are
due (RFC 9260 timers: T1-init, T1-cookie, T2-shutdown, T3-rtx, the delayed SACK, heartbeats,
the T5 shutdown guard).
"""

from __future__ import annotations

__all__ = ["Timer"]


class Timer:
    """One deadline, or none while stopped."""

    __slots__ = ("deadline",)

    deadline: float | None
    """When the timer is due, or ``None`` when it is not running."""

    def __init__(self) -> None:
        self.deadline = None

    @property
    def running(self) -> bool:
        """Whether the timer has a deadline."""
        return self.deadline is not None

    def start(self, now: float, interval: float) -> None:
        """(Re)start the timer to expire ``interval`` seconds after ``now``."""
        self.deadline = now + interval

    def stop(self) -> None:
        """Stop the timer."""
        self.deadline = None

    def due(self, now: float) -> bool:
        """Whether the timer runs and its deadline has come; a due timer is stopped, so the
        caller fires it once and restarts it if it must."""
        deadline = self.deadline
        if deadline is not None and deadline <= now:
            self.deadline = None
            return True
        return False
