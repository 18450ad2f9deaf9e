"""Errors the domain raises. None of them knows about storage or wire formats."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class DomainError(Exception):
    """Base of every error a caller can act on; ``code`` is stable and machine-readable."""

    code = "domain_error"


@dataclass(frozen=True)
class Violation:
    """One broken rule: the field it concerns (a dotted path), the rule's name, a sentence."""

    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} [{self.rule}]"


class ValidationFailed(DomainError):
    """Input broke one or more rules; nothing was written."""

    code = "validation_failed"

    def __init__(self, violations: Iterable[Violation]) -> None:
        self.violations = tuple(violations)
        super().__init__("; ".join(str(v) for v in self.violations))

    @classmethod
    def one(cls, field: str, rule: str, message: str) -> ValidationFailed:
        return cls([Violation(field, rule, message)])


class NotFound(DomainError):
    code = "not_found"

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key!r}")


class Conflict(DomainError):
    """The write contradicts stored state (a duplicate key, a stale version, a bad transition)."""

    code = "conflict"


class ConcurrencyConflict(Conflict):
    code = "stale_version"

    def __init__(self, kind: str, entity_id: str, expected: int, actual: int | None) -> None:
        self.kind = kind
        self.entity_id = entity_id
        self.expected = expected
        self.actual = actual
        found = "it no longer exists" if actual is None else f"it is at version {actual}"
        super().__init__(
            f"{kind} {entity_id} was expected at version {expected} but {found}; "
            "read it again and retry"
        )


class MissingActor(DomainError):
    """A write was attempted without saying who executes it."""

    code = "missing_actor"
