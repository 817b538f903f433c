"""Cut the event types out of Microsoft's published Graph v1.0 metadata.

Source: https://github.com/microsoftgraph/msgraph-metadata, clean_v10_metadata/cleanMetadata.xml
(the CSDL that Graph's v1.0 `$metadata` publishes, cleaned of internal-only parts).

The subset is every type a syncd event body can reach: `event` with its base types,
the complex types and enums of its properties (recursively), the targets of its
navigation properties (extended properties, extensions, attachments, calendar), the
`cancel` action bound to an event, the `getSchedule` action with `scheduleInformation`,
and `mailboxSettings`. Elements are copied verbatim, line for line, in source order,
so a diff against a newer metadata file shows exactly what Microsoft changed.

Regenerate (from a clone or a bare mirror of msgraph-metadata):

    .venv/bin/python -m tests.graph_schema.extract --mirror /path/to/msgraph-metadata
    .venv/bin/python -m tests.graph_schema.extract --file cleanMetadata.xml \
        --commit <sha> --date <iso date>
"""

from __future__ import annotations

import argparse
import copy
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

SOURCE_REPO = "https://github.com/microsoftgraph/msgraph-metadata"
SOURCE_PATH = "clean_v10_metadata/cleanMetadata.xml"
EDM = "http://docs.oasis-open.org/odata/ns/edm"
EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
NAMESPACE = "microsoft.graph"
OUTPUT = Path(__file__).resolve().parents[1] / "data" / "graph-v1.0-event-schema.xml"

#: Types whose structural properties are followed (with base types, recursively).
ROOTS = ("event", "scheduleInformation", "mailboxSettings")
#: Types whose navigation properties are followed too (what an event body can carry inline).
NAVIGATE_FROM = ("event", "attachment", "itemAttachment")
#: Types whose derived types are kept (a body may name them with @odata.type).
WITH_DERIVED = ("attachment", "extension", "timeZoneBase")
#: Bound actions kept: (name, binding parameter type).
ACTIONS = (("cancel", "graph.event"), ("getSchedule", "graph.calendar"))
TYPE_TAGS = ("EntityType", "ComplexType", "EnumType", "TypeDefinition")


@dataclass(frozen=True)
class Source:
    """The metadata text and where it came from."""

    text: str
    commit: str
    date: str


