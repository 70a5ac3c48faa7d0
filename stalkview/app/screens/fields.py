"""What each form field accepts: the put form's validation and the prompts' field parsers.

Every parser takes the field's text and returns ``(value, None)`` or
``(None, message)``; the message says what is wrong and how to fix it, and the
put and prompt screens show it under the field. No widgets here: the rules are
plain functions, tested without an app.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stalkview.client.protocol import (
    DEFAULT_PRIORITY,
    DEFAULT_TTR,
    MAX_PRIORITY,
    MAX_SECONDS,
    check_tube,
)
from stalkview.format import parse_duration as format_parse_duration

# --- the put form -------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedPut:
    """A put form that passed :func:`validate_put_form`, ready for :func:`put_job`."""

    tube: str
    body: bytes
    pri: int
    delay: int
    ttr: int


def parse_duration(text: str) -> int | None:
    """Whole seconds from "90", "30s", "5m", "2h", "1d" or "1h30m"; None if it is not a duration."""
    seconds = format_parse_duration(text)
    return None if seconds is None or seconds != int(seconds) else int(seconds)


def _parse_priority(text: str) -> tuple[int | None, str | None]:
    value = text.strip()
    hint = (
        f"use a whole number from 0 (most urgent) to {MAX_PRIORITY}; "
        f"the usual default is {DEFAULT_PRIORITY}"
    )
    if not value:
        return None, f"priority is empty: {hint}"
    if value.startswith("-") and value[1:].isdigit():
        return None, f"priority {value} is negative: {hint}"
    if not value.isdigit():
        return None, f"priority {value!r} is not a whole number: {hint}"
    if int(value) > MAX_PRIORITY:
        return None, f"priority {value} is too large: {hint}"
    return int(value), None


def _parse_seconds(
    name: str, text: str, minimum: int, default: str
) -> tuple[int | None, str | None]:
    value = text.strip()
    hint = f"use seconds (30) or a duration such as 30s, 5m, 2h, 1d; the usual default is {default}"
    if not value:
        return None, f"{name} is empty: {hint}"
    if value.startswith("-"):
        return None, f"{name} {value} is negative: {hint}"
    seconds = parse_duration(value)
    if seconds is None:
        return None, f"{name} {value!r} is not a duration: {hint}"
    if seconds > MAX_SECONDS:
        return (
            None,
            f"{name} {value} is too long: the most is {MAX_SECONDS} seconds (about 136 years)",
        )
    if seconds < minimum:
        return (
            None,
            f"{name} {value} is too short: the server treats it as 1 second; use at least 1s",
        )
    return seconds, None


def validate_put_form(
    tube: str,
    body: str | bytes,
    pri: str,
    delay: str,
    ttr: str,
    max_job_size: int | None = None,
) -> tuple[ParsedPut | None, dict[str, str]]:
    """Check a put form; return (parsed, {}) or (None, {field: message}).

    Fields are "tube", "body", "pri", "delay", "ttr". ``max_job_size`` is the
    server's ``max-job-size`` from ``stats`` (None: not checked).
    """
    errors: dict[str, str] = {}
    try:
        check_tube(tube)
    except (ValueError, TypeError) as exc:
        errors["tube"] = str(exc)
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if max_job_size is not None and len(data) > max_job_size:
        errors["body"] = (
            f"body is {len(data):,} bytes but the server accepts at most {max_job_size:,} "
            "(its max-job-size): shorten it"
        )
    priority, problem = _parse_priority(pri)
    if problem:
        errors["pri"] = problem
    delay_s, problem = _parse_seconds("delay", delay, 0, "0")
    if problem:
        errors["delay"] = problem
    ttr_s, problem = _parse_seconds("ttr", ttr, 1, f"{DEFAULT_TTR}s")
    if problem:
        errors["ttr"] = problem
    if errors:
        return None, errors
    assert priority is not None and delay_s is not None and ttr_s is not None
    return ParsedPut(tube, data, priority, delay_s, ttr_s), {}


# --- prompt fields ------------------------------------------------------------------------


def parse_priority(text: str) -> tuple[int | None, str | None]:
    """A priority, checked by the put form's own rules."""
    parsed, errors = validate_put_form("default", b"", text, "0", "60")
    if parsed is None:
        return None, errors["pri"]
    return parsed.pri, None


def parse_delay(text: str) -> tuple[int | None, str | None]:
    """A delay (0 allowed): "0", "30s", "5m", "1h30m"."""
    parsed, errors = validate_put_form("default", b"", "0", text, "60")
    if parsed is None:
        return None, errors["delay"]
    return parsed.delay, None


def parse_pause(text: str) -> tuple[int | None, str | None]:
    """How long to pause a tube; 0 unpauses it."""
    value, problem = parse_delay(text)
    if problem is not None:
        return None, problem.replace("delay", "pause", 1)
    return value, None


def parse_count(text: str) -> tuple[int | None, str | None]:
    """How many jobs to kick: a whole number from 1."""
    value = text.strip()
    if not value.isdigit() or int(value) < 1:
        return None, f"{value or 'an empty value'!s} is not a count: type a whole number from 1"
    if int(value) > MAX_SECONDS:
        return None, f"{value} is too large: the server kicks at most {MAX_SECONDS} at a time"
    return int(value), None


def parse_timeout(text: str) -> tuple[int | None, str | None]:
    """How long a reserve waits for a job: 0 (do not wait) to 60 seconds."""
    seconds = parse_duration(text)
    if seconds is None:
        return None, f"{text.strip() or 'an empty value'!s} is not a duration: use e.g. 5 or 30s"
    if seconds > 60:
        return None, (
            f"{seconds} s is too long: the held-jobs view waits at most 60 s so it stays usable"
        )
    return seconds, None


def parse_tube(text: str) -> tuple[str | None, str | None]:
    name = text.strip()
    try:
        check_tube(name)
    except (ValueError, TypeError) as exc:
        return None, str(exc)
    return name, None


def parse_new_file(text: str) -> tuple[Path | None, str | None]:
    if not text.strip():
        return None, "give a file name, e.g. ./export.jsonl"
    path = Path(text.strip()).expanduser()
    if path.exists():
        return None, f"{path} already exists: choose another name (an export never overwrites)"
    if not path.parent.is_dir():
        return None, f"folder {path.parent} does not exist: create it or choose another"
    return path, None


def parse_existing_file(text: str) -> tuple[Path | None, str | None]:
    if not text.strip():
        return None, "give the JSON Lines file to import, e.g. ./export.jsonl"
    path = Path(text.strip()).expanduser()
    if not path.is_file():
        return None, f"no file {path}: give the path of an export or journal file"
    return path, None


def parse_optional_tube(text: str) -> tuple[str | None, str | None]:
    if not text.strip():
        return None, None
    return parse_tube(text)
