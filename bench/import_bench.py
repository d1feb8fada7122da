"""Import benchmark: ``ldn-inbox import`` of an mbox and of a maildir, at 1,000 and 10,000
messages.

    .venv/bin/python bench/import_bench.py                  # 1,000 and 10,000; appends to
                                                            # docs/benchmarks.md
    .venv/bin/python bench/import_bench.py --sizes 200 --no-doc     # a quick try

Writes N seeded, fictional survey replies of 2-30 KB (plain text, quoted-printable,
text+HTML, HTML only, attachments: .txt, .docx, .pdf, a photo; a few auto-replies and a few
without Message-ID) into a temporary mbox and a temporary maildir (with a Maildir++
subfolder), then runs ``ldn-inbox import --quiet`` on each as its own process into a fresh
SQLite database and measures: wall time and msgs/s (interpreter start-up included), peak RSS
of that process (``wait4``), RSS sampled during the run (first and second half), and the
database size. Peak RSS at 10,000 compared with 1,000 tells whether the import streams.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import mailbox
import os
import random
import sqlite3
import sys
import tempfile
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parent))
from machine import describe, run_sampled

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Import (files)"

ANSWERS = {
    "nl": (["Ja, ik neem LDN sinds {n} maanden.", "Nee, ik heb het nooit genomen.",
            "Ik nam het vroeger, nu niet meer."],
           ["Mijn huisarts schreef het voor.", "De reumatoloog.", "Een arts in Nederland.",
            "De pijnkliniek van het ziekenhuis."],
           ["Minder pijn en ik slaap beter.", "Geen verschil gemerkt.",
            "In het begin goed, daarna minder."],
           ["Levendige dromen de eerste week.", "Geen bijwerkingen.",
            "Wat hoofdpijn in het begin."]),
    "fr": (["Oui, je prends du LDN depuis {n} mois.", "Non, jamais.",
            "Je l'ai pris l'an dernier, j'ai arrêté."],
           ["Mon médecin généraliste.", "Le rhumatologue.", "Un neurologue à Liège."],
           ["Moins de douleurs, meilleur sommeil.", "Aucun effet.", "Un peu moins fatiguée."],
           ["Des rêves très vifs.", "Pas d'effets secondaires.", "Des nausées au début."]),
    "en": (["Yes, I have taken LDN for {n} months.", "No, never.", "I took it last year."],
           ["My GP prescribed it.", "A rheumatologist.", "An online doctor."],
           ["Less pain, better sleep.", "No difference.", "Helped at first, then faded."],
           ["Vivid dreams.", "No side effects.", "Some insomnia at the start."]),
}
QUESTIONS = ("1. Neemt u LDN (low-dose naltrexone), of heeft u het ooit genomen?",
             "2. Wie schreef het voor?", "3. Wat was uw ervaring?",
             "4. Had u bijwerkingen?")
FILLER = ("Beste lid, FibroRes vzw verzamelt ervaringen met LDN. Uw antwoorden blijven anoniem "
          "en helpen andere patiënten. Alvast bedankt voor uw tijd en uw eerlijke antwoorden.")
SHAPES = ("plain", "quoted-printable", "text+html", "html", "attachment", "auto-reply")
SHAPE_WEIGHTS = (45, 10, 20, 10, 10, 5)


# --------------------------------------------------------------------------- messages
def _docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    for line in ("1. Ja, sinds een jaar.", "2. De huisarts.", "3. Minder pijn.",
                 "4. Geen bijwerkingen."):
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _pdf_bytes() -> bytes:
    stream = b"BT /F1 12 Tf 72 720 Td (1. Ja. 2. De neuroloog. 3. Beter. 4. Nee.) Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)


@dataclass
class Generator:
    """Seeded, fictional survey replies of 2-30 KB in the shapes mail clients send."""

    seed: int
    rng: random.Random = field(init=False)
    docx: bytes = field(init=False)
    pdf: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.docx = _docx_bytes()
        self.pdf = _pdf_bytes()

    def _own_words(self, n: int) -> list[str]:
        use, who, how, side = ANSWERS[self.rng.choice(("nl", "nl", "fr", "en"))]
        return [f"1. {self.rng.choice(use).format(n=self.rng.randint(1, 36))}",
                f"2. {self.rng.choice(who)}", f"3. {self.rng.choice(how)}",
                f"4. {self.rng.choice(side)}", "", "Groeten,", f"Respondent {n}"]

    def _quoted(self, size: int) -> list[str]:
        lines = ["", "Op 1 maart 2024 schreef FibroRes vzw <info@fibrores.org>:"]
        while sum(len(line) + 2 for line in lines) < size:
            lines += [f"> {q}" for q in QUESTIONS] + [f"> {FILLER}", ">"]
        return lines

    def message(self, n: int) -> bytes:
        rng = self.rng
        target = rng.randint(2_000, 30_000)
        shape = rng.choices(SHAPES, SHAPE_WEIGHTS)[0]
        when = dt.datetime(2024, 3, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=7 * n)
        head = [f"From: Respondent {n} <respondent.{n}@example.org>",
                "To: FibroRes vzw <info@fibrores.org>", "Subject: Re: Vier vragen over LDN",
                f"Date: {format_datetime(when)}", "MIME-Version: 1.0"]
        if rng.random() > 0.01:  # about 1 in 100 has no Message-ID
            head.append(f"Message-ID: <bench-{self.seed}-{n}@example.org>")
        own = self._own_words(n)
        text = "\r\n".join(own + self._quoted(target - 600)) + "\r\n"
        if shape == "auto-reply":
            head[2] = "Subject: Automatisch antwoord: afwezig"
            head += ["Auto-Submitted: auto-replied", "Content-Type: text/plain; charset=utf-8"]
            body = "Ik ben afwezig tot maandag en lees uw bericht daarna.\r\n" + "\r\n".join(
                self._quoted(target - 300)) + "\r\n"
            return ("\r\n".join(head) + "\r\n\r\n" + body).encode()
        if shape == "plain":
            head += ["Content-Type: text/plain; charset=utf-8",
                     "Content-Transfer-Encoding: 8bit"]
            return ("\r\n".join(head) + "\r\n\r\n" + text).encode()
        if shape == "quoted-printable":
            import quopri

            head += ["Content-Type: text/plain; charset=utf-8",
                     "Content-Transfer-Encoding: quoted-printable"]
            return ("\r\n".join(head) + "\r\n\r\n").encode() + quopri.encodestring(
                text.encode())
        html = ("<html><body>" + "".join(f"<p>{line}</p>" for line in own if line)
                + "<blockquote type=\"cite\">"
                + "".join(f"<p>{line[2:]}</p>" for line in self._quoted(target // 2 - 600)
                          if line.startswith("> ") and len(line) > 2)
                + "</blockquote></body></html>")
        if shape == "html":
            head += ["Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
            return ("\r\n".join(head) + "\r\n\r\n" + html + "\r\n").encode()
        boundary = f"=_bench_{n}"
        if shape == "text+html":
            head.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
            half = "\r\n".join(own + self._quoted(target // 2 - 600)) + "\r\n"
            parts = [("text/plain; charset=utf-8", half), ("text/html; charset=utf-8", html)]
            body = "".join(f"--{boundary}\r\nContent-Type: {ctype}\r\n"
                           f"Content-Transfer-Encoding: 8bit\r\n\r\n{content}\r\n"
                           for ctype, content in parts) + f"--{boundary}--\r\n"
            return ("\r\n".join(head) + "\r\n\r\n" + body).encode()
        # attachment: a short text, then a .txt with the answers, a .docx, a .pdf or a photo
        import base64

        kind = rng.choice(("txt", "docx", "pdf", "jpg"))
        data = {"txt": "\r\n".join(own).encode(), "docx": self.docx, "pdf": self.pdf,
                "jpg": b"\xff\xd8\xff\xe0" + rng.randbytes(max(1000, target - 3000))}[kind]
        ctype = {"txt": "text/plain; charset=utf-8",
                 "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml."
                         "document", "pdf": "application/pdf", "jpg": "image/jpeg"}[kind]
        head.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
        body = (f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                f"Zie bijlage.\r\n" + "\r\n".join(self._quoted(target - len(data) - 1500))
                + f"\r\n--{boundary}\r\nContent-Type: {ctype}\r\n"
                f'Content-Disposition: attachment; filename="antwoorden.{kind}"\r\n'
                "Content-Transfer-Encoding: base64\r\n\r\n")
        return (("\r\n".join(head) + "\r\n\r\n" + body).encode()
                + base64.encodebytes(data).replace(b"\n", b"\r\n")
                + f"--{boundary}--\r\n".encode())


def write_mailboxes(count: int, seed: int, directory: Path) -> tuple[Path, Path, int]:
    """The same ``count`` messages as an mbox and as a maildir (a tenth in ``.Archief``)."""
    generator = Generator(seed)
    mbox_path = directory / f"bench-{count}.mbox"
    maildir_path = directory / f"bench-{count}.maildir"
    mbox = mailbox.mbox(str(mbox_path))
    maildir = mailbox.Maildir(str(maildir_path))
    archive = maildir.add_folder("Archief")
    total = 0
    mbox.lock()
    try:
        for n in range(1, count + 1):
            data = generator.message(n)
            total += len(data)
            mbox.add(data)
            (archive if n % 10 == 0 else maildir).add(data)
        mbox.flush()
    finally:
        mbox.unlock()
        mbox.close()
    return mbox_path, maildir_path, total


# --------------------------------------------------------------------------- measuring
@dataclass(frozen=True)
class Run:
    """One ``ldn-inbox import`` process."""

    source: str
    messages: int
    seconds: float
    peak_rss_mib: float
    rss_first_half_mib: float
    rss_second_half_mib: float
    database_mib: float
    stored: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def _rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def import_run(source: str, path: Path, messages: int, work: Path,
               env: dict[str, str]) -> Run:
    database = work / f"{path.name}.sqlite"
    script = Path(sys.executable).with_name("ldn-inbox")
    command = [str(script), "--db", f"sqlite:///{database}", "import", "--quiet", str(path)]
    run = run_sampled(command, env, _rss_mib, interval=0.25, cwd=work)
    if run.code != 0:
        raise SystemExit(f"ldn-inbox import {path} exited {run.code}:\n{run.errors[-3000:]}")
    seconds, samples, usage = run.seconds, run.samples, run.usage
    half = seconds / 2
    first = max((rss for at, rss in samples if at <= half), default=0.0)
    second = max((rss for at, rss in samples if at > half), default=0.0)
    with sqlite3.connect(database) as conn:
        stored = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    size = sum(p.stat().st_size for p in work.glob(f"{database.name}*") if p.is_file())
    return Run(source, messages, seconds, usage.ru_maxrss / 1024, first, second,
               size / 2**20, stored)


def machine() -> dict[str, str]:
    return {**describe(), "sqlite": sqlite3.sqlite_version}


# --------------------------------------------------------------------------- report
def report(info: dict[str, str], runs: list[Run], sizes: dict[int, float]) -> str:
    lines = [
        f"### {info['date']}",
        "",
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['ram']} RAM, load average "
        f"{info['load']} at the start. ldn-inbox {info['ldn_inbox']} (extractor "
        f"{info['extractor']}), Python {info['python']}, SQLite {info['sqlite']}. Command: "
        "`.venv/bin/python bench/import_bench.py`; each figure is one "
        "`ldn-inbox import --quiet` process into a fresh SQLite file (start-up included).",
        "",
        "| source | messages | mailbox | time | msgs/s | peak RSS | RSS 1st half / 2nd half "
        "| database |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run.source} | {run.messages:,} | {sizes[run.messages]:.0f} MiB | "
            f"{run.seconds:.0f} s | {run.rate:.1f} | {run.peak_rss_mib:.0f} MiB | "
            f"{run.rss_first_half_mib:.0f} / {run.rss_second_half_mib:.0f} MiB | "
            f"{run.database_mib:.0f} MiB |")
    counts = sorted(sizes)
    if len(counts) > 1:
        small, big = counts[0], counts[-1]
        lines.append("")
        for source in ("mbox", "maildir"):
            peaks = {r.messages: r.peak_rss_mib for r in runs if r.source == source}
            if small in peaks and big in peaks:
                growth = peaks[big] / peaks[small]
                verdict = ("flat: the import streams, memory does not grow with the mailbox"
                           if growth < 1.25 else "NOT flat: memory grows with the mailbox")
                lines.append(f"- {source}: peak RSS {peaks[small]:.0f} MiB at {small:,} "
                             f"messages, {peaks[big]:.0f} MiB at {big:,} ({growth:.2f}x for "
                             f"{big // small}x the messages): {verdict}.")
    return "\n".join(lines) + "\n"


def append_to_doc(block: str, doc: Path) -> None:
    """Add ``block`` at the end of the ``## Import (files)`` section (created if absent)."""
    text = doc.read_text("utf-8") if doc.exists() else "# Benchmarks\n"
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\nWritten by `bench/import_bench.py`.\n"
    start = text.index(SECTION)
    following = text.find("\n## ", start + len(SECTION))
    end = len(text) if following < 0 else following + 1
    section = text[start:end].rstrip("\n") + "\n\n" + block
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text[:start] + section + ("\n" + text[end:] if text[end:] else ""),
                   encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--seed", type=int, default=20240301)
    parser.add_argument("--doc", type=Path, default=DOC, help="Markdown file to append to")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args()
    info = machine()
    runs: list[Run] = []
    sizes: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="ldn-import-bench-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LDN_INBOX_")}
        env.update(HOME=str(work / "home"), XDG_CONFIG_HOME=str(work / "home" / ".config"),
                   XDG_DATA_HOME=str(work / "home" / ".local" / "share"),
                   LDN_INBOX_PRIVACY_KEY_FILE=str(work / "pseudonym.key"))
        for count in args.sizes:
            mbox, maildir, total = write_mailboxes(count, args.seed, work)
            sizes[count] = total / 2**20
            print(f"{count:,} messages, {sizes[count]:.0f} MiB: written", file=sys.stderr)
            for source, path in (("mbox", mbox), ("maildir", maildir)):
                run = import_run(source, path, count, work, env)
                if run.stored != count:
                    raise SystemExit(f"{source}: {run.stored} messages stored, not {count}")
                runs.append(run)
                print(f"  {source}: {run.seconds:.0f} s, {run.rate:.1f} msgs/s, peak RSS "
                      f"{run.peak_rss_mib:.0f} MiB", file=sys.stderr)
    block = report(info, runs, sizes)
    print(block)
    if not args.no_doc:
        append_to_doc(block, args.doc)
        print(f"(appended to {args.doc})", file=sys.stderr)


if __name__ == "__main__":
    main()
