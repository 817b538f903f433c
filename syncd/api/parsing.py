"""Turning raw request bytes and query strings into wire models, or InvalidRequest errors.

Every message names the field and says what to do, as "<field>: <problem>".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from syncd.api import lenient_json
from syncd.domain import ErrorCode, SyncdError

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 1_048_576
_MAX_REPORTED = 5
_TYPE_MESSAGES = {
    "missing": "is required",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
}


def invalid(message: str) -> SyncdError:
    return SyncdError(ErrorCode.INVALID_REQUEST, message)


def read_json(raw: bytes) -> Any:
    """The body as JSON (trailing commas allowed) or an InvalidRequest naming the problem."""
    if len(raw) > MAX_BODY_BYTES:
        raise invalid(f"request body: is {len(raw)} bytes; at most {MAX_BODY_BYTES} are accepted")
    if not raw.strip():
        raise invalid("request body: is empty; send the JSON described in the API documentation")
    try:
        return lenient_json.loads(raw)
    except lenient_json.LenientJSONError as exc:
        raise invalid(f"request body: is not valid JSON ({exc})") from None


def field_path(loc: Iterable[int | str]) -> str:
    """('attendees', 0, 'email') -> 'attendees[0].email'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def describe(error: ValidationError, *, prefix: str = "") -> str:
    """One line per problem (up to five), each "<field>: <what is wrong>"."""
    lines = []
    for item in error.errors(include_url=False)[:_MAX_REPORTED]:
        message = _TYPE_MESSAGES.get(item["type"]) or str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "too_long":
            message = f"has too many entries (at most {item['ctx']['max_length']})"
        path = field_path((*((prefix,) if prefix else ()), *item["loc"]))
        # Model-level checks already name their field ("endTime: ...").
        lines.append(f"{path}: {message}" if path else message)
    more = len(error.errors()) - _MAX_REPORTED
    if more > 0:
        lines.append(f"and {more} more problem(s)")
    return "; ".join(lines)


def parse_model(model: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise invalid("request body: must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(describe(exc)) from None


class CaseInsensitiveQuery:
    """Query parameters matched by name without regard to case (`from` = `From`)."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in items:
            self._values.setdefault(name.lower(), []).append(value)

    def get(self, name: str) -> str | None:
        values = self._values.get(name.lower())
        if not values:
            return None
        if len(values) > 1:
            raise invalid(f"{name}: is given {len(values)} times in the query; give it once")
        return values[0]

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise invalid(f"{name}: is required in the query string")
        return value
