"""``crm-adapter sync drain`` and ``sync pending`` against the billing simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from adapter.cli import main
from adapter.cli_sync import EXIT_NOT_SENT
from adapter.requests.apply import request_status
from adapter.settings import get_settings
from adapter.testing.billing_sim import RunningSimulator
from tests.integration.conftest import SIM_PASSWORD, SIM_USER
from tests.integration.test_sync import customer_requests, submit_all


@pytest.fixture
def cli(
    engine: Engine, sim: RunningSimulator, admin: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("CRM_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CRM_BILLING_URL", sim.soap_url)
    monkeypatch.setenv("CRM_BILLING_USER", SIM_USER)
    monkeypatch.setenv("CRM_BILLING_PASSWORD", SIM_PASSWORD)
    monkeypatch.setenv("CRM_BILLING_RETRIES", "0")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_sync_pending_then_drain_by_customer_number(engine: Engine, cli: CliRunner) -> None:
    customer = submit_all(engine, customer_requests(21))
    pending = cli.invoke(main, ["sync", "pending", "--json"], catch_exceptions=False)
    assert pending.exit_code == 0, pending.output
    assert json.loads(pending.output) == [
        {"customer_id": customer, "status": "pending", "count": 4}
    ]
    done = cli.invoke(main, ["sync", "drain", "SY00021"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"{customer}: sent 1, 2, 3, 4; stopped: done")
    assert request_status(engine, "r21-discount").status == "synced"
    empty = cli.invoke(main, ["sync", "pending"], catch_exceptions=False)
    assert empty.output.strip() == "nothing pending"


def test_sync_drain_exits_3_when_billing_refuses(
    engine: Engine, cli: CliRunner, admin: httpx.Client
) -> None:
    submit_all(engine, customer_requests(22))
    rule = {"kind": "cms_fault", "operation": "ContractNew", "times": 1}
    fault = {"code": "CMS.RC6702", "message": "refused"}
    admin.put("/faults", json={"rules": [{**rule, "fault": fault}]}).raise_for_status()
    result = cli.invoke(main, ["sync", "drain", "SY00022"], catch_exceptions=False)
    assert result.exit_code == EXIT_NOT_SENT
    assert "stopped: fault" in result.output
    assert "CMS.RC6702" in result.output
    pending = cli.invoke(main, ["sync", "pending"], catch_exceptions=False)
    assert "failed  1" in pending.output
    assert "pending  2" in pending.output
