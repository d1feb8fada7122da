"""Parse and code raw messages, in worker processes when there is enough to do.

Parsing and coding (MIME, reply isolation, extraction) take most of an import's time and
touch no database, so a large run spreads them over ``run.workers`` processes while the main
process downloads and writes. Each message runs under ``run.message_timeout`` and may map at
most ``run.message_memory`` more memory than the process holds (``RLIMIT_AS``, so the
kernel enforces it inside C code too): a message that takes longer or needs more is
quarantined with that error and the run goes on.

What a worker sends back (:class:`Outcome`) is small and picklable: the facts the database
keeps about the message and its coded record, never the parsed body.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import signal
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ldn_inbox.limits import MemoryLimitExceeded, TimeLimitExceeded, memory_limit, time_limit

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from ldn_inbox.extract.coding import Coded
    from ldn_inbox.parse.mailings import MailingSet
    from ldn_inbox.parse.mime import ParsedMessage

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
#: Below this many messages to code, a run codes them itself: starting workers costs more.
POOL_THRESHOLD = 24
#: Messages sent to a worker as one task.
SHARE = 8
#: The mailings forked workers code with (set before the pool starts; a new pool is started
#: when they change, so no worker codes with outdated knowledge).
_WORKER_MAILINGS: MailingSet | None = None
#: Memory one message may take to parse and code, above what the process holds already
#: (``run.message_memory``). A 34 MB message with a 25 MB scan attached needs some 185 MiB,
#: 50 MB of plain text some 155 MiB; text and documents are capped in mime.py.
MESSAGE_MEMORY_BYTES = 512 * 2**20


def set_message_memory(mib: int) -> None:
    """Set the memory limit of each message for this process and the workers it starts
    (``run.message_memory``; 0: none). A limit on a process's address space is a property of
    the process, so it is set here rather than passed with each batch."""
    global MESSAGE_MEMORY_BYTES
    MESSAGE_MEMORY_BYTES = mib * 2**20


@dataclass(frozen=True)
class Facts:
    """What the database keeps from a parsed message besides its coded record."""

    subject: str
    date: datetime | None
    parser: str
    attachments: list[dict[str, Any]]
    failed_recipients: list[str]
    from_address: str
    from_name: str
    problems: list[str]

    @classmethod
    def of(cls, parsed: ParsedMessage) -> Facts:
        return cls(subject=parsed.subject, date=parsed.date, parser=parsed.parser,
                   attachments=[a.summary() for a in parsed.attachments],
                   failed_recipients=list(parsed.failed_recipients),
                   from_address=parsed.from_address, from_name=parsed.from_name,
                   problems=list(parsed.problems))


@dataclass
class Outcome:
    """A message parsed and coded in memory, before anything is written.

    ``error`` is set when parsing or coding failed (``coded`` is then None); ``exception``
    is kept only in the process that ran the coding (it may not pickle)."""

    facts: Facts | None = None
    coded: Coded | None = None
    error: str | None = None
    exception: Exception | None = field(default=None, compare=False)
    #: seconds the worker spent on it (a worker's busy time, for the run's time line)
    seconds: float = field(default=0.0, compare=False)
    #: the quoted and learn texts as stored, once :meth:`pack` has packed them (``coded``
    #: then holds neither)
    packed: bool = False
    quoted_packed: bytes | None = None
    learn_packed: bytes | None = None

    def pack(self) -> None:
        """Pack the texts the database keeps compressed and drop what it does not keep (the
        rules' own confidences, the calibration's context): done where the coding ran, so
        the run's own process neither compresses them nor receives them whole."""
        coded = self.coded
        if coded is None or self.packed:
            return
        from ldn_inbox.store.packing import pack_text

        self.quoted_packed = pack_text(coded.quoted_text)
        self.learn_packed = pack_text(coded.learn_text or None, coded.quoted_text)
        self.coded = replace(coded, quoted_text="", learn_text="", raw_confidence={},
                             context=type(coded.context)())
        self.packed = True

    def stored_texts(self) -> tuple[bytes | None, bytes | None]:
        """The quoted text and learn text as their columns keep them."""
        self.pack()
        return self.quoted_packed, self.learn_packed


