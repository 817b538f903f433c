"""The Salesforce metadata package (config/salesforce) holds what syncd writes back.

Every write-back field syncd's configuration names by default must be in the package, with
a type and size that take the longest value syncd's own write-back code produces, and the
permission set must let the integration user edit it. The sandbox org's schema must be the
package's, or the tests would run against fields no real org has.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd.config import DEFAULT_API_VERSION, EventFieldMapping, UserFieldMapping
from syncd.domain import ResponseStatus, Slot
from syncd.sandbox.microsoft.ids import IdFactory
from syncd.sandbox.salesforce.schema import default_schema
from syncd.sync.writeback import (
    Outcome,
    availability_snapshot,
    event_update,
    responses_summary,
)

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "config" / "salesforce"
SOURCE = PACKAGE / "force-app" / "main" / "default"
NS = {"md": "http://soap.sforce.com/2006/04/metadata"}
GRAPH_CASSETTES = REPO / "tests" / "cassettes" / "graph"

#: Event and Task custom fields are Activity fields in the Metadata API:
#: https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_activity.htm
FOLDER = {"Event": "Activity", "User": "User"}
#: Metadata API field types -> the describe type the REST API (and the sandbox) reports.
DESCRIBE_TYPE = {"Text": "string", "TextArea": "textarea", "LongTextArea": "textarea"}
DESCRIBE_TYPE["DateTime"] = "datetime"
#: A Text Area field holds 255 characters and declares no length in metadata (CustomField,
#: https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/customfield.htm).
TEXT_AREA_LENGTH = 255
NOW = datetime(2027, 5, 19, 9, 30, tzinfo=UTC)


def _parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 - the repository's own package files


def _text(element: ET.Element, name: str) -> str | None:
    found = element.find(f"md:{name}", NS)
    return None if found is None else found.text


def _field(sobject: str, name: str) -> dict[str, str | None]:
    path = SOURCE / "objects" / FOLDER[sobject] / "fields" / f"{name}.field-meta.xml"
    assert path.is_file(), f"{sobject}.{name} is not in the package ({path})"
    root = _parse(path)
    return {tag: _text(root, tag) for tag in ("fullName", "type", "length")}


def _size(field: dict[str, str | None]) -> int | None:
    if field["type"] == "TextArea":
        return TEXT_AREA_LENGTH
    return int(field["length"]) if field["length"] else None


def _written_fields() -> list[tuple[str, str]]:
    """(object, field) for every write-back field syncd's configuration names by default."""
    event = [("Event", v) for v in EventFieldMapping().model_dump().values()]
    user = [("User", v) for v in UserFieldMapping().model_dump().values()]
    return event + user


def _permission_set() -> ET.Element:
    (path,) = (SOURCE / "permissionsets").glob("*.permissionset-meta.xml")
    return _parse(path)


def test_every_file_is_well_formed_metadata() -> None:
    files = sorted(SOURCE.rglob("*-meta.xml"))
    assert len(files) == 8  # 7 fields and the permission set
    for path in files:
        root = _parse(path)  # raises on malformed XML
        assert root.tag.startswith("{http://soap.sforce.com/2006/04/metadata}"), path
        if root.tag.endswith("CustomField"):
            assert _text(root, "fullName") == path.name.removesuffix(".field-meta.xml")
    project = json.loads((PACKAGE / "sfdx-project.json").read_text())
    assert [d["path"] for d in project["packageDirectories"]] == ["force-app"]
    assert project["sourceApiVersion"] == DEFAULT_API_VERSION


@pytest.mark.parametrize(("sobject", "name"), _written_fields())
def test_every_written_field_is_in_the_package(sobject: str, name: str) -> None:
    field = _field(sobject, name)
    assert field["type"] in DESCRIBE_TYPE, field


def test_the_sandbox_org_has_the_package_fields() -> None:
    schema = default_schema()
    for sobject, name in _written_fields():
        field = _field(sobject, name)
        declared = schema[sobject].field(name)
        assert declared is not None and declared.custom, name
        assert (declared.type, declared.length) == (DESCRIBE_TYPE[str(field["type"])], _size(field))


