"""What a canonical path may name: the fields of the domain models, found by walking their
pydantic field annotations, under a fixed set of roots.

The roots are the keys of the *context* an outbound map reads and of the *result* an inbound or
document map writes (one vocabulary for both directions, so a fragment can be used either
way). A path such as ``customer.identifications[type=tin].value`` is checked field by field
against :class:`~adapter.domain.model.Customer`, including the selector's key and value (``tin``
must be an :class:`~adapter.domain.model.IdentificationType`); a misspelt field is a load error.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel

from adapter.domain.attributes import AttributeValue
from adapter.domain.model import (
    Account,
    Address,
    Balance,
    Contract,
    Customer,
    DiscountAssignment,
    FreeUnitBucket,
    ServiceAssignment,
    Subscriber,
    UsageRecord,
)
from adapter.mapping.paths import Path


class Shape:
    """What a value at some path looks like."""

    def child(self, name: str) -> Shape | None:
        """The shape of field ``name`` of this shape, or None when there is no such field."""
        return None

    @property
    def is_list(self) -> bool:
        return False

    def item(self) -> Shape:
        return self


@dataclass(frozen=True)
class Scalar(Shape):
    allowed: frozenset[str] | None = None  # the values of an enum or Literal, as text


@dataclass(frozen=True)
class Open(Shape):
    """Free-form nested data (``legacy_ids``): any snake_case key."""

    def child(self, name: str) -> Shape | None:
        return self if _SNAKE.fullmatch(name) else None


@dataclass(frozen=True)
class Keys(Shape):
    fields: dict[str, Shape] = field(default_factory=dict)

    def child(self, name: str) -> Shape | None:
        return self.fields.get(name)


@dataclass(frozen=True)
class Models(Shape):
    """A pydantic model, or a union of models (a party is an individual or an organisation):
    a field of any member is a field of the union."""

    classes: tuple[type[BaseModel], ...]

    def child(self, name: str) -> Shape | None:
        shapes = [_field_shape(cls, name) for cls in self.classes if name in cls.model_fields]
        if not shapes:
            return None
        if len(shapes) > 1 and all(isinstance(s, Scalar) for s in shapes):
            allowed: set[str] = set()
            for shape in shapes:
                assert isinstance(shape, Scalar)
                if shape.allowed is None:
                    return Scalar()
                allowed |= shape.allowed
            return Scalar(frozenset(allowed))
        return shapes[0]


@dataclass(frozen=True)
class ListOf(Shape):
    of: Shape

    @property
    def is_list(self) -> bool:
        return True

    def item(self) -> Shape:
        return self.of


@dataclass(frozen=True)
class MapOf(Shape):
    """A dict with free keys (``parameters``, ``attributes``). A list rule of form ``map``
    sees each entry as an item with ``key`` and ``value``."""

    of: Shape

    def child(self, name: str) -> Shape | None:
        return self.of if _KEY.fullmatch(name) else None

    def entry(self) -> Keys:
        return Keys({"key": Scalar(), "value": self.of})


def _field_shape(cls: type[BaseModel], name: str) -> Shape:
    """The shape of field ``name`` of ``cls``. A merge-patch model (``CustomerPatch``) types
    its structured fields loosely (``dict[str, Any]``, so that a patch can carry nulls); the
    shape of such a field is that of the entity's field of the same name, so a request
    document's map is checked against what the patch will be merged into."""
    shape = shape_of(cls.model_fields[name].annotation)
    entity = PATCHES.get(cls.__name__)
    if entity is not None and name in entity.model_fields and _loose(shape):
        return shape_of(entity.model_fields[name].annotation)
    return shape


def _loose(shape: Shape) -> bool:
    inner = shape.item() if isinstance(shape, ListOf) else shape
    return isinstance(inner, MapOf) and inner.of == Scalar()


_SNAKE = re.compile(r"[a-z][a-z0-9_]*")
_KEY = re.compile(r"[A-Za-z0-9_.:-]+")


