"""The search query language: parsing, normalised form, errors, matching."""

from __future__ import annotations

import base64
import fnmatch
import gzip
import json
import operator
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stalkview.client import Client
from stalkview.model import FIELDS, JobLike, Query, QueryError, parse_query
from stalkview.model.joblike import JOB_STATES
from stalkview.model.search import body_haystacks
from tests.factories import FakeJob
from tests.strategies import PROPERTY, jobs


@dataclass
class Job(FakeJob):
    tube: str = "emails"
    age: int = 10


JOB = Job()
LARAVEL = json.dumps(
    {"displayName": "App\\Jobs\\SendEmail", "data": {"user_id": 42, "to": "Zoë@example.com"}},
    separators=(",", ":"),
).encode()


def matches(query: str, job: JobLike = JOB, body: bytes | None = None, **kw: str) -> bool:
    return parse_query(query).matches(job, body, kw.get("job_type"))


# --- parsing ------------------------------------------------------------------------------------


def test_issue_example_parses() -> None:
    query = parse_query(
        'state=buried reserves>=3 age>3600 body~"user_id": 42 tube=emails type=SendEmail'
    )
    fields = [(t.field, t.op, t.value) for t in query.terms]
    assert fields == [
        ("state", "=", "buried"),
        ("reserves", ">=", "3"),
        ("age", ">", "3600"),
        ("body", "~", '"user_id": 42'),
        ("tube", "=", "emails"),
        ("type", "=", "SendEmail"),
    ]
    assert query.needs_body
    assert query.needs_type


def test_empty_query_matches_everything() -> None:
    for text in ("", "   ", "\t\n"):
        query = parse_query(text)
        assert query.is_empty
        assert query.matches(JOB)
        assert not query.needs_body
        assert str(query) == ""


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("age>3600", 3600),
        ("age>90s", 90),
        ("age>15m", 900),
        ("age>2h", 7200),
        ("age>1d", 86400),
        ("age>1w", 604800),
        ("age>1h30m", 5400),
        ("age>1.5h", 5400),
        ("age>2H", 7200),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_query(text).terms[0].parsed == seconds


def test_field_names_are_case_insensitive_and_time_left_aliases() -> None:
    for text in ("time-left<10", "time_left<10", "TIME_LEFT<10", "Time-Left<10"):
        term = parse_query(text).terms[0]
        assert term.field == "time-left"
        assert str(term) == "time-left<10"


def test_quoted_values_and_escapes() -> None:
    query = parse_query('tube=\'a b\' body~"say \\"hi\\"" type="App\\Jobs\\X"')
    assert [t.value for t in query.terms] == ["a b", 'say "hi"', "App\\Jobs\\X"]


def test_bare_words_are_separate_body_terms() -> None:
    query = parse_query('timeout "connection refused" state=ready')
    assert [(t.field, t.op, t.value) for t in query.terms] == [
        ("body", "~", "timeout"),
        ("body", "~", "connection refused"),
        ("state", "=", "ready"),
    ]


def test_unquoted_body_value_runs_to_the_next_field_term() -> None:
    query = parse_query("body~connection refused by peer  state=buried tube~mail")
    assert [(t.field, t.value) for t in query.terms] == [
        ("body", "connection refused by peer"),
        ("state", "buried"),
        ("tube", "mail"),
    ]
    # Words that look like terms of unknown fields stay part of the body text.
    assert parse_query("body~a x=1 b").terms[0].value == "a x=1 b"
    assert parse_query("body~error").terms[0].value == "error"


def test_body_value_quoted_then_text_is_literal() -> None:
    term = parse_query('body~"user_id": 42').terms[0]
    assert term.value == '"user_id": 42'
    assert not term.regex


def test_regex_values() -> None:
    query = parse_query(r"body~/user_\d+/i body!~/a b/ body~/path/to/file")
    regex, negated, literal = query.terms
    assert regex.regex and regex.parsed.pattern == r"user_\d+" and regex.parsed.flags & 2
    assert negated.regex and negated.op == "!~" and negated.parsed.pattern == "a b"
    assert not literal.regex and literal.value == "/path/to/file"
    assert parse_query(r"body~/a\/b/").terms[0].parsed.search("x a/b y")