def read_mirror(git_dir: Path) -> Source:
    """cleanMetadata.xml at HEAD of a msgraph-metadata clone or bare mirror."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(git_dir), *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    commit, date = git("log", "-1", "--format=%H %cI", "HEAD").split()
    return Source(git("show", f"HEAD:{SOURCE_PATH}"), commit, date)


def _type_refs(type_name: str | None) -> list[str]:
    """The microsoft.graph type named by a Type attribute (inside Collection(...))."""
    if not type_name:
        return []
    if type_name.startswith("Collection("):
        type_name = type_name[len("Collection(") : -1]
    for prefix in ("graph.", f"{NAMESPACE}."):
        if type_name.startswith(prefix):
            rest = type_name[len(prefix) :]
            if "." in rest:
                raise ValueError(f"a type outside {NAMESPACE} is referenced: {type_name}")
            return [rest]
    return []


def _graph_schema(root: ET.Element) -> ET.Element:
    for schema in root.iter(f"{{{EDM}}}Schema"):
        if schema.get("Namespace") == NAMESPACE:
            return schema
    raise ValueError(f"no Schema {NAMESPACE} in the metadata")


def _is_kept_action(element: ET.Element) -> bool:
    if element.tag != f"{{{EDM}}}Action":
        return False
    binding = element.find(f"{{{EDM}}}Parameter")
    bound_to = binding.get("Type") if binding is not None else None
    return (element.get("Name"), bound_to) in ACTIONS


def select(schema: ET.Element) -> set[int]:
    """Indexes (among the Schema's children) of the elements the subset keeps."""
    children = list(schema)
    by_name = {
        child.get("Name"): index
        for index, child in enumerate(children)
        if child.tag.split("}")[1] in TYPE_TAGS
    }
    derived: dict[str, list[str]] = {}
    for child in children:
        for base in _type_refs(child.get("BaseType")):
            derived.setdefault(base, []).append(str(child.get("Name")))
    kept = {index for index, child in enumerate(children) if _is_kept_action(child)}
    todo = list(ROOTS)
    for index in list(kept):
        for part in children[index]:
            todo += _type_refs(part.get("Type"))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in by_name:
            raise ValueError(f"type {name} is referenced but not defined")
        seen.add(name)
        element = children[by_name[name]]
        kept.add(by_name[name])
        todo += _type_refs(element.get("BaseType"))
        for prop in element.findall(f"{{{EDM}}}Property"):
            todo += _type_refs(prop.get("Type"))
        if name in NAVIGATE_FROM:
            for nav in element.findall(f"{{{EDM}}}NavigationProperty"):
                todo += _type_refs(nav.get("Type"))
        if name in WITH_DERIVED:
            todo += derived.get(name, [])
    return kept


def _child_line_spans(text: str) -> list[tuple[int, int]]:
    """(first, last) 1-based line of each child element of the microsoft.graph Schema."""
    parser = expat.ParserCreate(namespace_separator=" ")
    spans: list[tuple[int, int]] = []
    depth = 0
    schema_depth: int | None = None
    start = 0

    def on_start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal depth, schema_depth, start
        depth += 1
        if tag == f"{EDM} Schema" and attrs.get("Namespace") == NAMESPACE:
            schema_depth = depth
        elif schema_depth is not None and depth == schema_depth + 1:
            start = parser.CurrentLineNumber

    def on_end(tag: str) -> None:
        nonlocal depth, schema_depth
        if schema_depth is not None and depth == schema_depth + 1:
            spans.append((start, parser.CurrentLineNumber))
        if schema_depth is not None and depth == schema_depth:
            schema_depth = None
        depth -= 1

    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    parser.Parse(text.encode("utf-8"), True)
    return spans


def subset(source: Source) -> str:
    """The CSDL subset document, with a header naming its source."""
    text = source.text.lstrip("\ufeff")
    schema = _graph_schema(ET.fromstring(text))  # noqa: S314 - Microsoft's published metadata
    kept = select(schema)
    spans = _child_line_spans(text)
    if len(spans) != len(list(schema)):
        raise ValueError("the line scan and the parsed schema disagree on its children")
    lines = text.splitlines()
    body: list[str] = []
    for index in sorted(kept):
        first, last = spans[index]
        body.extend(lines[first - 1 : last])
    document = "\n".join([*_header(source, kept, schema), *body, *_footer()]) + "\n"
    _check_verbatim(document, [list(schema)[i] for i in sorted(kept)])
    return document


def _check_verbatim(document: str, expected: list[ET.Element]) -> None:
    """The copied lines parse back to exactly the kept elements (no more, no less)."""
    copied = list(_graph_schema(ET.fromstring(document)))  # noqa: S314 - our own output
    if [_without_tail(e) for e in copied] != [_without_tail(e) for e in expected]:
        raise ValueError("the copied lines do not hold exactly the selected elements")


def _without_tail(element: ET.Element) -> bytes:
    clone = copy.deepcopy(element)
    clone.tail = None
    return ET.tostring(clone)


def _header(source: Source, kept: Iterable[int], schema: ET.Element) -> list[str]:
    children = list(schema)
    names = sorted(f"{children[i].tag.split('}')[1]} {children[i].get('Name')}" for i in kept)
    return [
        '<?xml version="1.0" encoding="utf-8"?>',
        "<!--",
        "  A subset of Microsoft Graph v1.0 metadata: the event entity and every type an",
        "  event body reaches, the event's cancel action, getSchedule and mailboxSettings.",
        "  Elements are copied verbatim, in source order.",
        f"  Source repository: {SOURCE_REPO}",
        f"  Source path: {SOURCE_PATH}",
        f"  Commit: {source.commit}",
        f"  Commit date: {source.date}",
        "  Regenerate with tests/graph_schema/extract.py (see tests/data/README.md).",
        f"  Elements ({len(names)}):",
        *textwrap.wrap(
            ", ".join(n.split(" ")[1] for n in names),
            width=96,
            initial_indent="    ",
            subsequent_indent="    ",
        ),
        "-->",
        f'<edmx:Edmx Version="4.0" xmlns:edmx="{EDMX}">',
        "  <edmx:DataServices>",
        f'    <Schema Namespace="{NAMESPACE}" Alias="graph" xmlns="{EDM}">',
    ]


def _footer() -> list[str]:
    return ["    </Schema>", "  </edmx:DataServices>", "</edmx:Edmx>"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--mirror", type=Path, help="a msgraph-metadata git directory")
    where.add_argument("--file", type=Path, help="a cleanMetadata.xml file")
    parser.add_argument("--commit", default="unknown", help="with --file: its commit id")
    parser.add_argument("--date", default="unknown", help="with --file: its commit date")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.mirror is not None:
        source = read_mirror(args.mirror)
    else:
        source = Source(args.file.read_text(encoding="utf-8-sig"), args.commit, args.date)
    args.output.write_text(subset(source), encoding="utf-8")
    print(f"wrote {args.output} from {SOURCE_PATH} at {source.commit} ({source.date})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
