"""Privileges and the roles that hold them. Deny by default: a caller may do what one of its
role's privileges allows and nothing else; a route without a privilege dependency fails the
route-enumeration test."""

from __future__ import annotations

from enum import StrEnum


class Privilege(StrEnum):
    CUSTOMERS_READ = "customers.read"
    PII_READ = "pii.read"
    LISTINGS_SUPPRESSED_READ = "listings.suppressed.read"
    CUSTOMERS_WRITE = "customers.write"
    ATTRIBUTES_ADMIN = "attributes.admin"
    HISTORY_RESTORE = "history.restore"
    AUDIT_READ = "audit.read"
    REQUESTS_SUBMIT = "requests.submit"


PRIVILEGE_DESCRIPTIONS: dict[Privilege, str] = {
    Privilege.CUSTOMERS_READ: "search and read customers (PII masked)",
    Privilege.PII_READ: "see TIN, personal id, passport number and birth date unmasked",
    Privilege.LISTINGS_SUPPRESSED_READ: "see suppressed usage listings (each view audited)",
    Privilege.CUSTOMERS_WRITE: "create and change customers and what belongs to them",
    Privilege.ATTRIBUTES_ADMIN: "define, change and retire custom attributes",
    Privilege.HISTORY_RESTORE: "restore an entity (or a field) to an old version",
    Privilege.AUDIT_READ: "read the change log and verify the audit chain",
    Privilege.REQUESTS_SUBMIT: "submit provisioning requests and read their status",
}

_AGENT = frozenset({Privilege.CUSTOMERS_READ})

ROLES: dict[str, frozenset[Privilege]] = {
    "agent": _AGENT,
    "supervisor": _AGENT
    | {Privilege.LISTINGS_SUPPRESSED_READ, Privilege.HISTORY_RESTORE, Privilege.AUDIT_READ},
    "backoffice": _AGENT | {Privilege.CUSTOMERS_WRITE, Privilege.REQUESTS_SUBMIT},
    "admin": frozenset(Privilege),
    # A system (order management, a shop): submits requests and writes; no browsing.
    "provisioning": frozenset({Privilege.REQUESTS_SUBMIT, Privilege.CUSTOMERS_WRITE}),
}
"""Role → privileges. PII unmasked is an admin privilege only; grant it by adding it here."""


def privileges_of(role: str) -> frozenset[Privilege]:
    """The privileges of ROLE; an unknown role (one removed from the table) holds none."""
    return ROLES.get(role, frozenset())
