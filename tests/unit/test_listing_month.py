"""Months of a listing (``YYYY-MM``, UTC bounds) and the percentages of free units."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from adapter.domain.errors import ValidationFailed
from adapter.queries.balances import percent
from adapter.service.listings import parse_month


def test_a_month_runs_from_its_first_instant_to_the_next_months() -> None:
    month = parse_month("2024-02")
    assert (month.first, month.last) == (date(2024, 2, 1), date(2024, 2, 29))
    assert month.start == datetime(2024, 2, 1, tzinfo=UTC)
    assert month.end == datetime(2024, 3, 1, tzinfo=UTC)


def test_december_ends_at_the_next_year() -> None:
    assert parse_month("2025-12").end == datetime(2026, 1, 1, tzinfo=UTC)


def test_no_month_is_the_current_one() -> None:
    assert parse_month(None, today=date(2026, 11, 26)).text == "2026-11"


@pytest.mark.parametrize("text", ["2025-13", "2025-00", "25-01", "2025/01", "january", ""])
def test_a_malformed_month_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_month(text)
    assert caught.value.violations[0].field == "month"


def test_percentages_have_two_decimals_and_none_without_a_grant() -> None:
    assert percent(Decimal(1), Decimal(3)) == "33.33"
    assert percent(Decimal(2), Decimal(3)) == "66.67"
    assert percent(Decimal(0), Decimal(0)) is None
