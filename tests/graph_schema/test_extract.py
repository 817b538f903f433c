"""The extractor keeps exactly the types an event body reaches, copied line for line."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.graph_schema import extract
from tests.graph_schema.validator import SCHEMA_FILE, load_schema

METADATA = """\ufeff<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="microsoft.graph" Alias="graph" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EnumType Name="bodyType">
        <Member Name="text" Value="0" />
        <Member Name="html" Value="1" />
      </EnumType>
      <EnumType Name="unrelatedEnum">
        <Member Name="x" Value="0" />
      </EnumType>
      <ComplexType Name="itemBody">
        <Property Name="content" Type="Edm.String" />
        <Property Name="contentType" Type="graph.bodyType" />
      </ComplexType>
      <ComplexType Name="scheduleInformation">
        <Property Name="scheduleId" Type="Edm.String" />
      </ComplexType>
      <ComplexType Name="mailboxSettings">
        <Property Name="timeZone" Type="Edm.String" />
      </ComplexType>
      <ComplexType Name="timeZoneBase" />
      <EntityType Name="entity" Abstract="true">
        <Key>
          <PropertyRef Name="id" />
        </Key>
        <Property Name="id" Type="Edm.String" Nullable="false" />
      </EntityType>
      <EntityType Name="calendar" BaseType="graph.entity">
        <NavigationProperty Name="owner" Type="graph.user" />
      </EntityType>
      <EntityType Name="user" BaseType="graph.entity" />
      <EntityType Name="event" BaseType="graph.entity" OpenType="true">
        <Property Name="body" Type="graph.itemBody" />
        <NavigationProperty Name="calendar" Type="graph.calendar" />
        <NavigationProperty Name="instances" Type="Collection(graph.event)" ContainsTarget="true">
          <Annotation Term="Org.OData.Capabilities.V1.IndexableByKey" Bool="false" />
        </NavigationProperty>
      </EntityType>
      <Action Name="cancel" IsBound="true">
        <Parameter Name="bindingParameter" Type="graph.printJob" />
      </Action>
      <Action Name="cancel" IsBound="true">
        <Parameter Name="bindingParameter" Type="graph.event" />
        <Parameter Name="Comment" Type="Edm.String" Unicode="false" />
      </Action>
      <Action Name="getSchedule" IsBound="true">
        <Parameter Name="bindingParameter" Type="graph.calendar" />
        <ReturnType Type="Collection(graph.scheduleInformation)" />
      </Action>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"""


def test_the_subset_is_the_reachable_types_verbatim() -> None:
    document = extract.subset(extract.Source(METADATA, "abc123", "2026-01-02T03:04:05Z"))
    assert "Commit: abc123" in document and "Commit date: 2026-01-02T03:04:05Z" in document
    root = ET.fromstring(document)  # noqa: S314 - the extractor's own output
    kept = [e.get("Name") for e in extract._graph_schema(root)]
    # Not kept: unrelatedEnum, user (the calendar's navigation is not followed), the
    # printJob cancel; timeZoneBase is kept only where workingHours needs it.
    assert kept == [
        "bodyType",
        "itemBody",
        "scheduleInformation",
        "mailboxSettings",
        "entity",
        "calendar",
        "event",
        "cancel",
        "getSchedule",
    ]
    source_lines = METADATA.lstrip("\ufeff").splitlines()
    event_lines = source_lines[
        source_lines.index(
            '      <EntityType Name="event" BaseType="graph.entity" OpenType="true">'
        ) :
    ][:7]
    assert "\n".join(event_lines) in document
    assert '<Parameter Name="bindingParameter" Type="graph.printJob" />' not in document


def test_the_committed_subset_is_closed() -> None:
    """Every type a kept property names is in the file (navigation of types the extractor
    does not follow, like calendar's, excepted)."""
    schema = load_schema()
    for typedef in schema.types.values():
        for prop in typedef.own:
            if prop.type_name.startswith("Edm."):
                continue
            if prop.navigation and typedef.name not in extract.NAVIGATE_FROM:
                continue
            assert prop.type_name in schema.types or prop.type_name in schema.enums, (
                f"{typedef.name}.{prop.name}: {prop.type_name}"
            )
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    assert text.count("<EntityType ") + text.count("<ComplexType ") == len(schema.types)
