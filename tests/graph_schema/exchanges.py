"""Which parts of a Graph exchange the published schema governs, and their problems (pure).

A request body is held to the schema when syncd sent it (its User-Agent is `syncd/...`,
syncd.graph.http): tests that probe the sandbox with bad bodies on purpose use other
clients. Every successful answer of the sandbox is held to it, whoever asked.
A `$batch` envelope is unpacked: its inner requests carry the envelope's client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from tests.graph_schema.validator import Mode, load_schema, validate, validate_action

SYNCD_AGENT = "syncd/"


def _segments(path: str) -> list[str]:
    path = path.split("?", 1)[0]
    if path.lower().startswith("/v1.0/"):
        path = path[len("/v1.0") :]
    return [unquote(part).lower() for part in path.strip("/").split("/") if part]


def _route(method: str, path: str) -> str | None:
    """A name for the Graph route of `path`, or None where the schema has nothing to say."""
    parts = _segments(path)
    if len(parts) < 2 or parts[0] != "users":
        return "batch" if parts == ["$batch"] else None
    rest = parts[2:]
    if rest[:1] == ["calendar"] and rest[1:2] in (["events"], ["calendarview"]):
        rest = rest[1:]  # /users/{u}/calendar/events... = /users/{u}/events...
    if rest == ["calendar", "getschedule"]:
        return "getSchedule"
    if rest == ["mailboxsettings"]:
        return "mailboxSettings"
    if len(rest) == 2 and rest[0] == "mailboxsettings":
        return "mailboxSetting"
    if rest in (["events"], ["calendarview"]):
        return "events" if method == "GET" else "event"
    if len(rest) == 2 and rest[0] == "events":
        return "event"
    if len(rest) == 3 and rest[0] == "events" and rest[2] == "instances":
        return "events"
    if len(rest) == 3 and rest[0] == "events" and rest[2] == "cancel":
        return "cancel"
    return None


def request_problems(method: str, path: str, body: Any) -> list[str]:
    """What the schema finds wrong with a request body (POST/PATCH of events, actions)."""
    route = _route(method.upper(), path)
    if method.upper() in ("POST", "PATCH") and route == "event":
        return validate(body, "event", mode=Mode.REQUEST)
    if route == "cancel":
        return validate_action(body, "cancel", "event")
    if route == "getSchedule":
        return validate_action(body, "getSchedule", "calendar")
    return []


def answer_problems(method: str, path: str, status: int, answer: Any) -> list[str]:
    """What the schema finds wrong with a successful answer."""
    if not 200 <= status < 300 or answer is None:
        return []
    route = _route(method.upper(), path)
    if route == "event":
        return validate(answer, "event", mode=Mode.RESPONSE)
    if route == "events":
        return _collection(answer, "event")
    if route == "getSchedule":
        return _collection(answer, "scheduleInformation")
    if route == "mailboxSettings":
        return validate(answer, "mailboxSettings", mode=Mode.RESPONSE)
    if route == "mailboxSetting":
        return _setting(path, answer)
    return []


def _collection(answer: Any, type_name: str) -> list[str]:
    if not isinstance(answer, dict) or not isinstance(answer.get("value"), list):
        return [f"collection of {type_name}: expected an object with a 'value' array"]
    problems = [f"{key}: not a collection's member" for key in answer if key not in _PAGE_KEYS]
    for index, item in enumerate(answer["value"]):
        found = validate(item, type_name, mode=Mode.RESPONSE)
        problems += [f"value[{index}].{problem}" for problem in found]
    return problems


# https://learn.microsoft.com/graph/paging: a page is `value` plus annotations.
_PAGE_KEYS = ("value", "@odata.context", "@odata.nextLink", "@odata.deltaLink", "@odata.count")


def _setting(path: str, answer: Any) -> list[str]:
    """`GET /users/{u}/mailboxSettings/{name}` answers `{"value": <the property>}`."""
    name = _segments(path)[-1]
    properties = {p.lower(): p for p in load_schema().properties("mailboxSettings")}
    if name not in properties or not isinstance(answer, dict) or "value" not in answer:
        return [f"mailboxSettings/{name}: expected {{'value': ...}} of a mailboxSettings property"]
    return validate({properties[name]: answer["value"]}, "mailboxSettings", mode=Mode.RESPONSE)


def exchange_problems(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: Any,
    status: int,
    answer: Any,
) -> list[str]:
    """Every problem of one exchange, each naming who erred and on which request."""
    from_syncd = str(headers.get("user-agent", "")).startswith(SYNCD_AGENT)
    if _route(method.upper(), path) == "batch":
        return _batch_problems(body, answer, from_syncd=from_syncd)
    return _problems(method, path, body, status, answer, from_syncd=from_syncd)


def _problems(
    method: str, path: str, body: Any, status: int, answer: Any, *, from_syncd: bool
) -> list[str]:
    label = f"{method.upper()} {path.split('?', 1)[0]}"
    sent = request_problems(method, path, body) if from_syncd else []
    answered = answer_problems(method, path, status, answer)
    return [f"syncd sent {label} with {p}" for p in sent] + [
        f"the sandbox answered {label} ({status}) with {p}" for p in answered
    ]


def _batch_problems(body: Any, answer: Any, *, from_syncd: bool) -> list[str]:
    requests = body.get("requests") if isinstance(body, dict) else None
    responses = answer.get("responses") if isinstance(answer, dict) else None
    by_id = {str(r.get("id")): r for r in responses or [] if isinstance(r, dict) and "id" in r}
    problems: list[str] = []
    for inner in requests or []:
        if not isinstance(inner, dict):
            continue
        method, url = str(inner.get("method", "")), str(inner.get("url", ""))
        reply = by_id.get(str(inner.get("id")), {})
        problems += _problems(
            method,
            url,
            inner.get("body"),
            int(reply.get("status", 0) or 0),
            reply.get("body"),
            from_syncd=from_syncd,
        )
    return problems
