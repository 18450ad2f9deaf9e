"""Notifications built by ``adapter.notifications.client`` are what the push endpoint accepts:
each passes its parsing, authentication and XSD validation (``NotificationService.check``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from adapter.notifications.client import (
    FreeUnit,
    UsageLine,
    balance_updated,
    free_units_updated,
    soap_request,
    usage_records,
)
from adapter.notifications.endpoint import NotificationService
from adapter.settings import Settings
from adapter.soap import SoapError

AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
USER, PASSWORD = "billing", "client-test-secret"


@pytest.fixture(scope="module")
def service() -> NotificationService:
    settings = Settings(notify_user=USER, notify_password=SecretStr(PASSWORD))
    return NotificationService(settings, engine=None, enqueue=None)  # type: ignore[arg-type]


def built() -> list[tuple[str, Any]]:
    return [
        (
            "BalanceUpdated",
            balance_updated(
                "e-1",
                "A-1.1",
                current=Decimal("1.50"),
                unbilled=Decimal("0"),
                outstanding=Decimal("2"),
                as_of=AT,
                billing_user="jdoe",
            ),
        ),
        (
            "FreeUnitsUpdated",
            free_units_updated(
                "e-2",
                "K-1",
                [
                    FreeUnit(
                        "FU_DATA",
                        "MB",
                        Decimal(1024),
                        Decimal(100),
                        date(2026, 11, 1),
                        date(2026, 11, 30),
                    )
                ],
                as_of=AT,
            ),
        ),
        (
            "UsageRecords",
            usage_records(
                "e-3",
                "K-1",
                [
                    UsageLine(
                        1, AT, "VOICE", Decimal("0.09"), other_party="+4930123", duration_sec=60
                    ),
                    UsageLine(2, AT, "DATA", Decimal("0"), direction="MT", volume_bytes=1024),
                ],
                raised_at=AT,
            ),
        ),
    ]


@pytest.mark.parametrize(("operation", "notification"), built(), ids=lambda v: str(v)[:20])
def test_built_notification_passes_the_endpoints_checks(
    service: NotificationService, operation: str, notification: Any
) -> None:
    body = soap_request(notification, user=USER, password=PASSWORD)
    found, _payload, user = service.check(body, None)
    assert (found, user) == (operation, USER)


def test_remaining_free_units_are_granted_minus_used(service: NotificationService) -> None:
    unit = FreeUnit(
        "FU_VOICE", "MIN", Decimal(300), Decimal(95), date(2026, 11, 1), date(2026, 11, 30)
    )
    element = free_units_updated("e-4", "K-1", [unit], as_of=AT)
    remaining = element.findtext(".//{urn:bscs:notify:v1}remaining")
    assert Decimal(remaining) == Decimal(205)


def test_wrong_password_is_refused(service: NotificationService) -> None:
    body = soap_request(built()[0][1], user=USER, password="not-it")
    with pytest.raises(SoapError, match="authentication failed"):
        service.check(body, None)
