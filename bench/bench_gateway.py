"""Gateway benchmark (issue 4): calls per second through the zeep gateway, beside the same call
as a hand-built lxml envelope posted by the same HTTP client (a ``requests.Session``, the one
zeep uses) to the same simulator, in one run. Goal: the gateway costs at most 2x the
hand-built call.

The billing simulator runs as a separate process (``crm-adapter billing-sim``), so that its
work does not share this process's interpreter lock with what is measured.

Operations: CustomerNew, ContractServicesAdd (one new service per call), BalancesRead.

Usage::

    .venv/bin/python bench/bench_gateway.py [--calls N]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pybreaker
import requests
import structlog
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapter.legacy import Gateway
from adapter.settings import Settings
from adapter.xmlsafe import parse

USER, PASSWORD = "bench", "bench-secret"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PROFILE_URI = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
TEXT_TYPE = f"{PROFILE_URI}#PasswordText"
CIL = "urn:bscs:cil:v7"
SERVICES = ("VOICE", "SMS", "MMS", "DATA", "ROAMING", "VOICEMAIL", "CLIP", "CLIR", "CALL_FWD")


def out(*parts: Any) -> None:
    print(*parts, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def simulator() -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("crm-adapter")),
                "billing-sim",
                "--port",
                str(port),
                "--data-dir",
                data,
                "--user",
                USER,
                "--password",
                PASSWORD,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "CRM_LOG_LEVEL": "WARNING"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.get(f"{base}/admin/health", timeout=1).raise_for_status()
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("the billing simulator did not start") from None
                    time.sleep(0.2)
            yield f"{base}/ws/cil"
        finally:
            process.terminate()
            process.wait(10)


# ------------------------------------------------------------------ hand-built client


def q(name: str) -> str:
    return f"{{{CIL}}}{name}"


def sub(parent: Any, name: str, text: str | None = None) -> Any:
    element = etree.SubElement(parent, q(name))
    if text is not None:
        element.text = text
    return element


def envelope(operation: str, fill: Callable[[Any], None]) -> bytes:
    root = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soapenv": SOAP, "cil": CIL})
    header = etree.SubElement(root, f"{{{SOAP}}}Header")
    security = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"wsse": WSSE})
    token = etree.SubElement(security, f"{{{WSSE}}}UsernameToken")
    etree.SubElement(token, f"{{{WSSE}}}Username").text = USER
    password = etree.SubElement(token, f"{{{WSSE}}}Password", Type=TEXT_TYPE)
    password.text = PASSWORD
    body = etree.SubElement(root, f"{{{SOAP}}}Body")
    request = sub(body, operation[0].lower() + operation[1:] + "Request")
    fill(sub(request, "inputAttributes"))
    item = sub(sub(sub(request, "sessionChangeRequest"), "values"), "item")
    sub(item, "key", "BU_ID")
    sub(item, "value", "1")
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return data


def hand_call(session: requests.Session, url: str, operation: str, data: bytes) -> Any:
    response = session.post(
        url,
        data=data,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{CIL}/{operation}"'},
        timeout=10,
    )
    root = parse(response.content, max_bytes=16 * 1024 * 1024, what="response")
    if response.status_code != 200:
        raise RuntimeError(f"{operation}: HTTP {response.status_code}")
    return root


def hand_customer_new(session: requests.Session, url: str, i: int) -> int:
    def fill(attrs: Any) -> None:
        sub(attrs, "paymentResp", "true")
        customer = sub(attrs, "customer")
        sub(customer, "partyType", "I")
        sub(customer, "firstName", "Anna")
        sub(customer, "lastName", f"Hand{i}")

    root = hand_call(session, url, "CustomerNew", envelope("CustomerNew", fill))
    return int(root.findtext(f".//{q('csId')}"))


def hand_services_add(session: requests.Session, url: str, co_id: int, code: str) -> None:
    def fill(attrs: Any) -> None:
        sub(sub(attrs, "contract"), "coId", str(co_id))
        sub(sub(sub(attrs, "services"), "service"), "snCodePub", code)

    root = hand_call(session, url, "ContractServicesAdd", envelope("ContractServicesAdd", fill))
    assert root.find(f".//{q('snCode')}") is not None


def hand_balances(session: requests.Session, url: str, cs_id: int) -> None:
    def fill(attrs: Any) -> None:
        sub(attrs, "csId", str(cs_id))

    root = hand_call(session, url, "BalancesRead", envelope("BalancesRead", fill))
    assert root.find(f".//{q('balances')}") is not None


# ------------------------------------------------------------------ measuring


def timed(calls: int, call: Callable[[int], Any]) -> list[float]:
    for i in range(min(5, calls)):  # warm-up
        call(-1 - i)
    found = []
    for i in range(calls):
        started = time.perf_counter()
        call(i)
        found.append(1000 * (time.perf_counter() - started))
    return found


def contracts(gateway: Gateway, count: int, first_dn: int) -> list[int]:
    cs_id = gateway.call(
        "CustomerNew",
        {"paymentResp": True, "customer": {"partyType": "O", "companyName": "Bench AG"}},
    )["csId"]
    return [
        gateway.call(
            "ContractNew",
            {"customer": {"csId": cs_id}, "rpCode": "RP_M", "dnNum": str(first_dn + i)},
        )["coId"]
        for i in range(count)
    ]


def report(name: str, gateway_ms: list[float], hand_ms: list[float]) -> None:
    g50, h50 = statistics.median(gateway_ms), statistics.median(hand_ms)
    g_rate, h_rate = 1000 * len(gateway_ms) / sum(gateway_ms), 1000 * len(hand_ms) / sum(hand_ms)
    ratio = statistics.mean(gateway_ms) / statistics.mean(hand_ms)
    verdict = "met" if ratio <= 2 else "MISSED"
    out(
        f"   {name:<20} gateway {g_rate:6.0f} calls/s (p50 {g50:5.2f} ms) | hand-built "
        f"{h_rate:6.0f} calls/s (p50 {h50:5.2f} ms) | gateway/hand {ratio:4.2f}x "
        f"(goal <= 2x: {verdict})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    out(f"date      {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}")
    out(
        f"machine   {os.cpu_count()} CPUs, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    out(f"calls     {args.calls} per operation and client, after 5 warm-up calls")
    with simulator() as url:
        session = requests.Session()
        gateway = Gateway(
            Settings(billing_url=url, billing_user=USER, billing_password=PASSWORD),
            breaker_storage=pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED),
            session=session,
        )
        per_contract = len(SERVICES)
        needed = (args.calls + 5) // per_contract + 1
        gateway_contracts = contracts(gateway, needed, 4915100000000)
        hand_contracts = contracts(gateway, needed, 4915200000000)
        cs_id = gateway.call(
            "CustomerNew", {"paymentResp": True, "customer": {"partyType": "I", "lastName": "B"}}
        )["csId"]

        def slot(i: int) -> tuple[int, str]:
            n = i + 5  # warm-up calls use -1..-5
            return n // per_contract, SERVICES[n % per_contract]

        out("results (each beside the hand-built call in the same run):")
        report(
            "CustomerNew",
            timed(
                args.calls,
                lambda i: gateway.call(
                    "CustomerNew",
                    {
                        "paymentResp": True,
                        "customer": {"partyType": "I", "firstName": "Anna", "lastName": f"Z{i}"},
                    },
                ),
            ),
            timed(args.calls, lambda i: hand_customer_new(session, url, i)),
        )

        def gateway_add(i: int) -> None:
            k, code = slot(i)
            gateway.call(
                "ContractServicesAdd",
                {
                    "contract": {"coId": gateway_contracts[k]},
                    "services": {"service": [{"snCodePub": code}]},
                },
            )

        def hand_add(i: int) -> None:
            k, code = slot(i)
            hand_services_add(session, url, hand_contracts[k], code)

        report("ContractServicesAdd", timed(args.calls, gateway_add), timed(args.calls, hand_add))
        report(
            "BalancesRead",
            timed(args.calls, lambda i: gateway.call("BalancesRead", {"csId": cs_id})),
            timed(args.calls, lambda i: hand_balances(session, url, cs_id)),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
