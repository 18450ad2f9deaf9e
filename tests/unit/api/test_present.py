"""Masking of API answers (``adapter.pii.mask_sensitive`` through ``present``)."""

from __future__ import annotations

from adapter.api.access import Caller
from adapter.api.present import present
from adapter.api.privileges import privileges_of

DOC = {
    "party": {"birth_date": "1979-03-14", "given_name": "Ilse"},
    "identifications": [
        {"type": "tin", "value": "DE987654321"},
        {"type": "passport", "value": "C01X00T478"},
        {"type": "company_registration", "value": "HRB 1234"},
    ],
    "contact_media": [{"type": "email", "value": "ilse@example.com"}],
    "diff": {"party.birth_date": {"old": "1979-03-14", "new": "1979-03-15"}},
}


def _caller(role: str) -> Caller:
    return Caller("x", role, privileges_of(role), "t")


def test_without_pii_read_documents_and_birth_dates_are_masked() -> None:
    shown = present(DOC, _caller("agent"))
    assert shown["party"] == {"birth_date": "********14", "given_name": "Ilse"}
    values = [i["value"] for i in shown["identifications"]]
    assert values == ["*********21", "********78", "HRB 1234"]
    assert shown["contact_media"] == DOC["contact_media"]
    assert shown["diff"]["party.birth_date"] == {"old": "********14", "new": "********15"}


def test_with_pii_read_the_document_is_unchanged() -> None:
    assert present(DOC, _caller("admin")) == DOC


def test_masking_copies_and_leaves_the_original_alone() -> None:
    present(DOC, _caller("agent"))
    assert DOC["party"]["birth_date"] == "1979-03-14"  # type: ignore[index]
