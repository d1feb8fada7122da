"""What a run reports of itself: counts and where its time went. No SQLAlchemy here: a
fetch with nothing new (:mod:`ldn_inbox.flow.quick`) reports with these too."""

from __future__ import annotations

from dataclasses import dataclass, field

from ldn_inbox.flow.coder import CoderTimes


@dataclass
class Waits:
    """Where an ingest run's time went, in monotonic seconds (no content, no counts of
    anyone's messages): what a benchmark needs to say what a run waits for.

    :ivar storing: hashing and storing raw bytes (with the IMAP ledger rows), committing.
    :ivar results: waiting for the coding workers' results (the run has nothing else to do).
    :ivar writing: writing coded records.
    :ivar learning: learning mailings from the replies' quotes.
    :ivar coder: coding in this process, and the workers' busy and idle time.
    """

    storing: float = 0.0
    results: float = 0.0
    writing: float = 0.0
    learning: float = 0.0
    coder: CoderTimes = field(default_factory=CoderTimes)

    def add_coder(self, times: CoderTimes) -> None:
        self.coder.here += times.here
        self.coder.starting += times.starting
        self.coder.busy += times.busy
        self.coder.alive += times.alive
        self.coder.workers = max(self.coder.workers, times.workers)

    def accounted(self) -> float:
        """The seconds of the run's own process these times account for (the workers'
        time runs beside it)."""
        return (self.storing + self.results + self.writing + self.learning + self.coder.here
                + self.coder.starting)

    def line(self) -> str:
        """The times as one line (``ldn-inbox -v``)."""
        coder = self.coder
        text = (f"storing {self.storing:.2f} s, coding in this process {coder.here:.2f} s, "
                f"starting coding workers {coder.starting:.2f} s, "
                f"waiting for coding workers {self.results:.2f} s, "
                f"writing records {self.writing:.2f} s, learning mailings {self.learning:.2f} s")
        if coder.workers:
            text += (f"; {coder.workers} workers busy {coder.busy:.2f} s, "
                     f"idle {coder.idle:.2f} s (summed)")
        return text


@dataclass(frozen=True)
class FetchSummary:
    """Counts of one ``fetch`` run: no content, no addresses.

    :ivar fetched: messages downloaded (each then stored as new or recognised as known).
    :ivar new: raw messages added to the store.
    :ivar known: downloaded bytes already in the store (a re-fetch, or a re-scan after a
        UIDVALIDITY change).
    :ivar quarantined: stored, but parsing or coding failed (``ldn-inbox errors``).
    :ivar too_big: stored as header only, being over ``imap.max_message_bytes``.
    :ivar failed: the server did not deliver them; retried by the next run.
    :ivar vanished: expunged by someone else before they could be fetched.
    :ivar applied: messages marked seen or moved (``imap.after``).
    :ivar recovered: stored by an earlier, interrupted run and coded by this one.
    :ivar seconds: the run, from taking the lock to the end; ``imap_seconds`` of it waiting
        for the server, ``setup_seconds`` opening the database and reading its settings,
        ``waits`` storing and coding (see :meth:`time_line`).
    """

    account: str
    folder: str
    uidvalidity: int
    fetched: int
    new: int
    known: int
    forgotten: int
    duplicate_id: int
    coded: int
    quarantined: int
    too_big: int
    failed: int
    vanished: int
    applied: int
    recovered: int
    uidvalidity_changed: bool
    reconnects: int
    seconds: float
    imap_seconds: float
    after: str = "none"
    setup_seconds: float = 0.0
    waits: Waits = field(default_factory=Waits, compare=False)

    @property
    def problems(self) -> int:
        """Messages that need a look: quarantined, stored incompletely, or not fetched."""
        return self.quarantined + self.too_big + self.failed

    def line(self) -> str:
        """One line for ``--verbose`` and cron mail."""
        parts = [f"{self.fetched} fetched", f"{self.new} new", f"{self.known} already stored",
                 f"{self.quarantined} quarantined"]
        extra = {"too big (header kept)": self.too_big, "failed (retried next run)": self.failed,
                 "vanished": self.vanished, "erased earlier": self.forgotten,
                 "same Message-ID, other bytes": self.duplicate_id,
                 "coded after an interrupted run": self.recovered,
                 "reconnects": self.reconnects}
        parts += [f"{count} {label}" for label, count in extra.items() if count]
        if self.applied:
            verb = "marked seen" if self.after == "seen" else f"moved to {self.after[5:]}"
            parts.append(f"{self.applied} {verb}")
        if self.uidvalidity_changed:
            parts.append("UIDVALIDITY changed: folder re-read")
        return (f"{self.account}/{self.folder}: " + ", ".join(parts)
                + f" in {self.seconds:.1f} s (server {self.imap_seconds:.1f} s)")

    def time_line(self) -> str:
        """Where the run waited, for ``ldn-inbox -v fetch`` and the benchmark: the parts
        are measured where they happen (monotonic clock); ``other`` is the rest (ledger
        reads, ``imap.after``, re-coding checks, the progress display)."""
        waits = self.waits
        accounted = self.setup_seconds + self.imap_seconds + waits.accounted()
        return (f"time {self.seconds:.2f} s: setup (credential, database) "
                f"{self.setup_seconds:.2f} s, waiting for the server {self.imap_seconds:.2f} s, "
                f"{waits.line()}, "
                f"other {max(0.0, self.seconds - accounted):.2f} s")


__all__ = ["FetchSummary", "Waits"]