def test_state_lists() -> None:
    term = parse_query("state=Ready,DELAYED").terms[0]
    assert term.parsed == ("ready", "delayed")


@pytest.mark.parametrize(
    "text",
    [
        'state=buried reserves>=3 age>3600 body~"user_id": 42 tube=emails type=SendEmail',
        "body~'it''s' tube='a b'",
        'body~"quote \\" and backslash \\\\" state!=ready,delayed',
        r"body~/x\d+/im body!~/a b/",
        'body~"/not a regex/"',
        "timeout refused pri<1024 id=7 time_left<=1h30m file=3",
        "type~mail tube!~test type!=X body!~'secret'",
        'body~""',
    ],
)
def test_normalised_form_round_trips(text: str) -> None:
    query = parse_query(text)
    again = parse_query(str(query))
    assert again == query
    assert str(again) == str(query)


def test_normalised_form_examples() -> None:
    assert str(parse_query("  STATE=buried   foo  Time_Left<5m ")) == (
        "state=buried body~foo time-left<5m"
    )
    assert str(parse_query('body~"user_id": 42')) == 'body~"\\"user_id\\": 42"'
    assert str(parse_query('"two words"')) == 'body~"two words"'


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments", "position"),
    [
        ("foo=1", ["unknown field 'foo'", "column 1", "tube, state", 'quote it: "foo=1"'], 0),
        ("state=ready bogus>3", ["unknown field 'bogus'", "column 13"], 12),
        ("state=bury", ["unknown state 'bury'", "ready, delayed, reserved, buried"], 6),
        ("age>soon", ["age needs a duration", "'soon'", "90s, 15m"], 4),
        ("reserves>=three", ["reserves needs a whole number", "'three'"], 10),
        ("pri<-1", ["pri needs a whole number"], 4),
        ("pri~3", ["pri does not take '~'", "= != < <= > >="], 0),
        ("state>ready", ["state does not take '>'"], 0),
        ("tube<a", ["tube does not take '<'"], 0),
        ("body=x", ["body does not take '='", "body~text"], 4),
        ("body>x", ["body does not take '>'"], 4),
        ("body~/(/", ["bad regex /(/", "missing )", "quote the value"], 5),
        ("body~/[z-a]/", ["bad regex", "range"], 5),
        ('tube="abc', ["never closed", 'add the closing "'], 5),
        ("body~'abc", ["never closed", "add the closing '"], 5),
        ("'abc", ["a bare word opens a quote", "column 1"], 0),
        ('tube="a"b', ["after the closing quote", "put a space"], 8),
        ("state=", ["'state=' has no value", "state=buried"], 6),
        ("age> 5", ["'age>' has no value"], 4),
    ],
)
def test_errors_say_what_and_how_to_fix(text: str, fragments: list[str], position: int) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    assert caught.value.position == position
    assert isinstance(caught.value, ValueError)


def test_unknown_field_error_lists_every_field() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query("colour=red")
    for name in FIELDS:
        assert name in str(caught.value)


