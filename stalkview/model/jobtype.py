"""The "job type" column: the kind of job a body carries, read from well-known payload shapes.

Recognised, in this order:
- Laravel queue: ``displayName``; or ``job`` == ``Illuminate\\Queue\\CallQueuedHandler@call`` with
  ``data.commandName``;
- Celery / kombu messages: ``headers.task`` (protocol 2) or ``task`` (protocol 1);
- Resque / Backburner: ``class`` (with ``args``);
- fivebeans (Node): a JSON array ``["emailjob", {...}]``, the type first;
- any JSON object with a string ``type``, ``task``, ``job``, ``class``, ``name`` or ``event`` key.
Long names are shortened to 40 characters, keeping the end of a namespaced name
(``…\\Notifications\\SendWelcomeEmail``). A body prefix that is cut-off JSON falls back to a regex.
"""

from __future__ import annotations

import json
import re
from typing import Any

from stalkview.model.decode import PREVIEW_MAX_OUTPUT, DecodedBody, decode_body

MAX_TYPE_LEN = 40
LARAVEL_HANDLER = "Illuminate\\Queue\\CallQueuedHandler@call"
GENERIC_KEYS: tuple[str, ...] = ("type", "task", "job", "class", "name", "event")
# For cut-off JSON: the keys whose value names the job, most specific first.
_REGEX_KEYS: tuple[str, ...] = ("displayName", "commandName", "task", "class", *GENERIC_KEYS)
_REGEX_SCAN_LIMIT = 8192
_SEPARATORS = ("\\", "::", ".", "/")
_FIVEBEANS_PREFIX = re.compile(r'\s*\[\s*"((?:[^"\\]|\\.)*)"\s*,\s*\{')


def job_type(raw: bytes | DecodedBody) -> str | None:
    """The job's type name from its body (or a prefix of it), or None when the shape is unknown."""
    if isinstance(raw, DecodedBody):
        decoded = raw
    else:
        # The type sits near the start of known shapes: a prefix is enough, and cheap.
        decoded = decode_body(
            raw[:PREVIEW_MAX_OUTPUT], truncated=True, max_output=PREVIEW_MAX_OUTPUT
        )
    if decoded.kind == "json":
        found = type_from_value(decoded.value)
        if found is None and decoded.truncated and decoded.text is not None:
            return _type_from_prefix(decoded.text)  # cut-off JSON that could not be closed
        return found
    if decoded.kind == "text" and decoded.text is not None:
        return _type_from_prefix(decoded.text)
    return None


def type_from_value(value: Any) -> str | None:
    """The type name from an already parsed JSON value."""
    if isinstance(value, list):
        return _fivebeans(value)
    if not isinstance(value, dict):
        return None
    name = _laravel(value) or _celery(value) or _first_string(value, ("class", *GENERIC_KEYS))
    return shorten(name) if name else None


def _fivebeans(items: list[Any]) -> str | None:
    """fivebeans puts ``[type, payload]``: a short name, then an object."""
    if len(items) == 2 and isinstance(items[0], str) and isinstance(items[1], dict):
        name = items[0].strip()
        return shorten(name) if name else None
    return None


def _laravel(obj: dict[str, Any]) -> str | None:
    display = obj.get("displayName")
    if isinstance(display, str) and display:
        return display
    data = obj.get("data")
    if obj.get("job") == LARAVEL_HANDLER and isinstance(data, dict):
        command = data.get("commandName")
        if isinstance(command, str) and command:
            return command
    return None


def _celery(obj: dict[str, Any]) -> str | None:
    headers = obj.get("headers")
    if isinstance(headers, dict):
        task = headers.get("task")
        if isinstance(task, str) and task:
            return task
    return None


def _first_string(obj: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _type_from_prefix(text: str) -> str | None:
    """Cut-off JSON cannot be parsed: look for ``"key": "value"`` pairs instead."""
    head = text[:_REGEX_SCAN_LIMIT]
    fivebeans = _FIVEBEANS_PREFIX.match(head)
    if fivebeans is not None:
        name = _json_unescape(fivebeans.group(1))
        return shorten(name) if name else None
    if not head.lstrip().startswith("{"):
        return None
    for key in _REGEX_KEYS:
        match = re.search(rf'"{key}"\s*:\s*"((?:[^"\\]|\\.)*)"', head)
        if match is None:
            continue
        value = _json_unescape(match.group(1))
        if value:
            return shorten(value)
    return None


def _json_unescape(s: str) -> str:
    try:
        value = json.loads(f'"{s}"')
    except ValueError:
        return s
    return value.strip() if isinstance(value, str) else s


def shorten(name: str, limit: int = MAX_TYPE_LEN) -> str:
    """Fit ``name`` in ``limit`` characters: namespaced names keep their last parts, others their
    start; the cut is marked with "…". Whitespace runs become one space."""
    name = " ".join(name.split())
    if len(name) <= limit:
        return name
    for sep in _SEPARATORS:
        if sep in name:
            parts = name.split(sep)
            kept = parts[-1]
            for part in reversed(parts[:-1]):
                candidate = part + sep + kept
                if len(candidate) + 1 + len(sep) > limit:
                    break
                kept = candidate
            if len(kept) + 1 + len(sep) <= limit:
                return "…" + sep + kept
            break
    return name[: limit - 1] + "…"
