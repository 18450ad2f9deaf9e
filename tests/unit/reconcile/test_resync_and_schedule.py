"""The ``billing.resync`` envelope reconciliation repairs with, and the beat schedule entry of
``crm.reconcile.run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapter.domain.errors import ValidationFailed
from adapter.requests.envelope import parse_envelope
from adapter.settings import Settings
from workers import config
from workers.app import create_app
from workers.tasks.reconcile import RUN


def resync(payload: dict[str, Any]) -> Any:
    return parse_envelope(
        {
            "request_id": "r-1",
            "originating_user": "reconciler",
            "channel": "reconciliation",
            "operation": "billing.resync",
            "payload": payload,
        }
    )


def test_resync_takes_fields_billing_keeps_of_that_kind() -> None:
    envelope = resync({"kind": "account", "entity": "A-1", "fields": ["payment_responsible"]})
    assert envelope.payload.target() == ("account", "A-1")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"kind": "contract", "entity": "K", "fields": ["party"]}, "has no field party"),
        ({"kind": "contract", "entity": "K"}, "give the fields"),
        ({"kind": "contract", "entity": "K", "as_new": True, "fields": ["status"]}, "no fields"),
        ({"kind": "customer", "entity": "C", "as_new": True}, "with its accounts"),
    ],
    ids=["foreign-field", "nothing", "both", "new-customer"],
)
def test_resync_refuses_what_it_cannot_send(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        resync(payload)
    assert message in str(caught.value)


def test_the_run_is_scheduled_with_the_batch_and_interval_of_the_settings(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, reconcile_interval=900, reconcile_batch=50)
    entry = config.celery_config(settings)["beat_schedule"]["crm.reconcile.run"]
    assert entry == {"task": RUN, "schedule": 900, "kwargs": {"batch": 50}}


@pytest.mark.parametrize("zero", ["reconcile_interval", "reconcile_batch"])
def test_zero_takes_the_run_out_of_the_schedule(tmp_path: Path, zero: str) -> None:
    settings = Settings(data_dir=tmp_path, **{zero: 0})
    assert RUN not in config.celery_config(settings)["beat_schedule"]


def test_the_task_is_registered_on_the_maintenance_queue(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:6379/0"))
    assert RUN in app.tasks
    assert app.amqp.router.route({}, RUN, (), {})["queue"].name == config.MAINTENANCE
