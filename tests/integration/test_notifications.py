"""The billing push endpoint over real HTTP: hand-built SOAP envelopes in, acknowledgements
or faults out; stored events applied into the canonical store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from lxml import etree
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from adapter.cli import main
from adapter.domain import Actor
from adapter.domain.model import (
    Account,
    Balance,
    Contract,
    ContractStatus,
    FreeUnitBucket,
    UsageRecord,
)
from adapter.notifications.apply import apply_event, event_status, pending_events
from adapter.notifications.server import RunningEndpoint, run_in_thread
from adapter.settings import Settings, get_settings
from adapter.store import tables as t
from adapter.store.uow import UnitOfWork
from tests.integration.conftest import Tree
from workers.app import create_app as create_worker_app
from workers.tasks.events import APPLY as EVENTS_APPLY

USER, PASSWORD = "billing", "notify-test-secret"
NS = "urn:bscs:notify:v1"
CAP = 65_536
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"


@pytest.fixture
def enqueued() -> list[str]:
    return []


@pytest.fixture
def endpoint(engine: Engine, enqueued: list[str]) -> Iterator[RunningEndpoint]:
    settings = Settings(
        notify_user=USER,
        notify_password=SecretStr(PASSWORD),
        notify_max_body_bytes=CAP,
        notify_enqueue=False,
    )
    with run_in_thread(settings, engine=engine, enqueue=enqueued.append) as running:
        yield running


def envelope(body: str, *, user: str = USER, password: str = PASSWORD) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
               xmlns:wsse="{WSSE}" xmlns:ntf="{NS}" xmlns:cil="urn:bscs:cil:v7">
  <soap:Header>
    <wsse:Security><wsse:UsernameToken>
      <wsse:Username>{user}</wsse:Username><wsse:Password>{password}</wsse:Password>
    </wsse:UsernameToken></wsse:Security>
  </soap:Header>
  <soap:Body>{body}</soap:Body>
</soap:Envelope>""".encode()


def head(event_id: str, user: str | None = None) -> str:
    who = f"<ntf:billingUser>{user}</ntf:billingUser>" if user else ""
    raised = "<ntf:raisedAt>2026-11-20T10:00:00Z</ntf:raisedAt>"
    return f"<ntf:eventId>{event_id}</ntf:eventId>{raised}{who}"


def money(name: str, amount: str) -> str:
    return (
        f"<ntf:{name}><cil:amount>{amount}</cil:amount><cil:currency>EUR</cil:currency>"
        f"</ntf:{name}>"
    )


def balance(event_id: str, account: str, as_of: str, current: str = "12.50") -> str:
    return (
        f"<ntf:balanceUpdatedNotification>{head(event_id, 'jdoe')}"
        f"<ntf:customer><cil:csIdPub>{account}</cil:csIdPub></ntf:customer>"
        f"{money('current', current)}{money('unbilled', '3.20')}{money('outstanding', '0')}"
        f"<ntf:asOf>{as_of}</ntf:asOf></ntf:balanceUpdatedNotification>"
    )


def contract_ref(number: str) -> str:
    return f"<ntf:contract><cil:coIdPub>{number}</cil:coIdPub></ntf:contract>"


def free_units(event_id: str, contract: str) -> str:
    return (
        f"<ntf:freeUnitsUpdatedNotification>{head(event_id)}{contract_ref(contract)}"
        "<ntf:asOf>2026-11-20T09:00:00Z</ntf:asOf>"
        "<ntf:freeUnit><ntf:fuPackId>FU_DATA</ntf:fuPackId><ntf:fuType>MB</ntf:fuType>"
        "<ntf:granted>1024</ntf:granted><ntf:used>100</ntf:used><ntf:remaining>924</ntf:remaining>"
        "<ntf:periodStart>2026-11-01</ntf:periodStart><ntf:periodEnd>2026-11-30</ntf:periodEnd>"
        "</ntf:freeUnit></ntf:freeUnitsUpdatedNotification>"
    )


