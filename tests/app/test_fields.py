"""What the form fields accept: the put form's validation, in the words the user sees."""

from __future__ import annotations

import pytest

from stalkview.app.screens.fields import ParsedPut, parse_duration, validate_put_form


def test_put_form_accepts_durations_and_defaults() -> None:
    parsed, errors = validate_put_form("emails", "hé", "1024", "5m", "1h30m", 65535)
    assert errors == {}
    assert parsed == ParsedPut("emails", "hé".encode(), 1024, 300, 5400)
    assert parse_duration("90") == 90 and parse_duration("1d") == 86400
    assert parse_duration("soon") is None and parse_duration("") is None


def test_put_form_names_every_bad_field() -> None:
    parsed, errors = validate_put_form("-bad", b"x" * 11, "abc", "soon", "0", 10)
    assert parsed is None
    assert errors == {
        "tube": "tube name '-bad' is invalid: names may not start with '-'",
        "body": "body is 11 bytes but the server accepts at most 10 (its max-job-size): shorten it",
        "pri": "priority 'abc' is not a whole number: use a whole number from 0 (most urgent) "
        "to 4294967295; the usual default is 65536",
        "delay": "delay 'soon' is not a duration: use seconds (30) or a duration such as "
        "30s, 5m, 2h, 1d; the usual default is 0",
        "ttr": "ttr 0 is too short: the server treats it as 1 second; use at least 1s",
    }


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("tube", "", "tube name is empty"),
        ("tube", "a b", "' ' not allowed"),
        ("tube", "x" * 201, "the limit is 200"),
        ("pri", "", "priority is empty"),
        ("pri", "-1", "priority -1 is negative"),
        ("pri", "4294967296", "priority 4294967296 is too large"),
        ("delay", "-5", "delay -5 is negative"),
        ("delay", "50000d", "delay 50000d is too long: the most is 4294967295 seconds"),
        ("ttr", "", "ttr is empty"),
        ("ttr", "4294967296", "ttr 4294967296 is too long"),
    ],
)
def test_put_form_messages(field: str, value: str, expected: str) -> None:
    form = {"tube": "t", "body": "b", "pri": "1", "delay": "0", "ttr": "60"}
    form[field] = value
    parsed, errors = validate_put_form(
        form["tube"], form["body"], form["pri"], form["delay"], form["ttr"]
    )
    assert parsed is None and list(errors) == [field]
    assert expected in errors[field]