def error_text(exc: BaseException) -> str:
    """One line naming the exception and where it was raised (no message content)."""
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
    return f"{type(exc).__name__}: {str(exc)[:500]}{where}"


_loaded = False


def _load() -> None:
    """Load the lexicons and the language model (and the threads their libraries start)
    before the first message runs under a memory limit."""
    global _loaded
    if not _loaded:
        _loaded = True
        _warm_up()


def parse_and_code(data: bytes, *, convert_timeout: float = 10.0,
                   message_timeout: float = 0.0, memory_bytes: int | None = None,
                   mailings: MailingSet | None = None) -> Outcome:
    """Parse and code one message, knowing ``mailings``; never raises (the error is in the
    outcome). ``memory_bytes``: the memory limit (default :data:`MESSAGE_MEMORY_BYTES`;
    0: none)."""
    # imported here: a run with nothing to code (a no-op fetch) never loads the extractor
    from ldn_inbox.extract.coding import code
    from ldn_inbox.parse.mime import parse

    if memory_bytes is None:
        memory_bytes = MESSAGE_MEMORY_BYTES
    if memory_bytes > 0:
        _load()
    try:
        with time_limit(message_timeout), memory_limit(memory_bytes):
            parsed = parse(data, convert_timeout=convert_timeout)
            facts = Facts.of(parsed)
            if not parsed.has_headers:
                return Outcome(facts, None, "no header fields: not an e-mail message")
            if parsed.unreadable:
                return Outcome(facts, None, parsed.unreadable)
            return Outcome(facts, code(parsed, mailings))
    except TimeLimitExceeded:
        return Outcome(error=f"TimeLimitExceeded: parsing and coding took longer than "
                             f"run.message_timeout = {message_timeout:g} s")
    except (MemoryLimitExceeded, MemoryError):
        return Outcome(error=f"MemoryLimitExceeded: parsing and coding needed more than "
                             f"{memory_bytes // 2**20} MiB of memory")
    except Exception as exc:  # one bad message must never stop the run
        return Outcome(error=error_text(exc), exception=exc)


def _in_worker(payloads: list[bytes], convert_timeout: float,
               message_timeout: float) -> list[Outcome]:
    outcomes = []
    for data in payloads:
        started = time.monotonic()
        outcome = parse_and_code(data, convert_timeout=convert_timeout,
                                 message_timeout=message_timeout, mailings=_WORKER_MAILINGS)
        outcome.exception = None  # the text says it; exceptions do not always pickle
        outcome.pack()
        outcome.seconds = time.monotonic() - started
        outcomes.append(outcome)
    return outcomes


def _warm_up() -> None:
    # Load the lexicons and the language model before the first message is timed.
    global _loaded
    _loaded = True
    parse_and_code(b"From: a@example.org\r\nSubject: warm-up\r\n\r\nIk gebruik LDN.\r\n",
                   memory_bytes=0)


def _die_with_parent(parent: int) -> None:
    """Worker start: end when the run ends, however it ends (a SIGKILLed run must not leave
    workers holding its pipes), and leave Ctrl-C to the run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:  # the run died before prctl took effect
        os._exit(1)


def default_workers() -> int:
    """One worker per CPU this process may use, at most four."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


class Pending:
    """Outcomes on their way, in the order the messages were submitted."""

    def __init__(self, futures: list[tuple[Future[list[Outcome]], int]] | None = None,
                 done: list[Outcome] | None = None, *, times: CoderTimes | None = None
                 ) -> None:
        self._futures = futures or []  # (a worker's share, its number of messages)
        self._done = done or []
        self._times = times

    def __len__(self) -> int:
        return sum(count for _, count in self._futures) + len(self._done)

    def results(self) -> list[Outcome]:
        """Wait for every outcome. A worker that died takes the messages of the share it
        was coding with it: they come back as errors, to be quarantined, and the run goes
        on."""
        outcomes = list(self._done)
        for future, count in self._futures:
            try:
                outcomes += future.result()
            except Exception as exc:  # BrokenProcessPool: a worker was killed
                error = f"coding worker failed: {error_text(exc)}"
                outcomes += [Outcome(error=error) for _ in range(count)]
        if self._times is not None:  # the workers' busy time, as they measured it
            self._times.busy += sum(outcome.seconds for outcome in outcomes)
        return outcomes


