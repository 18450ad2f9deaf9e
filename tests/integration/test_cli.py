"""The crm-adapter command line, on each backend."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from adapter.cli import EXIT_INPUT, EXIT_STATE, main
from adapter.domain import Actor
from adapter.service.customers import update_customer
from adapter.settings import get_settings
from adapter.store.uow import UnitOfWork


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("CRM_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CRM_USER", "agent.cli")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, list(args), catch_exceptions=False)


def create(cli: CliRunner, number: str = "C-1") -> str:
    result = run(
        cli,
        "customer",
        "create",
        "--number",
        number,
        "--given-name",
        "Ana",
        "--family-name",
        "Müller",
        "--birth-date",
        "1984-05-17",
        "--email",
        "ana@example.com",
        "--json",
    )
    assert result.exit_code == 0, result.output
    return str(json.loads(result.output)["id"])


def test_customer_create_and_show(cli: CliRunner) -> None:
    customer_id = create(cli)
    shown = json.loads(run(cli, "customer", "show", "C-1", "--json").output)
    assert shown["customer"]["id"] == customer_id
    assert shown["customer"]["party"]["family_name"] == "Müller"


def test_customer_show_text_names_the_customer(cli: CliRunner) -> None:
    create(cli)
    assert "Customer C-1  Ana Müller" in run(cli, "customer", "show", "C-1").output


def test_customer_create_from_file(cli: CliRunner, tmp_path: Path) -> None:
    doc = tmp_path / "c.json"
    doc.write_text(
        json.dumps(
            {
                "customer_number": "ORG-9",
                "segment": "corporate",
                "party": {"kind": "organization", "name": "Nordwind GmbH"},
                "identifications": [{"type": "company_registration", "value": "HRB 1"}],
            }
        )
    )
    result = run(cli, "customer", "create", "--file", str(doc))
    assert result.exit_code == 0 and "created customer ORG-9" in result.output


def test_invalid_email_is_refused_with_the_field_named(cli: CliRunner) -> None:
    result = run(
        cli,
        "customer",
        "create",
        "--number",
        "C-2",
        "--given-name",
        "A",
        "--family-name",
        "B",
        "--email",
        "not-an-address",
    )
    assert result.exit_code == EXIT_INPUT
    assert "contact_media.0" in result.output and "not an e-mail address" in result.output


def test_duplicate_customer_number_is_refused(cli: CliRunner) -> None:
    create(cli)
    result = run(
        cli, "customer", "create", "--number", "C-1", "--given-name", "A", "--family-name", "B"
    )
    assert result.exit_code == EXIT_INPUT and "customer_number" in result.output


def test_history_lists_who_changed_what(cli: CliRunner) -> None:
    create(cli)
    entries = json.loads(run(cli, "history", "customer:C-1", "--json").output)
    assert entries[0]["originating_user"] == "agent.cli"
    assert entries[0]["channel"] == "cli" and entries[0]["op"] == "create"


def test_history_needs_kind_and_ref(cli: CliRunner) -> None:
    result = cli.invoke(main, ["history", "C-1"])
    assert result.exit_code == 2 and "KIND:REF" in result.output


def test_attributes_define_set_list_retire(cli: CliRunner) -> None:
    create(cli)
    assert (
        run(
            cli,
            "attributes",
            "define",
            "tier",
            "--label",
            "Tier",
            "--type",
            "enum",
            "--entity",
            "customer",
            "--enum-value",
            "gold",
            "--enum-value",
            "silver",
        ).exit_code
        == 0
    )
    assert run(cli, "attributes", "set", "customer:C-1", "tier", "gold").exit_code == 0
    view = json.loads(run(cli, "customer", "show", "C-1", "--json").output)
    assert list(view["attributes"].values()) == [{"tier": "gold"}]
    assert run(cli, "attributes", "retire", "tier").exit_code == 0
    listed = json.loads(run(cli, "attributes", "list", "--all", "--json").output)
    assert [(d["name"], d["status"]) for d in listed] == [("tier", "retired")]


def test_attribute_value_outside_the_enum_is_refused(cli: CliRunner) -> None:
    create(cli)
    run(
        cli,
        "attributes",
        "define",
        "tier",
        "--label",
        "Tier",
        "--type",
        "enum",
        "--entity",
        "customer",
        "--enum-value",
        "gold",
    )
    result = run(cli, "attributes", "set", "customer:C-1", "tier", "platinum")
    assert result.exit_code == EXIT_INPUT and "not one of: gold" in result.output


def test_restore_field_and_diff(cli: CliRunner, engine: Engine) -> None:
    customer_id = create(cli)
    with UnitOfWork(engine, Actor("agent.api", "pytest", "test", "cli-test-update")) as uow:
        update_customer(uow, customer_id, {"segment": "business"})
        uow.commit("customer.update")
    diff = json.loads(run(cli, "diff", f"customer:{customer_id}", "1", "2", "--json").output)
    assert diff == {"segment": {"old": "residential", "new": "business"}}
    result = run(cli, "restore", f"customer:{customer_id}", "--version", "1", "--field", "segment")
    assert result.exit_code == 0 and "as version 3" in result.output
    shown = json.loads(run(cli, "show", f"customer:{customer_id}").output)
    assert shown["segment"] == "residential"


def test_restore_of_missing_version_fails_clearly(cli: CliRunner) -> None:
    customer_id = create(cli)
    result = run(cli, "restore", f"customer:{customer_id}", "--version", "42")
    assert result.exit_code == EXIT_INPUT and "has no version 42" in result.output


def test_audit_verify_reports_intact_log(cli: CliRunner) -> None:
    create(cli)
    report = json.loads(run(cli, "audit", "verify", "--json").output)
    assert report["ok"] is True and report["changes"] == 1


def test_audit_verify_exits_non_zero_on_a_wrong_kept_head(cli: CliRunner) -> None:
    create(cli)
    result = run(cli, "audit", "verify", "--expect-head", "1:" + "0" * 64)
    assert result.exit_code == EXIT_STATE and "TAMPERED" in result.output


def test_versions_lists_each_version(cli: CliRunner) -> None:
    customer_id = create(cli)
    result = run(cli, "versions", f"customer:{customer_id}")
    assert result.output.startswith("v1") and "agent.cli" in result.output


def test_demo_console_script_prints_customer_and_history(tmp_path: Path) -> None:
    """The installed `crm-adapter` script runs the README's demo on a fresh data folder."""
    script = shutil.which("crm-adapter", path=str(Path(sys.executable).parent))
    assert script is not None, "the console script is not installed"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env["CRM_DATA_DIR"] = str(tmp_path / "var")
    done = subprocess.run(
        [script, "demo"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Customer DEMO-1001  Ana Müller" in done.stdout
    assert "History of subscriber +4917012340001" in done.stdout
    assert "Audit: intact" in done.stdout
    assert (tmp_path / "var" / "crm.sqlite3").exists()


def test_audit_head_printed_can_be_checked_later(cli: CliRunner) -> None:
    create(cli)
    head = run(cli, "audit", "head").output.strip()
    assert json.loads(run(cli, "audit", "head", "--json").output)["seq"] == 1
    assert run(cli, "audit", "verify", "--expect-head", head).exit_code == 0


def test_customer_create_with_a_required_attribute(cli: CliRunner) -> None:
    run(
        cli,
        "attributes",
        "define",
        "region_code",
        "--label",
        "Region",
        "--type",
        "string",
        "--entity",
        "customer",
        "--required",
    )
    refused = run(
        cli, "customer", "create", "--number", "C-9", "--given-name", "A", "--family-name", "B"
    )
    assert refused.exit_code == EXIT_INPUT and "region_code" in refused.output
    made = run(
        cli,
        "customer",
        "create",
        "--number",
        "C-9",
        "--given-name",
        "A",
        "--family-name",
        "B",
        "--attribute",
        "region_code=NORTH",
    )
    assert made.exit_code == 0, made.output
    view = json.loads(run(cli, "customer", "show", "C-9", "--json").output)
    assert list(view["attributes"].values()) == [{"region_code": "NORTH"}]


def test_versions_accepts_a_customer_number(cli: CliRunner) -> None:
    create(cli)
    listed = json.loads(run(cli, "versions", "customer:C-1", "--json").output)
    assert [v["version"] for v in listed] == [1]
    assert listed[0]["valid_from"].endswith("+00:00")


def test_bad_setting_is_reported_by_its_variable(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_LOG_FORMAT", "xml")
    get_settings.cache_clear()
    result = cli.invoke(main, ["audit", "verify"])
    assert result.exit_code == EXIT_INPUT and "CRM_LOG_FORMAT" in result.output


def _corporate_tree(engine: Engine) -> None:
    from tests import factories as f

    c = f.customer(customer_number="ORG-1")
    head = f.account(c, number="ORG-1.1", name="Head office", payment_responsible=True)
    branch = f.account(
        c, number="ORG-1.1.1", name="Branch", parent_id=head.id, payment_responsible=False
    )
    team = f.account(
        c, number="ORG-1.1.1.1", name="Team", parent_id=branch.id, payment_responsible=False
    )
    other = f.account(c, number="ORG-1.2", name="Other", payment_responsible=True)
    k = f.contract(team)
    s = f.subscriber(k, msisdn="+491705550001")
    with UnitOfWork(engine, Actor("setup", "pytest", "test", "cli-tree")) as uow:
        uow.add_all([c, head, branch, team, other, k, s])
        uow.commit("setup")


def test_hierarchy_show_draws_the_tree_with_payers(cli: CliRunner, engine: Engine) -> None:
    _corporate_tree(engine)
    drawn = run(cli, "hierarchy", "show", "ORG-1.1").output.splitlines()
    assert drawn[0] == "ORG-1.1  Head office  [pays]"
    assert drawn[1] == "└─ ORG-1.1.1  Branch  paid by ORG-1.1"
    assert drawn[2] == "   └─ ORG-1.1.1.1  Team  paid by ORG-1.1"


def test_hierarchy_payer_json(cli: CliRunner, engine: Engine) -> None:
    _corporate_tree(engine)
    found = json.loads(run(cli, "hierarchy", "payer", "ORG-1.1.1.1", "--json").output)
    assert found["payer"]["number"] == "ORG-1.1" and found["levels_up"] == 2


def test_hierarchy_move_and_pays(cli: CliRunner, engine: Engine) -> None:
    _corporate_tree(engine)
    assert run(cli, "hierarchy", "move", "ORG-1.1.1", "--under", "ORG-1.2").exit_code == 0
    found = json.loads(run(cli, "hierarchy", "payer", "ORG-1.1.1.1", "--json").output)
    assert found["payer"]["number"] == "ORG-1.2"
    assert run(cli, "hierarchy", "pays", "ORG-1.1.1", "--yes").exit_code == 0
    found = json.loads(run(cli, "hierarchy", "payer", "ORG-1.1.1.1", "--json").output)
    assert found["payer"]["number"] == "ORG-1.1.1"


def test_hierarchy_move_into_own_subtree_fails_clearly(cli: CliRunner, engine: Engine) -> None:
    _corporate_tree(engine)
    result = run(cli, "hierarchy", "move", "ORG-1.1", "--under", "ORG-1.1.1.1")
    assert result.exit_code == EXIT_INPUT and "cycle" in result.output


def test_hierarchy_move_needs_a_target(cli: CliRunner, engine: Engine) -> None:
    _corporate_tree(engine)
    result = run(cli, "hierarchy", "move", "ORG-1.1.1")
    assert result.exit_code == EXIT_INPUT and "--under" in result.output


def test_effective_lists_inherited_suppression(cli: CliRunner, engine: Engine) -> None:
    _corporate_tree(engine)
    from adapter.domain.model import Account, ListingSuppression

    with UnitOfWork(engine, Actor("setup", "pytest", "test", "cli-supp")) as uow:
        head = uow.find_by(Account, number="ORG-1.1")[0]
        uow.add(
            ListingSuppression(
                scope_type="account",
                customer_id=head.customer_id,
                account_id=head.id,
                reason="works council",
            )
        )
        uow.commit("setup")
    shown = run(cli, "effective", "+491705550001").output
    assert "listings SUPPRESSED" in shown and "inherited from account ORG-1.1" in shown
    data = json.loads(run(cli, "effective", "491705550001", "--json").output)
    assert data["listing_suppressed"] is True


def test_effective_with_a_bad_date_is_refused(cli: CliRunner, engine: Engine) -> None:
    _corporate_tree(engine)
    result = cli.invoke(main, ["effective", "+491705550001", "--on", "2026-13-01"])
    assert result.exit_code == 2 and "is not a date" in result.output


def test_customer_show_names_the_real_payer_of_each_account(cli: CliRunner, engine: Engine) -> None:
    _corporate_tree(engine)
    shown = run(cli, "customer", "show", "ORG-1").output
    assert "account ORG-1.1.1.1 Team (paid by ORG-1.1)" in shown
    view = json.loads(run(cli, "customer", "show", "ORG-1", "--json").output)
    assert {a["number"]: a["payer"] for a in view["accounts"]}["ORG-1.1.1"] == "ORG-1.1"
