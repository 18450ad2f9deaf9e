"""The seed's generator: the ids it makes."""

from __future__ import annotations

import uuid
from datetime import date

from adapter.seed import Generator

DAY = date(2026, 11, 15)


def test_seed_ids_are_canonical_time_ordered_uuid7_text() -> None:
    generator = Generator(3, DAY)
    ids = [generator._id() for _ in range(10_000)]  # the millisecond advances every 4,096
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 7 for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # made later, sorts later
