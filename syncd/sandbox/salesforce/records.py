"""Compact in-memory records: one slotted class per object type, custom fields in a side dict.

A demo org with 100,000 events also holds their child events and invitee rows,
so records use `__slots__` rather than one dict each.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from syncd.sandbox.salesforce.schema import FieldDef, SObjectSchema


class Record:
    """Base of the generated record classes; field values are read through `get`."""

    __slots__ = ("_custom", "_deleted_at")
    sobject: ClassVar[str] = ""
    stored: ClassVar[tuple[str, ...]] = ()
    _custom: dict[str, Any] | None
    _deleted_at: datetime | None

    if TYPE_CHECKING:
        # Field slots are generated per object type; to a type checker any field exists.
        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    @property
    def id(self) -> str:
        return str(self.Id)

    def get(self, definition: FieldDef) -> Any:
        if definition.custom:
            return None if self._custom is None else self._custom.get(definition.name)
        return getattr(self, definition.name, None)

    def __repr__(self) -> str:
        return f"<{self.sobject} {getattr(self, 'Id', '?')}>"


def _init_for(fields: tuple[str, ...]) -> Any:
    """An __init__ taking every stored field as a keyword defaulting to None.

    Generated (as dataclasses do) because building hundreds of thousands of records
    field by field with setattr is several times slower.
    """
    for name in fields:
        if not name.isidentifier():
            raise ValueError(f"not a field name: {name!r}")
    params = ", ".join(f"{name}=None" for name in fields)
    body = "".join(f"    self.{name} = {name}\n" for name in fields)
    source = (
        f"def __init__(self, *, {params}):\n"
        "    self._custom = None\n    self._deleted_at = None\n"
        f"{body}"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - source built from validated field names only
    return namespace["__init__"]


def record_class(schema: SObjectSchema) -> type[Record]:
    """A slotted Record subclass holding the object's standard stored fields."""
    slots = tuple(schema.standard_names())
    namespace = {
        "__slots__": slots,
        "sobject": schema.name,
        "stored": slots,
        "__init__": _init_for(slots),
    }
    return type(f"{schema.name}Record", (Record,), namespace)


class TypeStore:
    """Live records of one type in creation order, plus its recycle bin."""

    def __init__(self, schema: SObjectSchema) -> None:
        self.schema = schema
        self.cls = record_class(schema)
        self.live: dict[str, Record] = {}
        self.recycle_bin: dict[str, Record] = {}
        self.last_purged: datetime | None = None

    def new(self, **values: Any) -> Record:
        return self.cls(**values)

    def find(self, record_id: str) -> Record | None:
        return self.live.get(record_id)

    def find_any(self, record_id: str) -> Record | None:
        """Live or in the recycle bin."""
        return self.live.get(record_id) or self.recycle_bin.get(record_id)

    def all_rows(self, include_deleted: bool) -> Iterator[Record]:
        yield from self.live.values()
        if include_deleted:
            yield from self.recycle_bin.values()
