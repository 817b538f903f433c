"""Check a Graph JSON body against Microsoft's published v1.0 metadata (pure, no I/O but
the one read of the CSDL file).

The schema is tests/data/graph-v1.0-event-schema.xml, a verbatim subset of
msgraph-metadata's clean_v10_metadata/cleanMetadata.xml (see extract.py). A body is
checked the way an OData service reads it (https://docs.oasis-open.org/odata/odata-json-format/v4.01/):

- every property name exists on the type or one of its base types, spelled exactly
  (Graph's JSON is camelCase, the names the metadata declares);
- values match their declared type: Edm.String, Edm.Boolean, Edm.Int32 (range),
  Edm.Double, Edm.DateTimeOffset and Edm.Date and Edm.TimeOfDay (ISO 8601 forms of the
  OData ABNF), enums by member name, collections (arrays, never null), complex and
  entity types recursively; null only where the property is nullable;
- `@odata.*` instance annotations and `property@odata.*` annotations are allowed; an
  `@odata.type` must name the declared type or one derived from it.

Where Graph is known to differ from a plain OData reading, the validator follows Graph:

- `event` is declared OpenType="true" (for open extensions), yet Graph refuses a property
  the type does not declare with 400 RequestBodyRead ("The property 'event' does not exist
  on type 'Microsoft.OutlookServices.Event'", github.com/microsoftgraph: issues
  msgraph-sdk-javascript#212, msgraph-sdk-java#391, msgraph-sdk-dotnet#450). Open types
  are honoured only for open extensions (types derived from `extension`).
- Enum values in a request match case-insensitively: the documented create example sends
  "contentType": "HTML", "type": "Required" and "daysOfWeek": ["Monday"]
  (https://learn.microsoft.com/graph/api/user-post-events). Responses carry the member
  names exactly, so a response is held to them.
- Action parameters: the metadata spells them PascalCase ("Comment", "Schedules"), the
  documentation camelCase ("comment", "schedules": https://learn.microsoft.com/graph/api/event-cancel,
  https://learn.microsoft.com/graph/api/calendar-getschedule). Both spellings are in
  public use (Microsoft's SDKs send the metadata's), so either is accepted; nothing else.
- `dateTimeTimeZone.dateTime` is an Edm.String in the metadata, but documented as
  "{date}T{time}" without an offset (https://learn.microsoft.com/graph/api/resources/datetimetimezone).
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "data" / "graph-v1.0-event-schema.xml"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
NAMESPACE = "microsoft.graph"
#: Open types whose undeclared properties Graph keeps (open extensions' custom data).
OPEN_BASES = frozenset({"extension"})
INT32 = (-(2**31), 2**31 - 1)


class Mode(StrEnum):
    """A body a client sends (request) or one the service returns (response)."""

    REQUEST = "request"
    RESPONSE = "response"


@dataclass(frozen=True)
class PropertyDef:
    name: str
    type_name: str  # "Edm.String" or a microsoft.graph type's short name ("event")
    collection: bool
    nullable: bool
    navigation: bool = False


@dataclass(frozen=True)
class TypeDef:
    name: str
    kind: str  # "entity" or "complex"
    base: str | None
    abstract: bool
    open_type: bool
    own: tuple[PropertyDef, ...]


@dataclass(frozen=True)
class ActionDef:
    name: str
    binding: str
    parameters: tuple[PropertyDef, ...]


class Schema:
    """The structured types, enums and bound actions of a CSDL document."""

    def __init__(
        self,
        types: dict[str, TypeDef],
        enums: dict[str, tuple[str, ...]],
        actions: dict[tuple[str, str], ActionDef],
    ) -> None:
        self.types = types
        self.enums = enums
        self.actions = actions

    @functools.cache  # noqa: B019 - one Schema per file, kept for the whole run
    def properties(self, type_name: str) -> Mapping[str, PropertyDef]:
        """Every property of a type, its base types' first."""
        typedef = self.types[type_name]
        inherited = dict(self.properties(typedef.base)) if typedef.base else {}
        inherited.update({p.name: p for p in typedef.own})
        return inherited

    def lineage(self, type_name: str) -> list[str]:
        """The type and its base types, most derived first."""
        chain = [type_name]
        while (base := self.types[chain[-1]].base) is not None:
            chain.append(base)
        return chain

    def is_open(self, type_name: str) -> bool:
        return self.types[type_name].open_type and bool(OPEN_BASES & set(self.lineage(type_name)))


