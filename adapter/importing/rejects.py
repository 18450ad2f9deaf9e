"""The reject report of an import: one JSON line per record that was not imported, and why.

A rejected record is never dropped silently: it lands here with its position in the file, its
line, billing's public customer id when it is known and every reason as ``{field, rule,
message}``. The reasons quote the refused values (an e-mail address that is none, a taken
MSISDN), so the file holds personal data: it is created with mode 0600, and an existing one
is set to 0600 before anything is written to it.

A batch's reject lines are written before the batch is committed. Should the run stop in
between, the lines of batches that were not committed would be written again by the run that
resumes it; :meth:`RejectReport.open` therefore drops them when it resumes (streaming, so the
report may be of any size), and keeps every line of the committed batches.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from adapter.domain.errors import Violation

MODE = 0o600


def _private(path: Path, flags: int) -> IO[str]:
    """Open ``path`` for writing, readable by its owner only (also when it existed before)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, MODE)
    try:
        os.fchmod(fd, MODE)
        return os.fdopen(fd, "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


class RejectReport:
    """An open reject report (JSON Lines). Use :meth:`open`, then :meth:`write` per record."""

    def __init__(self, path: Path, stream: IO[str], import_id: str) -> None:
        self.path = path
        self.import_id = import_id
        self._stream = stream
        self.written = 0

    @classmethod
    def open(
        cls, path: Path, import_id: str, *, keep: Callable[[int], bool] | None = None
    ) -> RejectReport:
        """A fresh report (``keep`` None: the file is emptied), or the report of a run being
        resumed: lines of this import whose position ``keep`` refuses (records of batches that
        were not committed, which will be read again) are dropped, all others kept."""
        if keep is None or not path.exists():
            return cls(path, _private(path, os.O_TRUNC), import_id)
        _drop_stale(path, import_id, keep)
        return cls(path, _private(path, os.O_APPEND), import_id)

    def write(
        self, position: int, line: int | None, customer: str | None, reasons: Iterable[Violation]
    ) -> None:
        record: dict[str, Any] = {
            "import_id": self.import_id,
            "position": position,
            "line": line,
            "customer_number": customer,
            "reasons": [{"field": v.field, "rule": v.rule, "message": v.message} for v in reasons],
        }
        self._stream.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self.written += 1

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> RejectReport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _drop_stale(path: Path, import_id: str, keep: Callable[[int], bool]) -> None:
    """Rewrite ``path`` without this import's lines that ``keep`` refuses; leave the file
    untouched when there are none (a complete re-run changes nothing)."""
    with path.open(encoding="utf-8") as source:
        if all(_kept(line, import_id, keep) for line in source):
            return
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        with path.open(encoding="utf-8") as source, _private(temporary, os.O_TRUNC) as target:
            for line in source:
                if _kept(line, import_id, keep):
                    target.write(line)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _kept(line: str, import_id: str, keep: Callable[[int], bool]) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return True  # not ours to judge: kept as it is
    if not isinstance(record, dict) or record.get("import_id") != import_id:
        return True
    position = record.get("position")
    return not isinstance(position, int) or keep(position)
