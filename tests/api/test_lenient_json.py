"""The lenient JSON reader: trailing commas allowed, nothing else non-standard."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.api.lenient_json import LenientJSONError, loads, strip_trailing_commas

# Strings that look like the syntax the reader rewrites must come through untouched.
tricky_text = st.one_of(
    st.text(),
    st.sampled_from([",}", ",]", ", }", '\\",}', ",\n]", "a,}b", "\\", '"', ",,]"]),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | tricky_text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(tricky_text, children, max_size=5)
    ),
    max_leaves=30,
)
whitespace = st.text(alphabet=" \t\r\n", max_size=3)


@st.composite
def with_trailing_commas(draw: st.DrawFn, value: Any) -> str:
    """Serialise `value` as JSON, adding trailing commas (and whitespace) at random."""
    if isinstance(value, list):
        items = [draw(with_trailing_commas(item)) for item in value]
        return "[" + _join(draw, items) + "]"
    if isinstance(value, dict):
        items = [
            json.dumps(key) + draw(whitespace) + ":" + draw(with_trailing_commas(item))
            for key, item in value.items()
        ]
        return "{" + _join(draw, items) + "}"
    return draw(whitespace) + json.dumps(value) + draw(whitespace)


def _join(draw: st.DrawFn, items: list[str]) -> str:
    text = ",".join(items)
    if items and draw(st.booleans()):
        text += "," + draw(whitespace)
    return text


@given(st.data(), json_values)
def test_trailing_commas_parse_to_the_same_value(data: st.DataObject, value: Any) -> None:
    text = data.draw(with_trailing_commas(value))
    assert loads(text) == value


@given(json_values)
def test_standard_json_parses_as_json_loads_does(value: Any) -> None:
    text = json.dumps(value)
    assert loads(text) == json.loads(text)
    assert strip_trailing_commas(text) == text  # nothing to drop in standard JSON


@given(tricky_text)
def test_strings_are_never_rewritten(text: str) -> None:
    encoded = json.dumps({"k": [text, {"v": text}]}, ensure_ascii=False)
    assert loads(encoded.encode()) == {"k": [text, {"v": text}]}


def test_the_seeds_shape_is_accepted() -> None:
    body = b'{"attendees": [{"email": "a@b", "isRequired": "true",},\n],\n}'
    assert loads(body) == {"attendees": [{"email": "a@b", "isRequired": "true"}]}


@pytest.mark.parametrize(
    "text",
    [
        "[,]",
        "{,}",
        "[1,,]",
        '{"a": 1,,}',
        '{"a": 1, // comment\n}',
        "/* c */ {}",
        "{'a': 1}",
        "[NaN]",
        "[Infinity]",
        "[1,] x",
        '{"a":}',
        "",
        '"unterminated',
        "[" * 100_000,
    ],
)
def test_nothing_else_non_standard_is_accepted(text: str) -> None:
    with pytest.raises(LenientJSONError):
        loads(text)


def test_bytes_must_be_utf8() -> None:
    with pytest.raises(LenientJSONError, match="UTF-8"):
        loads(b'{"a": "\xff"}')
    assert loads('\ufeff{"a": 1,}'.encode()) == {"a": 1}


def test_an_unterminated_string_full_of_escapes_is_rejected_quickly() -> None:
    with pytest.raises(LenientJSONError):
        loads('["' + '\\"' * 200_000)
