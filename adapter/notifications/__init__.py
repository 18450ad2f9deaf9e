"""The billing push endpoint (``POST /soap/notifications``): billing tells the CRM what
changed on its side; the event is stored, acknowledged, then applied by a worker.

- :mod:`adapter.notifications.events`: the five operations and the notification body as JSON;
- :mod:`adapter.notifications.endpoint`: the Starlette app (checks, store, acknowledgement);
- :mod:`adapter.notifications.apply`: a stored event → canonical changes in one unit of work.
"""

NOTIFY_NS = "urn:bscs:notify:v1"
FAULT_PREFIX = "NTF"
