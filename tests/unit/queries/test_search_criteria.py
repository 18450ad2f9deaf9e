"""Search criteria: normalisation and refusals, and the trigram similarity, without a database
(adapter.queries.search)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection

from adapter.domain.errors import ValidationFailed
from adapter.domain.identifiers import complete_iccid
from adapter.queries.search import (
    ADDRESS_MIN_LENGTH,
    FUZZY_MIN_LENGTH,
    LIMIT_MAX,
    NAME_MIN_LENGTH,
    TEXT_MAX_LENGTH,
    SearchCriteria,
    SearchKeys,
    SearchPage,
    fts_trigram_query,
    page_violations,
    search,
    trigrams,
    word_similarity,
)

ICCID = complete_iccid("49", 7)


def refusals(**criteria: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        SearchCriteria(**criteria).keys()
    return [(v.field, v.rule) for v in caught.value.violations]


# ------------------------------------------------------------------------ normalisation


@pytest.mark.parametrize(
    ("criteria", "keys"),
    [
        ({"name": "  Ana   MÜLLER "}, {"name": "ana muller"}),
        ({"fuzzy_name": "Mueler"}, {"fuzzy_name": "mueler"}),
        ({"address": "Hauptstraße 5"}, {"address": "hauptstrasse 5"}),
        ({"postcode": " sw1a 1aa "}, {"postcode": "SW1A1AA"}),
        ({"city": "MÜNCHEN"}, {"city": "munchen"}),
        ({"birth_date": "1984-05-17"}, {"birth_date": date(1984, 5, 17)}),
        ({"birth_date": date(1984, 5, 17)}, {"birth_date": date(1984, 5, 17)}),
        ({"email": " Ana.Mueller@Example.COM "}, {"email": "ana.mueller@example.com"}),
        ({"tin": "de 123.456/789"}, {"tin": "DE123456789"}),
        ({"personal_id": "l01x-00t47"}, {"personal_id": "L01X00T47"}),
        ({"passport": "c01x 00t47"}, {"passport": "C01X00T47"}),
        ({"msisdn": "4917012345678"}, {"msisdn": "+4917012345678"}),
        ({"msisdn": "+4917012345678"}, {"msisdn": "+4917012345678"}),
        ({"imsi": "262011234567890"}, {"imsi": "262011234567890"}),
        ({"iccid": f" {ICCID} "}, {"iccid": ICCID}),
        ({"contract_number": " CO-1 "}, {"contract_number": "CO-1"}),
        ({"customer_number": "C-1"}, {"customer_number": "C-1"}),
    ],
)
def test_criteria_become_the_keys_the_store_writes(
    criteria: dict[str, Any], keys: dict[str, Any]
) -> None:
    assert SearchCriteria(**criteria).keys() == SearchKeys(**keys)


def test_every_criterion_has_a_key() -> None:
    """SearchCriteria and SearchKeys name the same criteria, so none is dropped on the way."""
    assert SearchCriteria.__dataclass_fields__.keys() == SearchKeys.__dataclass_fields__.keys()


# ----------------------------------------------------------------------------- refusals


def test_no_criterion_at_all_is_refused() -> None:
    assert refusals() == [("criteria", "required")]


@pytest.mark.parametrize(
    ("field", "minimum"),
    [("name", NAME_MIN_LENGTH), ("fuzzy_name", FUZZY_MIN_LENGTH), ("address", ADDRESS_MIN_LENGTH)],
)
def test_a_fragment_needs_its_minimum_of_letters_or_digits(field: str, minimum: int) -> None:
    assert refusals(**{field: "x" * (minimum - 1)}) == [(field, "min_length")]
    assert getattr(SearchCriteria(**{field: "x" * minimum}).keys(), field) == "x" * minimum


def test_the_minimums_are_two_three_and_three() -> None:
    assert (NAME_MIN_LENGTH, ADDRESS_MIN_LENGTH, FUZZY_MIN_LENGTH) == (2, 3, 3)


@pytest.mark.parametrize("typed", ["a b", "a-b", " A. B "])
def test_spaces_and_punctuation_do_not_count_towards_the_minimum(typed: str) -> None:
    assert SearchCriteria(name=typed).keys().name is not None
    assert refusals(fuzzy_name=typed) == [("fuzzy_name", "min_length")]


@pytest.mark.parametrize("typed", ["", "   ", "!!!", "é"])
def test_a_name_without_two_letters_or_digits_is_refused(typed: str) -> None:
    assert refusals(name=typed) == [("name", "min_length")]


def test_the_refusal_says_how_many_are_needed() -> None:
    with pytest.raises(ValidationFailed, match="give at least 3"):
        SearchCriteria(address="ab").keys()


@pytest.mark.parametrize("field", ["name", "fuzzy_name", "address", "tin", "city"])
def test_an_overlong_text_is_refused(field: str) -> None:
    assert refusals(**{field: "x" * (TEXT_MAX_LENGTH + 1)}) == [(field, "max_length")]


@pytest.mark.parametrize(
    "value", ["1984-02-30", "17.05.1984", "", "yesterday", datetime(1984, 5, 17, 12, 0)]
)
def test_an_invalid_birth_date_is_refused(value: Any) -> None:
    assert refusals(birth_date=value) == [("birth_date", "date")]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("msisdn", "01701234567"),
        ("msisdn", "+49 170 1234567"),
        ("msisdn", "1234"),
        ("imsi", "26201"),
        ("imsi", "26201123456789X"),
        ("iccid", "8912"),
        ("iccid", ICCID[:-1] + str((int(ICCID[-1]) + 1) % 10)),  # wrong Luhn digit
        ("email", "not-an-address"),
    ],
)
def test_a_malformed_identifier_is_refused(field: str, value: str) -> None:
    assert refusals(**{field: value}) == [(field, "format")]


@pytest.mark.parametrize("field", ["postcode", "tin", "contract_number", "customer_number"])
def test_an_empty_exact_key_is_refused(field: str) -> None:
    assert refusals(**{field: "  "}) == [(field, "min_length")]


def test_every_broken_criterion_is_reported_at_once() -> None:
    assert refusals(name="a", imsi="1", birth_date="x") == [
        ("name", "min_length"),
        ("birth_date", "date"),
        ("imsi", "format"),
    ]


# -------------------------------------------------------------------------------- pages


@pytest.mark.parametrize(
    ("limit", "offset", "refused"),
    [
        (1, 0, []),
        (LIMIT_MAX, 0, []),
        (50, 1000, []),
        (0, 0, ["limit"]),
        (LIMIT_MAX + 1, 0, ["limit"]),
        (-5, -1, ["limit", "offset"]),
    ],
)
def test_limit_is_one_to_five_hundred_and_offset_not_negative(
    limit: int, offset: int, refused: list[str]
) -> None:
    found = page_violations(limit, offset)
    assert [(v.field, v.rule) for v in found] == [(field, "range") for field in refused]


def test_search_validates_before_it_touches_the_database() -> None:
    """With no usable connection at all, bad input still ends in ValidationFailed, criteria
    and page together."""
    with pytest.raises(ValidationFailed) as caught:
        search(cast(Connection, None), SearchCriteria(name="a"), limit=0)
    assert [(v.field, v.rule) for v in caught.value.violations] == [
        ("name", "min_length"),
        ("limit", "range"),
    ]


def test_a_page_as_json_data_writes_dates_in_iso_form() -> None:
    page = SearchPage(
        total=2,
        items=[{"id": "1", "birth_date": date(1984, 5, 17)}, {"id": "2", "birth_date": None}],
        limit=1,
        offset=0,
    )
    assert page.as_dict() == {
        "total": 2,
        "limit": 1,
        "offset": 0,
        "items": [{"id": "1", "birth_date": "1984-05-17"}, {"id": "2", "birth_date": None}],
    }


# ----------------------------------------------------------------------------- trigrams


def test_trigrams_pad_each_word_like_pg_trgm() -> None:
    assert trigrams("ab c-d") == ["  a", " ab", "ab ", "  c", " c ", "  d", " d "]


@pytest.mark.parametrize(
    ("fragment", "name", "similarity"),
    [
        # Values PostgreSQL's word_similarity() returns for the same pairs.
        ("word", "two words", 0.8),
        ("mueler", "ana muller", 0.4),
        ("ana mueler", "bernd muller", 2 / 7),
        ("nordwnd", "nordwind gmbh", 0.625),
        ("muller ana", "ana muller", 1.0),
        ("abc", "xyz", 0.0),
    ],
)
def test_word_similarity_agrees_with_pg_trgm(fragment: str, name: str, similarity: float) -> None:
    assert word_similarity(fragment, name) == pytest.approx(similarity)


WORDS = st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True)


@given(st.lists(WORDS, min_size=1, max_size=4), st.integers(min_value=0, max_value=3))
def test_a_word_of_the_name_is_a_perfect_match(words: list[str], pick: int) -> None:
    assert word_similarity(words[pick % len(words)], " ".join(words)) == 1.0


@given(WORDS, st.lists(WORDS, max_size=4))
def test_word_similarity_is_between_zero_and_one(fragment: str, words: list[str]) -> None:
    assert 0.0 <= word_similarity(fragment, " ".join(words)) <= 1.0


def test_the_fts_query_quotes_every_trigram() -> None:
    """Each trigram is an FTS5 string, a double quote doubled: no character is syntax."""
    assert fts_trigram_query("ab*c") == '"ab*" OR "b*c"'
    assert fts_trigram_query('o"ne') == '"""ne" OR "o""n"'
