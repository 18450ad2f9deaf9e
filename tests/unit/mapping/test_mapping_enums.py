"""Enum tables: both directions, inbound-only codes, and clear translation errors."""

from __future__ import annotations

import pytest

from adapter.mapping import MappingFailed, Mappings, TranslationError
from adapter.mapping.enums import EnumTable


@pytest.mark.parametrize(
    ("table", "canonical", "legacy"),
    [
        ("address_roles", "billing", "B"),
        ("address_roles", "registration", "L"),
        ("customer_statuses", "prospect", "i"),
        ("contract_statuses", "on_hold", "o"),
        ("contract_statuses", "deactivated", "d"),
        ("service_statuses", "suspended", "S"),
        ("payment_methods", "direct_debit", "D"),
        ("payment_responsibility", True, "X"),
        ("payment_responsibility", False, "-"),
        ("usage_types", "roaming_data", "ROAM_DATA"),
        ("free_unit_types", "minutes", "MIN"),
        ("discount_kinds", "promotion", "P"),
        ("discount_value_types", "amount", "A"),
        ("service_codes", "CALL_FORWARDING", "CALL_FWD"),
        ("info_fields", "loyalty_tier", "LOYALTY_TIER"),
    ],
)
def test_a_table_translates_both_ways(
    mappings: Mappings, table: str, canonical: object, legacy: object
) -> None:
    assert mappings.enum(table, canonical, "outbound") == legacy
    assert mappings.enum(table, legacy, "inbound") == canonical


def test_inbound_only_codes_are_read_but_never_sent(mappings: Mappings) -> None:
    assert mappings.enum("account_statuses", "i", "inbound") == "active"
    assert mappings.enum("account_statuses", "active", "outbound") == "a"


def test_a_value_without_entry_names_the_table_and_the_value(mappings: Mappings) -> None:
    with pytest.raises(TranslationError) as caught:
        mappings.enum("address_roles", "office", "outbound")
    assert (caught.value.table, caught.value.value) == ("address_roles", "office")
    assert "enum table 'address_roles' has no entry for canonical value 'office'" in str(
        caught.value
    )
    with pytest.raises(TranslationError, match="legacy value 'Z'"):
        mappings.enum("address_roles", "Z", "inbound")


def test_a_number_is_not_taken_for_a_boolean() -> None:
    """In Python 1 == True; in a table of flags 1 is not an entry."""
    table = EnumTable.build("flags", {True: "X", False: "-"})
    assert table.translate(True, "outbound") == "X"
    with pytest.raises(TranslationError):
        table.translate(1, "outbound")


def test_a_many_to_one_table_is_refused() -> None:
    with pytest.raises(ValueError, match="given for both"):
        EnumTable.build("t", {"a": "X", "b": "X"})


def test_an_unknown_table_is_refused(mappings: Mappings) -> None:
    with pytest.raises(MappingFailed, match="no enum table"):
        mappings.enum("colours", "red")
