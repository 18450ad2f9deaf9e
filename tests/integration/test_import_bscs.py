"""Bulk import of BSCS customer exports (adapter/importing/bscs.py), on each backend.

Files come from the export generator (customer numbers C00000001… in file order, so a
record's position is its number); lean records (one person, one contract) unless a test needs
organisations or custom attributes.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from structlog.testing import capture_logs

from adapter import xmlsafe
from adapter.cli import EXIT_INPUT, EXIT_STATE, main
from adapter.domain import Actor
from adapter.domain.attributes import AttributeDefinition
from adapter.importing import (
    BatchSizeMismatch,
    BrokenExport,
    ImportProgress,
    ImportReport,
    import_bscs_xml,
)
from adapter.logs import configure_logging
from adapter.mapping import Mappings, load_mappings
from adapter.queries.search import SearchCriteria, search
from adapter.settings import get_settings
from adapter.store import audit
from adapter.store import tables as t
from adapter.store.database import make_engine, upgrade
from adapter.store.reading import read_connection
from adapter.store.uow import UnitOfWork
from adapter.testing.export import write_customer_export
from adapter.xmlsafe import XmlRejected
from tests import factories as f

ROOT = Path(__file__).resolve().parents[2]
USER = "agent.migration"


def export(tmp_path: Path, customers: int, *, name: str = "export.xml", **options: Any) -> Path:
    path = tmp_path / name
    options.setdefault("profile", "lean")
    write_customer_export(path, customers, seed=4, **options)
    return path


def run(engine: Engine, path: Path, batch: int = 5, **options: Any) -> ImportReport:
    return import_bscs_xml(engine, path, user=USER, batch=batch, **options)


def changes(engine: Engine) -> list[Any]:
    with read_connection(engine) as conn:
        return list(conn.execute(select(t.change).order_by(t.change.c.id)))


def customer_numbers(engine: Engine) -> list[str]:
    with read_connection(engine) as conn:
        query = select(t.customer.c.customer_number).order_by(t.customer.c.customer_number)
        return list(conn.execute(query).scalars())


def rejects(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def stop_after(batches: int) -> Callable[[ImportProgress], None]:
    """A progress callback that interrupts the run once ``batches`` batches are committed."""

    def progress(step: ImportProgress) -> None:
        if step.committed and step.batch >= batches:
            raise KeyboardInterrupt(f"stopped after batch {step.batch}")

    return progress


# ------------------------------------------------------------------------- loading


def test_every_record_lands_in_one_audited_change_per_batch(engine: Engine, tmp_path: Path) -> None:
    report = run(engine, export(tmp_path, 12), batch=5)
    assert (report.read, report.imported, report.rejected, report.batches) == (12, 12, 0, 3)
    assert customer_numbers(engine) == [f"C{n:08d}" for n in range(1, 13)]
    written = changes(engine)
    assert [c.request_id for c in written] == [f"{report.import_id}-5-{k}" for k in (1, 2, 3)]
    assert {(c.originating_user, c.principal, c.channel, c.operation) for c in written} == {
        (USER, "crm-adapter-import", "migration", "import.batch")
    }
    with read_connection(engine) as conn:
        assert audit.verify(conn).ok


def test_imported_customers_are_findable_by_number_and_msisdn(
    engine: Engine, tmp_path: Path
) -> None:
    run(engine, export(tmp_path, 6))
    with read_connection(engine) as conn:
        by_number = search(conn, SearchCriteria(customer_number="C00000004"))
        msisdn = conn.execute(
            select(t.subscriber.c.msisdn).where(
                t.subscriber.c.customer_id == by_number.items[0]["id"]
            )
        ).scalar_one()
        by_msisdn = search(conn, SearchCriteria(msisdn=msisdn))
    assert by_number.total == 1
    assert [i["customer_number"] for i in by_msisdn.items] == ["C00000004"]


def test_an_organisation_lands_with_its_hierarchy_and_contracts(
    engine: Engine, tmp_path: Path
) -> None:
    """Full-profile records (organisations with sub-customers) load whole."""
    path = tmp_path / "export.xml"
    summary = write_customer_export(path, 12, seed=4)
    report = run(engine, path, batch=4)
    assert report.imported == 12
    with read_connection(engine) as conn:
        accounts = conn.execute(select(func.count()).select_from(t.account)).scalar_one()
        nested = conn.execute(
            select(func.count()).select_from(t.account).where(t.account.c.parent_id.is_not(None))
        ).scalar_one()
        assert audit.verify(conn).ok
    assert accounts == summary.accounts > 12 and nested > 0


# ------------------------------------------------------------------------- rejects


def test_rejected_records_are_reported_with_reasons_and_not_stored(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "export.xml"
    summary = write_customer_export(path, 40, seed=4, profile="lean", bad_fraction=0.2)
    assert set(summary.bad.values()) == {"email", "iccid", "service_code"}
    report = run(engine, path, batch=10)
    lines = rejects(path.with_name("export.xml.rejects.jsonl"))
    assert {line["customer_number"] for line in lines} == set(summary.bad)
    assert report.rejected == len(summary.bad) and report.imported == 40 - len(summary.bad)
    for line in lines:
        assert line["position"] == int(line["customer_number"][1:])
        assert line["reasons"] and all(
            set(r) == {"field", "rule", "message"} for r in line["reasons"]
        )
    rules = {r["rule"] for line in lines for r in line["reasons"]}
    assert {"enum:service_codes", "value_error"} <= rules
    assert not set(summary.bad) & set(customer_numbers(engine))


def test_the_reject_report_is_readable_by_its_owner_only(engine: Engine, tmp_path: Path) -> None:
    path = export(tmp_path, 10, bad_fraction=0.3)
    target = tmp_path / "rejects.jsonl"
    target.write_text("")
    target.chmod(0o644)
    run(engine, path, report_path=target)
    assert target.stat().st_mode & 0o777 == 0o600
    assert rejects(target)


@pytest.mark.parametrize("taken", ["customer_number", "msisdn"])
def test_a_record_that_conflicts_with_stored_data_is_rejected_and_its_batch_lands(
    engine: Engine, tmp_path: Path, actor: Callable[..., Actor], taken: str
) -> None:
    path = export(tmp_path, 5)
    owner = f.customer(customer_number="C00000003" if taken == "customer_number" else "X-1")
    entities: list[Any] = [owner]
    if taken == "msisdn":
        account = f.account(owner)
        contract = f.contract(account)
        entities += [account, contract, f.subscriber(contract, msisdn=_msisdn_of(path, 3))]
    with UnitOfWork(engine, actor()) as uow:
        uow.add_all(entities)
        uow.commit("setup")
    report = run(engine, path, batch=5)
    assert (report.imported, report.rejected, report.batches_retried) == (4, 1, 1)
    (line,) = rejects(path.with_name("export.xml.rejects.jsonl"))
    assert line["customer_number"] == "C00000003"
    assert [r["rule"] for r in line["reasons"]] == ["unique"]
    numbers = customer_numbers(engine)
    assert {"C00000001", "C00000002", "C00000004", "C00000005"} <= set(numbers)
    ids = [c.request_id for c in changes(engine) if c.channel == "migration"]
    prefix = f"{report.import_id}-5-1"
    assert ids == [f"{prefix}-r1", f"{prefix}-r2", f"{prefix}-r4", f"{prefix}-r5", prefix]


def _msisdn_of(path: Path, position: int) -> str:
    mappings = load_mappings()
    with path.open("rb") as stream:
        for index, element in enumerate(
            xmlsafe.iterparse(stream, mappings.record_tag("customer")), 1
        ):
            if index == position:
                return str(mappings.document("customer", element)["subscribers"][0]["msisdn"])
    raise AssertionError(position)


def test_a_customer_given_twice_in_a_file_is_rejected_the_second_time(
    engine: Engine, tmp_path: Path
) -> None:
    path = export(tmp_path, 4)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    record = lines[3]  # the XML declaration and the root element come first: C00000002
    assert "<csIdPub>C00000002</csIdPub>" in record
    path.write_text("".join([*lines[:-1], record, lines[-1]]), encoding="utf-8")
    report = run(engine, path, batch=2)
    assert (report.read, report.imported, report.rejected) == (5, 4, 1)
    (line,) = rejects(path.with_name("export.xml.rejects.jsonl"))
    assert (line["position"], line["reasons"][0]["rule"]) == (5, "duplicate")


# ------------------------------------------------------------------------- attributes


def test_missing_attribute_definitions_are_created_before_the_values(
    engine: Engine, tmp_path: Path
) -> None:
    report = run(engine, export(tmp_path, 20, profile="mixed"), batch=10)
    assert report.imported == 20 and report.definitions
    first = changes(engine)[0]
    assert first.operation == "import.definitions"
    assert first.request_id == f"{report.import_id}-10-1-definitions"
    with read_connection(engine) as conn:
        stored = conn.execute(select(t.attribute_definition.c.data)).scalars()
        types = {data["name"]: data["type"] for data in stored}
        values = conn.execute(select(func.count()).select_from(t.attribute_value)).scalar_one()
    assert set(types) == set(report.definitions) and set(types.values()) == {"string"}
    assert values > 0


def test_a_value_its_stored_definition_refuses_rejects_the_record(
    engine: Engine, tmp_path: Path, actor: Callable[..., Actor]
) -> None:
    with UnitOfWork(engine, actor()) as uow:
        uow.add(
            AttributeDefinition(
                name="loyalty_tier",
                label="Loyalty tier",
                type="enum",
                entity_kind="customer",
                enum_values=["gold"],
            )
        )
        uow.commit("setup")
    path = export(tmp_path, 30, profile="mixed")
    report = run(engine, path, batch=10)
    lines = rejects(path.with_name("export.xml.rejects.jsonl"))
    assert report.rejected == len(lines) > 0
    assert {(r["field"], r["rule"]) for line in lines for r in line["reasons"]} == {
        ("attributes.loyalty_tier", "enum")
    }
    assert "loyalty_tier" not in report.definitions


def test_a_required_attribute_the_file_lacks_rejects_each_record(
    engine: Engine, tmp_path: Path, actor: Callable[..., Actor]
) -> None:
    """The store's rule, met when the batch is refused and its records are tried alone."""
    with UnitOfWork(engine, actor()) as uow:
        uow.add(
            AttributeDefinition(
                name="tariff_zone",
                label="Zone",
                type="string",
                entity_kind="customer",
                required=True,
            )
        )
        uow.commit("setup")
    path = export(tmp_path, 3)
    report = run(engine, path)
    assert (report.imported, report.rejected, report.batches_retried) == (0, 3, 1)
    lines = rejects(path.with_name("export.xml.rejects.jsonl"))
    assert {(r["field"], r["rule"]) for line in lines for r in line["reasons"]} == {
        ("attributes.tariff_zone", "required")
    }
    assert customer_numbers(engine) == []


