"""What keeps the pipeline going when a message or the broker is lost: the received sweeps
on beat's schedule, and the worker's consumer that survives a lost Redis connection."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue

from adapter.settings import Settings
from workers.app import create_app
from workers.consumer import disarm_lost_channels

REDIS = "redis://127.0.0.1:6379/0"


def test_beat_sends_the_received_sweeps_as_often_as_the_outbox_sweep(tmp_path: Path) -> None:
    """crm.requests.sweep and crm.events.sweep are on beat's schedule, every
    CRM_SYNC_SWEEP_INTERVAL seconds, and routed to their own queues."""
    app = create_app(Settings(data_dir=tmp_path, broker_url=REDIS, sync_sweep_interval=7))
    schedule = app.conf.beat_schedule
    for name, queue in (("crm.requests.sweep", "crm.requests"), ("crm.events.sweep", "crm.events")):
        assert schedule[name] == {"task": name, "schedule": 7}
        assert name in app.tasks
        assert app.amqp.router.route({}, name, (), {})["queue"].name == queue


def test_resume_received_after_defaults_to_two_minutes_and_refuses_less_than_a_second() -> None:
    """The age threshold of the received sweeps is a setting, bounded."""
    assert Settings().resume_received_after == 120
    with pytest.raises(ValueError, match="resume_received_after"):
        Settings(resume_received_after=0)


def test_workers_use_the_consumer_that_survives_a_lost_broker(tmp_path: Path) -> None:
    """A worker that loses its broker keeps trying, forever, and its consumer does not end it
    over the lost connection's channels (workers/consumer.py)."""
    app = create_app(Settings(data_dir=tmp_path, broker_url=REDIS))
    assert app.conf.worker_consumer == "workers.consumer:Consumer"
    assert app.conf.broker_connection_retry is True
    assert app.conf.broker_connection_max_retries is None


def test_a_lost_connections_channels_neither_restore_nor_acknowledge() -> None:
    """After disarming, closing the channel restores nothing and an acknowledgement fails as
    a connection error, which the caller's error handling absorbs; the message stays
    unacknowledged for the broker to hand out again."""
    queue = Queue("q", Exchange("x"), routing_key="q")
    with Connection("memory://") as connection:
        channel = connection.default_channel
        connection.Producer(channel).publish(
            {"n": 1}, exchange=queue.exchange, routing_key="q", declare=[queue]
        )
        message = queue(channel).get(no_ack=False)
        assert message is not None
        disarm_lost_channels(connection)
        assert channel.do_restore is False
        with pytest.raises(ConnectionError):
            message.ack()
        redis_errors = Connection(REDIS).connection_errors  # what a worker on Redis catches
        message.ack_log_error(logging.getLogger(__name__), redis_errors)
        assert message.delivery_tag in channel.qos._delivered
