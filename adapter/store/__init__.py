"""Persistence of the canonical model: SQLAlchemy 2 Core on SQLite and PostgreSQL."""
