"""Body decoding, previews, hex dumps and job types: pure tests with nasty bodies."""

from __future__ import annotations

import base64
import gzip
import json
import re
import subprocess
import sys
import zlib

import pytest

from stalkview.model import (
    DecodedBody,
    decode_body,
    format_size,
    hexdump,
    job_type,
    preview,
    safe_line,
    safe_text,
    shorten,
)
from stalkview.model.decode import MAX_OUTPUT, PREVIEW_MAX_OUTPUT

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
NASTY = [
    b"",
    b"[bold red]x[/]",
    b"\x1b[2J\x1b[31mred\x1b[0m",
    b"\x00\x01\x02\x7f\x80\x9f",
    b"nul\x00inside",
    b"\xff\xfe\xfd invalid utf-8",
    "c1 \u0085 \u009b31m next-line".encode(),
    "bidi \u202eevil\u202c and \u2028 separator".encode(),
    b"tabs\tand\nnewlines\r\nand\rcr",
    b"\x1b]0;title\x07",
    bytes(range(256)),
]


def layered(payload: bytes, *encodings: str) -> bytes:
    for encoding in encodings:
        if encoding == "gzip":
            payload = gzip.compress(payload)
        elif encoding == "zlib":
            payload = zlib.compress(payload)
        else:
            payload = base64.b64encode(payload)
    return payload


# --- decode_body ------------------------------------------------------------------------------


def test_empty_body() -> None:
    decoded = decode_body(b"")
    assert decoded == DecodedBody("empty", (), "", None, b"", 0, False)


def test_json_is_parsed_and_pretty_printed() -> None:
    decoded = decode_body(b'{"user_id":42,"tags":["a"]}')
    assert decoded.kind == "json"
    assert decoded.layers == ()
    assert decoded.value == {"user_id": 42, "tags": ["a"]}
    assert decoded.text == '{\n  "user_id": 42,\n  "tags": [\n    "a"\n  ]\n}'
    assert decoded.size == 27


def test_json_keeps_unicode_and_bom_is_tolerated() -> None:
    decoded = decode_body('\ufeff{"name": "Zoë 東京"}'.encode())
    assert decoded.kind == "json"
    assert decoded.value == {"name": "Zoë 東京"}
    assert "Zoë 東京" in (decoded.text or "")


@pytest.mark.parametrize("body", [b"42", b"true", b"null", b'"a string"', b"[1, 2]"])
def test_json_scalars_and_arrays(body: bytes) -> None:
    decoded = decode_body(body)
    assert decoded.kind == "json"
    assert decoded.value == json.loads(body)


def test_deeply_nested_json_does_not_crash() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    decoded = decode_body(body)
    assert decoded.kind == "text"


@pytest.mark.parametrize(
    ("encodings", "layers"),
    [
        (("gzip",), ("gzip",)),
        (("zlib",), ("zlib",)),
        (("base64",), ("base64",)),
        (("gzip", "base64"), ("base64", "gzip")),
        (("zlib", "base64"), ("base64", "zlib")),
        (("gzip", "base64", "gzip"), ("gzip", "base64", "gzip")),
    ],
)
def test_layers_of_json_are_peeled(encodings: tuple[str, ...], layers: tuple[str, ...]) -> None:
    payload = b'{"job": "SendEmail", "user_id": 7}'
    body = layered(payload, *encodings)
    decoded = decode_body(body)
    assert decoded.kind == "json"
    assert decoded.layers == layers
    assert decoded.value == {"job": "SendEmail", "user_id": 7}
    assert decoded.data == payload
    assert decoded.size == len(body)


def test_gzip_of_text_and_of_binary() -> None:
    text = decode_body(gzip.compress(b"plain words here"))
    assert (text.kind, text.layers, text.text) == ("text", ("gzip",), "plain words here")
    binary = decode_body(gzip.compress(bytes(range(256))))
    assert (binary.kind, binary.layers, binary.text) == ("binary", ("gzip",), None)
    assert binary.data == bytes(range(256))


