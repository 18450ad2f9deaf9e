"""The worker's consumer: Celery's own, made to survive the loss of a Redis broker while it
holds unacknowledged messages (``worker_consumer`` in :mod:`workers.config`).

When the connection to Redis drops, Celery closes it and reconnects; two things kombu then
does with the channels of the lost connection end the worker instead, with an
``AttributeError`` Celery reports as an unrecoverable error (found by
``tests/integration/test_reliability.py``, Redis killed and restarted mid-run):

- closing the channel gives the messages the worker holds back to their queue, which needs
  the broker; when the channel was waiting in BRPOP (the usual case) its first close fails
  half way and the second runs after the transport has let go of its settings
  (``'NoneType' object has no attribute 'hostname'``);
- a task that was running when the connection dropped and finishes afterwards acknowledges
  its message on the closed channel (``'NoneType' object has no attribute 'client'``).

Neither can do anything useful: the broker that would take the restore or the
acknowledgement is the one that was lost. So the channels of a lost connection are told not
to restore, and an acknowledgement or rejection on them fails as a connection error, which
Celery logs ("Couldn't ack") and survives. Nothing is lost by it: Redis keeps each such
message in its unacknowledged set and hands it out again once the visibility timeout has
passed (the pipeline's tasks are idempotent, so a message whose task did finish is applied
once); after a restart without persistence they are gone anyway, and beat's sweeps resend
what the store holds as ``received``.
"""

from __future__ import annotations

from typing import Any, NoReturn

from celery.worker.consumer import Consumer as CeleryConsumer


def _refuse(*_: Any, **__: Any) -> NoReturn:
    # An OSError: one of the connection errors Celery catches around an acknowledgement.
    raise ConnectionError(
        "the broker connection this message came on was lost; Redis redelivers the message "
        "after the visibility timeout"
    )


def disarm_lost_channels(connection: Any) -> None:
    """Make the channels of a lost ``connection`` harmless: no restore when they close, and
    an acknowledgement or rejection on them a connection error."""
    transport: Any = getattr(connection, "_transport", None)
    for channel in list(getattr(transport, "channels", None) or ()):
        # Read by kombu's QoS.restore_unacked_once, which returns at once when false.
        channel.do_restore = False
        channel.basic_ack = _refuse
        channel.basic_reject = _refuse


class Consumer(CeleryConsumer):
    def on_connection_error_after_connected(self, exc: Exception) -> None:
        disarm_lost_channels(self.connection)
        super().on_connection_error_after_connected(exc)
