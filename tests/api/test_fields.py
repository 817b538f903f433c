"""Field rules: as loose as the seed needs, no looser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncd.api import fields


@pytest.mark.parametrize(
    "address",
    [
        "jane@contoso.example",
        "o'brien+tag@sub.contoso.example",
        "x@y",
        "  padded@contoso.example ",
    ],
)
def test_addresses_that_pass(address: str) -> None:
    assert fields.parse_email(address) == address.strip()


@pytest.mark.parametrize(
    "address",
    [
        "",
        "   ",
        "plain",
        "[email protected]",
        "a@b@c",
        "@b",
        "a@",
        "a b@c",
        "a@b c",
        "a\u0000@b",
        "a" * 320 + "@b",
        5,
    ],
)
def test_addresses_that_fail(address: object) -> None:
    with pytest.raises(ValueError):
        fields.parse_email(address)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2020-10-16T10:00:00Z", datetime(2020, 10, 16, 10, tzinfo=UTC)),
        ("2020-10-16T10:00:00", datetime(2020, 10, 16, 10, tzinfo=UTC)),
        ("2020-10-16 12:00:00+02:00", datetime(2020, 10, 16, 10, tzinfo=UTC)),
        ("2020-10-16T12:00:00 02:00", datetime(2020, 10, 16, 10, tzinfo=UTC)),  # unencoded "+"
        ("20201016T100000Z", datetime(2020, 10, 16, 10, tzinfo=UTC)),
        ("2020-10-16T10:00:00.999999Z", datetime(2020, 10, 16, 10, tzinfo=UTC)),
    ],
)
def test_times(given: str, expected: datetime) -> None:
    assert fields.parse_time(given) == expected


@pytest.mark.parametrize(
    "given",
    ["2020-10-16", "16.10.2020 10:00", "2020-10-16T25:00:00Z", "1850-01-01T00:00:00Z", None],
)
def test_times_that_fail(given: object) -> None:
    with pytest.raises(ValueError):
        fields.parse_time(given)


def test_flags_ids_and_correlation_ids() -> None:
    assert fields.parse_flag(" TRUE ") is True and fields.parse_flag(False) is False
    with pytest.raises(ValueError):
        fields.parse_flag(1)
    assert fields.parse_id(42) == "42"
    assert fields.parse_id(" keep as given ") == " keep as given "
    with pytest.raises(ValueError):
        fields.parse_id(True)
    assert fields.parse_correlation_id("") is None
    assert fields.parse_correlation_id("1234567\u03b29012") == "1234567\u03b29012"
    with pytest.raises(ValueError):
        fields.parse_correlation_id("x" * 256)
    with pytest.raises(ValueError, match="lone surrogate"):
        fields.parse_text("a\ud800")
    assert fields.parse_body_text("line one\r\n\tline two") == "line one\r\n\tline two"