def test_concatenated_gzip_members_are_one_body() -> None:
    decoded = decode_body(gzip.compress(b"first ") + gzip.compress(b"second"))
    assert decoded.text == "first second"


def test_corrupt_gzip_is_binary_not_an_error() -> None:
    body = gzip.compress(b"x" * 1000)
    corrupt = body[:10] + b"\x00" * 20 + body[30:]
    decoded = decode_body(corrupt)
    assert decoded.kind == "binary"
    assert decoded.layers == ()


def test_truncated_gzip_prefix_decodes_when_flagged() -> None:
    payload = json.dumps({"displayName": "App\\Jobs\\Big", "blob": "y" * 50_000}).encode()
    body = gzip.compress(payload)
    prefix = body[: len(body) // 2]
    unflagged = decode_body(prefix)
    assert unflagged.layers == ()
    flagged = decode_body(prefix, truncated=True, total_size=len(body))
    assert flagged.layers == ("gzip",)
    # The start of a JSON document is JSON (closed where it was cut, to show its part).
    assert flagged.kind == "json"
    assert flagged.value["displayName"] == "App\\Jobs\\Big"
    assert flagged.truncated is True
    assert flagged.size == len(body)
    assert payload.startswith(flagged.data)


def test_truncated_text_cut_inside_a_multibyte_character() -> None:
    body = "héllo wörld €".encode()
    prefix = body[:-1]
    assert decode_body(prefix).kind == "binary"
    decoded = decode_body(prefix, truncated=True)
    assert (decoded.kind, decoded.text) == ("text", "héllo wörld ")


def test_zip_bomb_is_bounded() -> None:
    bomb = gzip.compress(b"\x00" * (MAX_OUTPUT + 4 * 1024 * 1024), compresslevel=1)
    assert len(bomb) < 100_000
    decoded = decode_body(bomb)
    assert decoded.capped is True
    assert len(decoded.data) == MAX_OUTPUT
    small = decode_body(bomb, max_output=1024)
    assert len(small.data) == 1024


def test_nested_bomb_is_bounded_per_layer() -> None:
    inner = zlib.compress(b"a" * (4 * 1024 * 1024), 1)
    bomb = base64.b64encode(gzip.compress(inner))
    decoded = decode_body(bomb, max_output=PREVIEW_MAX_OUTPUT)
    assert decoded.layers == ("base64", "gzip", "zlib")
    assert decoded.capped is True
    assert len(decoded.data) == PREVIEW_MAX_OUTPUT
    assert decoded.kind == "text"


@pytest.mark.parametrize(
    "word",
    [
        b"hello",
        b"test",
        b"user",
        b"Password",
        b"username",
        b"deadbeef",
        b"abcdefgh",
        b"0123456789abcdef",
        b"550e8400-e29b-41d4-a716-446655440000",
        b"QUEUE_NAME",
        b"1234",
    ],
)
def test_plain_words_are_not_mistaken_for_base64(word: bytes) -> None:
    decoded = decode_body(word)
    assert decoded.layers == ()
    assert decoded.data == word


def test_base64_of_text_and_urlsafe_and_wrapped() -> None:
    text = b"a sentence that was base64 encoded"
    assert decode_body(base64.b64encode(text)).text == text.decode()
    urlsafe = base64.urlsafe_b64encode(b'{"q": "???>>>???"}')
    assert b"_" in urlsafe or b"-" in urlsafe
    assert decode_body(urlsafe).value == {"q": "???>>>???"}
    wrapped = base64.encodebytes(json.dumps({"k": "v" * 200}).encode())
    assert b"\n" in wrapped.strip()
    decoded = decode_body(wrapped)
    assert (decoded.kind, decoded.layers) == ("json", ("base64",))


def test_base64_of_random_bytes_stays_as_text() -> None:
    body = base64.b64encode(bytes(range(200, 256)))
    decoded = decode_body(body)
    assert decoded.layers == ()
    assert decoded.kind == "text"


@pytest.mark.parametrize("body", NASTY)
def test_nasty_bodies_never_raise(body: bytes) -> None:
    decoded = decode_body(body)
    assert decoded.kind in ("json", "text", "binary", "empty")
    assert decoded.size == len(body)


def test_escape_sequences_are_text_but_mostly_controls_are_binary() -> None:
    assert decode_body(b"\x1b[2J clear").kind == "text"
    assert decode_body(b"\x00\x01\x02\x03abc").kind == "binary"
    assert decode_body(b"\xff\xfe\x00").kind == "binary"
    assert decode_body("a\x00b".encode("utf-16-le")).kind == "binary"


def test_huge_body_decodes() -> None:
    body = json.dumps({"rows": list(range(100_000))}).encode()
    assert len(body) > 512 * 1024
    decoded = decode_body(body)
    assert decoded.kind == "json"
    assert len(decoded.value["rows"]) == 100_000


# --- safe_text / safe_line / preview ---------------------------------------------------------


def test_safe_text_escapes_controls_keeps_newlines_and_tabs() -> None:
    assert safe_text("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert safe_text("line1\r\nline2\n\tindented") == "line1\nline2\n\tindented"
    assert safe_text("cr\ronly") == "cr\\x0donly"
    assert safe_text("\x00\x7f\x85\x9b") == "\\x00\\x7f\\x85\\x9b"
    assert safe_text("bidi\u202eflip \u2028sep") == "bidi\\u202eflip \\u2028sep"
    assert safe_text("[bold red]x[/]") == "[bold red]x[/]"
    assert safe_text("Zoë 東京 🎉") == "Zoë 東京 🎉"


def test_safe_text_handles_lone_surrogates() -> None:
    bad = b"\xff".decode("utf-8", "surrogateescape")
    assert safe_text(bad) == "\\udcff"


def test_safe_line_squashes_whitespace() -> None:
    assert safe_line("a \n\n  b\t\tc\r\nd") == "a b c d"
    assert safe_line("x\x1by") == "x\\x1by"


@pytest.mark.parametrize("body", NASTY)
@pytest.mark.parametrize("width", [1, 10, 80])
def test_preview_never_contains_control_characters(body: bytes, width: int) -> None:
    line = preview(body, width)
    assert not CONTROL.search(line), repr(line)
    assert "\n" not in line
    assert len(line) <= width


def test_preview_of_every_single_byte_and_pairs_is_safe() -> None:
    for byte in range(256):
        for body in (bytes([byte]), bytes([byte]) * 3, b"ok " + bytes([byte]) + b" ok"):
            assert not CONTROL.search(preview(body)), repr(body)


def test_preview_text_and_json() -> None:
    assert preview(b"hello\n\n   world") == "hello world"
    assert preview(b'{\n  "a": 1,\n  "b": [1, 2]\n}') == '{ "a": 1, "b": [1, 2] }'
    assert preview(b"[bold red]x[/]") == "[bold red]x[/]"
    assert preview(b"\x1b[2Jboom") == "\\x1b[2Jboom"


def test_preview_names_layers_and_cuts_to_width() -> None:
    body = gzip.compress(json.dumps({"msg": "x" * 500}).encode())
    line = preview(body, 40)
    assert line.startswith('gzip: {"msg": "xxx')
    assert len(line) == 40
    assert line.endswith("…")
    assert preview(base64.b64encode(gzip.compress(b'{"a":1}'))) == 'base64+gzip: {"a":1}'


def test_preview_binary_and_empty() -> None:
    body = b"\x00\x01\x02\x03" + bytes(range(200, 256)) * 30
    line = preview(body, 40, total_size=1234)
    assert line.startswith("<binary 1.2 KiB> 00 01 02 03")
    assert len(line) <= 40
    assert preview(b"") == "<empty>"
    assert preview(gzip.compress(b"")) == "<gzip: empty>"
    gzipped = gzip.compress(bytes(range(256)))
    expected = f"<gzip: binary {len(gzipped)} B> 00 01"
    assert preview(gzipped, 30).startswith(expected)


def test_preview_of_a_zip_bomb_is_bounded() -> None:
    bomb = gzip.compress(b"A" * (4 * 1024 * 1024), compresslevel=1)
    assert preview(bomb, 20) == "gzip: " + "A" * 13 + "…"


def test_format_size() -> None:
    assert format_size(0) == "0 B"
    assert format_size(1023) == "1023 B"
    assert format_size(1024) == "1.0 KiB"
    assert format_size(1234) == "1.2 KiB"
    assert format_size(5 * 1024 * 1024) == "5.0 MiB"
    assert format_size(3 * 1024**4) == "3.0 TiB"


# --- hexdump -----------------------------------------------------------------------------------


def test_hexdump_classic_layout() -> None:
    lines = hexdump(b"Hello\n\x00\x01 world, more bytes!")
    assert lines == [
        "00000000  48 65 6c 6c 6f 0a 00 01  20 77 6f 72 6c 64 2c 20  |Hello... world, |",
        "00000010  6d 6f 72 65 20 62 79 74  65 73 21                 |more bytes!|",
    ]


def test_hexdump_offset_width_limit() -> None:
    data = bytes(range(40))
    lines = hexdump(data, offset=0x100, width=8, limit=20)
    assert lines[0] == "00000100  00 01 02 03 04 05 06 07  |........|"
    assert lines[2] == "00000110  10 11 12 13              |....|"
    assert lines[3] == "… 20 more bytes"
    assert len(lines) == 4
    assert hexdump(b"") == []
    assert hexdump(b"abc", limit=0) == ["… 3 more bytes"]
    with pytest.raises(ValueError, match="width"):
        hexdump(b"x", width=0)


def test_hexdump_columns_align_and_are_safe() -> None:
    lines = hexdump(bytes(range(256)) * 2)
    assert len(lines) == 32
    assert len({line.index("|") for line in lines}) == 1
    assert all(not CONTROL.search(line) for line in lines)
    assert lines[-1].startswith("000001f0  f0 f1")


# --- job_type -----------------------------------------------------------------------------------


LARAVEL = {
    "uuid": "b2a1",
    "displayName": "App\\Jobs\\SendEmail",
    "job": "Illuminate\\Queue\\CallQueuedHandler@call",
    "maxTries": None,
    "data": {"commandName": "App\\Jobs\\SendEmail", "command": 'O:18:"App\\Jobs\\SendEmail"'},
}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (LARAVEL, "App\\Jobs\\SendEmail"),
        (
            {
                "job": "Illuminate\\Queue\\CallQueuedHandler@call",
                "data": {"commandName": "App\\Jobs\\Cleanup"},
            },
            "App\\Jobs\\Cleanup",
        ),
        (
            {"job": "Illuminate\\Queue\\CallQueuedHandler@call", "data": {}},
            "Illuminate\\Queue\\CallQueuedHandler@call",
        ),
        ({"class": "NewsletterJob", "args": [1, 2]}, "NewsletterJob"),
        ({"headers": {"task": "proj.tasks.add"}, "body": "W10="}, "proj.tasks.add"),
        ({"task": "celery.backend_cleanup", "id": "x"}, "celery.backend_cleanup"),
        ({"type": "invoice.paid", "task": "other"}, "invoice.paid"),
        ({"event": "user.signup"}, "user.signup"),
        ({"name": "  resize-image  "}, "resize-image"),
        ({"type": 3, "name": "fallback"}, "fallback"),
        ({"type": ""}, None),
        ({"user_id": 42}, None),
        ([{"type": "in-a-list"}], None),
        (["emailjob", {"to": "a@example.com"}], "emailjob"),  # fivebeans
        (["emailjob", "not an object"], None),
        ({"job": "ProcessPodcast", "data": {}}, "ProcessPodcast"),
        ({"class": "Resque::Job", "args": [{"id": 1}]}, "Resque::Job"),
    ],
)
def test_job_type_shapes(payload: object, expected: str | None) -> None:
    body = json.dumps(payload).encode()
    assert job_type(body) == expected
    assert job_type(decode_body(body)) == expected