def _short(type_name: str) -> str:
    for prefix in ("graph.", f"{NAMESPACE}."):
        if type_name.startswith(prefix):
            return type_name[len(prefix) :]
    return type_name


def _property(element: ET.Element, *, navigation: bool = False) -> PropertyDef:
    raw = element.get("Type", "")
    collection = raw.startswith("Collection(")
    inner = raw[len("Collection(") : -1] if collection else raw
    return PropertyDef(
        name=element.get("Name", ""),
        type_name=_short(inner),
        collection=collection,
        nullable=element.get("Nullable", "true") != "false",
        navigation=navigation,
    )


def parse_schema(text: str) -> Schema:
    """A Schema from CSDL text (the microsoft.graph namespace)."""
    root = ET.fromstring(text)  # noqa: S314 - the metadata Microsoft publishes
    types: dict[str, TypeDef] = {}
    enums: dict[str, tuple[str, ...]] = {}
    actions: dict[tuple[str, str], ActionDef] = {}
    for schema in root.iter(f"{EDM}Schema"):
        if schema.get("Namespace") != NAMESPACE:
            continue
        for element in schema:
            tag = element.tag.removeprefix(EDM)
            name = element.get("Name", "")
            if tag in ("EntityType", "ComplexType"):
                own = [_property(p) for p in element.findall(f"{EDM}Property")]
                own += [
                    _property(p, navigation=True)
                    for p in element.findall(f"{EDM}NavigationProperty")
                ]
                base = element.get("BaseType")
                types[name] = TypeDef(
                    name=name,
                    kind="entity" if tag == "EntityType" else "complex",
                    base=_short(base) if base else None,
                    abstract=element.get("Abstract") == "true",
                    open_type=element.get("OpenType") == "true",
                    own=tuple(own),
                )
            elif tag == "EnumType":
                enums[name] = tuple(m.get("Name", "") for m in element.findall(f"{EDM}Member"))
            elif tag == "Action" and element.get("IsBound") == "true":
                params = [_property(p) for p in element.findall(f"{EDM}Parameter")]
                binding, rest = params[0], tuple(params[1:])
                actions[(name, binding.type_name)] = ActionDef(name, binding.type_name, rest)
    return Schema(types, enums, actions)


