"""The trusted bulk path of the unit of work, for loaders that build their own new entities
(``crm-adapter seed``).

:func:`prepare` turns freshly constructed entities into :class:`PreparedEntity` records: the
snapshot taken and encoded once (canonical JSON, the same bytes the current row, the version
row and the change's hash use), the derived columns, the search-key rows,
the scope and owner, and its current row and version row as ``COPY`` text. It needs no
database, so a loader runs it in its generator process, beside the process that writes.
:meth:`UnitOfWork.add_prepared` registers the records and :meth:`UnitOfWork.commit` writes
them as one audited change, with every check a creation gets on the normal path (unique
keys, required attributes, parents of new accounts and cycles, owners and scope agreement)
and the same rows: current rows, search keys, one version row per entity, usage lines, change
row and chain head.

What the path trusts: that each entity was validated when it was constructed and has not been
changed since (the normal path re-validates every new entity at commit, because a caller may
have edited its lists in place). It only creates: a prepared unit takes no other entity. On
PostgreSQL its transaction commits asynchronously and, where that skips nothing else, writes
with the foreign keys' triggers off, the unit checking the same references itself
(``docs/architecture.md``, "The bulk path").
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from adapter.domain import Entity
from adapter.domain.model import Scope
from adapter.store import jsontext
from adapter.store.entities import MAPPINGS

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]").search
NULL = b"\\N"


def copy_value(value: Any) -> bytes:
    """One field of PostgreSQL's ``COPY`` text format (what psycopg would send for it)."""
    if isinstance(value, str):
        plain: str = value.translate(_ESCAPES) if _NEEDS_ESCAPE(value) else value
        return plain.encode()
    if value is None:
        return NULL
    if value is True:
        return b"t"
    if value is False:
        return b"f"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        return value.astimezone(UTC).isoformat().encode()
    if isinstance(value, date):
        return value.isoformat().encode()
    if isinstance(value, int):
        return str(value).encode()
    raise TypeError(f"{type(value).__name__} has no COPY form here")


def copy_fields(values: Iterable[Any]) -> bytes:
    """Tab-separated ``COPY`` text fields (``copy_value`` of each, text and nulls inline)."""
    texts: list[str] = []
    for value in values:
        if type(value) is str:
            texts.append(value.translate(_ESCAPES) if _NEEDS_ESCAPE(value) else value)
        elif value is None:
            texts.append("\\N")
        else:
            texts.append(copy_value(value).decode())
    return "\t".join(texts).encode()


def copy_json(encoded: bytes) -> bytes:
    """Canonical JSON as a ``COPY`` text field (orjson escapes control characters, so only
    backslashes need doubling)."""
    return encoded.replace(b"\\", b"\\\\")


class PreparedEntity(NamedTuple):
    """One new entity, ready to write (a tuple: it crosses process boundaries cheaply).
    ``row_line`` and ``version_line`` are its current row and its version row as ``COPY`` text,
    up to the fields only the commit knows (made where it is prepared, so that the writing
    process only appends those)."""

    kind: str
    id: str
    snapshot: bytes  # canonical JSON
    columns: dict[str, Any]  # the derived columns, in the mapping's order
    children: tuple[tuple[str, tuple[dict[str, Any], ...]], ...]  # search-key rows per table
    scope_ids: tuple[str | None, str | None, str | None, str | None]
    owner_ref: tuple[str, str, str] | None
    row_line: bytes  # id, version, data and the derived columns (``ROW_COLUMNS`` + columns)
    version_line: bytes  # the version row up to ``subscriber_id`` (``VERSION_COLUMNS``)

    # What integrity.check_references asks of an entity.
    def owner(self) -> tuple[str, str, str] | None:
        return self.owner_ref

    def scope(self) -> Scope:
        return Scope(*self.scope_ids)


def pack(records: list[PreparedEntity]) -> list[tuple[Any, ...]]:
    """Records as plain tuples, for sending to another process: a named tuple is rebuilt on
    unpickling through its Python constructor, a plain tuple is not (a third of the writing
    process's time in a seed went to unpickling its batches)."""
    return [tuple(r) for r in records]


def unpack(packed: Iterable[tuple[Any, ...]]) -> list[PreparedEntity]:
    """The records :func:`pack` sent."""
    make = PreparedEntity._make
    return [make(item) for item in packed]


@contextmanager
def few_collections() -> Iterator[None]:
    """The cyclic garbage collector run rarely while a bulk load makes or writes many short
    lived objects that form no cycles: with the default thresholds it ran every 700
    allocations and walked every long-lived object (modules, the schema, Faker's word lists)
    again and again, a tenth of a seed's time. What exists on entry is frozen out of its
    walks; the thresholds are restored on exit."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def prepare(entities: Iterable[Entity]) -> list[PreparedEntity]:
    """Prepared records of new, just-constructed entities, in the order given."""
    found: list[PreparedEntity] = []
    for entity in entities:
        mapping = MAPPINGS[entity.kind]
        snapshot = entity.snapshot()
        columns = mapping.columns(entity)
        children = (
            tuple((table.name, tuple(rows)) for table, rows in mapping.children(entity).items())
            if mapping.children
            else ()
        )
        scope = entity.scope()
        scope_ids = (scope.customer_id, scope.account_id, scope.contract_id, scope.subscriber_id)
        encoded = jsontext.encode(snapshot)
        key = copy_value(entity.id)
        document = copy_json(encoded)
        found.append(
            PreparedEntity(
                entity.kind,
                entity.id,
                encoded,
                columns,
                children,
                scope_ids,
                entity.owner(),
                b"\t".join([key, b"1", document, copy_fields(columns.values())]),
                b"\t".join(
                    [
                        entity.kind.encode(),
                        key,
                        b"1\tcreate",
                        document,
                        CREATION_DIFF,
                        copy_fields(scope_ids),
                    ]
                )
                if mapping.versioned
                else b"",
            )
        )
    return found


# A creation's version row stores no diff: its snapshot is the whole change
# (``adapter.domain.history.stored_diff`` derives it for readers).
CREATION_DIFF = b"{}"

# COPY column lists; the commit appends the fields it knows at the end of each line.
ROW_COLUMNS = ("id", "version", "data")
ROW_TAIL = ("updated_at",)
USAGE_TAIL = ("updated_at", "change_id")
VERSION_COLUMNS = (
    "entity_type",
    "entity_id",
    "version",
    "op",
    "snapshot",
    "diff",
    "customer_id",
    "account_id",
    "contract_id",
    "subscriber_id",
    "valid_from",
    "change_id",
)
