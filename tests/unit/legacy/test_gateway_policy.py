"""Gateway policy without a network: which failures are retried, how long it waits, when the
breaker opens. The calls themselves are replaced; the real HTTP path is tested against the
billing simulator in tests/integration/test_gateway.py."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pybreaker
import pytest
import requests
import zeep.exceptions
from lxml import etree

from adapter.legacy import BusinessFault, CircuitOpen, Gateway, TransientFailure
from adapter.legacy.gateway import _classify, _Exchange
from adapter.settings import Settings

CIL = "urn:bscs:cil:v7"


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "billing_url": "http://127.0.0.1:9/ws/cil",
        "billing_retries": 3,
        "billing_backoff": 0.5,
        "billing_breaker_failures": 5,
        "billing_breaker_reset": 30.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def gateway(waits: list[float]) -> Gateway:
    return Gateway(
        settings(),
        breaker_storage=pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED),
        sleep=waits.append,
        rng=random.Random(1),
    )


def failing(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, error: Callable[[], Exception]
) -> list[str]:
    calls: list[str] = []

    def send(operation: str, _attrs: Any) -> dict[str, Any]:
        calls.append(operation)
        raise error()

    monkeypatch.setattr(gateway, "_send", send)
    return calls


def test_a_transient_failure_is_retried_then_raised_with_the_attempt_count(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = failing(gateway, monkeypatch, lambda: TransientFailure("BalancesRead", "timeout", "x"))
    with pytest.raises(TransientFailure) as raised:
        gateway.call("BalancesRead", {"csId": 1})
    assert len(calls) == 4 and raised.value.attempts == 4


def test_backoff_grows_exponentially_with_full_jitter(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    failing(gateway, monkeypatch, lambda: TransientFailure("BalancesRead", "timeout", "x"))
    with pytest.raises(TransientFailure):
        gateway.call("BalancesRead", {"csId": 1})
    ceilings = [0.5, 1.0, 2.0]
    assert len(waits) == 3
    assert all(0 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    assert len(set(waits)) == 3  # jittered, not a fixed schedule


def test_a_business_fault_is_not_retried(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    calls = failing(
        gateway, monkeypatch, lambda: BusinessFault("CustomerRead", "CMS.RC6701", "no customer")
    )
    with pytest.raises(BusinessFault) as raised:
        gateway.call("CustomerRead", {"csId": 1})
    assert calls == ["CustomerRead"] and not waits and raised.value.code == "CMS.RC6701"


def test_the_breaker_opens_after_consecutive_transient_failures(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = failing(gateway, monkeypatch, lambda: TransientFailure("BalancesRead", "http_503", "x"))
    with pytest.raises(TransientFailure):
        gateway.call("BalancesRead", {"csId": 1})  # 4 failures
    with pytest.raises(CircuitOpen):
        gateway.call("BalancesRead", {"csId": 1})  # the 5th trips it, then no more calls
    assert len(calls) == 5


def test_an_open_breaker_refuses_without_calling_and_is_not_retried(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    gateway.breaker.open()
    calls = failing(gateway, monkeypatch, lambda: AssertionError("must not be called"))
    with pytest.raises(CircuitOpen, match="next trial in about 30 s"):
        gateway.call("BalancesRead", {"csId": 1})
    assert not calls and not waits


def test_business_faults_do_not_open_the_breaker(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing(gateway, monkeypatch, lambda: BusinessFault("CustomerRead", "CMS.RC6701", "none"))
    for _ in range(8):
        with pytest.raises(BusinessFault):
            gateway.call("CustomerRead", {"csId": 1})
    assert gateway.breaker.current_state == pybreaker.STATE_CLOSED


def test_an_unknown_operation_is_refused_before_any_call(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = failing(gateway, monkeypatch, lambda: AssertionError("must not be called"))
    with pytest.raises(BusinessFault, match="not a CIL operation"):
        gateway.call("CustomerDelete", {})
    assert not calls


def test_failures_are_kept_for_diagnosis_with_their_kind(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing(gateway, monkeypatch, lambda: BusinessFault("CustomerRead", "CMS.RC6701", "none"))
    with pytest.raises(BusinessFault):
        gateway.call("CustomerRead", {"csId": 1})
    kept = gateway.recent_failures[-1]
    assert (kept.operation, kept.kind, kept.attempts) == ("CustomerRead", "business", 1)


# ------------------------------------------------------------------ classification


def fault(code: str, detail: Any = None) -> zeep.exceptions.Fault:
    return zeep.exceptions.Fault("refused", code=code, detail=detail)


def cms_detail(code: str) -> Any:
    detail = etree.Element("detail")
    cms = etree.SubElement(detail, f"{{{CIL}}}cmsFault")
    etree.SubElement(cms, f"{{{CIL}}}code").text = code
    etree.SubElement(cms, f"{{{CIL}}}message").text = "no such customer"
    return detail


def exchange(status: int = 200, content_type: str = "text/xml", body: bytes = b"") -> _Exchange:
    return _Exchange(b"<req/>", body, status, content_type)


@pytest.mark.parametrize(
    ("error", "seen", "kind", "label"),
    [
        (
            fault("soap:Server", cms_detail("CMS.RC6701")),
            exchange(500),
            BusinessFault,
            "CMS.RC6701",
        ),
        (fault("soap:Client"), exchange(500), BusinessFault, "soap:Client"),
        (fault("soap:Server"), exchange(500), TransientFailure, "server_fault"),
        (requests.ReadTimeout("read timed out"), exchange(0), TransientFailure, "timeout"),
        (requests.ConnectionError("refused"), exchange(0), TransientFailure, "connection"),
        (
            zeep.exceptions.TransportError("Service Unavailable", status_code=503),
            exchange(503),
            TransientFailure,
            "http_503",
        ),
        (
            zeep.exceptions.TransportError("Not Found", status_code=404),
            exchange(404, "text/html", b"<!DOCTYPE html><html>404</html>"),
            TransientFailure,
            "html_page",
        ),
        (
            zeep.exceptions.TransportError("invalid XML", status_code=200),
            exchange(200, "text/xml", b"<soap:Envelope><soap:Bo"),
            TransientFailure,
            "malformed_response",
        ),
        (
            zeep.exceptions.TransportError("Unauthorized", status_code=401),
            exchange(401),
            BusinessFault,
            "HTTP.401",
        ),
        (
            zeep.exceptions.ValidationError("Missing element rpCode"),
            exchange(0),
            BusinessFault,
            "ADAPTER.INVALID_REQUEST",
        ),
    ],
)
def test_each_failure_is_classified(
    error: Exception, seen: _Exchange, kind: type[Exception], label: str
) -> None:
    classified = _classify("CustomerRead", error, seen)
    assert type(classified) is kind
    assert label == (
        classified.code if isinstance(classified, BusinessFault) else classified.reason  # type: ignore[attr-defined]
    )
