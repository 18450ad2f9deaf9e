"""Enum tables: canonical codes ⇄ legacy codes, declared in the mapping folder.

A table is one-to-one in its ``values`` (canonical → legacy; the reverse is derived) and may add
``inbound_only`` legacy codes that translate to a canonical value but are never sent (BSCS's
'interested' status of a customer node becomes an active account). A value with no entry raises
:class:`~adapter.mapping.errors.TranslationError` naming the table and the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from adapter.mapping.errors import TranslationError

Direction = Literal["outbound", "inbound"]


@dataclass(frozen=True)
class EnumTable:
    name: str
    to_legacy: Mapping[Any, Any]
    to_canonical: Mapping[Any, Any] = field(default_factory=dict)
    description: str = ""
    canonical_texts: frozenset[str] = frozenset()
    legacy_texts: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        name: str,
        values: Mapping[Any, Any],
        inbound_only: Mapping[Any, Any] | None = None,
        description: str = "",
    ) -> EnumTable:
        """The table, or ``ValueError`` when two canonical values share a legacy code (the
        way back would be ambiguous) or an inbound-only code is also a regular one."""
        reverse: dict[Any, Any] = {}
        for canonical, legacy in values.items():
            key = _key(legacy)
            if key in reverse:
                raise ValueError(
                    f"legacy value {legacy!r} is given for both {reverse[key]!r} and "
                    f"{canonical!r}; use inbound_only for a many-to-one translation"
                )
            reverse[key] = canonical
        for legacy, canonical in (inbound_only or {}).items():
            key = _key(legacy)
            if key in reverse:
                raise ValueError(f"inbound_only value {legacy!r} is already in values")
            reverse[key] = canonical
        forward = {_key(k): v for k, v in values.items()}
        extra = inbound_only or {}
        return cls(
            name,
            forward,
            reverse,
            description,
            canonical_texts=frozenset(_text(v) for v in [*values, *extra.values()]),
            legacy_texts=frozenset(_text(v) for v in [*values.values(), *extra]),
        )

    def translate(self, value: Any, direction: Direction, where: str = "") -> Any:
        table = self.to_legacy if direction == "outbound" else self.to_canonical
        try:
            return table[_key(value)]
        except (KeyError, TypeError):
            raise TranslationError(self.name, value, direction, where) from None


def _key(value: Any) -> Any:
    """Booleans and text keys kept apart (True == 1 in a Python dict); enum members by value."""
    if isinstance(value, bool):
        return ("bool", value)
    value = getattr(value, "value", value)
    return value if isinstance(value, str | int) else str(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