# ------------------------------------------------------------------------- resuming


def test_a_resumed_import_loads_the_rest_exactly_once(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = export(tmp_path, 23, bad_fraction=0.15)
    with pytest.raises(KeyboardInterrupt):
        run(engine, path, batch=5, progress=stop_after(2))
    assert (
        len(customer_numbers(engine)) + len(rejects(path.with_name("export.xml.rejects.jsonl")))
        == 10
    )
    mappings = load_mappings()
    mapped = _count_documents(mappings, monkeypatch)
    report = run(engine, path, batch=5, mappings=mappings)
    assert (report.skipped, report.batches_skipped, report.batches) == (10, 2, 3)
    assert mapped() == 13  # the committed batches were not mapped again
    numbers = customer_numbers(engine)
    lines = rejects(path.with_name("export.xml.rejects.jsonl"))
    assert len(numbers) == len(set(numbers)) and len(numbers) + len(lines) == 23
    assert sorted(line["position"] for line in lines) == sorted(
        {line["position"] for line in lines}
    )
    assert [c.request_id.rsplit("-", 1)[1] for c in changes(engine)] == ["1", "2", "3", "4", "5"]
    with read_connection(engine) as conn:
        assert audit.verify(conn).ok


def _count_documents(mappings: Mappings, monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    calls = 0
    document = mappings.document

    def counting(name: str, element: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return document(name, element)

    monkeypatch.setattr(mappings, "document", counting)
    return lambda: calls


def test_a_complete_rerun_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = export(tmp_path, 12, bad_fraction=0.5)
    first = run(engine, path)
    report_file = path.with_name("export.xml.rejects.jsonl")
    before = (len(changes(engine)), report_file.read_bytes())
    again = run(engine, path)
    assert (again.read, again.skipped, again.imported, again.rejected) == (12, 12, 0, 0)
    assert (len(changes(engine)), report_file.read_bytes()) == before
    assert first.rejected > 0


def test_resuming_with_another_batch_size_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = export(tmp_path, 12)
    with pytest.raises(KeyboardInterrupt):
        run(engine, path, batch=5, progress=stop_after(1))
    with pytest.raises(BatchSizeMismatch, match=r"--batch 5\b.*not 4"):
        run(engine, path, batch=4)
    assert len(customer_numbers(engine)) == 5


# ------------------------------------------------------------------------- hostile files


def test_a_malformed_file_stops_the_import_and_keeps_the_committed_batches(
    engine: Engine, tmp_path: Path
) -> None:
    good = export(tmp_path, 14)
    lines = good.read_text(encoding="utf-8").splitlines(keepends=True)
    broken = tmp_path / "broken.xml"
    # cut in the middle of record 13 (the declaration and the root element come first):
    # records 1-12 parse, batch 3 (records 11-15) never completes
    broken.write_text("".join([*lines[:14], lines[14][:200]]))
    with pytest.raises(BrokenExport, match="not well-formed") as caught:
        run(engine, broken, batch=5)
    assert caught.value.report.imported == 10
    assert len(customer_numbers(engine)) == 10
    broken.write_text(good.read_text(encoding="utf-8"))  # the file fixed
    report = run(engine, broken, batch=5)
    assert (report.imported, report.skipped) == (4, 10)
    assert customer_numbers(engine) == [f"C{n:08d}" for n in range(1, 15)]


HOSTILE = {
    "external entity": (
        '<?xml version="1.0"?>\n<!DOCTYPE customerExport [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        '<customerExport xmlns="urn:bscs:export:v1"><customer><csIdPub>&x;</csIdPub>'
        "</customer></customerExport>\n"
    ),
    "entity expansion": (
        '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>\n'
        '<customerExport xmlns="urn:bscs:export:v1"><customer><csIdPub>&b;</csIdPub>'
        "</customer></customerExport>\n"
    ),
    "undeclared entity": (
        '<?xml version="1.0"?>\n<customerExport xmlns="urn:bscs:export:v1"><customer>'
        "<csIdPub>&x;</csIdPub></customer></customerExport>\n"
    ),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_doctype_or_entity_stops_the_import_before_anything_is_read(
    engine: Engine, tmp_path: Path, kind: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    path = tmp_path / "hostile.xml"
    path.write_text(HOSTILE[kind].replace("{secret}", str(secret)))
    with pytest.raises(XmlRejected, match=r"DOCTYPE|not well-formed") as caught:
        run(engine, path)
    assert "TOP-SECRET-VALUE" not in str(caught.value)
    assert changes(engine) == [] and customer_numbers(engine) == []
    assert "TOP-SECRET" not in path.with_name("hostile.xml.rejects.jsonl").read_text()


# ------------------------------------------------------------------------- two processes


def test_reading_in_a_second_process_gives_the_same_import(engine: Engine, tmp_path: Path) -> None:
    """parallel=True (the default for large files on PostgreSQL): the same records land, the
    same ones are rejected, and a resumed run skips what the first committed."""
    path = tmp_path / "export.xml"
    summary = write_customer_export(path, 18, seed=4, profile="mixed", bad_fraction=0.2)
    with pytest.raises(KeyboardInterrupt):
        run(engine, path, batch=5, progress=stop_after(1), parallel=True)
    report = run(engine, path, batch=5, parallel=True)
    assert (report.skipped, report.imported + report.rejected) == (5, 13)
    lines = rejects(path.with_name("export.xml.rejects.jsonl"))
    assert {line["customer_number"] for line in lines} == set(summary.bad)
    assert len(customer_numbers(engine)) == 18 - len(summary.bad)
    assert report.reader_peak_rss_mib > 0


def test_a_malformed_file_stops_an_import_read_in_a_second_process(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    lines = export(tmp_path, 8).read_text(encoding="utf-8").splitlines(keepends=True)
    broken = tmp_path / "broken.xml"
    broken.write_text("".join([*lines[:8], lines[8][:100]]))  # cut inside record 7
    with pytest.raises(BrokenExport, match="not well-formed"):
        run(sqlite_engine, broken, batch=3, parallel=True)
    assert len(customer_numbers(sqlite_engine)) == 6


# ------------------------------------------------------------------------- logs


def test_logs_carry_counts_but_no_customer_data(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    summary = write_customer_export(path, 10, seed=4, profile="lean", bad_fraction=0.4)
    with capture_logs() as events:
        run(engine, path)
    names = [e["event"] for e in events]
    assert "import.started" in names and "import.finished" in names
    text = json.dumps(events, default=str)
    assert summary.bad and not any(number in text for number in summary.bad)
    assert "@" not in text and "C0000000" not in text


# ------------------------------------------------------------------------- command line


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CRM_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CRM_USER", "agent.cli")
    get_settings.cache_clear()
    return CliRunner()


def invoke(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, list(args), catch_exceptions=False)


def test_cli_writes_a_sample_export_and_imports_it(
    cli: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "sample.xml"
    written = invoke(
        cli, "import", "sample-export", str(path), "--customers", "7", "--profile", "lean"
    )
    assert written.exit_code == 0 and "wrote 7 customers" in written.output
    done = invoke(cli, "import", "bscs-xml", str(path), "--batch", "3")
    assert done.exit_code == 0, done.output
    assert "imported 7 of 7 customers" in done.output and "3 batches of 3 written" in done.output
    assert {c.originating_user for c in changes(engine)} == {"agent.cli"}


def test_cli_json_report(cli: CliRunner, tmp_path: Path) -> None:
    path = export(tmp_path, 4, bad_fraction=0.5)
    report = tmp_path / "out" / "rejects.jsonl"
    report.parent.mkdir()
    done = invoke(
        cli, "import", "bscs-xml", str(path), "--json", "--report", str(report), "--user", "u1"
    )
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["read"] == 4 and data["imported"] + data["rejected"] == 4
    assert data["report_path"] == str(report) and "customers_per_second" in data


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("doctype", EXIT_INPUT, "DOCTYPE"),
        ("missing", 2, "does not exist"),
        ("batch mismatch", EXIT_STATE, "--batch 5"),
    ],
)
def test_cli_exit_codes(
    cli: CliRunner, engine: Engine, tmp_path: Path, case: str, code: int, message: str
) -> None:
    path = export(tmp_path, 6)
    if case == "doctype":
        path.write_text(HOSTILE["entity expansion"])
    elif case == "missing":
        path = tmp_path / "nowhere.xml"
    else:
        with pytest.raises(KeyboardInterrupt):
            run(engine, path, batch=5, progress=stop_after(1))
    done = invoke(cli, "import", "bscs-xml", str(path), "--batch", "4")
    assert done.exit_code == code
    assert message in done.output


# ------------------------------------------------------------------------- memory


def measure(customers: int, folder: str) -> None:
    """In a fresh process: import ``customers`` lean records into a new SQLite store and print
    how much the peak resident size grew over a warmed-up start (KiB)."""
    configure_logging("WARNING")
    for name in ("warm", "crm"):  # the warm-up puts caches, pools and imports in place
        engine = make_engine(f"sqlite:///{folder}/{name}.sqlite3")
        upgrade(engine)
        if name == "warm":
            write_customer_export(Path(folder) / "warm.xml", 30, seed=9, profile="lean")
            import_bscs_xml(engine, Path(folder) / "warm.xml", user="m", batch=100)
    path = Path(folder) / "export.xml"
    write_customer_export(path, customers, seed=8, profile="lean")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = import_bscs_xml(engine, path, user="m", batch=100)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"imported": report.imported, "growth_kib": after - before}))


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_number_of_customers() -> None:
    """300 and 3,000 customers (batch 100) in two processes side by side: the same peak."""
    code = (
        "import sys\n"
        "from tests.integration.test_import_bscs import measure\n"
        "measure(int(sys.argv[1]), sys.argv[2])"
    )
    with tempfile.TemporaryDirectory() as small, tempfile.TemporaryDirectory() as large:
        runs = {
            n: subprocess.Popen(
                [sys.executable, "-c", code, str(n), folder],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )
            for n, folder in ((300, small), (3_000, large))
        }
        results = {}
        for n, process in runs.items():
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            results[n] = json.loads(out)
    assert results[300]["imported"] == 300 and results[3_000]["imported"] == 3_000
    assert results[3_000]["growth_kib"] < results[300]["growth_kib"] + 8 * 1024, results