def test_job_type_of_laravel_call_handler_without_command_is_the_handler() -> None:
    body = json.dumps({"job": "Illuminate\\Queue\\CallQueuedHandler@call"}).encode()
    assert job_type(body) == "Illuminate\\Queue\\CallQueuedHandler@call"


def test_job_type_through_layers() -> None:
    body = base64.b64encode(gzip.compress(json.dumps(LARAVEL).encode()))
    assert job_type(body) == "App\\Jobs\\SendEmail"


def test_job_type_from_truncated_json_prefix() -> None:
    body = json.dumps({**LARAVEL, "data": {"command": "x" * 10_000}}).encode()
    assert job_type(body[:200]) == "App\\Jobs\\SendEmail"
    cut_laravel = (
        b'{"job":"Illuminate\\\\Queue\\\\CallQueuedHandler@call",'
        b'"data":{"commandName":"App\\\\Jobs\\\\X","comm'
    )
    assert job_type(cut_laravel) == "App\\Jobs\\X"
    assert job_type(b'{"class":"Backburner::Job", "args": [1, 2') == "Backburner::Job"
    assert job_type(b'["emailjob", {"to": "a@exam') == "emailjob"


@pytest.mark.parametrize(
    "body", [b"", b"plain text", b"\x00\x01binary", b"[1,2,3]", b"42", b'{"type": "', *NASTY]
)
def test_job_type_unknown(body: bytes) -> None:
    assert job_type(body) is None