def usage(event_id: str, contract: str, *udr_ids: int) -> str:
    records = "".join(
        f"<ntf:udr><ntf:udrId>{i}</ntf:udrId><ntf:startTime>2026-11-19T08:00:0{n}Z</ntf:startTime>"
        "<ntf:usageType>VOICE</ntf:usageType><ntf:direction>MO</ntf:direction>"
        "<ntf:otherParty>+4930123456</ntf:otherParty><ntf:durationSec>60</ntf:durationSec>"
        f"{money('charge', '0.09')}</ntf:udr>"
        for n, i in enumerate(udr_ids)
    )
    return (
        f"<ntf:usageRecordsNotification>{head(event_id)}{contract_ref(contract)}{records}"
        "</ntf:usageRecordsNotification>"
    )


def status_changed(event_id: str, contract: str, code: str, at: str) -> str:
    return (
        f"<ntf:contractStatusChangedNotification>{head(event_id)}{contract_ref(contract)}"
        f"<ntf:coStatus>{code}</ntf:coStatus><ntf:rsCode>ACT</ntf:rsCode>"
        f"<ntf:validFrom>{at}</ntf:validFrom></ntf:contractStatusChangedNotification>"
    )


def post(endpoint: RunningEndpoint, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        endpoint.url,
        content=body,
        headers={"Content-Type": "text/xml; charset=utf-8", **headers},
        timeout=10,
    )


def ack(response: httpx.Response) -> tuple[str | None, str | None]:
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    return root.findtext(f".//{{{NS}}}eventId"), root.findtext(f".//{{{NS}}}status")


def fault_of(response: httpx.Response) -> tuple[str, str, str]:
    root = etree.fromstring(response.content)
    return (
        root.findtext(".//faultcode") or "",
        root.findtext(".//{urn:bscs:cil:v7}code") or "",
        root.findtext(".//faultstring") or "",
    )


def stored_events(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.inbound_event)).scalar_one())


def load(engine: Engine, model: Any, **equals: Any) -> list[Any]:
    with UnitOfWork(engine, _reader()) as uow:
        return uow.find_by(model, **equals)


def _reader() -> Actor:
    """Reading needs a unit of work, which needs an actor; nothing is committed."""
    return Actor("test.reader", "pytest", "test", "read-only")


# ------------------------------------------------------------------------------ accepted


def test_balance_is_stored_acknowledged_then_applied_as_billing(
    endpoint: RunningEndpoint, engine: Engine, tree: Tree, enqueued: list[str]
) -> None:
    response = post(
        endpoint,
        envelope(balance("ev-bal-1", tree.account.number, "2026-11-20T10:00:00Z")),
        SOAPAction=f'"{NS}/BalanceUpdated"',
    )
    assert ack(response) == ("ev-bal-1", "received")
    assert enqueued == ["ev-bal-1"]
    assert event_status(engine, "ev-bal-1").status == "received"

    assert apply_event(engine, "ev-bal-1").status == "applied"
    [stored] = load(engine, Balance, account_id=tree.account.id)
    assert (stored.current, stored.unbilled, stored.currency) == (
        Decimal("12.50"),
        Decimal("3.20"),
        "EUR",
    )
    with engine.connect() as conn:
        change = conn.execute(
            select(t.change).where(t.change.c.request_id == "event-ev-bal-1")
        ).one()
    assert (change.principal, change.originating_user, change.channel) == (
        "billing",
        "jdoe",
        "billing-push",
    )


def test_duplicate_event_id_is_acknowledged_again_and_stored_once(
    endpoint: RunningEndpoint, engine: Engine, tree: Tree, enqueued: list[str]
) -> None:
    body = envelope(balance("ev-dup", tree.account.number, "2026-11-20T10:00:00Z"))
    assert ack(post(endpoint, body)) == ("ev-dup", "received")
    assert ack(post(endpoint, body)) == ("ev-dup", "duplicate")
    assert stored_events(engine) == 1
    assert enqueued == ["ev-dup"]
    apply_event(engine, "ev-dup")
    assert apply_event(engine, "ev-dup").status == "applied"  # applying again changes nothing


