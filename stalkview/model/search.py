"""The job search language: stats conditions and body matches in one line.

    state=buried reserves>=3 age>1h body~"user_id": 42 tube=emails type=SendEmail

Rules
- A query is terms separated by spaces; every term must hold (AND). An empty query matches
  every job.
- A term is ``FIELD OP VALUE``. Fields: id, tube, state, pri, age, delay, ttr, time-left (or
  time_left), file, reserves, timeouts, releases, buries, kicks, type, body. Field names are
  case-insensitive.
- Operators: ``= != < <= > >=`` compare numbers; ``~`` means "contains" and ``!~`` "does not
  contain" (case-insensitive) for body, tube and type.
- Numbers are whole numbers. age, delay, ttr and time-left take durations: 3600, 90s, 15m, 2h, 1d,
  1w, or combined like 1h30m.
- state takes ready, delayed, reserved or buried; several with commas: ``state=ready,delayed``.
- tube and type with ``=``/``!=`` compare whole names, with ``*`` and ``?`` wildcards
  (``tube=mail-*``). ``type=SendEmail`` also matches ``App\\Jobs\\SendEmail`` (the last part of a
  namespaced name). type is case-insensitive, tube names are not.
- Values may be quoted with "..." or '...' (then they may hold spaces; ``\\"``, ``\\'`` and ``\\\\``
  are escapes). An unquoted value ends at the next space, except for body:
- ``body~VALUE``: VALUE is ``/regex/`` (flags i, m, s, x may follow: ``/user_\\d+/i``), or a quoted
  string, or otherwise everything up to the next `` FIELD OP`` term or the end of the query, taken
  literally — so ``body~"user_id": 42 state=buried`` searches for the text ``"user_id": 42``.
- A bare word (no operator) means ``body~word``; each bare word is its own term.
- Body terms look at the body as stored and, when it decodes (JSON, gzip, zlib, base64), at the
  decoded text too; JSON is also searched in the canonical ``{"key": value}`` form, so
  ``body~"user_id": 42`` finds ``{"user_id":42}``.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from stalkview.format import parse_duration
from stalkview.model.decode import decode_body
from stalkview.model.joblike import JOB_STATES, JobLike
from stalkview.model.jobtype import job_type as detect_job_type

NUMBER_FIELDS = ("id", "pri", "file", "reserves", "timeouts", "releases", "buries", "kicks")
DURATION_FIELDS = ("age", "delay", "ttr", "time-left")
FIELDS: tuple[str, ...] = (
    "id", "tube", "state", "pri", "age", "delay", "ttr", "time-left", "file",
    "reserves", "timeouts", "releases", "buries", "kicks", "type", "body",
)  # fmt: skip
_ALIASES = {"time_left": "time-left", "timeleft": "time-left"}
_ATTRIBUTES = {name: name.replace("-", "_") for name in FIELDS}
COMPARE_OPS = ("=", "!=", "<", "<=", ">", ">=")
MATCH_OPS = ("~", "!~")
_FIELD_OP = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)(<=|>=|!=|!~|=|<|>|~)")
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
_QUOTES = "\"'"
_PLAIN_VALUE = re.compile(r"[^\s\"'/][^\s]*")
_NAME_SEPARATORS = re.compile(r"\\|::|\.|/|@")


class QueryError(ValueError):
    """A query that cannot be parsed. ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def _error(problem: str, position: int, fix: str) -> QueryError:
    return QueryError(f"{problem} at column {position + 1}: {fix}", position)


@dataclass(frozen=True)
class Term:
    """One condition. ``value`` is the value as text; ``parsed`` is its typed form (int, float
    seconds, tuple of states, compiled regex or the lower-cased needle)."""

    field: str
    op: str
    value: str
    parsed: Any = dataclass_field(compare=False)
    regex: bool = False

    def __str__(self) -> str:
        if self.regex:
            return f"{self.field}{self.op}{self.value}"
        return f"{self.field}{self.op}{_quote(self.value)}"


def _quote(value: str) -> str:
    if _PLAIN_VALUE.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@dataclass
