"""Roles and privileges: deny by default, PII unmasked only where granted."""

from __future__ import annotations

from adapter.api.privileges import PRIVILEGE_DESCRIPTIONS, ROLES, Privilege, privileges_of


def test_only_admin_reads_pii_unmasked() -> None:
    assert [r for r, p in ROLES.items() if Privilege.PII_READ in p] == ["admin"]


def test_an_unknown_role_holds_nothing() -> None:
    assert privileges_of("root") == frozenset()


def test_supervisor_has_the_agents_privileges_and_restore_audit_and_suppressed_listings() -> None:
    assert ROLES["agent"] < ROLES["supervisor"]
    assert ROLES["supervisor"] - ROLES["agent"] == {
        Privilege.LISTINGS_SUPPRESSED_READ,
        Privilege.HISTORY_RESTORE,
        Privilege.AUDIT_READ,
    }


def test_every_privilege_is_described_and_held_by_admin() -> None:
    assert set(PRIVILEGE_DESCRIPTIONS) == set(Privilege) == ROLES["admin"]
