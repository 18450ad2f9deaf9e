"""The one JSON encoding of stored and hashed data (orjson: several times faster than the
standard library, which matters when a bulk unit encodes every entity three times: current
row, version snapshot and the change's hash).

Keys are sorted and the output is compact UTF-8, exactly what ``json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`` gives for the plain values a snapshot holds.
Datetimes (only in change rows) are written with microseconds, as the hash has always had
them; anything else that is not plain JSON is refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    raise TypeError(f"{type(value).__name__} is not allowed in audited data")


def encode(value: Any) -> bytes:
    """Canonical JSON bytes of ``value``."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def dumps(value: Any) -> str:
    """Canonical JSON text of ``value`` (for drivers that want ``str``)."""
    return encode(value).decode()
