"""A JSON reader that also takes trailing commas, as the seed's sample bodies have.

Only that one liberty: a comma after a value and before `}` or `]` (with only
whitespace between) is dropped, outside strings; everything else goes to the
standard `json.loads` (no comments, no single quotes, no NaN or Infinity).
"""

from __future__ import annotations

import json
import re
from typing import Any

_JSON_WHITESPACE = " \t\n\r"
# Outside a string only a quote or a comma matters; inside, a quote or a backslash.
_OUTSIDE = re.compile(r'[",]')
_INSIDE = re.compile(r'["\\]')
# After these a comma is not a trailing one ("[,]" stays invalid).
_NOT_A_VALUE_END = frozenset("[{,:")


class LenientJSONError(ValueError):
    """The text is not JSON even with trailing commas allowed; says where and why."""


def strip_trailing_commas(text: str) -> str:
    """Drop every comma that is followed only by whitespace and a closing bracket.

    String-aware and linear in the length of the text.
    """
    out: list[str] = []
    pos = 0
    length = len(text)
    while pos < length:
        match = _OUTSIDE.search(text, pos)
        if match is None:
            out.append(text[pos:])
            break
        index = match.start()
        out.append(text[pos:index])
        if text[index] == '"':
            end = _string_end(text, index + 1)
            out.append(text[index:end])
            pos = end
            continue
        if _is_trailing_comma(text, index):
            pos = index + 1
        else:
            out.append(",")
            pos = index + 1
    return "".join(out)


def _string_end(text: str, pos: int) -> int:
    """Index just past the closing quote of a string whose body starts at `pos`."""
    length = len(text)
    while pos < length:
        match = _INSIDE.search(text, pos)
        if match is None:
            return length  # unterminated: json.loads reports it
        if text[match.start()] == '"':
            return match.start() + 1
        pos = match.start() + 2  # skip the escaped character
    return length


def _is_trailing_comma(text: str, index: int) -> bool:
    after = index + 1
    while after < len(text) and text[after] in _JSON_WHITESPACE:
        after += 1
    if after >= len(text) or text[after] not in "}]":
        return False
    before = index - 1
    while before >= 0 and text[before] in _JSON_WHITESPACE:
        before -= 1
    return before >= 0 and text[before] not in _NOT_A_VALUE_END


def _refuse_constant(name: str) -> Any:
    raise LenientJSONError(f"{name} is not a JSON value")


def loads(data: bytes | str) -> Any:
    """Parse `data` (UTF-8 bytes or text) as JSON, allowing trailing commas."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise LenientJSONError(f"not UTF-8 text (byte {exc.start})") from None
    else:
        text = data
    try:
        return json.loads(strip_trailing_commas(text), parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise LenientJSONError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise LenientJSONError("nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with too many digits
        raise LenientJSONError(str(exc)) from None