# --- matching -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "job", "expected"),
    [
        ("id=1", JOB, True),
        ("id!=1", JOB, False),
        ("pri<1024", JOB, False),
        ("pri<=1024", JOB, True),
        ("pri>=1024", replace(JOB, pri=0), False),
        ("age>5", JOB, True),
        ("age>1m", JOB, False),
        ("age>=10s", JOB, True),
        ("delay=0", JOB, True),
        ("ttr<1m", JOB, False),
        ("time-left<5", replace(JOB, time_left=3), True),
        ("file=0", JOB, True),
        ("reserves>=3", replace(JOB, reserves=3), True),
        ("timeouts>1 buries>0", replace(JOB, timeouts=2, buries=1), True),
        ("releases=0 kicks=0", JOB, True),
        ("state=ready", JOB, True),
        ("state=buried", JOB, False),
        ("state!=buried", JOB, True),
        ("state=delayed,ready", JOB, True),
        ("state!=delayed,ready", JOB, False),
        ("tube=emails", JOB, True),
        ("tube=Emails", JOB, False),
        ("tube~MAIL", JOB, True),
        ("tube!~mail", JOB, False),
        ("tube=em*", JOB, True),
        ("tube=e?ails", JOB, True),
        ("tube!=em*", JOB, False),
        ("state=ready age>5 pri>1000 tube=emails", JOB, True),
        ("state=ready age>5 pri>2000 tube=emails", JOB, False),
    ],
)
def test_stats_terms(query: str, job: Job, expected: bool) -> None:
    assert matches(query, job) is expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=SendEmail", True),
        ("type=sendemail", True),
        ("type=App\\Jobs\\SendEmail", True),
        ("type=Send*", True),
        ("type=Email", False),
        ("type~email", True),
        ("type!~email", False),
        ("type!=SendEmail", False),
        ("type!=Other", True),
    ],
)
def test_type_terms(query: str, expected: bool) -> None:
    assert matches(query, job_type="App\\Jobs\\SendEmail") is expected
    # Without a given type it is read from the body.
    assert matches(query, body=LARAVEL) is expected


def test_unknown_type_matches_only_negative_terms() -> None:
    assert not matches("type=X", body=b"plain")
    assert not matches("type~x")
    assert matches("type!=X", body=b"plain")
    assert matches("type!~x")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('body~"user_id": 42', True),  # the issue's exact form, against compact JSON
        ('body~"user_id":42', True),
        ("body~user_id", True),
        ("body~USER_ID", True),
        ("user_id", True),
        ("zoë@EXAMPLE", True),
        ("body~nothing-like-this", False),
        ("body!~nothing-like-this", True),
        ("body!~user_id", False),
        (r"body~/user_id.:\s*4\d/", True),
        (r"body~/USER_ID/", False),
        (r"body~/USER_ID/i", True),
        (r"body!~/USER_ID/", True),
        ('body~"user_id": 43', False),
        ("user_id missing", False),
        ("user_id sendemail", True),
    ],
)
def test_body_terms(query: str, expected: bool) -> None:
    assert matches(query, body=LARAVEL) is expected


def test_body_terms_search_decoded_layers() -> None:
    body = gzip.compress(LARAVEL)
    assert matches('body~"user_id": 42', body=body)
    assert matches("body~SendEmail", body=body)
    assert not matches("body~nope", body=body)


def test_body_terms_never_match_without_a_body() -> None:
    assert not matches("body~x")
    assert not matches("body!~x")
    assert not matches("bare")


def test_body_terms_on_nasty_bodies() -> None:
    assert matches("bold", body=b"[bold red]x[/]")
    assert matches(r"body~/\x1b\[2J/", body=b"\x1b[2J")
    assert matches("body~abc", body=b"\xff\xfeabc\x00")
    assert not matches("body~abc", body=b"")


def test_matches_stats_ignores_body_terms_and_unknown_types() -> None:
    query = parse_query("state=ready body~x type=Foo")
    assert query.matches_stats(JOB)
    assert not query.matches_stats(replace(JOB, state="buried"))
    assert not query.matches_stats(JOB, job_type="Bar")
    assert query.matches_stats(JOB, job_type="App\\Foo")
    assert not query.matches(JOB, b"no", job_type="App\\Foo")
    assert query.matches(JOB, b"xx", job_type="App\\Foo")


def test_needs_body_only_for_body_terms() -> None:
    assert not parse_query("state=ready type=X").needs_body
    assert parse_query("state=ready type=X").needs_type
    assert parse_query("word").needs_body
    assert not Query().needs_body


