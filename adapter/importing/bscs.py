"""Bulk import of a BSCS customer export (``crm-adapter import bscs-xml``).

The file is read twice, both times streaming: once to hash it (its SHA-256 names the import
and every request id of it), once to map it. Records come from :func:`adapter.xmlsafe.iterparse`
(hardened, cleared as we move on), each becomes a bundle through the mapping engine and then
validated domain entities; ``batch`` customers at a time go into the store as one audited
change of a :class:`~adapter.store.uow.UnitOfWork`, so memory depends on the batch size, not
on the file.

Decisions (docs/runbook.md, "Importing a BSCS export", says the same for operators):

- **Request ids** ``import-<16 hex of the SHA-256>-<batch size>-<batch number>``, batches and
  positions counted from 1. Every batch ends with exactly one change of that id, also when all
  of its records were rejected (an ``unchanged`` change): a batch is done if and only if its
  id is in the ``change`` table.
- **Resume.** One query up front reads the ids of this file's earlier runs; their batches are
  skipped without mapping a record, and the run goes on where the earlier one stopped.
  Another ``batch`` than the earlier run's is refused (:class:`BatchSizeMismatch`): batch
  numbers would no longer mean the same records.
- **Customers already in the store.** Ids are stable (uuid5 of billing's public ids), so a
  record whose customer exists was imported before, by an earlier file or an earlier version
  of this one (a file fixed after a syntax error has another hash): it is skipped, never
  updated. If this same file imported it, the file holds that customer twice: rejected.
- **Rejects** (the mapping, a domain rule, or the store's cross-row checks refused the
  record) go to the JSON Lines report (:mod:`adapter.importing.rejects`). A batch whose
  commit is refused is retried record by record (``…-<batch>-r<position>``, one change each),
  so that only the bad records are rejected, and then closed by its batch change.
- **Custom attributes.** An info field mapped to an attribute the store does not define is
  defined before the batch that first needs it (one change ``…-<batch>-definitions``): a
  ``string`` attribute of the kind that carries it. Define it beforehand with ``crm-adapter
  attributes define`` for a stricter type; values are checked against the stored definition,
  and a value it refuses (or one of a retired attribute, or on another entity kind) rejects
  the record.
- **Two processes.** The reading side (:mod:`adapter.importing.records`: parse, map,
  validate) can run in a second process, up to four batches ahead, while this one writes; by
  default on PostgreSQL with more than one core, from 1 MB of file. The commit stays the
  larger cost (about two thirds of the time for lean customers on a 2-core machine).
- **Broken XML** (syntax error, DOCTYPE, entities) stops the import with
  :class:`BrokenExport` (an :class:`~adapter.xmlsafe.XmlRejected`); the batches committed
  before it stay, and the records of the unfinished batch are not written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine, and_, select

from adapter import xmlsafe
from adapter.domain import Actor, Entity
from adapter.domain.attributes import AttributeDefinition, AttributeValue
from adapter.domain.errors import Conflict, ValidationFailed, Violation
from adapter.importing.records import Batch, Reader, Record, batches
from adapter.importing.rejects import RejectReport
from adapter.mapping import Mappings, load_mappings
from adapter.procinfo import peak_rss_kib
from adapter.queries.customers import attribute_definitions
from adapter.store import tables as t
from adapter.store.database import after_load, analyze
from adapter.store.reading import read_connection
from adapter.store.uow import DuplicateRequest, UnitOfWork

log = structlog.get_logger(__name__)

DEFAULT_BATCH = 500
MAX_BATCH = 5000
PRINCIPAL = "crm-adapter-import"
CHANNEL = "migration"
FIRST_ANALYZE = 1000  # then each time the customers imported by the run double, as seed does
_CHUNK = 1 << 20
_IN_CHUNK = 500
PARALLEL_FROM_BYTES = 1_000_000


class BatchSizeMismatch(Conflict):
    """The file was imported in part with another batch size than the one given now."""

    code = "batch_size_mismatch"


class BrokenExport(xmlsafe.XmlRejected):
    """The export stopped being acceptable XML half-way (or at once). ``report`` says what the
    run did before: its committed batches stay."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class ImportReport:
    """What one run did. ``skipped`` counts records imported before (by an earlier run of this
    file, or customers already in the store); ``batches`` the batch changes this run wrote."""

    file: str
    import_id: str
    batch: int
    report_path: str
    file_bytes: int = 0
    read: int = 0
    imported: int = 0
    rejected: int = 0
    skipped: int = 0
    batches: int = 0
    batches_skipped: int = 0
    batches_retried: int = 0
    definitions: list[str] = field(default_factory=list)
    seconds: float = 0.0
    peak_rss_mib: float = 0.0  # this process
    reader_peak_rss_mib: float = 0.0  # the reading process, when parallel

    @property
    def customers_per_second(self) -> float:
        return self.imported / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "customers_per_second": round(self.customers_per_second, 1)}