class _Context:
    """What one ``matches`` call knows about a job, computed lazily and at most once."""

    job: JobLike
    body: bytes | None
    job_type: str | None
    _haystacks: tuple[str, ...] | None = None
    _type_known: bool = False

    def haystacks(self) -> tuple[str, ...]:
        if self._haystacks is None:
            self._haystacks = body_haystacks(self.body) if self.body is not None else ()
        return self._haystacks

    def type(self) -> str | None:
        if not self._type_known:
            if self.job_type is None and self.body is not None:
                self.job_type = detect_job_type(self.body)
            self._type_known = True
        return self.job_type


@dataclass(frozen=True)
class Query:
    """A parsed query. ``str(query)`` is its normalised text; it parses back to the same query."""

    terms: tuple[Term, ...] = ()

    @property
    def needs_body(self) -> bool:
        """True when a body term is present: ``matches`` then needs the job's body."""
        return any(t.field == "body" for t in self.terms)

    @property
    def needs_type(self) -> bool:
        """True when a type term is present: pass ``job_type`` (or the body) to ``matches``."""
        return any(t.field == "type" for t in self.terms)

    @property
    def is_empty(self) -> bool:
        return not self.terms

    def matches(self, job: JobLike, body: bytes | None = None, job_type: str | None = None) -> bool:
        """Does ``job`` satisfy every term?

        Body terms never match without a ``body`` (not even ``!~``). Type terms use ``job_type``, or
        read the type from ``body`` when it is not given; a job of unknown type matches only ``!=``
        and ``!~`` type terms.
        """
        context = _Context(job, body, job_type)
        return all(_evaluate(term, context) for term in self.terms)

    def matches_stats(self, job: JobLike, job_type: str | None = None) -> bool:
        """Could ``job`` match? Checks every term except body terms (and type terms when
        ``job_type`` is None), so the app can fetch bodies only for these candidates."""
        context = _Context(job, None, job_type, _type_known=True)
        return all(
            _evaluate(term, context)
            for term in self.terms
            if term.field != "body" and (term.field != "type" or job_type is not None)
        )

    def __str__(self) -> str:
        return " ".join(str(term) for term in self.terms)


# --- parsing ----------------------------------------------------------------------------------


def parse_query(text: str) -> Query:
    """Parse a search query (see the module docstring for the rules); raises QueryError."""
    terms: list[Term] = []
    position = _skip_spaces(text, 0)
    while position < len(text):
        match = _FIELD_OP.match(text, position)
        if match is None:
            value, position = _read_value(text, position, "a bare word")
            terms.append(_substring_term("body", "~", value))
        else:
            term, position = _read_term(text, match)
            terms.append(term)
        position = _skip_spaces(text, position)
    return Query(tuple(terms))


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _read_term(text: str, match: re.Match[str]) -> tuple[Term, int]:
    name, op = match.group(1).lower(), match.group(2)
    name = _ALIASES.get(name, name)
    if name not in FIELDS:
        raise _error(
            f"unknown field '{match.group(1)}'",
            match.start(),
            f"use one of {', '.join(FIELDS)}; to search bodies for this text, quote it: "
            f'"{text[match.start() :].split(maxsplit=1)[0]}"',
        )
    start = match.end()
    if start >= len(text) or text[start].isspace():
        raise _error(f"'{match.group(0)}' has no value", start, f"write e.g. {_example(name)}")
    if name == "body":
        return _read_body_term(text, op, start)
    value, end = _read_value(text, start, f"the value of {name}")
    return _make_term(name, op, value, match.start(), start), end


def _read_value(text: str, start: int, what: str) -> tuple[str, int]:
    """A quoted or space-delimited value starting at ``start``: (value, end position)."""
    if text[start] in _QUOTES:
        closed = _read_quoted(text, start)
        if closed is None:
            raise _error(
                f"{what} opens a quote that is never closed",
                start,
                f"add the closing {text[start]}",
            )
        value, end = closed
        if end < len(text) and not text[end].isspace():
            raise _error(
                f"unexpected text after the closing quote of {what}",
                end,
                "put a space after the closing quote",
            )
        return value, end
    end = start
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end], end


