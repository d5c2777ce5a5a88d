"""Text files as they come: their encoding, and lines that are not rows.

Encodings
    A byte-order mark decides first (UTF-8, UTF-16, UTF-32); without one, a file that decodes as UTF-8 from
    start to end is UTF-8, else one that decodes as CP932 (Japanese Excel's "Shift_JIS") is CP932, else the
    file is refused with a message asking for its encoding. Zero bytes without a mark, a tenth of the first 4 KB
    or more and all on one side of the byte pairs, mean UTF-16 without a mark (a stray NUL does not). The whole
    file is checked (a streaming decode; a Japanese comment on the last line counts).
    A library guess (charset-normalizer) is not used: on a two-line CP932 CSV it answers cp949 (Korean) and
    garbles the text, while a strict decode is exact for the two encodings Japanese exports use.

Malformed lines
    DuckDB reads a clean UTF-8 file directly, in strict mode (fast, streaming). If it finds any line that is
    not a row, :func:`split_lines` reads the file again in Python and splits it into rows and quarantined lines,
    each with its 1-based line number, its raw text and the reason: :data:`~.contracts.TOO_MANY_FIELDS`,
    :data:`~.contracts.TOO_FEW_FIELDS`, :data:`~.contracts.UNCLOSED_QUOTE`,
    :data:`~.contracts.MALFORMED_QUOTES` or :data:`~.contracts.TRUNCATED_LAST_LINE`. An unclosed quote
    puts only its own line in quarantine: the lines after it are read again as rows of their own.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
from collections import deque
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .._core.i18n import count
from .._core.io import _column_letter, number_repeats
from . import contracts as C

_BOMS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Tried in order on a file without a byte-order mark.
FALLBACK_ENCODINGS = ("utf-8", "cp932")
#: Encodings DuckDB reads itself; other files are transcoded to UTF-8 first.
DUCKDB_ENCODINGS = ("utf-8", "utf-8-sig")
#: A quoted field may run over this many lines before its opening quote is taken for an unclosed one.
MAX_RECORD_LINES = 1000
_CHUNK = 1 << 20
_IMPLAUSIBLE = re.compile("[\x80-\x9f\ue000-\uf8ff]")


class FileError(ValueError):
    """A file that cannot be read as a table: it does not decode, or it has no usable header line."""


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def open_text(path: str | Path, encoding: str) -> io.TextIOWrapper:
    """``path`` (gzip when it ends in ``.gz``) as text, line endings untranslated (``newline=''``)."""
    return io.TextIOWrapper(_open_bytes(Path(path)), encoding=encoding, errors="strict", newline="")


def check_decodes(path: str | Path, encoding: str, *, plausible: bool = False) -> None:
    """Raise :class:`FileError` naming the line of the first byte that ``encoding`` cannot decode.

    ``plausible``: also refuse control characters U+0080-U+009F and the private use area, which CP932 maps
    bytes to that Japanese text never holds (a Latin-1 file would otherwise pass for CP932 more often).
    """
    path = Path(path)
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    lines = 0
    with _open_bytes(path) as f:
        while True:
            chunk = f.read(_CHUNK)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                before = chunk[: max(exc.start, 0)].decode(encoding, errors="replace")
                line = lines + before.count("\n") + 1
                raise FileError(f"{path.name} is not {encoding}: byte {chunk[exc.start:exc.start + 2]!r} "
                                f"on line {line} cannot be decoded") from None
            odd = _IMPLAUSIBLE.search(text) if plausible and not text.isascii() else None
            if odd:
                line = lines + text[: odd.start()].count("\n") + 1
                raise FileError(f"{path.name} is not {encoding}: it would hold {odd.group()!r} on line {line}")
            lines += text.count("\n")
            if not chunk:
                return


def detect_encoding(path: str | Path, hint: str = "(--encoding TABLE=ENCODING, or encoding: in sources.yaml)") -> str:
    """The encoding of a text file: byte-order mark, else UTF-8, else CP932 (see the module notes). ``hint``: how
    the caller's user gives an encoding, said when neither fits (``engage ingest`` takes ``--encoding
    TABLE=ENCODING``, ``engage fit`` and ``engage survival`` ``--encoding ENCODING``)."""
    path = Path(path)
    with _open_bytes(path) as f:
        head = f.read(4096)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    candidates = FALLBACK_ENCODINGS
    zeros = head.count(0)
    odd = sum(1 for i in range(1, len(head), 2) if head[i] == 0)
    # UTF-16 without a mark: its ASCII characters give one zero byte each, all on one side of the pairs. A few
    # NULs anywhere (a stray byte from an export) are not that: the file is read as UTF-8 (decoded as UTF-16 it
    # was characters like '敲灳湯' and "missing required columns")
    if zeros >= 0.1 * len(head) and max(odd, zeros - odd) >= 0.9 * zeros:
        candidates = ("utf-16-le",) if odd * 2 >= zeros else ("utf-16-be",)
    for name in candidates:
        try:
            check_decodes(path, name, plausible=name == "cp932")
            return name
        except FileError:
            continue
    raise FileError(f"{path.name} is neither {' nor '.join(candidates)}: give its encoding {hint}")


def transcode(path: str | Path, encoding: str, out: Path) -> Path:
    """``path`` re-encoded as UTF-8 at ``out`` (streaming; line endings kept as they were)."""
    with open_text(path, encoding) as src, open(out, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(_CHUNK):
            dst.write(chunk)
    return out


# ------------------------------------------------------------------------------------------- lines and rows
_OPEN, _OK, _BAD_QUOTES = "open", "ok", "bad quotes"


def _parse(text: str, delimiter: str) -> tuple[str, list[str]]:
    """One record's text -> (status, fields). ``open``: it ends inside a quoted field."""
    if '"' not in text:
        return _OK, text.rstrip("\r\n").split(delimiter)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        return (_OPEN if "unexpected end of data" in str(exc) else _BAD_QUOTES), []
    if len(records) != 1:
        return _BAD_QUOTES, []
    return _OK, records[0]