def test_inventory_jobinfo_satisfies_joblike() -> None:
    inventory = pytest.importorskip("stalkview.inventory")
    stats = {
        "id": 9, "tube": "emails", "state": "buried", "pri": 10, "age": 4000, "delay": 0,
        "ttr": 60, "time-left": 0, "file": 0, "reserves": 4, "timeouts": 1, "releases": 0,
        "buries": 1, "kicks": 0,
    }  # fmt: skip
    job = inventory.JobInfo.from_stats(stats, 0.0)
    assert matches("state=buried reserves>=3 age>1h time-left=0", job)
    assert not matches("state=buried reserves>=5", job)


async def test_search_over_jobs_from_a_real_server(bclient: Client) -> None:
    """End to end: bodies and stats as beanstalkd returns them, through decode, type and search."""
    inventory = pytest.importorskip("stalkview.inventory")
    await bclient.use("emails")
    laravel_gz = await bclient.put(gzip.compress(LARAVEL), priority=10)
    plain = await bclient.put(b"user_id 42 in plain text", delay=3600)
    other = await bclient.put(json.dumps({"class": "NewsletterJob", "args": [1]}).encode())
    jobs = {}
    for job_id in (laravel_gz, plain, other):
        stats = await bclient.stats_job(job_id)
        body = (await bclient.peek(job_id)).body
        jobs[job_id] = (inventory.JobInfo.from_stats(stats, 0.0), body)

    def found(text: str) -> set[int]:
        query = parse_query(text)
        return {i for i, (job, body) in jobs.items() if query.matches(job, body)}

    assert found('body~"user_id": 42') == {laravel_gz}
    assert found("user_id 42") == {laravel_gz, plain}
    assert found("type=SendEmail pri<1024") == {laravel_gz}
    assert found("type=NewsletterJob state=ready") == {other}
    assert found("state=delayed delay>=1h tube=emails") == {plain}
    assert found("type!~mail") == {plain, other}


# --- every operator just below, at and above its value ----------------------------------------

COMPARISONS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
NUMBER_AND_DURATION_FIELDS = (
    "id", "pri", "file", "reserves", "timeouts", "releases", "buries", "kicks",
    "age", "delay", "ttr", "time-left",
)  # fmt: skip


@pytest.mark.parametrize("field", NUMBER_AND_DURATION_FIELDS)
@pytest.mark.parametrize("op", list(COMPARISONS))
def test_every_operator_below_at_and_above(field: str, op: str) -> None:
    query = parse_query(f"{field}{op}60")
    for actual in (59, 60, 61):
        changes: dict[str, Any] = {field.replace("-", "_"): actual}
        job = replace(JOB, **changes)
        assert query.matches(job) is COMPARISONS[op](actual, 60), (field, op, actual)
        assert query.matches_stats(job) is COMPARISONS[op](actual, 60)


