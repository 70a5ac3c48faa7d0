"""Job body decoding for display: JSON, gzip, zlib and base64 layers, hex dumps, safe previews.

Bodies are untrusted bytes. Everything here is pure (no I/O) and bounded: decompression never
produces more than ``max_output`` bytes per layer: a zip bomb costs milliseconds, not the UI.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass
from typing import Any

from stalkview.format import size as format_size

MAX_OUTPUT = 10 * 1024 * 1024
"""Default cap on the bytes one decompression layer may produce."""

PREVIEW_MAX_OUTPUT = 16 * 1024
"""Previews need only the start of a body: they read and decompress at most this much."""

MAX_LAYERS = 4

_GZIP_MAGIC = b"\x1f\x8b"
_ZLIB_SECOND_BYTES = frozenset((0x01, 0x5E, 0x9C, 0xDA))
_JSON_START = frozenset('{["-0123456789tfnNI')
_B64_STD = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
_B64_URL = re.compile(rb"[A-Za-z0-9_-]+={0,2}")
_B64_MIN_LEN_FOR_TEXT = 8
_B64_CHARS = re.compile(rb"[A-Za-z0-9+/_=\r\n-]*")
_LINE_BREAKS = re.compile(rb"\r?\n")

# Control characters that make text "binary" when frequent. Tab, LF, CR and ESC are common in
# real text (logs with colours), so they do not count.
_BINARY_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
_BINARY_CONTROL_RATIO = 0.10
_CLASSIFY_SAMPLE = 64 * 1024

# What must never reach a terminal literally: C0 (except TAB and LF), DEL, C1, the Unicode line and
# paragraph separators, bidi overrides ("Trojan source") and lone surrogates.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_WITH_SPACES = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_SPACE_RUNS = re.compile(r"[ \t\n\r\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\ufeff]+")


@dataclass(frozen=True)
class DecodedBody:
    """A job body after peeling off encodings.

    ``kind`` is "json", "text", "binary" or "empty"; ``layers`` lists the decodings applied,
    outermost first (``("base64", "gzip")``); ``text`` is the decoded text (pretty-printed for
    JSON, never cut here); ``value`` the parsed JSON value; ``data`` the innermost bytes;
    ``size`` the size of the original body; ``truncated`` says the caller passed only a prefix of
    the body; ``capped`` says a decompression layer stopped at its output limit (the text is then
    only the start).
    """

    kind: str
    layers: tuple[str, ...]
    text: str | None
    value: Any
    data: bytes
    size: int
    truncated: bool
    capped: bool = False


def decode_body(
    raw: bytes,
    *,
    truncated: bool = False,
    total_size: int | None = None,
    max_output: int = MAX_OUTPUT,
) -> DecodedBody:
    """Decode ``raw`` as far as it goes: JSON first, then gzip, zlib and base64 layers, then text.

    ``truncated`` means ``raw`` is a prefix of the real body (``total_size`` bytes long): decoders
    then accept streams that end early.
    """
    size = len(raw) if total_size is None else total_size
    data = bytes(raw)
    layers: list[str] = []
    capped = False
    parsed = _parse_json(data, truncated)
    while parsed is None and len(layers) < MAX_LAYERS:
        step = _unwrap(data, truncated or capped, max_output)
        if step is None:
            break
        name, data, layer_capped = step
        layers.append(name)
        capped = capped or layer_capped
        parsed = _parse_json(data, truncated or capped)
    kind, text, value = _classify(data, truncated or capped, parsed)
    return DecodedBody(kind, tuple(layers), text, value, data, size, truncated, capped)


def _unwrap(data: bytes, partial: bool, max_output: int) -> tuple[str, bytes, bool] | None:
    """One decoding step: (layer name, inner bytes, output capped) or None if no layer applies."""
    if data.startswith(_GZIP_MAGIC):
        inner = _inflate(data, 31, partial, max_output)
        if inner is not None:
            return ("gzip", *inner)
    if _looks_like_zlib(data):
        inner = _inflate(data, 15, partial, max_output)
        if inner is not None:
            return ("zlib", *inner)
    decoded = _base64(data, partial)
    if decoded is not None:
        return ("base64", decoded, False)
    return None


def _looks_like_zlib(data: bytes) -> bool:
    if len(data) < 3 or data[0] != 0x78 or data[1] not in _ZLIB_SECOND_BYTES:
        return False
    return (data[0] * 256 + data[1]) % 31 == 0


def _inflate(data: bytes, wbits: int, partial: bool, max_output: int) -> tuple[bytes, bool] | None:
    """Bounded decompression. A stream that ends early is accepted only when the body is partial."""
    decompressor = zlib.decompressobj(wbits)
    try:
        out = decompressor.decompress(data, max_output)
    except zlib.error:
        return None
    capped = bool(decompressor.unconsumed_tail)
    if not (decompressor.eof or capped or partial):
        return None
    # Concatenated gzip members are one valid gzip file; keep going while budget remains.
    while wbits == 31 and decompressor.eof and decompressor.unused_data.startswith(_GZIP_MAGIC):
        rest = decompressor.unused_data
        decompressor = zlib.decompressobj(wbits)
        try:
            more = decompressor.decompress(rest, max(max_output - len(out), 1))
        except zlib.error:
            break
        out += more[: max_output - len(out)]
        if decompressor.unconsumed_tail or len(out) >= max_output:
            capped = True
            break
    return out, capped


def _base64(data: bytes, partial: bool) -> bytes | None:
    """Strict base64 (standard or URL-safe, MIME line wraps allowed) with meaningful content."""
    compact = data.strip()
    if not _B64_CHARS.fullmatch(compact):
        return None  # cheap early exit: ordinary text fails at its first space
    if b"\n" in compact:
        compact = _LINE_BREAKS.sub(b"", compact)
    if partial:
        compact = compact[: len(compact) - len(compact) % 4]
    if len(compact) < 4 or len(compact) % 4:
        return None
    if _B64_STD.fullmatch(compact):
        altchars = None
    elif _B64_URL.fullmatch(compact):
        altchars = b"-_"
    else:
        return None
    try:
        decoded = base64.b64decode(compact, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        return None
    if _meaningful(decoded, partial, len(compact)):
        return decoded
    return None


def _meaningful(decoded: bytes, partial: bool, encoded_len: int) -> bool:
    """Is this worth showing decoded? Guards against words like "test" that happen to be base64."""
    if not decoded:
        return False
    if decoded.startswith(_GZIP_MAGIC) or _looks_like_zlib(decoded):
        return True
    if _parse_json(decoded, partial) is not None:
        return True
    if encoded_len < _B64_MIN_LEN_FOR_TEXT:
        return False
    text = _utf8(decoded, partial)
    return text is not None and _SPACE_RUNS.sub(" ", text).isprintable()


def _utf8(data: bytes, partial: bool) -> str | None:
    """Strict UTF-8; a partial body may end inside a multi-byte character, which is dropped."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if partial and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8", "strict")
        return None


