"""The CRM HTTP API (FastAPI): authentication, privileges, TMF conventions, PII masking.

``create_app`` in :mod:`adapter.api.app` is the composition root; nothing is built when a
module of this package is imported. docs/api.md describes the conventions.
"""
