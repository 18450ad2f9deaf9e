"""Masking of personal data in log events and snapshots (adapter.pii)."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from adapter.domain.history import diff
from adapter.pii import PII_KEYS, mask, mask_mapping

# --------------------------------------------------------------------------- mask


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        ("", "***"),
        ("abcd", "***"),  # four characters or fewer: nothing shown
        ("abcde", "***de"),
        ("ana@example.com", "*************om"),
        ("+4917012345678", "************78"),
    ],
)
def test_mask_hides_all_but_the_last_two_characters_of_text(value: Any, expected: str) -> None:
    assert mask(value) == expected


@pytest.mark.parametrize("value", [123456789, 12.5, date(1980, 5, 17), True, b"secret-bytes"])
def test_mask_hides_non_text_whole(value: Any) -> None:
    assert mask(value) == "***"


def test_mask_keeps_the_length_of_long_text() -> None:
    assert len(mask("x" * 40)) == 40


# --------------------------------------------------------------------------- mask_mapping


@pytest.mark.parametrize("key", sorted(PII_KEYS))
def test_every_pii_key_is_masked_at_top_level(key: str) -> None:
    assert mask_mapping({key: "sensitive-value"}) == {key: "*************ue"}


@pytest.mark.parametrize("key", ["id", "status", "city", "customer_number", "event"])
def test_other_keys_are_left_untouched(key: str) -> None:
    assert mask_mapping({key: "visible-value"}) == {key: "visible-value"}


def test_pii_is_masked_in_nested_objects() -> None:
    event = {
        "event": "x",
        "customer": {"id": "c1", "party": {"family_name": "Müller-Lüdenscheidt"}},
    }
    masked = mask_mapping(event)
    assert masked["customer"]["party"]["family_name"] == "*****************dt"
    assert masked["customer"]["id"] == "c1"
    assert masked["event"] == "x"


def test_pii_is_masked_in_lists_of_objects() -> None:
    event = {"subscribers": [{"id": "s1", "msisdn": "+4917012345678"}, {"id": "s2", "imsi": 1}]}
    assert mask_mapping(event) == {
        "subscribers": [{"id": "s1", "msisdn": "************78"}, {"id": "s2", "imsi": "***"}]
    }


def test_non_object_list_items_are_left_untouched() -> None:
    assert mask_mapping({"tags": ["vip", 3, None]}) == {"tags": ["vip", 3, None]}


@pytest.mark.parametrize(
    "value", [["Hauptstraße 1", "2. OG"], {"type": "tin", "value": "DE123"}, []]
)
def test_pii_key_holding_a_list_or_object_is_hidden_whole(value: Any) -> None:
    assert mask_mapping({"lines": value, "identifications": value}) == {
        "lines": "***",
        "identifications": "***",
    }


def test_pii_key_holding_none_reads_null() -> None:
    assert mask_mapping({"birth_date": None}) == {"birth_date": "null"}


def test_mask_mapping_does_not_mutate_its_input() -> None:
    event = {"party": {"given_name": "Ana"}, "rows": [{"email": "ana@example.com"}]}
    before = copy.deepcopy(event)
    mask_mapping(event)
    assert event == before


def test_mask_mapping_returns_new_nested_objects() -> None:
    event = {"party": {"city": "Berlin"}, "rows": [{"city": "Köln"}]}
    masked = mask_mapping(event)
    assert masked == event
    assert masked["party"] is not event["party"]
    assert masked["rows"][0] is not event["rows"][0]


def test_contact_media_values_are_masked_by_their_type() -> None:
    """E-mail addresses and phone numbers sit under the generic key 'value' of typed items."""
    snapshot = {"contact_media": [{"type": "email", "value": "ana.mueller@example.com"}]}
    masked = mask_mapping(snapshot)["contact_media"][0]
    assert masked["type"] == "email"
    assert masked["value"] == mask("ana.mueller@example.com")


def test_diff_paths_through_a_pii_key_are_masked_on_both_sides() -> None:
    changes = diff({"party": {"family_name": "Müller"}}, {"party": {"family_name": "Schmidt"}})
    assert mask_mapping(changes) == {
        "party.family_name": {"old": mask("Müller"), "new": mask("Schmidt")}
    }


def test_lists_nested_in_lists_are_walked() -> None:
    assert mask_mapping({"rows": [[{"tin": "DE123456789"}]]}) == {
        "rows": [[{"tin": mask("DE123456789")}]]
    }
