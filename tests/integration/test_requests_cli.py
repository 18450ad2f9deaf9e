"""`crm-adapter submit`, `requests status` and `requests schema`, end to end, with their exit
codes (2: bad input, 3: a request failed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from adapter.cli import EXIT_INPUT, EXIT_STATE, main
from adapter.domain import Actor
from adapter.requests.envelope import envelope_schema
from adapter.service.attributes import define_attribute
from adapter.settings import get_settings
from adapter.store.uow import UnitOfWork
from tests.integration.test_requests_docs import documented_examples


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("CRM_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    with UnitOfWork(engine, Actor("admin.jane", "pytest", "test", "setup-attributes")) as uow:
        define_attribute(
            uow,
            {
                "name": "loyalty_tier",
                "label": "Loyalty tier",
                "type": "enum",
                "entity_kind": "customer",
                "enum_values": ["bronze", "silver", "gold"],
            },
        )
        uow.commit("attributes.define")
    yield CliRunner()
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, list(args), catch_exceptions=False)


def write(path: Path, envelopes: list[Any]) -> str:
    path.write_text("\n".join(json.dumps(e) for e in envelopes) + "\n", encoding="utf-8")
    return str(path)


def update(request_id: str, customer: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "originating_user": "agent.ole",
        "channel": "selfcare",
        "operation": "customer.update",
        "payload": {"customer": customer, "patch": {"segment": "premium"}},
    }


def test_submit_applies_every_documented_request_and_status_shows_it(
    cli: CliRunner, tmp_path: Path
) -> None:
    examples = documented_examples()
    submitted = run(cli, "submit", write(tmp_path / "requests.jsonl", examples), "--json")
    assert submitted.exit_code == 0, submitted.output
    statuses = json.loads(submitted.output)
    assert [s["request_id"] for s in statuses] == [e["request_id"] for e in examples]
    assert {s["status"] for s in statuses} <= {"applied", "synced"}
    shown = run(cli, "requests", "status", examples[0]["request_id"], "--json")
    assert shown.exit_code == 0
    first = json.loads(shown.output)
    assert first["status"] == "applied"
    assert first["change_id"] == statuses[0]["change_id"]
    assert [e["operation"] for e in first["outbox"]] == ["CustomerNew", "CustomerInfoWrite"]
    text = run(cli, "requests", "status", examples[0]["request_id"]).output
    assert text.startswith(f"{examples[0]['request_id']}  applied  customer.create  change ")


def test_submit_exits_3_when_a_request_fails_and_prints_the_reason(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = run(cli, "submit", write(tmp_path / "one.json", [update("req-1", "C-404")]))
    assert result.exit_code == EXIT_STATE
    assert "req-1  failed  customer.update" in result.output
    assert "not_found: no customer 'C-404'" in result.output


def test_submit_exits_2_when_an_envelope_breaks_the_schema(cli: CliRunner, tmp_path: Path) -> None:
    bad = {**update("req-1", "C-1"), "operation": "customer.frobnicate"}
    result = run(cli, "submit", write(tmp_path / "bad.json", [bad, update("req-2", "C-404")]))
    assert result.exit_code == EXIT_INPUT
    assert "invalid_envelope: operation: unknown operation 'customer.frobnicate'" in result.output
    assert "req-2  failed" in result.output  # the next envelope was still handled


def test_submit_exits_2_for_a_file_that_is_not_json(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello", encoding="utf-8")
    result = run(cli, "submit", str(path))
    assert result.exit_code == EXIT_INPUT
    assert "not JSON" in result.output


def test_status_of_an_unknown_request_exits_3(cli: CliRunner) -> None:
    result = run(cli, "requests", "status", "req-never")
    assert result.exit_code == EXIT_STATE
    assert "no request 'req-never'" in result.output


def test_schema_prints_the_envelope_schema(cli: CliRunner) -> None:
    result = run(cli, "requests", "schema")
    assert result.exit_code == 0
    assert json.loads(result.output) == envelope_schema()
