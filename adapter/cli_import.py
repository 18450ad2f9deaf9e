"""``crm-adapter import``: bulk imports of legacy exports (adapter/importing/).

``import bscs-xml FILE`` loads a BSCS customer export; ``import sample-export FILE`` writes a
synthetic one to try it with. ``adapter.cli`` registers the group; this module imports the
CLI's helpers when a command runs, not when it is imported, so either may be imported first.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click

from adapter.importing import DEFAULT_BATCH, MAX_BATCH, ImportProgress, ImportReport
from adapter.mapping import MappingError
from adapter.xmlsafe import XmlRejected


@click.group("import")
def import_group() -> None:
    """Bulk imports of legacy exports."""


@import_group.command("bscs-xml")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--batch",
    type=click.IntRange(1, MAX_BATCH),
    default=DEFAULT_BATCH,
    show_default=True,
    help="Customers per audited change; resuming needs the same value as the interrupted run.",
)
@click.option(
    "--report",
    "report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Reject report, JSON Lines, mode 0600 (default: FILE.rejects.jsonl).",
)
@click.option("--user", envvar="CRM_USER", help="Originating user recorded on the changes.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON, no progress bar.")
def bscs_xml_cmd(
    file: Path, batch: int, report: Path | None, user: str | None, as_json: bool
) -> None:
    """Import the customers of a BSCS customer export (wsdl/cil-export.xsd): accounts,
    contracts, subscribers, services, discounts and custom attributes, in audited batches.
    Running it again on the same file resumes it; rejected records go to the reject report."""
    from adapter.cli import EXIT_INPUT, EXIT_STATE, _container, _dump, _errors, _fail
    from adapter.importing import import_bscs_xml

    engine = _container().engine
    who = user or getpass.getuser()
    try:
        with _errors():
            if as_json:
                result = import_bscs_xml(engine, file, user=who, batch=batch, report_path=report)
            else:
                result = _with_progress_bar(file, who, batch, report)
    except XmlRejected as exc:
        _fail(str(exc), EXIT_INPUT)
    except MappingError as exc:
        _fail(str(exc), EXIT_STATE)
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror or exc}", EXIT_INPUT)
    if as_json:
        _dump(result.as_dict())
        return
    click.echo(_summary(result))
    if not result.read:
        click.echo(
            "warning: no customer records found; is it a BSCS customer export "
            "(customerExport, namespace urn:bscs:export:v1)?",
            err=True,
        )
    if result.rejected:
        click.echo(
            f"warning: {result.rejected} records rejected, see {result.report_path}", err=True
        )


def _with_progress_bar(file: Path, user: str, batch: int, report: Path | None) -> ImportReport:
    from adapter.cli import _container
    from adapter.importing import import_bscs_xml

    engine = _container().engine
    with click.progressbar(
        length=file.stat().st_size, label="importing", file=sys.stderr, show_eta=True
    ) as bar:
        done = 0

        def advance(step: ImportProgress) -> None:
            nonlocal done
            bar.update(step.bytes_read - done)
            done = step.bytes_read

        result = import_bscs_xml(
            engine, file, user=user, batch=batch, report_path=report, progress=advance
        )
        bar.update(max(0, result.file_bytes - done))
    return result


def _summary(report: ImportReport) -> str:
    return (
        f"imported {report.imported} of {report.read} customers from {report.file} "
        f"(rejected {report.rejected}, skipped {report.skipped} already imported; "
        f"{report.batches} batches of {report.batch} written, {report.batches_skipped} "
        f"skipped) in {report.seconds:.1f} s, "
        f"{report.customers_per_second:.0f} customers/s, peak RSS "
        f"{report.peak_rss_mib:.0f} MiB; rejects: {report.report_path}"
    )


@import_group.command("sample-export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--customers", type=click.IntRange(1, 10_000_000), required=True)
@click.option("--seed", "seed_value", type=int, default=1, show_default=True)
@click.option(
    "--bad-fraction",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of records made wrong on purpose (bad e-mail, SIM check digit, service code).",
)
@click.option(
    "--profile",
    type=click.Choice(["full", "lean"]),
    default="full",
    show_default=True,
    help="full: customers like a real base (organisations, hierarchies); lean: one person "
    "with one contract each, for volume tests.",
)
def sample_export_cmd(
    file: Path, customers: int, seed_value: int, bad_fraction: float, profile: str
) -> None:
    """Write a synthetic BSCS customer export (the same arguments give the same bytes)."""
    from adapter.testing.export import write_customer_export

    summary = write_customer_export(
        file,
        customers,
        seed=seed_value,
        bad_fraction=bad_fraction,
        profile="lean" if profile == "lean" else "mixed",
    )
    click.echo(
        f"wrote {summary.customers} customers ({summary.accounts} accounts, "
        f"{summary.contracts} contracts, {len(summary.bad)} bad on purpose) to {file}, "
        f"{file.stat().st_size} bytes"
    )
