"""Human formatting: durations, byte sizes, aligned text tables. Pure functions, no I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")
_DURATION_FULL = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+|\d+(?:\.\d+)?")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(seconds: float | int) -> str:
    """Compact duration: ``45s``, ``3m12s``, ``2h05m``, ``3d04h``; negative shows as ``0s``."""
    total = max(0, int(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def duration_cells(seconds: float) -> str:
    """At most five cells, for table columns: 45s, 9m59s, 12m, 9h59m, 3h, 9d23h, 12d."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 36_000:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s < 86_400:
        return f"{s // 3600}h"
    if s < 864_000:
        return f"{s // 86_400}d{s % 86_400 // 3600:02d}h"
    return f"{s // 86_400}d"


def duration_words(seconds: float) -> str:
    """For sentences: "42s", "5m 3s", "2h 5m", "3d 4h" (zero parts left out)."""
    total = max(round(seconds), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def size(num_bytes: int) -> str:
    """Byte size with a binary unit: ``512 B``, ``1.5 KiB``, ``64.0 KiB``."""
    value = float(num_bytes)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def parse_duration(text: str) -> float | None:
    """Seconds from ``90``, ``30s``, ``15m``, ``2h``, ``1d``, ``1w``, ``1h30m``; None if not one."""
    compact = text.strip().lower().replace(" ", "")
    if not _DURATION_FULL.fullmatch(compact):
        return None
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION.findall(compact))


def count(n: int) -> str:
    """An integer with thousands separators: ``100,000``."""
    return f"{n:,}"


def count_cells(n: int) -> str:
    """A counter in at most four cells: 9999, 12k, 1.2M, 12M, 3G."""
    if n < 10_000:
        return str(n)
    if n < 1_000_000:
        return f"{n // 1000}k"
    if n < 10_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n < 1_000_000_000:
        return f"{n // 1_000_000}M"
    return f"{n // 1_000_000_000}G"


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    named = _NAMED_ESCAPES.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, limit: int | None = None) -> str:
    """One line of text safe for a terminal: anything not printable shown as an escape.

    Bodies, tube names and error texts are untrusted: an ESC, a newline or a
    bidi override must never reach the terminal raw. Longer than ``limit``
    characters, the line is cut and ends with an ellipsis.
    """
    if text.isprintable():
        shown = text
    else:
        shown = "".join(ch if ch.isprintable() else _escape(ch) for ch in text)
    if limit is not None and len(shown) > limit:
        shown = shown[: max(limit - 1, 0)] + "…"
    return shown


#: Characters JSON may carry raw that a terminal or a line splitter acts on:
#: C1 controls (U+009B is CSI, an escape sequence in one byte) and the Unicode
#: line and paragraph separators (JavaScript and some log tools end lines there).
_JSON_UNSAFE = re.compile(r"[\u007f-\u009f\u2028\u2029]")


def json_line(obj: Any, *, separators: tuple[str, str] = (",", ":")) -> str:
    """One JSON text, UTF-8 kept readable but every control escaped (``\\u009b``).

    ``json.dumps(ensure_ascii=False)`` escapes C0 controls only; server strings
    (bodies, tube names) can carry the rest.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=separators)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def body_preview(body: bytes, limit: int = 80) -> str:
    """A body as one printable line: UTF-8 text escaped, otherwise ``<binary N bytes>``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return f"<binary {size(len(body))}>"
    return printable(text, limit)


def _is_number(cell: str) -> bool:
    return bool(cell) and cell.replace(",", "").replace(".", "", 1).lstrip("-").isdigit()


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    align: Sequence[str] | None = None,
    gap: str = "  ",
) -> list[str]:
    """Rows as aligned text lines (header first). Numbers right-aligned unless ``align`` says.

    ``align`` holds one of ``"<"``, ``">"`` per column. Trailing spaces are stripped.
    """
    # Cells often hold server strings (stats values, tube names, bodies):
    # escaped here, once, so no table can put an escape sequence on a terminal.
    text_rows = [[printable(str(cell)) for cell in row] for row in rows]
    ncols = len(headers)
    widths = [len(h) for h in headers]
    for row in text_rows:
        if len(row) != ncols:
            raise ValueError(f"table row has {len(row)} cells, expected {ncols}: {row!r}")
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    if align is None:
        align = [
            ">" if text_rows and all(_is_number(r[i]) or not r[i] for r in text_rows) else "<"
            for i in range(ncols)
        ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if align[i] == ">" else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return gap.join(parts).rstrip()

    return [line(list(headers)), *(line(r) for r in text_rows)]


def progress_bar(done: int, total: int, width: int = 30) -> str:
    """``[#########.........]  31%`` for done of total (total 0 shows an empty bar)."""
    fraction = 0.0 if total <= 0 else min(1.0, max(0.0, done / total))
    filled = int(fraction * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {int(fraction * 100):3d}%"
