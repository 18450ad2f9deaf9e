"""Custom attributes: definitions made at run time and the values set with them.

A definition says which entity kind it belongs to, its type and its validation; a value is an
entity of its own, versioned like every other, so adding an attribute needs no migration and
no restart.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import Field, model_validator

from adapter.domain.errors import ValidationFailed
from adapter.domain.model import Entity, Ref, Scope


class AttributeType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    BOOLEAN = "boolean"
    ENUM = "enum"


class AttributeTarget(StrEnum):
    """Entity kinds that can carry custom attributes."""

    CUSTOMER = "customer"
    ACCOUNT = "account"
    CONTRACT = "contract"
    SUBSCRIBER = "subscriber"


AttributeName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
JsonScalar = str | int | bool | None

_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}


class AttributeDefinition(Entity):
    kind: ClassVar[str] = "attribute_definition"

    name: AttributeName
    label: Annotated[str, Field(min_length=1, max_length=200)]
    type: AttributeType
    entity_kind: AttributeTarget
    required: bool = False
    pattern: Annotated[str, Field(max_length=500)] | None = None
    enum_values: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list
    )
    status: Annotated[str, Field(pattern=r"^(active|retired)$")] = "active"

    @model_validator(mode="after")
    def _coherent(self) -> AttributeDefinition:
        if self.type is AttributeType.ENUM:
            if not self.enum_values:
                raise ValueError("an enum attribute needs enum_values")
            if len(set(self.enum_values)) != len(self.enum_values):
                raise ValueError("enum_values has a repeated value")
        elif self.enum_values:
            raise ValueError("enum_values is only for enum attributes")
        if self.pattern is not None:
            if self.type is not AttributeType.STRING:
                raise ValueError("pattern is only for string attributes")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a regular expression: {exc}") from None
        return self

    @property
    def active(self) -> bool:
        return self.status == "active"

    def coerce(self, raw: Any) -> JsonScalar:
        """Turn ``raw`` (typed JSON or text from a form or the command line) into the stored
        value, or raise :class:`ValidationFailed` naming the attribute and the rule."""
        field = f"attributes.{self.name}"
        if raw is None or raw == "":
            if self.required:
                raise ValidationFailed.one(field, "required", f"{self.name} is required")
            return None
        try:
            value = self._coerce_type(raw)
        except (ValueError, InvalidOperation, TypeError):
            raise ValidationFailed.one(
                field, f"type:{self.type.value}", f"{raw!r} is not a valid {self.type.value}"
            ) from None
        if self.type is AttributeType.ENUM and value not in self.enum_values:
            allowed = ", ".join(self.enum_values)
            raise ValidationFailed.one(field, "enum", f"{raw!r} is not one of: {allowed}")
        if (
            self.pattern is not None
            and isinstance(value, str)
            and not re.fullmatch(self.pattern, value)
        ):
            raise ValidationFailed.one(
                field, "pattern", f"{raw!r} does not match the pattern {self.pattern!r}"
            )
        return value

    def _coerce_type(self, raw: Any) -> JsonScalar:
        kind = self.type
        if kind in (AttributeType.STRING, AttributeType.ENUM):
            if not isinstance(raw, str):
                raise TypeError
            if len(raw) > 2000:
                raise ValueError
            return raw
        if kind is AttributeType.BOOLEAN:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError
        if isinstance(raw, bool):  # bool is an int in Python; never take it as a number
            raise TypeError
        if kind is AttributeType.INTEGER:
            if isinstance(raw, str) and re.fullmatch(r"[+-]?[0-9]{1,18}", raw.strip()):
                raw = int(raw)
            if isinstance(raw, int) and abs(raw) < 10**18:  # fits any 64-bit column or client
                return raw
            raise ValueError
        if kind is AttributeType.DECIMAL:
            number = Decimal(str(raw).strip())
            if not number.is_finite():
                raise ValueError
            return str(number)
        # DATE: a date, or an ISO calendar date given as text (YYYY-MM-DD), nothing else
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw.isoformat()
        if not isinstance(raw, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw.strip()):
            raise ValueError
        return date.fromisoformat(raw.strip()).isoformat()


class AttributeValue(Entity):
    """The value of one custom attribute on one entity."""

    kind: ClassVar[str] = "attribute_value"

    name: AttributeName
    entity_kind: AttributeTarget
    entity_id: Ref
    value: JsonScalar
    customer_id: Ref | None = None
    account_id: Ref | None = None
    contract_id: Ref | None = None
    subscriber_id: Ref | None = None

    def scope(self) -> Scope:
        return Scope(self.customer_id, self.account_id, self.contract_id, self.subscriber_id)

    def owner(self) -> tuple[str, str, str] | None:
        return (self.entity_kind.value, self.entity_id, "entity_id")