def _is_blank(line: str) -> bool:
    return line in ("\n", "\r\n", "\r", "")


@dataclass
class Header:
    names: list[str]
    lines: int  # physical lines the header takes
    blank_tail: int = 0  # header fields left empty at its end (a header line ending in a separator)
    #: names the header repeats, none of them read by the contract, as read: ``{"memo": ["memo", "memo_2"]}``
    numbered: dict[str, list[str]] = field(default_factory=dict)


def read_header(lines: Iterator[str], delimiter: str, where: str, ours: Collection[str] = ()) -> Header:
    """The first record of the file: column names (unique; empty ones named ``column<n>``).

    A name written more than once is refused when it is one of ``ours`` (a column the contract reads, in any case:
    which of them holds it cannot be told); any other repeat (a spreadsheet's two "memo" columns) is read as
    ``memo``, ``memo_2``, ... (:attr:`Header.numbered`), where it stopped the whole ingest.

    >>> h = read_header(iter(["id,memo,score,memo,Memo\\n"]), ",", "t.csv", ours=("id", "score"))
    >>> h.names, h.numbered
    (['id', 'memo', 'score', 'memo_2', 'Memo'], {'memo': ['memo', 'memo_2']})
    """
    taken: list[str] = []
    for line in lines:
        taken.append(line)
        if len(taken) == 1 and _is_blank(line):
            raise FileError(f"{where}: the first line is empty; a CSV file starts with its header")
        status, fields = _parse("".join(taken), delimiter)
        if status != _OPEN or len(taken) >= MAX_RECORD_LINES:
            break
    if not taken:
        raise FileError(f"{where}: the file is empty (no header line)")
    if status != _OK:
        raise FileError(f"{where}: the header line has {status}: {taken[0].rstrip()!r}")
    if fields:
        fields[0] = fields[0].removeprefix("\ufeff")
    names = [f.strip() or f"column{i}" for i, f in enumerate(fields)]
    blank_tail = 0
    while blank_tail < len(fields) and not fields[-1 - blank_tail].strip():
        blank_tail += 1
    numbered_names, at = number_repeats(names)
    refuse_repeats(at, ours, where)
    return Header(numbered_names, len(taken), blank_tail,
                  {n: [numbered_names[i] for i in ps] for n, ps in at.items()})