def _read_quoted(text: str, start: int) -> tuple[str, int] | None:
    """Unescaped content and end position (after the closing quote), or None if unterminated."""
    quote, out, position = text[start], [], start + 1
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text) and text[position + 1] in "\\\"'":
            out.append(text[position + 1])
            position += 2
            continue
        if char == quote:
            return "".join(out), position + 1
        out.append(char)
        position += 1
    return None


def _read_body_term(text: str, op: str, start: int) -> tuple[Term, int]:
    if op not in MATCH_OPS:
        raise _error(
            f"body does not take '{op}'",
            start - len(op),
            "use body~text (contains), body!~text (does not contain) or body~/regex/",
        )
    if text[start] in _QUOTES:
        closed = _read_quoted(text, start)
        if closed is None:
            raise _error(
                "the body value opens a quote that is never closed",
                start,
                f"add the closing {text[start]}",
            )
        value, end = closed
        if end >= len(text) or text[end].isspace():
            return _substring_term("body", op, value), end
    elif text[start] == "/":
        regex = _read_regex(text, op, start)
        if regex is not None:
            return regex
    end = _raw_body_end(text, start)
    return _substring_term("body", op, text[start:end].rstrip()), end


def _read_regex(text: str, op: str, start: int) -> tuple[Term, int] | None:
    """``/pattern/flags`` followed by a space or the end, else None (then it is literal text)."""
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == "/":
            break
        position += 1
    else:
        return None
    pattern = text[start + 1 : position]
    flags_end = position + 1
    while flags_end < len(text) and text[flags_end] in _REGEX_FLAGS:
        flags_end += 1
    if flags_end < len(text) and not text[flags_end].isspace():
        return None
    flag_letters = text[position + 1 : flags_end]
    flags = 0
    for letter in flag_letters:
        flags |= _REGEX_FLAGS[letter]
    try:
        compiled = re.compile(pattern, flags)
    except re.error as exc:
        raise _error(
            f"bad regex /{pattern}/: {exc.msg}"
            + ("" if exc.pos is None else f" at character {exc.pos + 1} of the pattern"),
            start,
            "fix the pattern, or quote the value to search for it as plain text",
        ) from None
    return Term("body", op, text[start:flags_end], compiled, regex=True), flags_end


def _raw_body_end(text: str, start: int) -> int:
    """Where an unquoted body value ends: before the next `` FIELD OP`` term, or at the end."""
    position = start
    while position < len(text):
        if text[position].isspace():
            following = _skip_spaces(text, position)
            match = _FIELD_OP.match(text, following)
            if (
                match is not None
                and _ALIASES.get(match.group(1).lower(), match.group(1).lower()) in FIELDS
            ):
                return position
            position = following
        else:
            position += 1
    return position


def _substring_term(name: str, op: str, value: str) -> Term:
    return Term(name, op, value, value.casefold())


def _make_term(name: str, op: str, value: str, position: int, value_position: int) -> Term:
    if name in NUMBER_FIELDS:
        _check_op(name, op, COMPARE_OPS, position)
        return Term(name, op, value, _parse_int(name, value, value_position))
    if name in DURATION_FIELDS:
        _check_op(name, op, COMPARE_OPS, position)
        return Term(name, op, value, _parse_duration(name, value, value_position))
    if name == "state":
        _check_op(name, op, ("=", "!="), position)
        return Term(name, op, value, _parse_states(value, value_position))
    _check_op(name, op, ("=", "!=", *MATCH_OPS), position)
    if op in MATCH_OPS:
        return _substring_term(name, op, value)
    return Term(name, op, value, value if name == "tube" else value.casefold())


def _check_op(name: str, op: str, allowed: tuple[str, ...], position: int) -> None:
    if op not in allowed:
        raise _error(
            f"{name} does not take '{op}'",
            position,
            f"use one of {' '.join(allowed)}, e.g. {_example(name)}",
        )