def test_free_units_usage_and_contract_status_are_applied(
    endpoint: RunningEndpoint, engine: Engine, tree: Tree
) -> None:
    number = tree.contract.number
    ack(post(endpoint, envelope(free_units("ev-fu", number))))
    ack(post(endpoint, envelope(usage("ev-udr", number, 7001, 7002))))
    ack(post(endpoint, envelope(status_changed("ev-st", number, "a", "2026-11-20T10:00:00Z"))))
    assert set(pending_events(engine)) == {"ev-fu", "ev-udr", "ev-st"}
    for event_id in ("ev-fu", "ev-udr", "ev-st"):
        assert apply_event(engine, event_id).status == "applied", event_status(engine, event_id)

    [bucket] = load(engine, FreeUnitBucket, contract_id=tree.contract.id)
    assert (bucket.package, bucket.unit, bucket.remaining) == ("FU_DATA", "mb", Decimal(924))
    lines = load(engine, UsageRecord, contract_id=tree.contract.id)
    assert sorted(r.id.rsplit("-", 1)[1] for r in lines) == ["7001", "7002"]
    assert {r.direction for r in lines} == {"outgoing"}
    [contract] = load(engine, Contract, number=number)
    assert contract.status is ContractStatus.ACTIVE

    # the same udr ids again, under a new event id: nothing is recorded twice
    ack(post(endpoint, envelope(usage("ev-udr-2", number, 7002, 7003))))
    assert apply_event(engine, "ev-udr-2").status == "applied"
    assert len(load(engine, UsageRecord, contract_id=tree.contract.id)) == 3


def test_customer_changed_sets_the_account_status(
    endpoint: RunningEndpoint, engine: Engine, tree: Tree
) -> None:
    body = (
        f"<ntf:customerChangedNotification>{head('ev-cust')}"
        f"<ntf:customer><cil:csIdPub>{tree.account.number}</cil:csIdPub></ntf:customer>"
        "<ntf:changed><ntf:csStatus>s</ntf:csStatus></ntf:changed>"
        "</ntf:customerChangedNotification>"
    )
    ack(post(endpoint, envelope(body)))
    assert apply_event(engine, "ev-cust").status == "applied"
    [account] = load(engine, Account, number=tree.account.number)
    assert account.status == "suspended"


# ------------------------------------------------------------------------------ rejected


def test_unknown_contract_is_recorded_as_rejected(
    endpoint: RunningEndpoint, engine: Engine, tree: Tree
) -> None:
    ack(post(endpoint, envelope(usage("ev-unknown", "CO-NOPE", 1))))
    status = apply_event(engine, "ev-unknown")
    assert status.status == "rejected"
    assert status.reason is not None
    assert status.reason["code"] == "NTF.EVT0404"
    assert "CO-NOPE" in status.reason["message"]


def test_usage_for_a_number_the_contract_does_not_have_is_rejected(
    endpoint: RunningEndpoint, engine: Engine, tree: Tree
) -> None:
    number = tree.other_subscriber.msisdn.lstrip("+")
    udr = usage("ev-dn", tree.contract.number, 8001).replace(
        "</ntf:udr>", f"<ntf:dnNum>{number}</ntf:dnNum></ntf:udr>"
    )
    ack(post(endpoint, envelope(udr)))
    assert apply_event(engine, "ev-dn").status == "applied"
    [line] = load(engine, UsageRecord, contract_id=tree.contract.id)
    assert line.subscriber_id == tree.other_subscriber.id

    stranger = udr.replace(number, "4915199999999").replace("ev-dn", "ev-dn-2")
    ack(post(endpoint, envelope(stranger.replace("8001", "8002"))))
    rejected = apply_event(engine, "ev-dn-2")
    assert rejected.status == "rejected"
    assert rejected.reason is not None and "4915199999999" in rejected.reason["message"]