@functools.cache
def load_schema(path: Path = SCHEMA_FILE) -> Schema:
    """The extracted CSDL subset (read once per path)."""
    return parse_schema(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------ primitive types

_DATE = r"(?P<y>-?\d{4,})-(?P<m>\d{2})-(?P<d>\d{2})"
_TIME = r"(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d{1,12})?)?"
_DATE_RE = re.compile(rf"^{_DATE}$")
_TIME_RE = re.compile(rf"^{_TIME}$")
_DTO_RE = re.compile(rf"^{_DATE}T{_TIME}(?P<z>Z|[+-]\d{{2}}:\d{{2}})$", re.IGNORECASE)
# resources/datetimetimezone: "{date}T{time}; for example, 2017-08-29T04:00:00.0000000"
_LOCAL_DT_RE = re.compile(
    rf"^{_DATE}T(?P<H>\d{{2}}):(?P<M>\d{{2}})(?::(?P<S>\d{{2}})(?:\.\d{{1,7}})?)?$"
)
_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_DURATION_RE = re.compile(r"^-?P(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$")


def _valid_date(match: re.Match[str]) -> bool:
    try:
        year = int(match["y"])
        date(year if 1 <= year <= 9999 else 2000, int(match["m"]), int(match["d"]))
    except ValueError:
        return False
    return True


def _valid_time(match: re.Match[str]) -> bool:
    return int(match["H"]) < 24 and int(match["M"]) < 60 and int(match["S"] or 0) < 60


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "expected a string"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "expected true or false"


def _integer(low: int, high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "expected an integer"
        return None if low <= value <= high else f"integer out of range {low}..{high}"

    return check


def _number(value: Any) -> str | None:
    if isinstance(value, bool):
        return "expected a number"
    if isinstance(value, int | float) or value in ("NaN", "INF", "-INF"):
        return None
    return "expected a number"


def _pattern(
    regex: re.Pattern[str], label: str, *checks: Callable[[re.Match[str]], bool]
) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        match = regex.match(value) if isinstance(value, str) else None
        if match is None or not all(c(match) for c in checks):
            return f"expected {label}, got {value!r}"
        return None

    return check


def _binary(value: Any) -> str | None:
    if not isinstance(value, str):
        return "expected base64 text"
    try:
        base64.b64decode(value.replace("-", "+").replace("_", "/") + "==", validate=False)
    except (binascii.Error, ValueError):
        return "expected base64 text"
    return None


PRIMITIVES: dict[str, Callable[[Any], str | None]] = {
    "Edm.String": _string,
    "Edm.Boolean": _boolean,
    "Edm.Byte": _integer(0, 255),
    "Edm.SByte": _integer(-128, 127),
    "Edm.Int16": _integer(-(2**15), 2**15 - 1),
    "Edm.Int32": _integer(*INT32),
    "Edm.Int64": _integer(-(2**63), 2**63 - 1),
    "Edm.Double": _number,
    "Edm.Single": _number,
    "Edm.Decimal": _number,
    "Edm.Date": _pattern(_DATE_RE, "an Edm.Date YYYY-MM-DD", _valid_date),
    "Edm.TimeOfDay": _pattern(_TIME_RE, "an Edm.TimeOfDay hh:mm[:ss[.f]]", _valid_time),
    "Edm.DateTimeOffset": _pattern(
        _DTO_RE,
        "an Edm.DateTimeOffset YYYY-MM-DDThh:mm[:ss[.f]](Z|+hh:mm)",
        _valid_date,
        _valid_time,
    ),
    "Edm.Guid": _pattern(_GUID_RE, "an Edm.Guid"),
    "Edm.Duration": _pattern(_DURATION_RE, "an Edm.Duration"),
    "Edm.Binary": _binary,
}

#: Documented formats of properties the metadata types as plain strings: (type, property).
STRING_FORMATS: dict[tuple[str, str], Callable[[Any], str | None]] = {
    ("dateTimeTimeZone", "dateTime"): _pattern(
        _LOCAL_DT_RE, "a local {date}T{time} without offset", _valid_date, _valid_time
    ),
}


FORMATS = frozenset(STRING_FORMATS)

# ------------------------------------------------------------------ validation


class _Checker:
    def __init__(self, schema: Schema, mode: Mode) -> None:
        self.schema = schema
        self.mode = mode
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def structured(self, value: Any, type_name: str, path: str) -> None:
        if not isinstance(value, dict):
            self.fail(path, f"expected a microsoft.graph.{type_name} object")
            return
        type_name = self._declared_type(value, type_name, path)
        properties = self.schema.properties(type_name)
        for key, item in value.items():
            prop = properties.get(key)
            if prop is None:
                self._not_a_property(str(key), type_name, properties, path)
            else:
                self.value(item, prop, path, key, owner=type_name)

    def _not_a_property(
        self, key: str, type_name: str, properties: Mapping[str, PropertyDef], path: str
    ) -> None:
        if key.startswith("@"):
            return  # instance annotation (@odata.context, @odata.etag, @odata.type...)
        name, at, _ = key.partition("@")
        if at:  # property annotation, e.g. attendees@odata.type
            if name not in properties:
                self.fail(f"{path}.{key}", f"annotates {name!r}, which {type_name} lacks")
        elif not self.schema.is_open(type_name):
            self.fail(f"{path}.{name}", self._unknown(name, type_name, properties))

    def _declared_type(self, value: dict[str, Any], type_name: str, path: str) -> str:
        named = value.get("@odata.type")
        if named is None:
            if self.schema.types[type_name].abstract and self.mode is Mode.REQUEST:
                self.fail(path, f"{type_name} is abstract: name a derived type in @odata.type")
            return type_name
        short = _short(str(named).lstrip("#"))
        if short not in self.schema.types:
            self.fail(f"{path}.@odata.type", f"unknown type {named!r}")
            return type_name
        if type_name not in self.schema.lineage(short):
            self.fail(f"{path}.@odata.type", f"{named!r} does not derive from {type_name}")
            return type_name
        return short

    @staticmethod
    def _unknown(name: str, type_name: str, properties: Mapping[str, PropertyDef]) -> str:
        message = f"no property {name!r} on microsoft.graph.{type_name}"
        same = [p for p in properties if p.lower() == name.lower()]
        return f"{message} (the metadata spells it {same[0]!r})" if same else message

    def value(self, item: Any, prop: PropertyDef, parent: str, name: str, *, owner: str) -> None:
        """Check `item` as the value of `prop`; the path (`parent`.`name`) is only spelt
        out for a problem, which keeps the common, valid case cheap."""
        if prop.collection:
            if not isinstance(item, list):
                self.fail(f"{parent}.{name}", "expected an array (a collection is never null)")
                return
            for index, element in enumerate(item):
                self.single(element, prop, parent, f"{name}[{index}]", owner=owner)
            return
        self.single(item, prop, parent, name, owner=owner)

    def single(self, item: Any, prop: PropertyDef, parent: str, name: str, *, owner: str) -> None:
        kind = prop.type_name
        if item is None:
            if not prop.nullable:
                self.fail(f"{parent}.{name}", f"null, but {owner}.{prop.name} is not nullable")
        elif kind in PRIMITIVES:
            if kind == "Edm.String" and type(item) is str and (owner, prop.name) not in FORMATS:
                return  # the common case, without a call
            problem = PRIMITIVES[kind](item)
            extra = STRING_FORMATS.get((owner, prop.name))
            problem = problem or (extra(item) if extra else None)
            if problem:
                self.fail(f"{parent}.{name}", problem)
        elif kind in self.schema.enums:
            self.enum(item, kind, f"{parent}.{name}")
        elif kind in self.schema.types:
            self.structured(item, kind, f"{parent}.{name}")
        elif not prop.navigation:
            self.fail(f"{parent}.{name}", f"type {kind} is not in the extracted schema")

    def enum(self, item: Any, enum: str, path: str) -> None:
        members = self.schema.enums[enum]
        if type(item) is str:
            if item in members:
                return
            if self.mode is Mode.REQUEST and item.lower() in {m.lower() for m in members}:
                return
        self.fail(path, f"{item!r} is not a member of {enum} ({', '.join(members)})")


def validate(
    body: Any, type_name: str = "event", *, mode: Mode = Mode.REQUEST, schema: Schema | None = None
) -> list[str]:
    """Problems of `body` read as a microsoft.graph.`type_name` (empty when valid)."""
    checker = _Checker(schema or load_schema(), mode)
    checker.structured(body, type_name, type_name)
    return checker.problems


def validate_action(
    body: Any, action: str, binding: str, *, schema: Schema | None = None
) -> list[str]:
    """Problems of the JSON body of a bound action (e.g. cancel on an event)."""
    schema = schema or load_schema()
    definition = schema.actions[(action, binding)]
    checker = _Checker(schema, Mode.REQUEST)
    path = f"{binding}.{action}"
    if body is None:
        return []
    if not isinstance(body, dict):
        return [f"{path}: expected a JSON object of parameters"]
    spellings = {}
    for param in definition.parameters:
        spellings[param.name] = param
        spellings[param.name[:1].lower() + param.name[1:]] = param  # the docs' camelCase
    for key, item in body.items():
        param = spellings.get(str(key))
        if param is None:
            names = ", ".join(p.name for p in definition.parameters)
            checker.fail(f"{path}.{key}", f"no parameter {key!r} (the action takes {names})")
            continue
        checker.value(item, param, path, str(key), owner=action)
    return checker.problems
