"""Log lines of a unit of work carry who and what, never the customer's personal data."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from sqlalchemy import Engine

from adapter.domain import Actor
from adapter.domain.model import Identification, Individual
from adapter.logs import configure_logging
from adapter.store.uow import UnitOfWork
from tests import factories as f


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", "json")
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_crm_adapter", False))
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)
    configure_logging("WARNING", "console")


def test_commit_log_has_actor_and_change_but_no_pii(
    sqlite_engine: Engine, actor: Callable[..., Actor], log_stream: io.StringIO
) -> None:
    c = f.customer(
        party=Individual(given_name="Zofia", family_name="Kowalczyk", birth_date=date(1977, 3, 9)),
        identifications=[Identification(type="tin", value="PL5260250274")],
    )
    with UnitOfWork(sqlite_engine, actor("agent.log")) as uow:
        uow.add(c)
        uow.commit("customer.create")
    text = log_stream.getvalue()
    assert '"event": "change.committed"' in text and '"user": "agent.log"' in text
    for secret in ("Kowalczyk", "1977-03-09", "PL5260250274", c.contact_media[0].value):
        assert secret not in text


def test_pii_passed_to_a_log_call_is_masked(log_stream: io.StringIO) -> None:
    import structlog

    structlog.get_logger("test").info("lookup", email="ana@example.com", tin="DE123456789")
    text = log_stream.getvalue()
    assert "ana@example.com" not in text and "DE123456789" not in text
    assert "*********89" in text
