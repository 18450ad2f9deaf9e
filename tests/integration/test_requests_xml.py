"""`crm-adapter submit FILE` with BSCS-style XML request documents (wsdl/requests.xsd), end to
end on each backend: a document is mapped into its envelope, recorded and applied like a JSON
one; a refused document exits 2 and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select

from adapter.cli import EXIT_INPUT, main
from adapter.cli_requests import CLI_PRINCIPAL
from adapter.domain import Actor
from adapter.requests.xmldoc import REQUESTS_XSD
from adapter.service.attributes import define_attribute
from adapter.settings import get_settings
from adapter.store import tables as t
from adapter.store.uow import UnitOfWork
from tests.integration.test_requests_docs import documented_examples
from tests.unit.requests.xml_examples import DOCUMENTS, document


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The CLI on ``engine``'s store, with the attribute the documented examples set."""
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


def written(engine: Engine) -> tuple[int, int]:
    """Requests and changes in the store."""
    with engine.connect() as conn:
        requests = conn.execute(select(func.count()).select_from(t.request)).scalar_one()
        changes = conn.execute(select(func.count()).select_from(t.change)).scalar_one()
    return int(requests), int(changes)


def test_each_documented_request_submitted_as_xml_is_applied_as_its_json_envelope(
    cli: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    """The XML form of every example of docs/requests.md, submitted in the page's order, is
    applied by the CLI; the request keeps the envelope the JSON example gives, and the change
    carries the document's user and channel with the CLI as principal."""
    examples = documented_examples()
    for example in examples:
        path = tmp_path / f"{example['request_id']}.xml"
        path.write_text(DOCUMENTS[example["operation"]], encoding="utf-8")
        submitted = run(cli, "submit", str(path), "--json")
        assert submitted.exit_code == 0, (example["operation"], submitted.output)
        (status,) = json.loads(submitted.output)
        assert status["status"] in ("applied", "synced"), (example["operation"], status)
    with engine.connect() as conn:
        for example in examples:
            request = conn.execute(
                select(t.request.c.envelope).where(t.request.c.request_id == example["request_id"])
            ).scalar_one()
            assert request == example, example["operation"]
            change = conn.execute(
                select(t.change).where(t.change.c.request_id == example["request_id"])
            ).one()
            assert (change.originating_user, change.channel, change.principal) == (
                example["originating_user"],
                example["channel"],
                CLI_PRINCIPAL,
            )


def test_a_document_breaking_the_schema_exits_2_with_its_line_and_writes_nothing(
    cli: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    before = written(engine)
    text = DOCUMENTS["customer.create"].replace("<custCode>C-1001</custCode>", "")
    path = tmp_path / "bad.xml"
    path.write_text(text, encoding="utf-8")
    result = run(cli, "submit", str(path))
    assert result.exit_code == EXIT_INPUT
    line = text[: text.index("<individual>")].count("\n") + 1
    assert f"bad.xml: line {line}: the document does not match requests.xsd" in result.output
    assert "req:custCode" in result.output
    assert written(engine) == before


def test_a_document_with_an_entity_declaration_is_refused_and_writes_nothing(
    cli: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    before = written(engine)
    body = DOCUMENTS["discount.remove"].split("\n", 1)[1]
    path = tmp_path / "xxe.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE request [<!ENTITY id SYSTEM "file:///etc/hostname">]>\n'
        + body.replace("dsc-1001", "&id;"),
        encoding="utf-8",
    )
    result = run(cli, "submit", str(path))
    assert result.exit_code == EXIT_INPUT
    assert "DOCTYPE declaration (line 2), which is not accepted" in result.output
    assert written(engine) == before


def test_an_unknown_operation_element_exits_2_naming_it(
    cli: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    before = written(engine)
    path = tmp_path / "unknown.xml"
    path.write_text(document("xml-x", "  <customerMerge><custCode>C-1</custCode></customerMerge>"))
    result = run(cli, "submit", str(path))
    assert result.exit_code == EXIT_INPUT
    assert "line 6: <customerMerge> is not an operation of a request document" in result.output
    assert written(engine) == before


def test_a_valid_document_whose_envelope_breaks_a_payload_rule_is_recorded_failed(
    cli: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    """The JSON Schema still validates what the document maps to: an e-mail address the
    schema's text type lets through is refused by the envelope, and recorded like any
    refused envelope (under the document's request id, with the envelope as mapped)."""
    text = DOCUMENTS["customer.create"].replace("ana@example.com", "not-an-address")
    path = tmp_path / "mail.xml"
    path.write_text(text, encoding="utf-8")
    result = run(cli, "submit", str(path), "--json")
    assert result.exit_code == EXIT_INPUT
    (status,) = json.loads(result.output)
    assert status["status"] == "failed"
    assert status["reason"]["code"] == "invalid_envelope"
    assert [v["field"] for v in status["reason"]["violations"]] == ["payload.contact_media.0"]
    with engine.connect() as conn:
        changes = conn.execute(
            select(func.count()).select_from(t.change).where(t.change.c.request_id == "req-1001")
        ).scalar_one()
    assert changes == 0


def test_a_json_file_is_still_read_as_json(cli: CliRunner, tmp_path: Path) -> None:
    example = documented_examples()[0]
    path = tmp_path / "one.json"
    path.write_text("\n  " + json.dumps(example), encoding="utf-8")
    result = run(cli, "submit", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["request_id"] == example["request_id"]


def test_requests_schema_xml_prints_the_request_document_schema(cli: CliRunner) -> None:
    result = run(cli, "requests", "schema", "--xml")
    assert result.exit_code == 0
    assert result.output == REQUESTS_XSD.read_text(encoding="utf-8")
