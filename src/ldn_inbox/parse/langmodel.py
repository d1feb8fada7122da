"""The language identifier's model, kept in a file that is mapped rather than loaded.

py3langid ships its model as one LZMA-compressed archive for 97 languages. Loading it takes
some 2.5 s of CPU and, for a moment, about 100 MiB: the whole probability table and two
copies of the byte automaton. Classification needs the automaton and the table's columns
of the languages :mod:`ldn_inbox.parse.classify` asks about, so those are written once, as
plain arrays, to a file in the user's cache directory (read one array at a time, so writing
it takes less than half of that memory), and every later process maps that file: it starts
in milliseconds, and the coding workers share its pages instead of holding a copy each.

The file is named after the model and the languages it was made from, and is checked when
mapped; one that does not match is made again. Where no cache directory can be written,
the model is loaded the library's own way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Layout of the file: this line, a JSON header line, then the arrays at their offsets.
_MAGIC = b"ldn-inbox language model 1\n"
_ALIGN = 64
#: Bytes before the first array, for the two header lines.
_HEADER_SPACE = 4096
#: (name in py3langid's archive, dtype in the file, memoryview format)
_ARRAYS = (("ptc", "float16", ""), ("pc", "float32", ""), ("nextmove_row", "uint16", "H"),
           ("out_feat", "int32", "i"), ("nextmove", "uint32", "I"))


def cache_dir() -> Path:
    """Where the mapped model is kept: the user's cache directory (``$XDG_CACHE_HOME``)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("ldn-inbox"))


def _model_file() -> Path:
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    return Path(str(MODEL_DIR)) / str(MODEL_FILE)


def _source(languages: tuple[str, ...]) -> dict[str, Any]:
    """What the file is made from: a file made from anything else is not used."""
    from importlib.metadata import version

    model = _model_file()
    stat = model.stat()
    return {"py3langid": version("py3langid"), "model": str(model), "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns, "languages": list(languages),
            "byteorder": sys.byteorder}


def identifier(languages: tuple[str, ...]) -> Any:
    """A py3langid ``LanguageIdentifier`` (normalised probabilities) restricted to
    ``languages``: the same answers as the library's own, restricted with
    ``set_languages``."""
    source = _source(languages)
    digest = hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"langid-{digest}.bin"
    try:
        return _mapped(path, source)
    except (OSError, ValueError, KeyError) as exc:
        if path.exists():
            log.info("language model cache %s unusable (%s): making it again", path, exc)
    try:
        _write(path, source, languages)
        return _mapped(path, source)
    except (OSError, ValueError, KeyError) as exc:
        log.info("language model cache not written (%s): loading the model in memory", exc)
        return _loaded(languages)


def _loaded(languages: tuple[str, ...]) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    found = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    found.set_languages(list(languages))
    return found


def _write(path: Path, source: dict[str, Any], languages: tuple[str, ...]) -> None:
    """Write the arrays the identifier needs, reading py3langid's archive one array at a
    time (its uncompressed form goes to a temporary file, never into memory whole)."""
    import lzma
    import shutil

    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(suffix=".npz") as npz:
        with lzma.open(_model_file()) as archive:
            shutil.copyfileobj(archive, npz, length=1 << 20)
        npz.seek(0)
        with np.load(npz, allow_pickle=False) as data:
            classes = data["classes"].tolist()
            wanted = set(languages)
            # the columns set_languages keeps, in the model's order
            columns = [i for i, label in enumerate(classes) if label in wanted]
            entries: list[dict[str, Any]] = []
            offset = _HEADER_SPACE
            fd, temporary = tempfile.mkstemp(prefix=path.name, dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    for name, dtype, _ in _ARRAYS:  # each written, then let go
                        array = data[name]
                        if name == "ptc":
                            array = array[:, columns]
                        elif name == "pc":
                            array = array[columns]
                        array = np.ascontiguousarray(array, dtype=dtype)
                        entries.append({"name": name, "dtype": dtype,
                                        "shape": list(array.shape), "offset": offset,
                                        "bytes": array.nbytes})
                        out.seek(offset)
                        out.write(array.data)
                        offset += -(-array.nbytes // _ALIGN) * _ALIGN
                        del array
                    header = _MAGIC + json.dumps({
                        "source": source, "classes": [classes[i] for i in columns],
                        "arrays": entries}).encode() + b"\n"
                    if len(header) > _HEADER_SPACE:
                        raise ValueError("language model header too long")
                    out.seek(0)
                    out.write(header)
                    out.truncate(offset)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise


def _mapped(path: Path, source: dict[str, Any]) -> Any:
    """The identifier over the arrays of ``path``, mapped read-only."""
    import numpy as np
    from py3langid.langid import LanguageIdentifier

    with path.open("rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    if mapped[:len(_MAGIC)] != _MAGIC:
        raise ValueError("not a language model file")
    end = mapped.find(b"\n", len(_MAGIC))
    header = json.loads(mapped[len(_MAGIC):end])
    if header["source"] != source:
        raise ValueError("made from another model")
    formats = {name: fmt for name, _, fmt in _ARRAYS}
    view = memoryview(mapped)
    arrays: dict[str, Any] = {}
    for entry in header["arrays"]:
        first = int(entry["offset"])
        if first + int(entry["bytes"]) > len(mapped):
            raise ValueError("language model file cut short")
        part = view[first:first + int(entry["bytes"])]
        fmt = formats[entry["name"]]
        if fmt:  # read by the automaton an item at a time: a memoryview indexes fastest
            arrays[entry["name"]] = part.cast(fmt)  # type: ignore[call-overload]
        else:
            arrays[entry["name"]] = np.frombuffer(part, dtype=entry["dtype"]).reshape(
                entry["shape"])
    found = LanguageIdentifier(arrays["ptc"], arrays["pc"], list(header["classes"]),
                               arrays["nextmove"], arrays["out_feat"], norm_probs=True,
                               tk_row=arrays["nextmove_row"])
    found._full_model = None  # nothing to restrict again: the file holds only these
    return found
