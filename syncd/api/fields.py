"""Field rules of the Scheduler API: what each input value may be, and how it is normalised.

Each parser takes the raw JSON (or query) value and returns the clean value or
raises ValueError with a message that says what is wrong and how to fix it.
The rules are as loose as the seed requires and no looser; in particular an
e-mail address is only checked for shape.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from syncd.domain import utc

MAX_ID = 255
MAX_EMAIL = 320
MAX_SUBJECT = 255
MAX_LOCATION = 2048
MAX_CORRELATION_ID = 255
MIN_YEAR, MAX_YEAR = 1900, 2999
# "...T10:00:00+02:00" put in a query string unencoded arrives as "...T10:00:00 02:00".
_UNENCODED_PLUS = re.compile(r"^(\d{4}-?\d{2}-?\d{2}T[\d:.]+) (\d{2}(?::?\d{2})?)$")
TIME_EXAMPLE = "2020-10-16T10:00:00Z"
_LINE_BREAKS = frozenset("\t\n\r")


def _bad_character(text: str, *, multiline: bool = False) -> str | None:
    """Describe the first control character or lone surrogate in `text`, if any."""
    for char in text:
        if multiline and char in _LINE_BREAKS:
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            return f"contains the control character U+{ord(char):04X}; remove it"
        if category == "Cs":
            return f"contains the lone surrogate U+{ord(char):04X}; send valid Unicode"
    return None


def parse_text(value: Any, *, max_length: int | None = None, multiline: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"is {len(value)} characters long; at most {max_length} are allowed")
    problem = _bad_character(value, multiline=multiline)
    if problem:
        raise ValueError(problem)
    return value


def parse_subject(value: Any) -> str:
    return parse_text(value, max_length=MAX_SUBJECT)


def parse_location(value: Any) -> str:
    return parse_text(value, max_length=MAX_LOCATION)


def parse_body_text(value: Any) -> str:
    return parse_text(value, multiline=True)


def parse_id(value: Any) -> str:
    """The caller's meeting id: any non-blank text up to 255 characters (kept as given)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("must be a string, the meeting's id in your system")
    if not value.strip():
        raise ValueError("is empty; give the meeting's id in your system")
    return parse_text(value, max_length=MAX_ID)


def parse_email(value: Any) -> str:
    """An e-mail address: one '@' with text on both sides, no whitespace or control characters.

    Surrounding whitespace is dropped. Tenant address aliases are applied before this.
    """
    if not isinstance(value, str):
        raise ValueError("must be a string holding an e-mail address such as name@example.com")
    text = value.strip()
    if not text:
        raise ValueError("is empty; give an e-mail address such as name@example.com")
    if len(text) > MAX_EMAIL:
        raise ValueError(f"is {len(text)} characters long; an e-mail address has at most 320")
    problem = _bad_character(text)
    if problem:
        raise ValueError(problem)
    if any(char.isspace() for char in text):
        raise ValueError(f"'{text}' contains whitespace; an e-mail address has none")
    if text.count("@") != 1:
        raise ValueError(f"'{text}' must contain exactly one '@', as in name@example.com")
    local, domain = text.split("@")
    if not local or not domain:
        raise ValueError(f"'{text}' needs a name before and a domain after the '@'")
    return text


def parse_flag(value: Any) -> bool:
    """isRequired: true/false or the strings "true"/"false" in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError('must be true or false (the strings "true" and "false" are accepted too)')


def parse_time(value: Any) -> datetime:
    """ISO 8601 with Z or an offset (no zone means GMT), as aware UTC to the second."""
    hint = f"use YYYY-MM-DDThh:mm:ssZ, e.g. {TIME_EXAMPLE} (GMT), or give an offset like +02:00"
    if not isinstance(value, str):
        raise ValueError(f"must be a string; {hint}")
    text = _UNENCODED_PLUS.sub(r"\1+\2", value.strip())
    if "T" not in text.upper() and " " not in text:
        raise ValueError(f"'{text[:40]}' has no time of day; {hint}")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text[:40]}' is not an ISO 8601 date and time; {hint}") from None
    try:
        moment = utc(parsed)
    except OverflowError:
        raise ValueError(f"'{text[:40]}' is out of range; {hint}") from None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ValueError(f"'{text[:40]}' must lie between the years {MIN_YEAR} and {MAX_YEAR}")
    # Whole seconds: the contract's output has no fractions, so a GET round-trips.
    return moment.replace(microsecond=0)


def parse_correlation_id(value: Any) -> str | None:
    """Optional telemetry id; null or empty means none; a number is taken as its digits."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not value.strip():
        return None
    return parse_text(value, max_length=MAX_CORRELATION_ID)
