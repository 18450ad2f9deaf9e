"""Bulk imports of legacy exports into the store, through the unit of work like any write.

``import_bscs_xml(engine, path, user=…)`` loads a BSCS customer export (wsdl/cil-export.xsd);
see :mod:`adapter.importing.bscs` for its decisions (batches, resume, rejects, attributes)
and docs/runbook.md for the command ``crm-adapter import bscs-xml``. Nothing runs at import.
"""

from adapter.importing.bscs import (
    DEFAULT_BATCH,
    MAX_BATCH,
    BatchSizeMismatch,
    BrokenExport,
    ImportProgress,
    ImportReport,
    import_bscs_xml,
)

__all__ = [
    "DEFAULT_BATCH",
    "MAX_BATCH",
    "BatchSizeMismatch",
    "BrokenExport",
    "ImportProgress",
    "ImportReport",
    "import_bscs_xml",
]