def refuse_repeats(at: dict[str, list[int]], ours: Collection[str], where: str, sheet: bool = False) -> None:
    """Raise :class:`FileError` for a name the header writes more than once (``at``: name -> 0-based columns, see
    :func:`~engage_models._core.io.number_repeats`) that is one of ``ours`` in any case, naming its columns (as
    the sheet letters them, for a workbook's)."""
    folded = {o.strip().casefold() for o in ours}
    refused = [n for n in at if n.casefold() in folded]
    if refused:
        cols = {n: [_column_letter(i) if sheet else str(i + 1) for i in at[n]] for n in refused}
        said = "; ".join(f"{n!r} in columns {', '.join(cols[n])}" + (" of the sheet" if sheet else "") for n in refused)
        raise FileError(f"{where}: the header names {count(len(refused), '=column', '=columns')} {refused} more "
                        f"than once ({said}): which one to read cannot be told; rename the others")


@dataclass
class Row:
    row: int  # 1-based data row (the header is not a row)
    line: int  # 1-based line of the file where the row starts
    fields: list[str] | None  # None: a quarantined line
    raw: str = ""
    reason: str = ""


def split_lines(lines: Iterator[str], n_fields: int, delimiter: str, first_line: int,
                blank_tail: int = 0) -> Iterator[Row]:
    """Rows of ``n_fields`` fields, and the lines that are not rows with their reason.

    ``lines``: the file's lines after the header, with their line endings; ``first_line``: the line number
    of the first of them. Blank lines are not rows (DuckDB skips them too). Fields that hold nothing do not make a
    row of too many or too few fields, as they did for a spreadsheet's trailing separator on some lines, or on the
    header alone (every row of the table was quarantined and, in accounts, every other table's rows with them):
    empty fields after the last column are dropped, and a row that ends before the header's last ``blank_tail``
    fields (named nothing) is read with them empty.

    >>> [r.fields or r.reason for r in split_lines(iter(["1,2,\\n", "3,4,x\\n", "5\\n"]), 2, ",", 2)]
    [['1', '2'], 'too many fields', 'too few fields']
    >>> [r.fields for r in split_lines(iter(["1,2\\n", "3,4,\\n"]), 3, ",", 2, blank_tail=1)]
    [['1', '2', ''], ['3', '4', '']]
    """
    pending: deque[tuple[int, str]] = deque()
    source = enumerate(lines, start=first_line)

    def take():
        return pending.popleft() if pending else next(source, None)

    row = 0
    while (item := take()) is not None:
        line_no, text = item
        if _is_blank(text):
            continue
        chunk = [item]
        status, fields = _parse(text, delimiter)
        while status == _OPEN and len(chunk) < MAX_RECORD_LINES and (more := take()) is not None:
            chunk.append(more)
            if '"' in more[1]:  # a line without a quote cannot close the quoted field
                status, fields = _parse("".join(t for _, t in chunk), delimiter)
        row += 1
        if status == _OK and len(fields) > n_fields and not "".join(fields[n_fields:]).strip():
            fields = fields[:n_fields]
        elif status == _OK and n_fields - blank_tail <= len(fields) < n_fields:
            fields = fields + [""] * (n_fields - len(fields))
        if status == _OK and len(fields) == n_fields:
            yield Row(row, line_no, fields)
            continue
        if len(chunk) > 1:  # the first line opened a quote that no later line closed into a row
            pending.extendleft(reversed(chunk[1:]))
            reason = C.UNCLOSED_QUOTE
        elif status == _OPEN:
            reason = C.UNCLOSED_QUOTE
        elif status == _BAD_QUOTES:
            reason = C.MALFORMED_QUOTES
        else:
            reason = C.TOO_MANY_FIELDS if len(fields) > n_fields else C.TOO_FEW_FIELDS
        if not text.endswith(("\n", "\r")) and reason in (C.TOO_FEW_FIELDS, C.UNCLOSED_QUOTE):
            reason = C.TRUNCATED_LAST_LINE
        yield Row(row, line_no, None, text.rstrip("\r\n"), reason)
