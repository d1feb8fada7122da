"""Per-message limits: nothing one hostile message contains may hang or exhaust a run."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: Messages larger than this are kept as their header and an error (``ldn-inbox errors``);
#: the default of ``imap.max_message_bytes``, which ``import`` applies to files too.
MAX_MESSAGE_BYTES = 50_000_000


class TimeLimitExceeded(Exception):
    """A conversion took longer than its time limit."""


#: How often the time-limit signal repeats once it has fired, until the block ends.
_REPEAT_S = 0.1


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` in the block after ``seconds`` of wall time.

    Uses SIGALRM, so it only limits code on the main thread (elsewhere it is a no-op); the
    stages it guards (HTML, attachments, a whole message's coding) are pure Python or
    return to it often. Limits nest: an inner one never extends an outer one, and the outer
    one is re-armed with what is left of it when the inner one ends. Once the time is up
    the signal repeats every 0.1 s until the block ends: an exception raised where Python
    cannot pass it on (a weakref callback, a destructor during garbage collection) is only
    reported, and the next signal stops the block.
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
    signal.setitimer(signal.ITIMER_REAL, limit, _REPEAT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left > 0:
            # what is left of the outer limit; a tiny value fires it at once if it ran out
            left = outer_left - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), _REPEAT_S)


class MemoryLimitExceeded(Exception):
    """Work under :func:`memory_limit` asked for more memory than it was allowed."""


#: glibc's mallopt parameter, and the size from which allocations get their own mapping.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 256 * 1024
_libc: ctypes.CDLL | None = None
_libc_loaded = False


def _return_freed_memory() -> None:
    """Give freed memory back to the kernel before the address space is measured.

    glibc raises its mmap threshold as large blocks are freed, after which big buffers come
    from the heap and stay mapped once freed: the address space of a long-lived process
    would then hold room that a limit on it does not count as new. The threshold is fixed
    once, and the free top of the heap is trimmed when the process has grown by more than
    :data:`TRIM_SLACK_BYTES` since it was last trimmed (glibc only; elsewhere nothing
    changes).
    """
    global _libc, _libc_loaded
    if not _libc_loaded:
        _libc_loaded = True
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        except (OSError, AttributeError):  # pragma: no cover - not glibc
            _libc = None
    if _libc is not None:
        try:
            _libc.malloc_trim(0)
        except AttributeError:  # pragma: no cover - not glibc
            pass


#: Freed memory the process may hold before it is given back to the kernel ahead of a
#: limit: trimming before every message returned pages that the next one faulted back in
#: (7 % of a reply's parse and code). A limit is at most this much looser than
#: ``extra_bytes``.
TRIM_SLACK_BYTES = 32 * 2**20
#: The address space right after the last trim.
_settled: int | None = None


def _address_space() -> int | None:
    """Bytes of address space this process has mapped (Linux), or None where unknown."""
    try:
        # read raw: read before every message, a text file object cost more than the read
        fd = os.open("/proc/self/statm", os.O_RDONLY)
        try:
            pages = int(os.read(fd, 256).split()[0])
        finally:
            os.close(fd)
        return pages * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def memory_limit(extra_bytes: int) -> Iterator[None]:
    """Let the block map at most ``extra_bytes`` more address space than the process has
    now (``RLIMIT_AS``, enforced by the kernel, so it holds inside C code too); an
    allocation beyond it raises :class:`MemoryLimitExceeded` (from Python's MemoryError).

    The previous limit is restored afterwards. A no-op for ``extra_bytes <= 0`` and where
    the process's address space cannot be read.
    """
    global _settled
    used = _address_space() if extra_bytes > 0 else None
    if used is not None and (_settled is None or used > _settled + TRIM_SLACK_BYTES):
        _return_freed_memory()
        used = _settled = _address_space()
    if used is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = used + extra_bytes
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft <= wanted:
        yield  # an outer limit is tighter already
        return
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    try:
        yield
    except MemoryError as exc:
        raise MemoryLimitExceeded(
            f"needed more than {extra_bytes // 2**20} MiB of memory") from exc
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
