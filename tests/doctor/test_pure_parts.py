"""The doctor's pure parts: field requirements against describe entries, the limits
they share with the write-back, the roles claim, and the clock verdict."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import jwt

from syncd.config import FieldMapping
from syncd.doctor.microsoft_checks import token_roles
from syncd.doctor.store_checks import skew_check
from syncd.salesforce import field_requirements
from syncd.salesforce.field_requirements import requirements
from syncd.sync import writeback
from tests.support import suite_now


def test_the_limits_are_the_write_backs() -> None:
    assert field_requirements.MAX_ERROR_CHARS == writeback.MAX_ERROR_CHARS
    assert field_requirements.MAX_SNAPSHOT_CHARS == writeback.MAX_SNAPSHOT_CHARS


def test_a_field_mapped_to_nothing_is_not_required_and_relations_only_when_written() -> None:
    mapping = FieldMapping.model_validate({"event": {"teams_join_url": ""}})
    names = [(r.sobject, r.name) for r in requirements(mapping)]
    assert ("Event", "") not in names and len(names) == 6
    assert ("EventRelation", "Status") not in names
    on = FieldMapping.model_validate({"event_relation_status": True})
    assert ("EventRelation", "Status") in [(r.sobject, r.name) for r in requirements(on)]


def test_each_way_a_field_can_be_wrong_is_named() -> None:
    need = next(r for r in requirements(FieldMapping()) if r.key == "outlook_event_id")
    fits = {"name": need.name, "type": "string", "length": 255, "updateable": True}
    assert need.problems(fits) == []
    assert need.problems(None) == [f"Event.{need.name} does not exist"]
    assert "holds 80 characters" in need.problems({**fits, "length": 80})[0]
    assert "of type datetime" in need.problems({**fits, "type": "datetime"})[0]
    assert "not updateable" in need.problems({**fits, "updateable": False})[0]


def test_roles_are_read_from_the_token_and_absent_when_none_granted() -> None:
    granted = jwt.encode({"roles": ["Calendars.ReadWrite"]}, "k" * 32, algorithm="HS256")
    assert token_roles(granted) == ["Calendars.ReadWrite"]
    assert token_roles(jwt.encode({"appid": "x"}, "k" * 32, algorithm="HS256")) == []
    assert token_roles("opaque-token") is None


def test_a_minute_of_skew_passes_and_more_fails() -> None:
    now = suite_now()
    header = format_datetime(now + timedelta(seconds=60), usegmt=True)
    assert skew_check("Graph", header, lambda: now).ok
    late = format_datetime(now - timedelta(seconds=61), usegmt=True)
    verdict = skew_check("Graph", late, lambda: now)
    assert not verdict.ok and "61 s ahead of Graph" in verdict.detail
