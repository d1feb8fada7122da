"""Per-message limits: nothing one hostile message contains may hang or exhaust a run."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class TimeLimitExceeded(Exception):
    """A conversion took longer than its time limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` in the block after ``seconds`` of wall time.

    Uses SIGALRM, so it only limits code on the main thread (elsewhere it is a no-op); the
    stages it guards (HTML, attachments, a whole message's coding) are pure Python or
    return to it often. Limits nest: an inner one never extends an outer one, and the outer
    one is re-armed with what is left of it when the inner one ends.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    started = time.monotonic()
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    limit = min(seconds, outer_left) if outer_left > 0 else seconds
    own = not (outer_left > 0 and outer_left <= seconds)

    def _raise(_signum: int, _frame: FrameType | None) -> None:
        raise TimeLimitExceeded(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _raise if own else signal.getsignal(
        signal.SIGALRM))
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left > 0:
            # what is left of the outer limit; a tiny value fires it at once if it ran out
            left = outer_left - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6))
