"""Test doubles that run as real services: the billing simulator (``billing_sim``).

Nothing here is used by the adapter in production; the demo, the tests and the benchmarks
start these to have something realistic to talk to."""