def shape_of(annotation: Any) -> Shape:
    """The shape of a pydantic field annotation."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return shape_of(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if models:
            return Models(tuple(models))
        for member in members:
            shape = shape_of(member)
            if not isinstance(shape, Scalar) or shape.allowed:
                return shape
        return Scalar()
    if origin is list:
        return ListOf(shape_of(typing.get_args(annotation)[0]))
    if origin is dict:
        return MapOf(shape_of(typing.get_args(annotation)[1]))
    if origin is Literal:
        return Scalar(frozenset(str(a) for a in typing.get_args(annotation)))
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return Models((annotation,))
        if issubclass(annotation, Enum):
            return Scalar(frozenset(str(m.value) for m in annotation))
    return Scalar()


def _model(cls: type[BaseModel]) -> Models:
    return Models((cls,))


_PARAMS = Keys(
    {
        name: Scalar()
        for name in (
            "action",  # AddressWrite: add, update, delete
            "reason",  # ContractWrite: why the status changes
            "from",  # UsageDataRecordsRead: the period asked for
            "to",
            "max_records",
            "more_records",  # UsageDataRecordsRead: billing holds more than it sent
            "level",  # CustomerRead: the node's depth in the hierarchy (1 = top)
            "complete",  # CustomersSearch: all matches were returned
        )
    }
)

_SEARCH = Keys(
    {
        name: Scalar()
        for name in (
            "customer_number",
            "family_name",
            "organization_name",
            "email",
            "tin",
            "personal_id",
            "msisdn",
            "max_results",
        )
    }
)

_MATCH = Keys({"number": Scalar(), "name": Scalar(), "status": Scalar(), "legacy_ids": Open()})

ROOT = Keys(
    {
        # one entity of each kind the operation is about (context and result)
        "customer": _model(Customer),
        "account": _model(Account),
        "parent_account": _model(Account),
        "contract": _model(Contract),
        "subscriber": _model(Subscriber),
        "service": _model(ServiceAssignment),
        "discount": _model(DiscountAssignment),
        "address": _model(Address),
        "usage_record": _model(UsageRecord),
        # several of a kind (reads, bundles of documents)
        "accounts": ListOf(_model(Account)),
        "contracts": ListOf(_model(Contract)),
        "subscribers": ListOf(_model(Subscriber)),
        "services": ListOf(_model(ServiceAssignment)),
        "discounts": ListOf(_model(DiscountAssignment)),
        "balances": ListOf(_model(Balance)),
        "free_units": ListOf(_model(FreeUnitBucket)),
        "usage": ListOf(_model(UsageRecord)),
        "attribute_values": ListOf(_model(AttributeValue)),
        # custom attribute values by name, as the store's set_attribute takes them
        "attributes": MapOf(Scalar()),
        # the legacy system's own ids (csId/csIdPub, coId/coIdPub, snCode, assignId…)
        "legacy_ids": Open(),
        # values of an operation that belong to no entity
        "params": _PARAMS,
        "search": _SEARCH,
        "matches": ListOf(_MATCH),
    }
)


#: Merge-patch models of the request commands (by class name: the engine does not import the
#: request package) and the entity each one patches.
PATCHES: dict[str, type[BaseModel]] = {"CustomerPatch": Customer}


class CanonicalPathError(ValueError):
    pass


def resolve(path: Path, scope: Shape, root: Shape = ROOT) -> Shape:
    """The shape ``path`` leads to from ``scope`` (or from ``root`` for a ``$.`` path), or
    :class:`CanonicalPathError` naming the first unknown field or bad selector."""
    shape = root if path.from_root else scope
    walked: list[str] = []
    for segment in path.segments:
        if shape.is_list:
            raise CanonicalPathError(
                f"{walked[-1]} is a list; select one item ([key=value], [n]) or use [*]"
            )
        child = shape.child(segment.name)
        if child is None:
            where = ".".join(walked) or "the root"
            known = _known(shape)
            hint = f" (known: {', '.join(known)})" if known else ""
            raise CanonicalPathError(f"{segment.name!r} is not a field of {where}{hint}")
        walked.append(str(segment))
        selector = segment.selector
        if selector is None:
            shape = child
            continue
        if not child.is_list:
            raise CanonicalPathError(f"{segment.name!r} is not a list; it takes no selector")
        shape = child.item()
        if selector.kind == "match":
            key = shape.child(selector.key)
            if key is None:
                raise CanonicalPathError(
                    f"selector key {selector.key!r} is not a field of {segment.name} items"
                )
            if isinstance(key, Scalar) and key.allowed and selector.value not in key.allowed:
                raise CanonicalPathError(
                    f"{selector.value!r} is not a value of {segment.name}.{selector.key} "
                    f"(one of: {', '.join(sorted(key.allowed))})"
                )
    return shape


def _known(shape: Shape) -> list[str]:
    if isinstance(shape, Keys):
        return sorted(shape.fields)
    if isinstance(shape, Models):
        return sorted({name for cls in shape.classes for name in cls.model_fields})
    return []