def test_shorten_keeps_the_end_of_namespaced_names() -> None:
    assert shorten("App\\Jobs\\SendEmail") == "App\\Jobs\\SendEmail"
    long = "App\\Domain\\Billing\\Notifications\\Jobs\\SendInvoiceReminderEmail"
    short = shorten(long)
    assert short == "…\\Jobs\\SendInvoiceReminderEmail"
    assert len(short) <= 40
    dotted = shorten("com.example.very.long.package.name.tasks.generate_report")
    assert dotted.endswith(".tasks.generate_report")
    assert dotted.startswith("….")
    assert len(dotted) <= 40
    plain = shorten("x" * 100)
    assert plain == "x" * 39 + "…"
    huge_last = shorten("A\\" + "B" * 60)
    assert len(huge_last) == 40
    assert shorten("spaced   out\n name") == "spaced out name"


def test_model_never_imports_textual() -> None:
    code = (
        "import sys, stalkview.model; "
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'rich'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_1_mb_json_body_shown_in_part_is_labelled_json() -> None:
    items = [{"n": n, "note": "x" * 40} for n in range(20_000)]
    body = json.dumps({"type": "report.generate", "items": items}).encode()
    assert len(body) > 1_000_000
    shown = decode_body(body[: 256 * 1024], truncated=True, total_size=len(body))
    assert (shown.kind, shown.truncated, shown.size) == ("json", True, len(body))
    assert shown.value["type"] == "report.generate" and 0 < len(shown.value["items"]) < 20_000
    assert shown.text is not None and shown.text.startswith("{\n")
    # Cut inside a string, or where it cannot be closed: still JSON, shown as it is.
    assert decode_body(b'{"a": "abc', truncated=True).value == {"a": "abc"}
    cut = decode_body(b'{"a": tru', truncated=True)
    assert (cut.kind, cut.text) == ("json", '{"a": tru')
    # Not JSON: text stays text, and a whole document followed by more is not cut JSON.
    assert decode_body(b"hello {", truncated=True).kind == "text"
    assert decode_body(b'{"a": 1} trailing', truncated=True).kind == "text"
    assert decode_body(b'{"a": "abc').kind == "text"  # not flagged as cut: not JSON