def _example(name: str) -> str:
    if name in DURATION_FIELDS:
        return f"{name}>15m (durations: 3600, 90s, 15m, 2h, 1d)"
    if name in NUMBER_FIELDS:
        return f"{name}>=3" if name != "pri" else "pri<1024"
    return {
        "state": "state=buried (ready, delayed, reserved, buried)",
        "tube": "tube=emails or tube~mail",
        "type": "type=SendEmail or type~mail",
        "body": 'body~"user_id": 42 or body~/user_\\d+/',
    }[name]


def _parse_int(name: str, value: str, position: int) -> int:
    if not value.isdigit() or not value.isascii():
        raise _error(
            f"{name} needs a whole number, got '{value}'", position, f"write e.g. {_example(name)}"
        )
    return int(value)


def _parse_duration(name: str, value: str, position: int) -> float:
    """Seconds from ``3600``, ``90s``, ``15m``, ``2h``, ``1d``, ``1w`` or ``1h30m``."""
    seconds = parse_duration(value) if value.strip() == value else None
    if seconds is None:
        raise _error(
            f"{name} needs a duration, got '{value}'", position, f"write e.g. {_example(name)}"
        )
    return seconds


def _parse_states(value: str, position: int) -> tuple[str, ...]:
    states = tuple(s.strip().lower() for s in value.split(","))
    for state in states:
        if state not in JOB_STATES:
            raise _error(
                f"unknown state '{state}'",
                position,
                f"use one of {', '.join(JOB_STATES)} (several: state=ready,delayed)",
            )
    return states


# --- evaluation -------------------------------------------------------------------------------


def _evaluate(term: Term, context: _Context) -> bool:
    if term.field == "body":
        if context.body is None:
            return False
        found = _body_found(term, context.haystacks())
        return found if term.op == "~" else not found
    if term.field == "type":
        return _match_name(term, context.type(), _type_equal)
    if term.field == "tube":
        return _match_name(term, context.job.tube, _tube_equal)
    if term.field == "state":
        return (context.job.state in term.parsed) == (term.op == "=")
    actual = getattr(context.job, _ATTRIBUTES[term.field])
    return _compare(actual, term.op, term.parsed)


def _body_found(term: Term, haystacks: tuple[str, ...]) -> bool:
    if term.regex:
        return any(term.parsed.search(h) for h in haystacks)
    return any(term.parsed in h.casefold() for h in haystacks)


def _match_name(term: Term, actual: str | None, equal: Callable[[str, str], bool]) -> bool:
    positive = term.op in ("=", "~")
    if actual is None:
        return not positive
    if term.op in MATCH_OPS:
        return (term.parsed in actual.casefold()) == positive
    return equal(actual, term.parsed) == positive


def _tube_equal(actual: str, wanted: str) -> bool:
    if "*" in wanted or "?" in wanted:
        return fnmatch.fnmatchcase(actual, wanted)
    return actual == wanted


def _type_equal(actual: str, wanted: str) -> bool:
    """``wanted`` is casefolded; it matches the whole type or its last namespace part."""
    actual = actual.casefold()
    last = _NAME_SEPARATORS.split(actual)[-1]
    if "*" in wanted or "?" in wanted:
        return fnmatch.fnmatchcase(actual, wanted) or fnmatch.fnmatchcase(last, wanted)
    return wanted in (actual, last)


def _compare(actual: float, op: str, wanted: float) -> bool:
    if op == "=":
        return actual == wanted
    if op == "!=":
        return actual != wanted
    if op == "<":
        return actual < wanted
    if op == "<=":
        return actual <= wanted
    if op == ">":
        return actual > wanted
    return actual >= wanted


def body_haystacks(body: bytes) -> tuple[str, ...]:
    """The texts a body term searches: the body as stored, its decoded text, and JSON in the
    canonical ``{"key": value}`` form."""
    texts = [body.decode("utf-8", "replace")]
    decoded = decode_body(body)
    if decoded.kind == "json":
        texts.append(json.dumps(decoded.value, ensure_ascii=False, separators=(", ", ": ")))
        if decoded.layers:
            texts.append(decoded.data.decode("utf-8", "replace"))
    elif decoded.kind == "text" and decoded.layers and decoded.text is not None:
        texts.append(decoded.text)
    return tuple(texts)
