"""Telco CRM integration adapter: canonical customer store, legacy billing sync, CRM API."""

__version__ = "0.1.0"
