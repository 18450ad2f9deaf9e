"""`crm-adapter dlq list|show|replay|discard`: failed requests kept with their original
envelope, PII masked, replayed once the cause is fixed or discarded, end to end through the
CLI (exit 2: bad input, 3: a replay failed again)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select, update

from adapter.cli import EXIT_INPUT, EXIT_STATE, main
from adapter.requests.apply import submit
from adapter.settings import get_settings
from adapter.store import tables as t
from tests.integration.test_requests_docs import documented_examples


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("CRM_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CRM_USER", "ops.kim")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, list(args), catch_exceptions=False)


def create(request_id: str = "req-create", number: str = "C-1001") -> dict[str, Any]:
    """The documented customer.create (an individual with a name, TIN and e-mail), without
    the custom attribute the test store does not define."""
    example = copy.deepcopy(documented_examples()[0])
    del example["payload"]["attributes"]
    example["request_id"] = request_id
    example["payload"]["customer_number"] = number
    return example


def update_(request_id: str, customer: str, expected: int | None = None) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "request_id": request_id,
        "originating_user": "agent.ole",
        "channel": "selfcare",
        "operation": "customer.update",
        "payload": {"customer": customer, "patch": {"segment": "premium"}},
    }
    if expected is not None:
        envelope["expected_version"] = expected
    return envelope


def listed(cli: CliRunner, *args: str) -> list[dict[str, Any]]:
    result = run(cli, "dlq", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    items: list[dict[str, Any]] = json.loads(result.output)["items"]
    return items


def changes_of(engine: Engine, request_id: str) -> int:
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count()).select_from(t.change).where(t.change.c.request_id == request_id)
        ).scalar_one()
    return int(count)


def test_refused_requests_are_listed_with_code_and_message_and_no_pii(
    engine: Engine, cli: CliRunner
) -> None:
    submit(engine, create())
    submit(engine, update_("req-ok", "C-1001", expected=1))
    submit(engine, update_("req-stale", "C-1001", expected=1))
    submit(engine, update_("req-unknown", "C-404"))
    bad = create("req-bad", "C-2002")
    del bad["payload"]["party"]["family_name"]
    submit(engine, bad)

    items = listed(cli)
    assert [(i["request_id"], i["code"]) for i in items] == [
        ("req-bad", "invalid_envelope"),
        ("req-unknown", "not_found"),
        ("req-stale", "stale_version"),
    ]
    assert "no customer 'C-404'" in items[1]["message"]
    assert [i["request_id"] for i in listed(cli, "--code", "not_found")] == ["req-unknown"]
    assert [i["request_id"] for i in listed(cli, "--operation", "customer.create")] == ["req-bad"]
    table = run(cli, "dlq", "list").output
    assert "req-unknown" in table and "not_found" in table and "1-3 of 3 dead letters" in table
    for output in (table, run(cli, "dlq", "list", "--json").output):
        assert "ana@example.com" not in output and "Ana" not in output


def logged(caplog: pytest.LogCaptureFixture, event: str, user: str) -> bool:
    """The CLI configures structlog through the stdlib: the event dict is the record's msg."""
    return any(
        isinstance(r.msg, dict) and r.msg.get("event") == event and r.msg.get("user") == user
        for r in caplog.records
    )


def test_show_masks_the_envelope_unless_unmasked_which_is_logged(
    engine: Engine, cli: CliRunner, caplog: pytest.LogCaptureFixture
) -> None:
    bad = create("req-bad")
    bad["payload"]["party"]["birth_date"] = "not a date"
    submit(engine, bad)

    shown = run(cli, "dlq", "show", "req-bad", "--json")
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.output)
    assert detail["reason"]["code"] == "invalid_envelope"
    assert detail["envelope"]["payload"]["customer_number"] == "C-1001"
    assert "ana@example.com" not in shown.output and "Müller" not in shown.output
    assert "ana@example.com" not in run(cli, "dlq", "show", "req-bad").output

    raw = run(cli, "dlq", "show", "req-bad", "--json", "--unmasked")
    assert json.loads(raw.stdout)["envelope"] == bad
    assert logged(caplog, "deadletter.shown_unmasked", "ops.kim")


def test_replay_after_the_cause_is_fixed_applies_once_and_leaves_the_list(
    engine: Engine, cli: CliRunner, caplog: pytest.LogCaptureFixture
) -> None:
    submit(engine, update_("req-early", "C-1001"))  # the customer does not exist yet
    assert [i["request_id"] for i in listed(cli)] == ["req-early"]
    submit(engine, create())

    replayed = run(cli, "-v", "dlq", "replay", "req-early")  # -v: info lines logged
    assert replayed.exit_code == 0, replayed.output
    assert "req-early  applied  customer.update" in replayed.output
    assert listed(cli) == []
    assert changes_of(engine, "req-early") == 1
    assert run(cli, "dlq", "replay", "req-early").exit_code == EXIT_INPUT  # not again
    assert changes_of(engine, "req-early") == 1
    status = json.loads(run(cli, "requests", "status", "req-early", "--json").output)
    assert status["reason"]["code"] == "replayed"
    assert [h["code"] for h in status["reason"]["history"]] == ["not_found"]
    assert logged(caplog, "deadletter.replay", "ops.kim")