def test_stale_balance_and_impossible_transition_are_rejected(
    endpoint: RunningEndpoint, engine: Engine, tree: Tree
) -> None:
    number = tree.account.number
    ack(post(endpoint, envelope(balance("ev-new", number, "2026-11-20T10:00:00Z", "5"))))
    ack(post(endpoint, envelope(balance("ev-old", number, "2026-11-19T10:00:00Z", "9"))))
    assert apply_event(engine, "ev-new").status == "applied"
    stale = apply_event(engine, "ev-old")
    assert stale.status == "rejected"
    assert stale.reason is not None and stale.reason["code"] == "NTF.EVT0409"
    [stored] = load(engine, Balance, account_id=tree.account.id)
    assert stored.current == Decimal(5)

    # on hold → suspended is not a move a contract can make
    body = status_changed("ev-bad-move", tree.contract.number, "s", "2026-11-20T10:00:00Z")
    ack(post(endpoint, envelope(body)))
    refused = apply_event(engine, "ev-bad-move")
    assert refused.status == "rejected"
    assert refused.reason is not None and "cannot go from" in refused.reason["message"]


# ------------------------------------------------------------------------------ refused


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (
            envelope(balance("ev-x", "A1", "2026-11-20T10:00:00Z"), password="wrong"),
            "NTF.SEC0002",
            "authentication failed",
        ),
        (
            envelope(balance("ev-x", "A1", "not-a-date")),
            "NTF.VAL0001",
            "asOf",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>'
            + envelope(balance("ev-x", "A1", "2026-11-20T10:00:00Z")).split(b"?>", 1)[1],
            "NTF.SOAP0001",
            "DOCTYPE",
        ),
        (
            envelope("<ntf:somethingElse/>"),
            "NTF.SOAP0003",
            "no operation",
        ),
    ],
    ids=["bad-credentials", "xsd-violation", "doctype", "unknown-operation"],
)
def test_bad_requests_get_a_clear_fault_and_nothing_is_stored(
    endpoint: RunningEndpoint, engine: Engine, body: bytes, code: str, words: str
) -> None:
    response = post(endpoint, body)
    assert response.status_code == 500
    faultcode, got, message = fault_of(response)
    assert (faultcode, got) == ("soap:Client", code), message
    assert words in message
    assert stored_events(engine) == 0


def test_missing_security_header_is_refused(endpoint: RunningEndpoint, engine: Engine) -> None:
    body = envelope(balance("ev-x", "A1", "2026-11-20T10:00:00Z"))
    start, end = body.index(b"<soap:Header>"), body.index(b"</soap:Header>")
    response = post(endpoint, body[:start] + body[end + len(b"</soap:Header>") :])
    assert fault_of(response)[1] == "NTF.SEC0001"
    assert stored_events(engine) == 0


def test_oversized_body_gets_413_and_a_fault(endpoint: RunningEndpoint, engine: Engine) -> None:
    filler = "<!--" + "x" * (CAP + 10) + "-->"
    response = post(endpoint, envelope(filler + balance("ev-big", "A1", "2026-11-20T10:00:00Z")))
    assert response.status_code == 413
    assert fault_of(response)[1] == "NTF.SOAP0004"
    assert stored_events(engine) == 0


def test_wsdl_and_schemas_are_served(endpoint: RunningEndpoint) -> None:
    wsdl = httpx.get(endpoint.url + "?wsdl", timeout=10)
    assert wsdl.status_code == 200
    root = etree.fromstring(wsdl.content)
    address = root.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address is not None and address.get("location") == endpoint.url
    names = {op.get("name") for op in root.iter("{http://schemas.xmlsoap.org/wsdl/}operation")}
    assert names == {
        "BalanceUpdated",
        "FreeUnitsUpdated",
        "UsageRecords",
        "CustomerChanged",
        "ContractStatusChanged",
    }
    xsd = httpx.get(endpoint.url + "?xsd=notifications.xsd", timeout=10)
    assert xsd.status_code == 200
    imported = etree.fromstring(xsd.content).find("{http://www.w3.org/2001/XMLSchema}import")
    assert imported is not None
    cil = httpx.get(str(imported.get("schemaLocation")), timeout=10)
    assert cil.status_code == 200 and b'targetNamespace="urn:bscs:cil:v7"' in cil.content
    assert httpx.get(endpoint.url + "?xsd=../secret", timeout=10).status_code == 404