def _parse_json(data: bytes, partial: bool) -> tuple[Any] | None:
    """(value,) when ``data`` is a JSON document, else None (a 1-tuple because null is a value)."""
    start = data[:64].lstrip()
    if start.startswith(b"\xef\xbb\xbf"):
        start = start[3:].lstrip()
    if not start or chr(start[0]) not in _JSON_START:
        return None
    text = _utf8(data, partial)
    if text is None:
        return None
    try:
        return (json.loads(text.lstrip("\ufeff")),)
    except (ValueError, RecursionError):
        return None


def _classify(data: bytes, partial: bool, parsed: tuple[Any] | None) -> tuple[str, str | None, Any]:
    """Kind, text and JSON value of the innermost bytes (``parsed`` is their JSON parse, if any)."""
    if not data:
        return "empty", "", None
    if parsed is not None:
        value = parsed[0]
        try:
            pretty = json.dumps(value, indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            pretty = _utf8(data, partial) or ""
        return "json", pretty, value
    text = _utf8(data, partial)
    if text is None or _mostly_controls(text):
        return "binary", None, None
    if partial:
        cut = _json_prefix(text)
        if cut is not None:
            # The start of a JSON document (a 1 MB body, shown in part): JSON, not text.
            # The part shown is pretty-printed when it can be closed into a document.
            if cut:
                try:
                    pretty = json.dumps(cut[0], indent=2, ensure_ascii=False)
                except (ValueError, RecursionError):
                    return "json", text, None
                return "json", pretty + "\n…", cut[0]
            return "json", text, None
    return "text", text, None


_JSON_TOKEN = re.compile(r'(?P<s>"(?:[^"\\]|\\.)*")|(?P<open>"(?:[^"\\]|\\.)*\\?\Z)|[\[\]{}]')
_JSON_TAIL = re.compile(r"[\s,:]+\Z")


def _json_prefix(text: str) -> tuple[Any] | tuple[()] | None:
    """Whether ``text`` is the start of a JSON object or array: None when it is not; else the
    value it holds when closed (a 1-tuple), or () when it cannot be closed into a document."""
    body = text.lstrip("\ufeff").lstrip()
    if not body or body[0] not in "{[":
        return None
    closers: list[str] = []
    end = 0
    open_string = False
    for match in _JSON_TOKEN.finditer(body):
        token = match.group()
        if token == "{" or token == "[":
            closers.append("}" if token == "{" else "]")
        elif token == "}" or token == "]":
            if not closers or closers.pop() != token:
                return None
        elif match.group("open") is not None:
            open_string = True
        end = match.end()
        if not closers and not open_string:
            return None  # a whole document followed by more: not a cut-off one
    if not closers:
        return None
    head = body if open_string else body[:end]
    if open_string:
        head = head.rstrip("\\") + '"'
    for candidate in (head, head[: head.rfind(",")] if "," in head else head):
        candidate = _JSON_TAIL.sub("", candidate)
        try:
            return (json.loads(candidate + "".join(reversed(closers))),)
        except (ValueError, RecursionError):
            continue
    return ()


def _mostly_controls(text: str) -> bool:
    # The start of a large body is a fair sample, and counting all of 10 MiB would stall the UI.
    sample = text[:_CLASSIFY_SAMPLE]
    controls = len(_BINARY_CONTROLS.findall(sample))
    return controls > len(sample) * _BINARY_CONTROL_RATIO


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(s: str) -> str:
    """Make ``s`` safe for multi-line terminal display: every control character except newline and
    tab becomes a visible escape (ESC -> ``\\x1b``); CRLF line ends become LF.
    """
    return _UNSAFE.sub(_escape, s.replace("\r\n", "\n"))


def safe_line(s: str) -> str:
    """One line, safe: whitespace runs become one space, every control character an escape."""
    return _UNSAFE_WITH_SPACES.sub(_escape, _SPACE_RUNS.sub(" ", s))


def preview(
    raw: bytes,
    width: int = 80,
    *,
    truncated: bool = False,
    total_size: int | None = None,
) -> str:
    """One-line plain-text preview of a body for a list row, at most ``width`` characters.

    Text and JSON are shown as written, whitespace squashed, control characters escaped; decoded
    layers are named first ("gzip: {...}"); binary bodies as ``<binary 1.2 KiB> 1f 8b 08 ...``.
    The result never contains a C0/C1 control character or DEL.
    """
    size = len(raw) if total_size is None else total_size
    if len(raw) > PREVIEW_MAX_OUTPUT:
        raw, truncated = raw[:PREVIEW_MAX_OUTPUT], True
    # One line shows a few hundred characters: decompressing more would only cost time.
    budget = min(max(width * 8, 2048), PREVIEW_MAX_OUTPUT)
    decoded = decode_body(raw, truncated=truncated, total_size=size, max_output=budget)
    prefix = "+".join(decoded.layers) + ": " if decoded.layers else ""
    if decoded.kind == "empty":
        line = f"<{prefix}empty>"
    elif decoded.kind == "binary":
        head = " ".join(f"{b:02x}" for b in decoded.data[: max(width // 3, 1)])
        line = f"<{prefix}binary {format_size(decoded.size)}> {head}"
    else:
        # The body as written (not the pretty-printed JSON) keeps the preview compact.
        line = prefix + safe_line(decoded.data[: width * 8].decode("utf-8", "replace")).strip()
    return _cut(line, width)


def _cut(line: str, width: int) -> str:
    if width <= 0:
        return ""
    if len(line) <= width:
        return line
    return line[: width - 1] + "…"


def hexdump(
    data: bytes, *, offset: int = 0, width: int = 16, limit: int | None = None
) -> list[str]:
    """Classic ``hexdump -C`` lines: ``00000000  48 65 6c 6c 6f 0a  |Hello.|``.

    ``offset`` is the address of ``data[0]`` (for dumping a slice); ``limit`` caps the bytes dumped:
    when ``data`` is longer, a last line says how many bytes were left out ("… 1,024 more bytes").
    """
    if width < 1:
        raise ValueError(f"hexdump width must be at least 1, got {width}")
    shown = data if limit is None else data[: max(limit, 0)]
    hex_width = width * 3 - 1 + (width - 1) // 8
    lines = []
    for start in range(0, len(shown), width):
        chunk = shown[start : start + width]
        groups = (chunk[i : i + 8].hex(" ") for i in range(0, len(chunk), 8))
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{offset + start:08x}  {'  '.join(groups):<{hex_width}}  |{text}|")
    if len(shown) < len(data):
        lines.append(f"… {len(data) - len(shown):,} more bytes")
    return lines