def test_replay_of_a_still_broken_request_exits_3_and_keeps_every_reason(
    engine: Engine, cli: CliRunner
) -> None:
    submit(engine, update_("req-unknown", "C-404"))
    first = run(cli, "dlq", "replay", "req-unknown")
    assert first.exit_code == EXIT_STATE
    assert "not_found: no customer 'C-404'" in first.output
    assert run(cli, "dlq", "replay", "req-unknown").exit_code == EXIT_STATE

    detail = json.loads(run(cli, "dlq", "show", "req-unknown", "--json").output)
    assert detail["status"] == "failed"
    assert detail["attempts"] == 3
    assert detail["reason"]["code"] == "not_found"
    assert [h["code"] for h in detail["reason"]["history"]] == ["not_found", "not_found"]
    assert all(h["replayed_by"] == "ops.kim" for h in detail["reason"]["history"])
    assert [i["request_id"] for i in listed(cli)] == ["req-unknown"]


def test_discard_hides_it_from_the_list_but_all_shows_the_marker(
    engine: Engine, cli: CliRunner
) -> None:
    submit(engine, update_("req-unknown", "C-404"))
    result = run(cli, "dlq", "discard", "req-unknown", "--reason", "customer never existed")
    assert result.exit_code == 0, result.output
    assert "req-unknown  discarded by ops.kim" in result.output

    assert listed(cli) == []
    [item] = listed(cli, "--all")
    assert item["discarded"]["by"] == "ops.kim"
    assert item["discarded"]["reason"] == "customer never existed"
    assert "(discarded)" in run(cli, "dlq", "list", "--all").output
    again = run(cli, "dlq", "replay", "req-unknown")
    assert again.exit_code == EXIT_INPUT
    assert "was discarded" in again.output


@pytest.mark.parametrize("command", ["replay", "discard"])
def test_replay_or_discard_of_an_unknown_or_not_failed_request_exits_2(
    engine: Engine, cli: CliRunner, command: str
) -> None:
    submit(engine, create())
    extra = ["--reason", "x"] if command == "discard" else []
    unknown = run(cli, "dlq", command, "req-never", *extra)
    assert unknown.exit_code == EXIT_INPUT
    assert "no request 'req-never'" in unknown.output
    applied = run(cli, "dlq", command, "req-create", *extra)
    assert applied.exit_code == EXIT_INPUT
    assert "'req-create' is applied, not failed: not a dead letter" in applied.output


def test_a_poison_message_is_a_dead_letter_while_the_others_flow(
    engine: Engine, cli: CliRunner, tmp_path: Path
) -> None:
    poison = {"request_id": "req-poison", "operation": ["customer.update"], "payload": "?"}
    envelopes = [create(), poison, update_("req-after", "C-1001")]
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in envelopes), encoding="utf-8")
    assert run(cli, "submit", str(path)).exit_code == EXIT_INPUT

    [item] = listed(cli)
    assert (item["request_id"], item["code"], item["operation"]) == (
        "req-poison",
        "invalid_envelope",
        "(none)",
    )
    assert changes_of(engine, "req-after") == 1
    shown = json.loads(run(cli, "dlq", "show", "req-poison", "--json").output)
    assert shown["envelope"] == poison
    assert run(cli, "dlq", "replay", "req-poison").exit_code == EXIT_STATE


def test_replay_of_a_change_billing_refused_resends_its_outbox_rows(
    engine: Engine, cli: CliRunner
) -> None:
    submit(engine, create())
    with engine.begin() as conn:  # as the sync does on a business fault
        conn.execute(
            update(t.outbox)
            .where(t.outbox.c.request_id == "req-create", t.outbox.c.seq == 1)
            .values(status="failed", last_error="billing: customer number taken")
        )
        conn.execute(
            update(t.request)
            .where(t.request.c.request_id == "req-create")
            .values(
                status="failed",
                reason={"code": "billing_fault", "message": "number taken", "violations": []},
            )
        )
    detail = run(cli, "dlq", "show", "req-create").output
    assert "outbox 1:" in detail and "failed  billing: customer number taken" in detail

    replayed = run(cli, "dlq", "replay", "req-create")
    assert replayed.exit_code == 0, replayed.output
    assert "req-create  applied" in replayed.output
    with engine.connect() as conn:
        statuses = conn.execute(
            select(t.outbox.c.status).where(t.outbox.c.request_id == "req-create")
        ).scalars()
        assert set(statuses) == {"pending"}
    assert changes_of(engine, "req-create") == 1  # not applied again
    assert listed(cli) == []