@pytest.mark.parametrize(
    ("query", "job", "expected"),
    [
        ("pri=5", replace(JOB, pri=100), False),
        ("pri<=5", replace(JOB, pri=100), False),
        ("pri<=5", replace(JOB, pri=5), True),
        ("age>60", replace(JOB, age=60), False),
        ("age>1m", replace(JOB, age=61), True),
        ("age>=1m", replace(JOB, age=60), True),
        ("age<1h30m", replace(JOB, age=5399), True),
        ("age<1h30m", replace(JOB, age=5400), False),
        ("ttr=1d", replace(JOB, ttr=86_400), True),
        ("delay>=1w", replace(JOB, delay=604_799), False),
    ],
)
def test_issue_comparisons(query: str, job: Job, expected: bool) -> None:
    assert matches(query, job) is expected


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        (
            "age~5m",
            "age does not take '~' at column 1: use one of = != < <= > >=, "
            "e.g. age>15m (durations: 3600, 90s, 15m, 2h, 1d)",
            0,
        ),
        (
            "state=ready delay!~1s",
            "delay does not take '!~' at column 13: use one of = != < <= > >=, "
            "e.g. delay>15m (durations: 3600, 90s, 15m, 2h, 1d)",
            12,
        ),
        (
            "kicks~1",
            "kicks does not take '~' at column 1: use one of = != < <= > >=, e.g. kicks>=3",
            0,
        ),
        ("pri>x", "pri needs a whole number, got 'x' at column 5: write e.g. pri<1024", 4),
        ("pri>٣", "pri needs a whole number, got '٣' at column 5: write e.g. pri<1024", 4),
        (
            "state~ready",
            "state does not take '~' at column 1: use one of = !=, "
            "e.g. state=buried (ready, delayed, reserved, buried)",
            0,
        ),
        (
            "type<3",
            "type does not take '<' at column 1: use one of = != ~ !~, "
            "e.g. type=SendEmail or type~mail",
            0,
        ),
        (
            "body>x",
            "body does not take '>' at column 5: "
            "use body~text (contains), body!~text (does not contain) or body~/regex/",
            4,
        ),
        (
            "body~/(/",
            "bad regex /(/: missing ), unterminated subpattern at character 1 of the pattern "
            "at column 6: fix the pattern, or quote the value to search for it as plain text",
            5,
        ),
        ("age>", "'age>' has no value at column 5: write e.g. age>15m "
                 "(durations: 3600, 90s, 15m, 2h, 1d)", 4),
        ("tube=", "'tube=' has no value at column 6: write e.g. tube=emails or tube~mail", 5),
        ("body~", "'body~' has no value at column 6: "
                  "write e.g. body~\"user_id\": 42 or body~/user_\\d+/", 5),
        ("state=ready,soon", "unknown state 'soon' at column 7: use one of ready, delayed, "
                             "reserved, buried (several: state=ready,delayed)", 6),
    ],
)  # fmt: skip
def test_errors_in_full(text: str, message: str, position: int) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    assert str(caught.value) == message
    assert caught.value.message == message
    assert caught.value.position == position


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("body~/abc", "/abc"),  # no closing slash: the text itself
        ("body~/abc\\", "/abc\\"),
        ("body~/a/b", "/a/b"),  # text after the closing slash: the text itself
        ("body~/a/iz", "/a/iz"),
        ("/abc", "/abc"),
    ],
)
def test_unclosed_regex_is_literal_text(text: str, needle: str) -> None:
    query = parse_query(text)
    (term,) = query.terms
    assert (term.field, term.op, term.value, term.regex) == ("body", "~", needle, False)
    assert query.matches(JOB, b"x" + needle.encode() + b"y")
    assert not query.matches(JOB, needle[1:].encode())


def test_regex_flags() -> None:
    query = parse_query("body~/^a.b$/ms")
    (term,) = query.terms
    assert term.regex and term.value == "/^a.b$/ms"
    assert query.matches(JOB, b"x\na\nb")
    assert not parse_query("body~/^a.b$/m").matches(JOB, b"x\na\nb")
    assert not parse_query("body~/^a.b$/s").matches(JOB, b"x\na\nb")
    assert parse_query("body~/ a b /x").matches(JOB, b"ab")
    assert parse_query(r"body~/a\/b/").matches(JOB, b"a/b")
    assert str(parse_query("body~/a b/i  state=ready")) == "body~/a b/i state=ready"


# --- body layers and type wildcards ----------------------------------------------------------


@pytest.mark.parametrize(
    "wrap",
    [
        lambda b: base64.b64encode(b),
        lambda b: base64.b64encode(gzip.compress(b)),
        lambda b: gzip.compress(base64.b64encode(b)),
        lambda b: zlib.compress(b),
    ],
)
def test_body_terms_search_inside_encoded_layers(wrap: Callable[[bytes], bytes]) -> None:
    body = wrap(LARAVEL)
    assert LARAVEL not in body
    assert matches('body~"user_id": 42', body=body)
    assert matches("body~zoë@example", body=body)
    assert matches(r"body~/\"to\":\s*\"Zo/", body=body)
    assert not matches("body~user_id:43", body=body)
    assert matches("body!~nope", body=body)
    assert matches("type=SendEmail", body=body) is matches("type=SendEmail", body=LARAVEL)