def test_an_event_that_changes_nothing_is_still_applied(
    endpoint: RunningEndpoint, engine: Engine, tree: Tree
) -> None:
    """A price group (no canonical field yet) or a status the contract already has: the
    event is applied with an empty change, its summary saying what was ignored."""
    body = (
        f"<ntf:customerChangedNotification>{head('ev-prg')}"
        f"<ntf:customer><cil:csIdPub>{tree.account.number}</cil:csIdPub></ntf:customer>"
        "<ntf:changed><ntf:prgCode>PG_1</ntf:prgCode></ntf:changed>"
        "</ntf:customerChangedNotification>"
    )
    ack(post(endpoint, envelope(body)))
    assert apply_event(engine, "ev-prg").status == "applied"
    same = status_changed("ev-same", tree.contract.number, "o", "2026-11-20T10:00:00Z")
    ack(post(endpoint, envelope(same)))
    assert apply_event(engine, "ev-same").status == "applied"


def test_cli_applies_pending_events_and_shows_their_status(
    endpoint: RunningEndpoint, engine: Engine, tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    ack(post(endpoint, envelope(usage("ev-cli", tree.contract.number, 9001))))
    monkeypatch.setenv("CRM_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        applied = runner.invoke(main, ["notifications", "apply"])
        assert applied.exit_code == 0, applied.output
        assert '"status": "applied"' in applied.output
        shown = runner.invoke(main, ["notifications", "status", "ev-cli"])
        assert shown.exit_code == 0, shown.output
        assert '"operation": "UsageRecords"' in shown.output
        missing = runner.invoke(main, ["notifications", "status", "ev-nope"])
        assert missing.exit_code == 3, missing.output
    finally:
        get_settings.cache_clear()


def test_the_apply_task_is_routed_to_crm_events_and_applies_the_event(
    endpoint: RunningEndpoint, engine: Engine, tree: Tree, tmp_path: Path
) -> None:
    ack(post(endpoint, envelope(balance("ev-task", tree.account.number, "2026-11-20T10:00:00Z"))))
    settings = Settings(
        data_dir=tmp_path, database_url=engine.url.render_as_string(hide_password=False)
    )
    app = create_worker_app(settings)
    assert app.amqp.router.route({}, EVENTS_APPLY, (), {})["queue"].name == "crm.events"
    result = app.tasks[EVENTS_APPLY].apply(args=["ev-task"]).get()
    assert result == {"event_id": "ev-task", "status": "applied"}
    assert app.tasks[EVENTS_APPLY].apply(args=["ev-nope"]).get()["status"] == "unknown"


def test_concurrent_events_for_the_same_entities_are_retried_not_rejected(
    endpoint: RunningEndpoint, engine: Engine, tree: Tree
) -> None:
    """Two workers at once: two first balances of one account, two batches sharing udr ids.
    The loser of each race reads again and applies (or is stale), nothing fails."""
    number = tree.account.number
    ack(post(endpoint, envelope(balance("ev-c1", number, "2026-11-20T10:00:00Z", "1"))))
    ack(post(endpoint, envelope(balance("ev-c2", number, "2026-11-20T11:00:00Z", "2"))))
    ack(post(endpoint, envelope(usage("ev-u1", tree.contract.number, 1, 2, 3))))
    ack(post(endpoint, envelope(usage("ev-u2", tree.contract.number, 2, 3, 4))))
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = dict(
            zip(
                ["ev-c1", "ev-c2", "ev-u1", "ev-u2"],
                pool.map(lambda e: apply_event(engine, e), ["ev-c1", "ev-c2", "ev-u1", "ev-u2"]),
                strict=True,
            )
        )
    assert outcomes["ev-c2"].status == "applied"
    assert outcomes["ev-c1"].status in {"applied", "rejected"}, outcomes["ev-c1"]
    assert {outcomes["ev-u1"].status, outcomes["ev-u2"].status} == {"applied"}
    [stored] = load(engine, Balance, account_id=tree.account.id)
    assert stored.current == Decimal(2)
    assert len(load(engine, UsageRecord, contract_id=tree.contract.id)) == 4
