"""Finding accepted work that no message will ever bring to a worker again.

A provisioning request recorded ``received`` and a billing notification stored ``received``
(table ``inbound_event``) are both accepted: the sender was told so and will not send them
again. Normally a worker applies them a moment later, but the message that carries them can
be lost: a broker restarted without persistence (Redis without AOF loses its queues and the
messages workers held unacknowledged, retries waiting for their countdown included), a worker
killed between recording a request and applying it, an enqueue that failed after the
endpoint committed an event. Beat's ``crm.requests.sweep`` and ``crm.events.sweep``
(``workers/tasks/``) ask these functions for what has stayed ``received`` longer than
``resume_received_after`` and send it to the workers again.

Sending twice is harmless: applying a request or an event is idempotent on its id, so a
request that was only slow (still queued behind others, or retrying while the store was
down) is applied once whichever message reaches a worker first. The threshold only keeps the
sweep from sending work that is on its way anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from adapter.store import tables as t
from adapter.store.reading import read_connection

#: Most items one sweep sends; the next sweep takes the rest, oldest first.
SWEEP_LIMIT = 500


@dataclass(frozen=True)
class StuckRequest:
    """A request still ``received``: its id and the envelope as it was received."""

    request_id: str
    envelope: Any


def stuck_requests(
    engine: Engine, *, now: datetime, older_than: float, limit: int = SWEEP_LIMIT
) -> list[StuckRequest]:
    """Requests received more than ``older_than`` seconds before ``now`` and still
    ``received``, in the order of receipt (so that resending them keeps each customer's
    order: applying one applies its customer's earlier waiting requests first)."""
    r = t.request.c
    cutoff = now - timedelta(seconds=older_than)
    with read_connection(engine) as conn:
        rows = conn.execute(
            select(r.request_id, r.envelope)
            .where(r.status == "received", r.received_at <= cutoff)
            .order_by(r.seq)
            .limit(limit)
        )
        return [StuckRequest(row.request_id, row.envelope) for row in rows]


def stuck_events(
    engine: Engine, *, now: datetime, older_than: float, limit: int = SWEEP_LIMIT
) -> list[str]:
    """Ids of billing notifications stored more than ``older_than`` seconds before ``now``
    and still ``received``, oldest first."""
    e = t.inbound_event.c
    cutoff = now - timedelta(seconds=older_than)
    with read_connection(engine) as conn:
        return list(
            conn.execute(
                select(e.event_id)
                .where(e.status == "received", e.received_at <= cutoff)
                .order_by(e.received_at, e.event_id)
                .limit(limit)
            ).scalars()
        )