def test_body_terms_search_base64_text() -> None:
    body = base64.b64encode(b"the invoice for order 1234 is ready")
    assert matches("body~invoice", body=body)
    assert matches("body~/order \\d+/", body=body)
    assert not matches("body~refund", body=body)
    # The text as stored is searched too.
    assert matches(f"body~{body[:12].decode()}", body=body)


@pytest.mark.parametrize(
    ("query", "job_type", "expected"),
    [
        ("type=Send?mail", "App\\Jobs\\SendEmail", True),
        ("type=Send?mail", "App\\Jobs\\SendEEmail", False),
        ("type=?endEmail", "SendEmail", True),
        ("type=App?Jobs?SendEmail", "App\\Jobs\\SendEmail", True),
        ("type=app.jobs.*", "App.Jobs.SendEmail", True),
        ("type=Jobs", "App\\Jobs\\SendEmail", False),  # a middle part is not the type
        ("type=sendemail", "App::Jobs::SendEmail", True),
        ("type=sendemail", "mailer@SendEmail", True),
        ("type=sendemail", "mail/SendEmail", True),
        ("type!=Send?mail", "SendEmail", False),
        ("type!=Send?mail", "Other", True),
    ],
)
def test_type_wildcards_and_namespaces(query: str, job_type: str, expected: bool) -> None:
    assert matches(query, job_type=job_type) is expected


@pytest.mark.parametrize(
    ("query", "tube", "expected"),
    [
        ("tube=mail-?", "mail-1", True),
        ("tube=mail-?", "mail-12", False),
        ("tube=mail-?", "Mail-1", False),  # tube names are case-sensitive
        ("tube=mail-*", "mail-", True),
        ("tube!=mail-?", "mail-12", True),
        ("tube=mail", "mail-1", False),
        ("tube~IL-1", "mail-12", True),
        ("tube!~IL-1", "mail-12", False),
    ],
)
def test_tube_wildcards(query: str, tube: str, expected: bool) -> None:
    assert matches(query, replace(JOB, tube=tube)) is expected


def test_body_haystacks_include_the_canonical_json_and_decoded_text() -> None:
    haystacks = body_haystacks(base64.b64encode(b'{"a":1}'))
    assert haystacks == (base64.b64encode(b'{"a":1}').decode(), '{"a": 1}', '{"a":1}')
    assert body_haystacks(b'{"a":1}') == ('{"a":1}', '{"a": 1}')
    assert body_haystacks(b"plain") == ("plain",)
    assert body_haystacks(base64.b64encode(b"some words here")) == (
        base64.b64encode(b"some words here").decode(),
        "some words here",
    )


# --- property: random jobs against a reference filter ------------------------------------------

_DURATION_TEXT = {30: "30s", 60: "1m", 3600: "1h", 90: "1m30s"}


@st.composite
def stats_terms(draw: st.DrawFn) -> tuple[str, Callable[[FakeJob], bool]]:
    """A stats term as text, with what it means written out plainly."""
    kind = draw(st.sampled_from(["number", "duration", "state", "tube"]))
    if kind in ("number", "duration"):
        fields = (
            NUMBER_AND_DURATION_FIELDS[:8]
            if kind == "number"
            else ("age", "delay", "ttr", "time-left")
        )
        name = draw(st.sampled_from(fields))
        op = draw(st.sampled_from(list(COMPARISONS)))
        value = draw(st.sampled_from([0, 1, 5, 30, 60, 61, 90, 100, 3600]))
        text = str(value)
        if kind == "duration" and value in _DURATION_TEXT and draw(st.booleans()):
            text = _DURATION_TEXT[value]
        attribute = name.replace("-", "_")
        return f"{name}{op}{text}", lambda job: COMPARISONS[op](getattr(job, attribute), value)
    if kind == "state":
        states = draw(st.lists(st.sampled_from(JOB_STATES), min_size=1, max_size=3))
        op = draw(st.sampled_from(["=", "!="]))
        wanted = set(states)
        return (
            f"state{op}{','.join(states)}",
            lambda job: (job.state in wanted) == (op == "="),
        )
    op = draw(st.sampled_from(["=", "!=", "~", "!~"]))
    pattern = draw(st.sampled_from(["emails", "mail-*", "mail-??", "MAIL", "x", "e*s", "?"]))
    if op in ("~", "!~"):
        return (
            f"tube{op}{pattern}",
            lambda job: (pattern.casefold() in job.tube.casefold()) == (op == "~"),
        )
    return f"tube{op}{pattern}", lambda job: fnmatch.fnmatchcase(job.tube, pattern) == (op == "=")