@dataclass(frozen=True)
class ImportProgress:
    """Handed to the ``progress`` callback after each batch (``committed`` False: the batch
    was skipped, an earlier run had imported it)."""

    batch: int
    committed: bool
    bytes_read: int
    total_bytes: int
    read: int
    imported: int
    rejected: int
    skipped: int


def import_bscs_xml(
    engine: Engine,
    path: str | Path,
    *,
    user: str,
    batch: int = DEFAULT_BATCH,
    report_path: str | Path | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
    mappings: Mappings | None = None,
    parallel: bool | None = None,
) -> ImportReport:
    """Import the customers of the BSCS export at ``path`` (see the module docstring); the
    reject report goes to ``report_path`` (default ``<path>.rejects.jsonl``).

    ``parallel`` reads and maps the file in a second process while this one writes; by
    default on PostgreSQL, on more than one core, for files from 1 MB, with the project's
    mappings (the second process loads ``mappings.folder`` again, so a changed instance
    would not be the one used there)."""
    if not 1 <= batch <= MAX_BATCH:
        raise ValidationFailed.one("batch", "range", f"the batch size must be 1 to {MAX_BATCH}")
    _actor(user, "import-check")  # a blank or overlong user fails before the file is read
    source = Path(path)
    target = Path(report_path) if report_path is not None else Path(f"{source}.rejects.jsonl")
    maps = mappings or load_mappings()
    run = _Run(engine, source, target, user, batch, progress, maps)
    run.parallel = (
        parallel
        if parallel is not None
        else (
            mappings is None
            and engine.dialect.name == "postgresql"
            and (os.cpu_count() or 1) > 1
            and run.total_bytes >= PARALLEL_FROM_BYTES
        )
    )
    with structlog.contextvars.bound_contextvars(import_id=run.import_id):
        return run.execute()


# ------------------------------------------------------------------------------- the run


@dataclass
class _Earlier:
    """What earlier runs of the same file committed."""

    sizes: set[int] = field(default_factory=set)
    batches: set[int] = field(default_factory=set)
    records: set[int] = field(default_factory=set)  # positions retried alone, batch unfinished