@dataclass
class CoderTimes:
    """Where coding time went (monotonic seconds).

    :ivar here: parsing and coding in the run's own process (small batches, one worker).
    :ivar starting: loading the lexicons and language model, then forking the workers.
    :ivar busy: worker processes parsing and coding, summed over the workers.
    :ivar alive: worker processes running, summed over the workers (``alive - busy`` is
        their idle time: waiting for the run to download and store the next batch).
    :ivar workers: the most worker processes running at once.
    """

    here: float = 0.0
    starting: float = 0.0
    busy: float = 0.0
    alive: float = 0.0
    workers: int = 0

    @property
    def idle(self) -> float:
        return max(0.0, self.alive - self.busy)


class Coder:
    """Codes batches of raw messages, in up to ``workers`` processes (1: in this one)."""

    def __init__(self, *, workers: int = 1, convert_timeout: float = 10.0,
                 message_timeout: float = 0.0, mailings: MailingSet | None = None) -> None:
        self.workers = workers if workers > 0 else default_workers()
        self.convert_timeout = convert_timeout
        self.message_timeout = message_timeout
        self.mailings = mailings
        self._pool: ProcessPoolExecutor | None = None
        self._pool_started = 0.0
        self.times = CoderTimes()

    def set_mailings(self, mailings: MailingSet) -> None:
        """Code what is submitted from now on with ``mailings`` (the workers are started
        anew; what they are coding now finishes with the old knowledge)."""
        self.mailings = mailings
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool_stopped()

    def submit(self, payloads: Sequence[bytes]) -> Pending:
        """Start coding ``payloads``; their outcomes come from :meth:`Pending.results`."""
        if self.workers <= 1 or (self._pool is None and len(payloads) < POOL_THRESHOLD):
            started = time.monotonic()
            done = [parse_and_code(data, convert_timeout=self.convert_timeout,
                                   message_timeout=self.message_timeout, mailings=self.mailings)
                    for data in payloads]
            self.times.here += time.monotonic() - started
            return Pending(done=done)
        pool = self._ensure_pool()
        # a few messages per task: each task costs the run's own process a round of
        # pickling and bookkeeping, and a worker killed loses only its task's messages
        shares = [list(payloads[start:start + SHARE])
                  for start in range(0, len(payloads), SHARE)]
        return Pending([(pool.submit(_in_worker, share, self.convert_timeout,
                                     self.message_timeout), len(share)) for share in shares],
                       times=self.times)

    def _pool_stopped(self) -> None:
        self.times.alive += self.workers * (time.monotonic() - self._pool_started)
        self._pool = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None or getattr(self._pool, "_broken", False):
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool_stopped()
            # fork: the workers start at once with what this process has loaded; they never
            # touch the database connections they inherit.
            started = time.monotonic()
            _warm_up()  # loaded once here, shared by the forked workers
            # what is loaded by now lives as long as the run: the collector need not look at
            # it again, here or in the workers (whose pages it would copy by looking); the
            # garbage of the moment is collected first, or it would stay for good
            gc.collect()
            gc.freeze()
            global _WORKER_MAILINGS
            _WORKER_MAILINGS = self.mailings
            # the pool's modules are loaded with the first pool: a run with nothing to code,
            # or little, never needs them
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("fork")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context,
                                             initializer=_die_with_parent,
                                             initargs=(os.getpid(),))
            self._pool_started = time.monotonic()
            self.times.starting += self._pool_started - started
            self.times.workers = max(self.times.workers, self.workers)
            log.debug("coding in %d worker processes", self.workers)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool_stopped()

    def __enter__(self) -> Coder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
