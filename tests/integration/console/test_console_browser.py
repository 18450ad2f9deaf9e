"""The console end to end, in headless Chromium against a real ``crm-adapter serve`` process
(SQLite, and PostgreSQL when ``CRM_TEST_DATABASE_URL`` is set): sign in, search, open a
customer, expand a deep hierarchy lazily, reveal a suppressed listing as a supervisor (audited)
and see it refused for an agent, restore a field from the history. Screenshots are saved under
``test-artifacts/console/``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapter.domain import Actor
from adapter.domain.model import (
    Account,
    FreeUnitBucket,
    ListingSuppression,
    Money,
    SuppressionScope,
    UsageRecord,
    UsageType,
)
from adapter.requests.apply import submit
from adapter.store import tables as t
from adapter.store.uow import UnitOfWork
from adapter.xmlsafe import parse as parse_xml
from tests import factories
from tests.integration.api.conftest import PII, RunningApi, create_customer, unique

from .conftest import shot

DEPTH = 100


def _actor(step: str) -> Actor:
    return Actor("console.test", "pytest", "test", unique(f"console-{step}"))


def backend_of(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "sqlite"


@pytest.fixture(scope="module")
def backend(api_store: str) -> str:
    return backend_of(api_store)


@pytest.fixture(scope="module")
def deep_chain(api_engine: Engine) -> list[Account]:
    """A customer whose accounts form a chain DEPTH levels deep (the root pays)."""
    owner = factories.customer(customer_number=unique("DEEP"))
    chain: list[Account] = []
    for level in range(DEPTH + 1):
        chain.append(
            Account(
                customer_id=owner.id,
                number=f"{owner.customer_number}.L{level:03d}",
                name=f"Level {level}",
                parent_id=chain[-1].id if chain else None,
                payment_responsible=level in (0, 50),
            )
        )
    with UnitOfWork(api_engine, _actor("deep")) as uow:
        uow.add_all([owner, *chain])
        uow.commit("customer.create")
    return chain


@pytest.fixture(scope="module")
def suppressed(api_engine: Engine) -> dict[str, Any]:
    """A subscriber whose account's listings are suppressed, with three usage lines this
    month and a free-unit package half used."""
    now = datetime.now(UTC)
    first = now.date().replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    owner = factories.customer(customer_number=unique("SUP"))
    account = factories.account(owner, number=f"{owner.customer_number}.1")
    contract = factories.contract(account)
    sim = factories.subscriber(contract)
    with UnitOfWork(api_engine, _actor("suppressed")) as uow:
        uow.add_all([owner, account, contract, sim])
        uow.add(
            ListingSuppression(
                scope_type=SuppressionScope.ACCOUNT,
                customer_id=owner.id,
                account_id=account.id,
                reason="works council agreement",
            )
        )
        uow.add(
            FreeUnitBucket(
                customer_id=owner.id,
                account_id=account.id,
                contract_id=contract.id,
                subscriber_id=sim.id,
                package="DATA_10GB",
                unit="mb",
                granted=Decimal(10240),
                used=Decimal(5120),
                period_start=first,
                period_end=last,
                as_of=now,
            )
        )
        for minute in range(3):
            uow.add(
                UsageRecord(
                    customer_id=owner.id,
                    account_id=account.id,
                    contract_id=contract.id,
                    subscriber_id=sim.id,
                    start_time=datetime.combine(first, datetime.min.time(), UTC)
                    + timedelta(minutes=minute + 1),
                    type=UsageType.VOICE,
                    other_party=f"+49301234{minute:03d}",
                    duration_seconds=60 + minute,
                    charge=Money(amount=Decimal("0.10"), currency="EUR"),
                )
            )
        uow.commit("customer.create")
    return {"customer": owner, "subscriber": sim, "account": account}


# ------------------------------------------------------------------------------ signing in


def test_signing_in_with_a_token_opens_the_search_page(
    signed_in: Callable[[str], Any], backend: str
) -> None:
    page = signed_in("agent")
    assert page.locator("header .who").inner_text().startswith(page.user.name)
    assert page.locator("#first-key").is_visible()
    shot(page, f"01-search-form-{backend}")


def test_an_unknown_token_is_refused_on_the_sign_in_page(
    browser: Any, api_server: RunningApi
) -> None:
    browser.clear_cookies()
    page = browser.new_page()
    try:
        page.goto(f"{api_server.base_url}/console/search")
        page.fill("#token", "crm_not-a-real-token")
        page.click("button[type=submit]")
        alert = page.locator("[role=alert]")
        assert "unknown or revoked" in alert.inner_text()
        assert "/console/sign-in" in page.url
    finally:
        page.close()


# ---------------------------------------------------------------------- search, customer


def test_searching_by_customer_number_opens_the_customer_with_pii_masked(
    signed_in: Callable[[str], Any], api_engine: Engine, backend: str
) -> None:
    made = create_customer(api_engine)
    page = signed_in("agent")
    page.fill("input[name=customer_number]", made["number"])
    page.press("input[name=customer_number]", "Enter")
    page.wait_for_selector("#results")
    assert "1 customer found" in page.locator("#results").inner_text()
    shot(page, f"02-search-results-{backend}")
    page.click(f"text={made['number']}")
    page.wait_for_selector("h1")
    body = page.locator("main").inner_text()
    assert made["number"] in page.locator("h1").inner_text()
    assert PII["tin"] not in body and PII["passport"] not in body
    assert "*********21" in body  # the TIN, masked for an agent (no pii.read)
    shot(page, f"03-customer-{backend}")


def test_the_customer_view_draws_free_unit_gauges(
    signed_in: Callable[[str], Any], suppressed: dict[str, Any], backend: str
) -> None:
    page = signed_in("agent")
    page.goto(page.url.replace("/search", f"/customers/{suppressed['customer'].id}"))
    gauge = page.locator("figure.gauge").first
    label = gauge.get_attribute("aria-label") or ""
    assert label == "DATA_10GB: 5120 of 10240 mb left"
    assert "50.0%" in gauge.inner_text()
    shot(page, f"04-customer-gauges-{backend}")


# --------------------------------------------------------------------------- hierarchy


def test_a_deep_hierarchy_expands_lazily_level_by_level_with_the_keyboard(
    signed_in: Callable[[str], Any], deep_chain: list[Account], backend: str
) -> None:
    page = signed_in("agent")
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url) if "/children" in r.url else None)
    base = page.url.replace("/search", "")
    page.goto(f"{base}/accounts/{deep_chain[0].id}/tree")
    page.wait_for_selector(f"[data-number='{deep_chain[1].number}']")
    assert page.locator(f"[data-number='{deep_chain[2].number}']").count() == 0  # not loaded
    tree = page.locator("#tree")
    tree.focus()
    for level in range(1, DEPTH + 1):
        tree.press("ArrowDown" if level == 1 else "ArrowRight")  # to the child just loaded
        if level < DEPTH:
            tree.press("ArrowRight")  # expand it: its children are fetched now
            page.wait_for_selector(f"[data-number='{deep_chain[level + 1].number}']")
    deepest = page.locator(f"[data-number='{deep_chain[DEPTH].number}']")
    assert deepest.get_attribute("aria-level") == str(DEPTH + 1)
    assert "focused" in (deepest.get_attribute("class") or "")
    assert len(requested) == DEPTH  # one lazy fetch per expanded level
    shot(page, f"05-deep-hierarchy-{backend}")
    with page.expect_download() as download:
        page.click("#export-svg")
    svg = parse_xml(open(download.value.path(), "rb").read())  # noqa: SIM115
    texts = "".join(svg.itertext())
    assert deep_chain[DEPTH].number in texts and deep_chain[0].number in texts
    tree.press("Enter")  # opens the focused account
    page.wait_for_url("**/customers/**")
    assert f"account-{deep_chain[DEPTH].id}" in page.url


def test_payers_are_marked_in_the_tree(
    signed_in: Callable[[str], Any], deep_chain: list[Account]
) -> None:
    page = signed_in("agent")
    page.goto(page.url.replace("/search", f"/accounts/{deep_chain[49].id}/tree"))
    child = page.locator(f"[data-number='{deep_chain[50].number}']")
    child.wait_for()
    assert "payer" in (child.get_attribute("class") or "").split()
    assert "payer" in (child.get_attribute("aria-label") or "")
    assert "Paid by" in page.locator("main").inner_text()


WIDE = 250


@pytest.fixture(scope="module")
def wide_root(api_engine: Engine) -> Account:
    """An account with WIDE children (more than one page of them)."""
    owner = factories.customer(customer_number=unique("WIDE"))
    top = Account(customer_id=owner.id, number=f"{owner.customer_number}.0", name="Top")
    kids = [
        Account(
            customer_id=owner.id,
            number=f"{owner.customer_number}.{n:04d}",
            name=f"Branch {n}",
            parent_id=top.id,
            payment_responsible=False,
        )
        for n in range(WIDE)
    ]
    with UnitOfWork(api_engine, _actor("wide")) as uow:
        uow.add_all([owner, top, *kids])
        uow.commit("customer.create")
    return top


def test_a_wide_level_loads_a_page_at_a_time_and_draws_only_what_is_in_view(
    signed_in: Callable[[str], Any], wide_root: Account, backend: str
) -> None:
    page = signed_in("agent")
    page.goto(page.url.replace("/search", f"/accounts/{wide_root.id}/tree"))
    page.wait_for_selector("[data-number$='.0000']")  # the first page of children is drawn
    tree = page.locator("#tree")
    tree.focus()
    tree.press("End")  # the "load more" row at the end of the first page
    assert "load 100 more of 150" in (page.locator("g.more").get_attribute("aria-label") or "")
    tree.press("Enter")
    page.locator("#tree-status", has_text="200 of 250").wait_for()
    drawn = page.locator("g.row").count()
    assert drawn < 100  # virtualised: only the rows around the window are in the DOM
    shot(page, f"12-wide-level-{backend}")


# ---------------------------------------------------------------------------- listings


def test_a_supervisor_reveals_a_suppressed_listing_and_the_reveal_is_audited(
    signed_in: Callable[[str], Any],
    suppressed: dict[str, Any],
    api_engine: Engine,
    backend: str,
) -> None:
    page = signed_in("supervisor")
    sim = suppressed["subscriber"]
    page.goto(page.url.replace("/search", f"/subscribers/{sim.id}/listings"))
    notice = page.locator("#suppressed-notice")
    assert "This listing is suppressed" in notice.inner_text()
    assert "works council agreement" in notice.inner_text()
    assert page.locator("#listing-lines").count() == 0
    shot(page, f"06-listing-suppressed-{backend}")
    page.click("#reveal")
    page.wait_for_selector("#listing-lines")
    assert page.locator("#listing-lines tbody tr").count() == 3
    assert "recorded in the audit log" in page.locator("#suppressed-notice").inner_text()
    shot(page, f"07-listing-revealed-{backend}")
    with api_engine.connect() as conn:
        c = t.change.c
        users = conn.execute(
            select(c.originating_user).where(c.operation == "listing.reveal")
        ).scalars()
        users = list(users)
    assert page.user.name in users


def test_an_agent_gets_no_reveal_button_and_a_forged_reveal_is_refused(
    signed_in: Callable[[str], Any], suppressed: dict[str, Any], backend: str
) -> None:
    page = signed_in("agent")
    sim = suppressed["subscriber"]
    listing = page.url.replace("/search", f"/subscribers/{sim.id}/listings")
    page.goto(listing)
    assert page.locator("#reveal").count() == 0
    assert "needs the privilege listings.suppressed.read" in page.locator("main").inner_text()
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(f"{listing}/reveal", form={"csrf": csrf or "", "month": ""})
    assert answer.status == 403
    assert "listings.suppressed.read" in answer.text()
    assert "+4930123" not in answer.text()
    page.set_content(answer.text())
    shot(page, f"08-listing-reveal-refused-{backend}")


# ----------------------------------------------------------------------------- history


def test_a_supervisor_restores_a_field_from_the_history(
    signed_in: Callable[[str], Any], api_engine: Engine, backend: str
) -> None:
    made = create_customer(api_engine)
    status = submit(
        api_engine,
        {
            "request_id": unique("console-rename"),
            "originating_user": "someone.else",
            "channel": "test",
            "operation": "customer.update",
            "payload": {"customer": made["id"], "patch": {"segment": "corporate"}},
        },
        principal="pytest",
    )
    assert status.status in ("applied", "synced"), status
    page = signed_in("supervisor")
    page.goto(page.url.replace("/search", f"/customers/{made['id']}/history"))
    button = page.locator("button[data-restore-field='segment']").first
    shot(page, f"09-history-{backend}")
    button.click()
    page.wait_for_selector("[role=status]")
    assert "restored customer" in page.locator("[role=status]").inner_text()
    assert "field segment" in page.locator("[role=status]").inner_text()
    newest = page.locator("li.entry").first
    assert page.user.name in newest.inner_text()
    assert "version.restore" in newest.inner_text()
    shot(page, f"10-history-restored-{backend}")
    page.goto(page.url.split("/customers/")[0] + f"/customers/{made['id']}")
    assert "residential" in page.locator(".title").inner_text()


def test_an_agent_sees_the_history_without_restore_buttons(
    signed_in: Callable[[str], Any], api_engine: Engine
) -> None:
    made = create_customer(api_engine)
    page = signed_in("agent")
    page.goto(page.url.replace("/search", f"/customers/{made['id']}/history"))
    assert page.locator("li.entry").count() >= 1
    assert page.locator("button[data-restore-field]").count() == 0
    assert "needs the privilege history.restore" in page.locator("main").inner_text()


# ------------------------------------------------------------------------ empty, errors


def test_an_unknown_customer_shows_a_clear_not_found_page(
    signed_in: Callable[[str], Any], backend: str
) -> None:
    page = signed_in("agent")
    answer = page.goto(page.url.replace("/search", "/customers/NO-SUCH-CUSTOMER"))
    assert answer is not None and answer.status == 404
    assert "NO-SUCH-CUSTOMER" in page.locator("[role=alert]").inner_text()
    shot(page, f"11-not-found-{backend}")


def test_a_customer_with_nothing_under_it_renders_without_errors(
    signed_in: Callable[[str], Any], api_engine: Engine
) -> None:
    bare = factories.customer(customer_number=unique("BARE"), identifications=[], addresses=[])
    with UnitOfWork(api_engine, _actor("bare")) as uow:
        uow.add(bare)
        uow.commit("customer.create")
    page = signed_in("agent")
    answer = page.goto(page.url.replace("/search", f"/customers/{bare.id}"))
    assert answer is not None and answer.status == 200
    text = page.locator("main").inner_text()
    assert "No accounts." in text and "No contracts." in text and "No free-unit packages." in text
