"""The sync to billing: draining each customer's outbox, in order, through the gateway.

``drain_customer`` sends one customer's pending outbox messages (``adapter.requests.outbox``)
one at a time, strictly in ``seq`` order, mapping each entity *as of the version its change
wrote* with the per-entity steps of ``adapter.legacy.push``; docs/architecture.md ("Legacy
sync") has the whole picture.
"""

from adapter.sync.drain import (
    DrainReport,
    SyncPolicy,
    backoff_delay,
    drain_customer,
    due_customers,
    pending_counts,
)

__all__ = [
    "DrainReport",
    "SyncPolicy",
    "backoff_delay",
    "drain_customer",
    "due_customers",
    "pending_counts",
]