def _graph_examples(key: str) -> list[str]:
    """Values of `key` in Microsoft's documented examples (the Graph cassettes)."""
    pattern = re.compile(rf'"{key}": ?"([^"]+)"')
    return [m for p in GRAPH_CASSETTES.glob("*.yaml") for m in pattern.findall(p.read_text())]


def test_event_fields_hold_what_syncd_writes() -> None:
    ids, join_urls = _graph_examples("id"), _graph_examples("joinUrl")
    sandbox = IdFactory(seed=7)
    ids.append(sandbox.event_id())
    join_urls.append(sandbox.teams_join_url("k", str(uuid.uuid4()), str(uuid.uuid4())))
    assert ids and join_urls
    fields = EventFieldMapping()
    longest: dict[str, int] = {}
    for status in ("Synced", "Failed", "Cancelled"):
        outcome = Outcome(
            "00U000000000001AAA",
            status,
            graph_event_id=max(ids, key=len),
            join_url=max(join_urls, key=len),
            error="x" * 5000 if status == "Failed" else None,
        )
        for name, value in event_update(outcome, fields, NOW).items():
            if isinstance(value, str):
                longest[name] = max(longest.get(name, 0), len(value))
    for name in (fields.outlook_event_id, fields.sync_status, fields.sync_error):
        field = _field("Event", name)
        assert field["type"] in ("Text", "TextArea") and longest[name] <= (_size(field) or 0)
    # A Teams link can exceed the 255 characters of a Text or URL field.
    join = _field("Event", fields.teams_join_url)
    assert join["type"] == "LongTextArea" and longest[fields.teams_join_url] <= (_size(join) or 0)
    assert _field("Event", fields.synced_at)["type"] == "DateTime"


def test_the_summary_field_holds_the_longest_summary() -> None:
    # 1,000 invitees (Salesforce's most per Event) plus attendees added in Outlook, each
    # with the longest address SMTP allows (254 characters).
    kinds = [s.value for s in ResponseStatus]
    responses = {
        f"{i:06d}{'a' * 237}@example.com": {"response": kinds[i % len(kinds)]} for i in range(1500)
    }
    summary = responses_summary(responses)
    field = _field("Event", EventFieldMapping().responses_summary)
    assert field["type"] == "LongTextArea"
    assert len(summary) <= (_size(field) or 0)
    assert summary.startswith("NoResponseReceived: 000000")


def test_the_snapshot_field_holds_the_longest_snapshot() -> None:
    start = NOW
    slots = [
        Slot(start + timedelta(minutes=10 * i), start + timedelta(minutes=10 * i + 5))
        for i in range(20_000)
    ]
    snapshot = availability_snapshot(slots, start, start + timedelta(days=14))
    field = _field("User", UserFieldMapping().availability_snapshot)
    assert field["type"] == "LongTextArea" and len(snapshot) <= (_size(field) or 0)


def test_the_permission_set_lets_the_integration_user_write_each_field() -> None:
    root = _permission_set()
    granted = {
        _text(p, "field"): (_text(p, "readable"), _text(p, "editable"))
        for p in root.findall("md:fieldPermissions", NS)
    }
    for sobject, name in _written_fields():
        assert granted.get(f"{sobject}.{name}") == ("true", "true"), name
        if sobject == "Event":
            # Task and Event share an Activity field's security: an entry missing for one
            # is field-level security turned off for both (Task, Object Reference).
            assert granted.get(f"Task.{name}") == ("true", "true"), name
    enabled = {
        _text(p, "name")
        for p in root.findall("md:userPermissions", NS)
        if _text(p, "enabled") == "true"
    }
    # The API, every owner's Events (and their EventRelations), and editing them.
    assert {"ApiEnabled", "ViewAllData", "EditEvent"} <= enabled
    readable = {
        _text(p, "object")
        for p in root.findall("md:objectPermissions", NS)
        if _text(p, "allowRead") == "true"
    }
    assert {"Contact", "Lead"} <= readable  # invitees' addresses (TYPEOF Relation)
