"""Memory of the hostile batch: what one hostile message, and a whole batch of them beside
ordinary replies, costs the processes that parse and code them.

    .venv/bin/python bench/hostile_bench.py            # appends to docs/robustness.md
    .venv/bin/python bench/hostile_bench.py --no-doc   # print only
    .venv/bin/python bench/hostile_bench.py --quick    # without the two long-line messages

Every hostile file is built here (nothing fetched): six mails with a .docx whose XML unpacks
to 45 MB, a zip bomb, a 100 KB and a 0.5 MB line, a plain-text mail just under
``imap.max_message_bytes``, a file of 1.1 GB (sparse), 2,000-deep and 10,000-part MIME
trees, a 100,000-line header, and 40 ordinary replies (bench/import_bench.py's generator).

1. Each hostile message alone, in a fresh process: peak RSS (``ru_maxrss``) of the process
   that parses and codes it, and its increase over the same process warmed up (lexicons and
   language model loaded), with the outcome (coded, cut, refused, quarantined).
2. The whole directory through one ``ldn-inbox import`` process with its default workers,
   sampled every 0.1 s: the peak RSS of each process, and the peak of the batch's memory
   across processes, counted as proportional set size (PSS: pages shared after fork counted
   once, not once per worker) and as the sum of RSS (an upper bound).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_bench import Generator
from machine import describe, run_sampled

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "robustness.md"
SECTION = "## Memory of the hostile batch"
MAX_MESSAGE_BYTES = 50_000_000


# --------------------------------------------------------------------------- the batch
def _head(name: str, extra: str = "") -> bytes:
    return (f"From: {name} <{name}@example.org>\r\nTo: info@fibrores.org\r\n"
            f"Subject: Re: Vier vragen over LDN\r\nMessage-ID: <{name}@hostile.example>\r\n"
            f"MIME-Version: 1.0\r\n{extra}").encode()


def _with_attachment(name: str, filename: str, ctype: str, data: bytes) -> bytes:
    return (_head(name, 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n')
            + b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nZie bijlage.\r\n--b\r\n"
            + f"Content-Type: {ctype}\r\nContent-Disposition: attachment; "
              f'filename="{filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'.encode()
            + base64.encodebytes(data).replace(b"\n", b"\r\n") + b"--b--\r\n")


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _docx(xml_bytes: int, seed: int) -> bytes:
    """A .docx whose document.xml is ``xml_bytes`` of short paragraphs (a few hundred KB
    compressed); ``seed`` varies the words so that six copies are six messages."""
    words = ("LDN helpt", "minder pijn", "beter slapen", "de huisarts", "geen klachten")
    paras = [f"<w:p><w:r><w:t>{words[(i + seed) % 5]} {i % 97}</w:t></w:r></w:p>".encode()
             for i in range(500)]
    block = b"".join(paras)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml",
                         '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org'
                         '/package/2006/content-types"><Default Extension="rels" ContentType='
                         '"application/vnd.openxmlformats-package.relationships+xml"/><Default'
                         ' Extension="xml" ContentType="application/xml"/><Override PartName='
                         '"/word/document.xml" ContentType="application/vnd.openxmlformats-off'
                         'icedocument.wordprocessingml.document.main+xml"/></Types>')
        archive.writestr("_rels/.rels",
                         '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlfor'
                         'mats.org/package/2006/relationships"><Relationship Id="rId1" Type="h'
                         'ttp://schemas.openxmlformats.org/officeDocument/2006/relationships/o'
                         'fficeDocument" Target="word/document.xml"/></Relationships>')
        archive.writestr("word/document.xml",
                         b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlfor'
                         b'mats.org/wordprocessingml/2006/main"><w:body>'
                         + block * (xml_bytes // len(block)) + b"</w:body></w:document>")
    return out.getvalue()


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * 60_000_000)
    return out.getvalue()


def _one_line(name: str, size: int) -> bytes:
    words = "ik neem LDN en de huisarts zegt dat het helpt tegen de pijn ".split()
    line = " ".join(words[i % len(words)] for i in range(size // 5))[:size]
    return _head(name, "Content-Type: text/plain; charset=utf-8\r\n\r\n") + (
        f"1. {line}\r\n").encode()


def _plain(name: str, size: int) -> bytes:
    line = b"Ik neem LDN sinds twee jaar en het helpt goed tegen de pijn, zegt de huisarts.\r\n"
    head = _head(name, "Content-Type: text/plain; charset=utf-8\r\n\r\n")
    return head + line * ((size - len(head)) // len(line))


def _nested(name: str, depth: int) -> bytes:
    out = _head(name, 'Content-Type: multipart/mixed; boundary="n0"\r\n\r\n')
    for level in range(1, depth):
        out += b'--n%d\r\nContent-Type: multipart/mixed; boundary="n%d"\r\n\r\n' % (
            level - 1, level)
    out += b"--n%d\r\nContent-Type: text/plain\r\n\r\n1. Ja.\r\n" % (depth - 1)
    return out + b"".join(b"--n%d--\r\n" % level for level in reversed(range(depth)))


def _many_parts(name: str, parts: int) -> bytes:
    body = b"".join(b"--p\r\nContent-Type: text/plain\r\n\r\ndeel %d\r\n" % i
                    for i in range(parts))
    return _head(name, 'Content-Type: multipart/mixed; boundary="p"\r\n\r\n') + body + b"--p--\r\n"


def _long_header(name: str, lines: int) -> bytes:
    filler = b"".join(b"X-Filler-%d: value %d\r\n" % (i, i) for i in range(lines))
    return _head(name, "") + filler + b"Content-Type: text/plain\r\n\r\n1. Ja, LDN.\r\n"


HOSTILE: dict[str, Callable[[], bytes]] = {
    **{f"docx-45mb-xml-{i}.eml": (lambda i=i: _with_attachment(
        f"docx{i}", "antwoorden.docx", DOCX, _docx(45_000_000, i))) for i in range(6)},
    "zip-bomb.eml": lambda: _with_attachment("zipbomb", "bom.docx", DOCX, _zip_bomb()),
    "line-100kb.eml": lambda: _one_line("line100k", 100_000),
    "line-500kb.eml": lambda: _one_line("line500k", 500_000),
    "plain-49.9mb.eml": lambda: _plain("plain", MAX_MESSAGE_BYTES - 100_000),
    "nested-2000.eml": lambda: _nested("nested", 2000),
    "parts-10000.eml": lambda: _many_parts("parts", 10_000),
    "header-100000-lines.eml": lambda: _long_header("header", 100_000),
}
LONG_LINES = {"line-100kb.eml", "line-500kb.eml"}
SPARSE = "sparse-1.1gb.eml"


def write_batch(directory: Path, *, quick: bool, normal: int = 40) -> list[str]:
    """The hostile files and ``normal`` ordinary replies in ``directory``; the hostile names."""
    names = []
    for name, build in HOSTILE.items():
        if quick and name in LONG_LINES:
            continue
        (directory / name).write_bytes(build())
        names.append(name)
    with (directory / SPARSE).open("wb") as out:
        out.write(_plain("sparse", 10_000))
        out.truncate(1_100_000_000)
    names.append(SPARSE)
    generator = Generator(20240301)
    for n in range(1, normal + 1):
        (directory / f"reply-{n:03d}.eml").write_bytes(generator.message(n))
    return names


# --------------------------------------------------------------------------- one message
def one(path: Path) -> None:
    """(In a fresh process) read ``path`` as the import reads it, parse and code it; print
    the peak RSS before and after, as JSON."""
    from ldn_inbox.flow.coder import _warm_up, parse_and_code
    from ldn_inbox.sources.files import iter_paths

    _warm_up()
    items = list(iter_paths([path], []))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcome = parse_and_code(items[0].data, message_timeout=120.0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    facts = outcome.facts
    print(json.dumps({"base_kib": base, "peak_kib": peak, "error": outcome.error,
                      "store_error": items[0].store_error,
                      "problems": facts.problems if facts else [],
                      "attachments": facts.attachments if facts else [],
                      "kind": outcome.coded.values.get("kind") if outcome.coded else None}))


@dataclass(frozen=True)
class Alone:
    name: str
    size: int
    seconds: float
    peak_mib: float
    increase_mib: float
    outcome: str


def _outcome(result: dict[str, object]) -> str:
    if result["store_error"]:
        return "header only (too big)"
    if result["error"]:
        return "quarantined: " + str(result["error"]).split(":")[0]
    notes = [str(p) for p in result["problems"]]  # type: ignore[attr-defined]
    refused = [a["error"] for a in result["attachments"]  # type: ignore[attr-defined]
               if a.get("error")]
    said = []
    if any("cut" in n or "only its first" in n for n in notes):
        said.append("text cut")
    if refused:
        said.append("attachment refused: " + str(refused[0]).split(":")[0])
    if any("MIME parts" in n for n in notes):
        said.append("parts beyond the limit not read")
    return f"coded {result['kind']}" + (", " + ", ".join(said) if said else "")


def run_alone(path: Path) -> Alone:
    import time

    started = time.monotonic()
    done = subprocess.run([sys.executable, __file__, "--one", str(path)], capture_output=True,
                          text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{path.name}: exit {done.returncode}\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Alone(path.name, path.stat().st_size, seconds, result["peak_kib"] / 1024,
                 (result["peak_kib"] - result["base_kib"]) / 1024, _outcome(result))


# --------------------------------------------------------------------------- the batch run
def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                found += [int(c) for c in handle.read().split()]
    except OSError:
        pass
    return found


def _memory(pid: int) -> tuple[float, float] | None:
    """(RSS, PSS) in MiB of ``pid``, from /proc/PID/smaps_rollup."""
    values = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss"):
                    values[key] = int(rest.split()[0]) / 1024
    except (OSError, ValueError):
        return None
    if "Rss" not in values:
        return None
    return values["Rss"], values.get("Pss", values["Rss"])


@dataclass
class Batch:
    """One ``ldn-inbox import`` of the whole directory, sampled."""

    seconds: float = 0.0
    code: int = 0
    workers: int = 0
    peak_rss: dict[int, float] = field(default_factory=dict)
    peak_pss_total: float = 0.0
    peak_rss_total: float = 0.0
    main_pid: int = 0
    stored: int = 0
    coded: int = 0
    quarantined: list[tuple[str, str]] = field(default_factory=list)


def run_batch(directory: Path, work: Path, env: dict[str, str]) -> Batch:
    database = work / "hostile.sqlite"
    script = Path(sys.executable).with_name("ldn-inbox")
    batch = Batch()

    def sample(pid: int) -> float | None:
        batch.main_pid = pid
        pids = [pid, *_children(pid)]
        total_pss = total_rss = 0.0
        for each in pids:
            memory = _memory(each)
            if memory is None:
                continue
            rss, pss = memory
            total_rss += rss
            total_pss += pss
            batch.peak_rss[each] = max(batch.peak_rss.get(each, 0.0), rss)
        batch.peak_pss_total = max(batch.peak_pss_total, total_pss)
        batch.peak_rss_total = max(batch.peak_rss_total, total_rss)
        return total_pss

    run = run_sampled([str(script), "--db", f"sqlite:///{database}", "import", "--quiet",
                       str(directory)], env, sample, interval=0.1, cwd=work)
    batch.seconds, batch.code = run.seconds, run.code
    batch.workers = len(batch.peak_rss) - 1
    with sqlite3.connect(database) as conn:
        batch.stored = conn.execute("SELECT count(*) FROM raw_messages").fetchone()[0]
        batch.coded = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
        batch.quarantined = [
            (mid, (error or "").split(":")[0]) for mid, error in conn.execute(
                "SELECT message_id, parse_error FROM messages "
                "WHERE parse_status = 'parse_error' ORDER BY id")]
        batch.quarantined += [(mid, "too big: header only") for (mid,) in conn.execute(
            "SELECT message_id FROM raw_messages WHERE store_error IS NOT NULL")]
    if run.code not in (0, 6):
        raise SystemExit(f"ldn-inbox import exited {run.code}:\n{run.errors[-3000:]}")
    return batch


# --------------------------------------------------------------------------- report
def report(info: dict[str, str], alone: list[Alone], batch: Batch, files: int) -> str:
    lines = [
        f"### {info['date']}",
        "",
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['ram']} RAM, load average "
        f"{info['load']} at the start. ldn-inbox {info['ldn_inbox']} (extractor "
        f"{info['extractor']}), Python {info['python']}. Command: "
        "`.venv/bin/python bench/hostile_bench.py`.",
        "",
        "Each hostile message alone, read as `import` reads it, then parsed and coded in a "
        "fresh process (peak RSS of that process; increase over the same process warmed up):",
        "",
        "| message | file | time | peak RSS | increase | outcome |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for a in alone:
        size = f"{a.size / 2**20:.1f} MiB" if a.size >= 2**20 else f"{a.size / 1024:.0f} KiB"
        lines.append(f"| {a.name} | {size} | {a.seconds:.1f} s | {a.peak_mib:.0f} MiB | "
                     f"{a.increase_mib:.0f} MiB | {a.outcome} |")
    worker_peaks = [rss for pid, rss in batch.peak_rss.items() if pid != batch.main_pid]
    lines += [
        "",
        f"The whole directory ({files} files: the hostile ones and 40 ordinary replies) in one "
        f"`ldn-inbox import` with {batch.workers} worker processes: {batch.seconds:.0f} s, exit "
        f"{batch.code}; {batch.stored} messages stored, {batch.coded} coded; quarantined or "
        "stored as header only: "
        + ", ".join(f"{mid.split('@')[0]} ({why})" for mid, why in batch.quarantined) + ".",
        "",
        "| | peak |",
        "|---|---:|",
        f"| the run's own process, RSS | {batch.peak_rss.get(batch.main_pid, 0):.0f} MiB |",
        "| each worker, RSS | "
        + " / ".join(f"{rss:.0f}" for rss in sorted(worker_peaks, reverse=True)) + " MiB |",
        f"| all processes together, PSS (shared pages counted once) | "
        f"{batch.peak_pss_total:.0f} MiB |",
        f"| all processes together, sum of RSS (upper bound) | "
        f"{batch.peak_rss_total:.0f} MiB |",
    ]
    return "\n".join(lines) + "\n"


def append_to_doc(block: str, doc: Path) -> None:
    """Add ``block`` at the end of the section (created at the end of ``doc`` if absent)."""
    text = doc.read_text("utf-8")
    if SECTION not in text:
        text = (text.rstrip("\n") + f"\n\n{SECTION}\n\nWritten by `bench/hostile_bench.py` "
                "(see its docstring for what it builds and measures).\n")
    start = text.index(SECTION)
    following = text.find("\n## ", start + len(SECTION))
    end = len(text) if following < 0 else following + 1
    section = text[start:end].rstrip("\n") + "\n\n" + block
    doc.write_text(text[:start] + section + ("\n" + text[end:] if text[end:] else ""),
                   encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true",
                        help="leave out the 100 KB and 0.5 MB lines (minutes of coding)")
    parser.add_argument("--doc", type=Path, default=DOC, help="Markdown file to append to")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args()
    if args.one is not None:
        one(args.one)
        return
    info = describe()
    with tempfile.TemporaryDirectory(prefix="ldn-hostile-bench-") as tmp:
        work = Path(tmp)
        batch_dir = work / "batch"
        batch_dir.mkdir()
        names = write_batch(batch_dir, quick=args.quick)
        alone = []
        for name in names:
            alone.append(run_alone(batch_dir / name))
            print(f"  {name}: {alone[-1].peak_mib:.0f} MiB ({alone[-1].outcome})",
                  file=sys.stderr)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LDN_INBOX_")}
        env.update(HOME=str(work / "home"), XDG_CONFIG_HOME=str(work / "home" / ".config"),
                   XDG_DATA_HOME=str(work / "home" / ".local" / "share"),
                   LDN_INBOX_PRIVACY_KEY_FILE=str(work / "pseudonym.key"))
        batch = run_batch(batch_dir, work, env)
        files = len(list(batch_dir.iterdir()))
    block = report(info, alone, batch, files)
    print(block)
    if not args.no_doc:
        append_to_doc(block, args.doc)
        print(f"(appended to {args.doc})", file=sys.stderr)


if __name__ == "__main__":
    main()
