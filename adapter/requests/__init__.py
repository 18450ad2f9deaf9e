"""Provisioning requests: the envelope, one handler per operation, and applying a request
once, in order per customer, with its outbox to billing (``docs/requests.md``)."""