class _Run:
    def __init__(
        self,
        engine: Engine,
        source: Path,
        report_path: Path,
        user: str,
        size: int,
        progress: Callable[[ImportProgress], None] | None,
        mappings: Mappings,
    ) -> None:
        self.started = time.perf_counter()
        self.stats: dict[str, int] = {}
        self.engine = engine
        self.source = source
        self.user = user
        self.size = size
        self.progress = progress
        self.maps = mappings
        self.parallel = False
        digest, total = _fingerprint(source)
        self.total_bytes = total
        self.import_id = f"import-{digest[:16]}"
        self.report = ImportReport(
            file=str(source),
            import_id=self.import_id,
            batch=size,
            report_path=str(report_path),
            file_bytes=total,
        )
        self.report_path = report_path
        self.definitions: dict[str, AttributeDefinition] = {}
        self.pending: dict[str, AttributeDefinition] = {}  # needed, not stored yet
        self.next_analyze = FIRST_ANALYZE
        self.rejects: RejectReport | None = None

    # ------------------------------------------------------------------ outline

    def execute(self) -> ImportReport:
        earlier = self._earlier()
        if earlier.sizes - {self.size}:
            sizes = ", ".join(str(s) for s in sorted(earlier.sizes))
            raise BatchSizeMismatch(
                f"an earlier import of {self.source.name} used --batch {sizes} "
                f"({len(earlier.batches)} batches committed); run it again with --batch "
                f"{sizes}, not {self.size}"
            )
        self._load_definitions()
        resumed = bool(earlier.batches or earlier.records)
        log.info(
            "import.started",
            batch=self.size,
            file_bytes=self.total_bytes,
            resumed=resumed,
            batches_done=len(earlier.batches),
            parallel=self.parallel,
        )
        reader = Reader(
            path=self.source,
            size=self.size,
            done_batches=frozenset(earlier.batches),
            done_records=frozenset(earlier.records),
            definitions=dict(self.definitions),
            folder=self.maps.folder,
            mappings=None if self.parallel else self.maps,
        )

        def keep(position: int) -> bool:  # reject lines of committed batches stay
            return (position - 1) // self.size + 1 in earlier.batches

        with RejectReport.open(
            self.report_path, self.import_id, keep=keep if resumed else None
        ) as rejects:
            self.rejects = rejects
            read = batches(reader, self.parallel, self.stats)
            try:
                for batch in read:
                    self._close(batch)
            except xmlsafe.XmlRejected as exc:
                read.close()  # the reading process, if any, ends before its memory is read
                self._finish_report()
                log.warning("import.stopped", reason="xml_rejected", read=self.report.read)
                done = self.report.batches + self.report.batches_skipped
                kept = (
                    f"the {done} batches before it ({self.report.read} records) stay imported, "
                    "the records of the unfinished batch were not written"
                    if done
                    else "nothing was imported"
                )
                raise BrokenExport(
                    f"{exc}; the import stopped there: {kept}; run the import again on the "
                    "corrected file (customers already imported are skipped)",
                    self.report,
                ) from exc
            finally:
                read.close()
        if self.report.imported:
            after_load(self.engine)
        self._finish_report()
        log.info(
            "import.finished",
            read=self.report.read,
            imported=self.report.imported,
            rejected=self.report.rejected,
            skipped=self.report.skipped,
            batches=self.report.batches,
            seconds=round(self.report.seconds, 2),
        )
        return self.report

    def _close(self, batch: Batch) -> None:
        report = self.report
        report.read += batch.read
        if batch.done:
            report.skipped += batch.read
            report.batches_skipped += 1
        else:
            for definition in batch.definitions:
                self.pending[definition.name] = definition
            self._finish(batch)
            if report.imported >= self.next_analyze:  # statistics that keep up with the load
                analyze(self.engine)
                while self.next_analyze <= report.imported:
                    self.next_analyze *= 2
        if self.progress is not None:
            self.progress(
                ImportProgress(
                    batch=batch.number,
                    committed=not batch.done,
                    bytes_read=batch.bytes_read,
                    total_bytes=self.total_bytes,
                    read=report.read,
                    imported=report.imported,
                    rejected=report.rejected,
                    skipped=report.skipped,
                )
            )

    def _finish_report(self) -> None:
        self.report.seconds = time.perf_counter() - self.started
        self.report.peak_rss_mib = peak_rss_kib() / 1024
        if "reader_peak_rss_kib" in self.stats:
            self.report.reader_peak_rss_mib = self.stats["reader_peak_rss_kib"] / 1024

    # ------------------------------------------------------------------ writing

    def _finish(self, batch: Batch) -> None:
        """Sort out records already in the store, define the attributes the batch needs, write
        its rejects, then commit it (or, refused, its records one by one and then its batch
        change)."""
        rejects = self.rejects
        assert rejects is not None
        self._sort_out(batch)
        self._define(batch)
        for record in batch.rejected:
            self._reject(record)
        rejects.flush()
        request = f"{self.import_id}-{self.size}-{batch.number}"
        entities = [e for record in batch.records for e in record.entities]
        try:
            self._commit(request, entities, "import.batch", self._summary(batch))
            imported = len(batch.records)
        except DuplicateRequest:  # another run of this file committed it meanwhile
            batch.skipped += len(batch.records)
            imported = 0
        except (ValidationFailed, Conflict) as exc:
            log.warning("import.batch_refused", batch=batch.number, reason=exc.code)
            imported = self._retry(batch, request)
            self.report.batches_retried += 1
        self.report.batches += 1
        self.report.imported += imported
        self.report.rejected += len(batch.rejected)
        self.report.skipped += batch.skipped
        log.info(
            "import.batch",
            batch=batch.number,
            imported=imported,
            rejected=len(batch.rejected),
            skipped=batch.skipped,
        )

    def _retry(self, batch: Batch, request: str) -> int:
        """Commit each record of a refused batch alone; those the store refuses are rejected.
        The batch's own change, written last, marks it done."""
        rejects = self.rejects
        assert rejects is not None
        imported = 0
        for record in batch.records:
            try:
                self._commit(
                    f"{request}-r{record.position}",
                    record.entities,
                    "import.record",
                    {"import": self.import_id, "batch": batch.number, "position": record.position},
                )
                imported += 1
            except DuplicateRequest:
                batch.skipped += 1
            except ValidationFailed as exc:
                record.reasons = list(exc.violations)
            except Conflict as exc:
                record.reasons = [Violation("(record)", exc.code, str(exc))]
            if record.reasons:
                batch.rejected.append(record)
                self._reject(record)
        rejects.flush()
        summary = self._summary(batch) | {"retried": True, "imported": imported}
        with contextlib.suppress(DuplicateRequest):  # another run of this file closed it
            self._commit(request, [], "import.batch", summary)
        return imported

    def _commit(
        self, request: str, entities: Iterable[Entity], operation: str, summary: dict[str, Any]
    ) -> None:
        with UnitOfWork(self.engine, _actor(self.user, request)) as uow:
            uow.add_all(entities)
            uow.commit(operation, summary)

    def _summary(self, batch: Batch) -> dict[str, Any]:
        return {
            "import": self.import_id,
            "batch": batch.number,
            "first": (batch.number - 1) * self.size + 1,
            "records": batch.read,
            "imported": len(batch.records),
            "rejected": len(batch.rejected),
            "skipped": batch.skipped,
        }

    def _reject(self, record: Record) -> None:
        assert self.rejects is not None
        self.rejects.write(record.position, record.line, record.number, record.reasons)
        log.info(
            "import.record_rejected",
            position=record.position,
            rules=sorted({v.rule for v in record.reasons}),
        )

    def _sort_out(self, batch: Batch) -> None:
        """Move rejected records aside; skip customers already in the store, and reject those
        that this same file has already imported (a customer given twice in it)."""
        ready: list[Record] = []
        first_at: dict[str, int] = {}
        for record in batch.records:
            if record.reasons:
                batch.rejected.append(record)
            elif record.customer_id in first_at:
                record.reasons = [_twice(record, f"record {first_at[record.customer_id]}")]
                batch.rejected.append(record)
            else:
                assert record.customer_id is not None
                first_at[record.customer_id] = record.position
                ready.append(record)
        stored = self._stored(list(first_at))
        batch.records = []
        for record in ready:
            assert record.customer_id is not None
            if record.customer_id not in stored:
                batch.records.append(record)
                continue
            origin = stored[record.customer_id] or ""
            if origin.startswith(f"{self.import_id}-"):
                record.reasons = [_twice(record, f"imported by change {origin}")]
                batch.rejected.append(record)
            else:
                batch.skipped += 1
        batch.rejected.sort(key=lambda r: r.position)

    def _stored(self, customer_ids: list[str]) -> dict[str, str | None]:
        """Which of these customers exist, each with the request id that created it."""
        customer, version, change = t.customer.c, t.entity_version.c, t.change.c
        joined = t.customer.outerjoin(
            t.entity_version,
            and_(
                version.entity_type == "customer",
                version.entity_id == customer.id,
                version.version == 1,
            ),
        ).outerjoin(t.change, change.id == version.change_id)
        found: dict[str, str | None] = {}
        with read_connection(self.engine) as conn:
            for start in range(0, len(customer_ids), _IN_CHUNK):
                chunk = customer_ids[start : start + _IN_CHUNK]
                query = (
                    select(customer.id, change.request_id)
                    .select_from(joined)
                    .where(customer.id.in_(chunk))
                )
                found.update({row.id: row.request_id for row in conn.execute(query)})
        return found

    def _define(self, batch: Batch) -> None:
        """Store the pending definitions that the batch's records use, in a change of their
        own before the batch (so the batch's values meet stored definitions)."""
        if not self.pending:
            return
        used = {
            e.name
            for record in batch.records
            for e in record.entities
            if isinstance(e, AttributeValue)
        }
        wanted = [d for name, d in sorted(self.pending.items()) if name in used]
        if not wanted:
            return
        request = f"{self.import_id}-{self.size}-{batch.number}-definitions"
        names = [d.name for d in wanted]
        with contextlib.suppress(DuplicateRequest):  # another run of this file stored them
            self._commit(request, wanted, "import.definitions", {"attributes": names})
        for definition in wanted:
            del self.pending[definition.name]
            self.definitions[definition.name] = definition
        self.report.definitions.extend(names)
        log.info("import.definitions", batch=batch.number, attributes=names)

    # ------------------------------------------------------------------ reading the store

    def _earlier(self) -> _Earlier:
        """The request ids of this file's earlier runs: one query (the change table is read,
        not the entity tables)."""
        pattern = re.compile(rf"^{re.escape(self.import_id)}-(\d+)-(\d+)(?:-r(\d+)|-definitions)?$")
        found = _Earlier()
        records: list[tuple[int, int]] = []
        request = t.change.c.request_id
        with read_connection(self.engine) as conn:
            for value in conn.execute(select(request).where(request.like(f"{self.import_id}-%"))):
                match = pattern.match(value[0])
                if match is None:
                    continue
                size, number, position = match.groups()
                found.sizes.add(int(size))
                if position is not None:
                    records.append((int(number), int(position)))
                elif not value[0].endswith("-definitions"):
                    found.batches.add(int(number))
        # only the records of a batch left unfinished matter; finished ones are skipped whole
        found.records = {pos for number, pos in records if number not in found.batches}
        return found

    def _load_definitions(self) -> None:
        with read_connection(self.engine) as conn:
            for data in attribute_definitions(conn, include_retired=True):
                definition = AttributeDefinition.model_validate(data)
                self.definitions[definition.name] = definition


# ------------------------------------------------------------------------------- helpers


def _actor(user: str, request: str) -> Actor:
    return Actor(originating_user=user, principal=PRINCIPAL, channel=CHANNEL, request_id=request)


def _fingerprint(path: Path) -> tuple[str, int]:
    """The SHA-256 (hex) and size of a file, read in chunks (any size, flat memory)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _twice(record: Record, earlier: str) -> Violation:
    return Violation(
        "customer.customer_number",
        "duplicate",
        f"customer {record.number} is given more than once in this file; only its first "
        f"record ({earlier}) is imported",
    )
