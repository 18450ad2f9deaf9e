"""How a failed request becomes an HTTP answer (``adapter.api.writes``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from adapter.api.access import Caller
from adapter.api.errors import ApiError
from adapter.api.privileges import privileges_of
from adapter.api.writes import envelope_for, failure, request_id_from
from adapter.requests.apply import RequestStatus


def _failed(code: str, violations: list[dict[str, str]] | None = None) -> RequestStatus:
    reason: dict[str, Any] = {"code": code, "message": f"{code} happened", "violations": []}
    reason["violations"] = violations or []
    return RequestStatus(
        "r-1", "failed", "customer.update", None, None, reason, None, None, 1, datetime.now(UTC)
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("not_found", 404),
        ("stale_version", 409),
        ("conflict", 409),
        ("validation_failed", 422),
        ("invalid_envelope", 422),
        ("internal_error", 500),
    ],
)
def test_each_failure_code_has_its_status(code: str, status: int) -> None:
    assert failure(_failed(code)).status == status


def test_a_422_names_fields_as_the_client_wrote_them() -> None:
    violation = {"field": "payload.patch.party.birth_date", "rule": "date", "message": "bad"}
    error = failure(_failed("invalid_envelope", [violation]), "patch.")
    assert error.details == [{"field": "party.birth_date", "rule": "date", "message": "bad"}]
    assert error.message == "party.birth_date: bad"


def test_an_internal_error_hides_the_internals() -> None:
    error = failure(_failed("internal_error"))
    assert "internal_error happened" not in error.message and "r-1" in error.message


def test_the_envelope_names_the_caller_as_originating_user_on_the_api_channel() -> None:
    caller = Caller("kim", "backoffice", privileges_of("backoffice"), "t1")
    envelope = envelope_for(caller, "customer.update", {"customer": "c"}, request_id="k")
    assert (envelope["originating_user"], envelope["channel"], envelope["request_id"]) == (
        "kim",
        "api",
        "k",
    )


def test_an_idempotency_key_with_whitespace_is_refused() -> None:
    with pytest.raises(ApiError) as refused:
        request_id_from("two words")
    assert refused.value.status == 400
    assert request_id_from(None).startswith("api-")