@PROPERTY
@given(st.lists(stats_terms(), max_size=4), st.lists(jobs(), min_size=1, max_size=10))
def test_search_agrees_with_a_reference_filter(
    terms: list[tuple[str, Callable[[FakeJob], bool]]], sample: list[FakeJob]
) -> None:
    query = parse_query(" ".join(text for text, _ in terms))
    assert str(parse_query(str(query))) == str(query)
    for job in sample:
        expected = all(holds(job) for _, holds in terms)
        assert query.matches(job) is expected
        assert query.matches_stats(job) is expected


# --- edges of the query text ----------------------------------------------------------------


UNCLOSED_TUBE = (
    'the value of tube opens a quote that is never closed at column 6: add the closing "'
)


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ('tube="a\\"', UNCLOSED_TUBE, 5),  # the last quote is escaped
        ('tube="ab\\', UNCLOSED_TUBE, 5),  # a backslash at the very end
        ('body~"abc', "the body value opens a quote that is never closed at column 6: "
                      'add the closing "', 5),
        ('age>" 5m"', "age needs a duration, got ' 5m' at column 5: "
                      "write e.g. age>15m (durations: 3600, 90s, 15m, 2h, 1d)", 4),
        (
            "body~/(?<=a+)b/",
            "bad regex /(?<=a+)b/: look-behind requires fixed-width pattern at column 6: "
            "fix the pattern, or quote the value to search for it as plain text",
            5,
        ),
    ],
)  # fmt: skip
def test_quote_and_value_errors_in_full(text: str, message: str, position: int) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    assert str(caught.value) == message
    assert caught.value.position == position


def test_escapes_inside_quotes() -> None:
    assert parse_query('tube="a\\"b"').terms[0].value == 'a"b'
    assert parse_query("tube='a\\'b'").terms[0].value == "a'b"
    assert parse_query('tube="a\\\\"').terms[0].value == "a\\"
    assert parse_query('tube="a\\x"').terms[0].value == "a\\x"  # not an escape: kept


def test_unquoted_body_value_ends_before_an_aliased_field() -> None:
    for alias in ("time_left", "TIMELEFT", "Time-Left"):
        query = parse_query(f"body~two words {alias}>5")
        assert [(t.field, t.op, t.value) for t in query.terms] == [
            ("body", "~", "two words"),
            ("time-left", ">", "5"),
        ]
    assert parse_query("body~two words   ").terms[0].value == "two words"


@pytest.mark.parametrize(
    ("text", "body", "expected"),
    [
        (r"body~/\//", b"a/b", True),
        (r"body~/\//", b"ab", False),
        ("body~//", b"anything", True),  # the empty pattern
        (r"body~/\d/", b"x1", True),
    ],
)
def test_regex_starting_with_an_escape_or_a_slash(text: str, body: bytes, expected: bool) -> None:
    query = parse_query(text)
    assert query.terms[0].regex
    assert query.matches(JOB, body) is expected


def test_json_is_searched_in_its_canonical_form_with_several_keys() -> None:
    body = b'{"a":1,"b":[2,3],"c":{"d":"\xc3\xa9"}}'
    assert body_haystacks(body)[1] == '{"a": 1, "b": [2, 3], "c": {"d": "é"}}'
    assert matches('body~"a": 1, "b": [2, 3]', body=body)
    assert matches('body~"d": "é"', body=body)
