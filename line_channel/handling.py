"""What a webhook event handler gets (``line_channel.events``): the event, and a context shared by
the handlers of one processing run.

Answers to an event go through ``HandlerContext.reply``: the replies of every handler of one event
become one outbox item (LINE takes one reply per reply token), the batch's items are inserted
together when the batch's transaction commits its work, and this worker sends them as soon as it
has committed, rather than waiting for an outbox sender.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q

from line_channel.gateway import Gateway

log = logging.getLogger(__name__)

# Outbox items answering an event: "reply:<webhookEventId>" (and ":2", … when more than five
# messages were given: those go as pushes).
REPLY_PURPOSE = "reply:"


@dataclass(frozen=True)
class InboundEvent:
    """A stored event as handlers see it (the decrypted LINE event object in ``payload``)."""

    pk: int
    event_id: str
    type: str
    user_id: str
    occurred_at: datetime
    redelivered: bool
    payload: dict[str, Any]
    attempts: int = 1  # 1: no earlier run of this event got as far as committing anything

    @property
    def mode(self) -> str:
        return str(self.payload.get("mode", "active"))

    @property
    def reply_token(self) -> str:
        return str(self.payload.get("replyToken", ""))

    def section(self, name: str) -> dict[str, Any]:
        """An event's own object (``message``, ``postback``, ``follow``, …), {} when absent."""
        value = self.payload.get(name)
        return value if isinstance(value, dict) else {}


def _default_gateway() -> Gateway:
    # Two attempts: a profile that cannot be fetched now is fetched later by a schedule.
    return Gateway.from_settings(attempts=2)


@dataclass
class HandlerContext:
    """What one processing run shares among handlers.

    - ``reply(event, messages)``: answer the event (see the module docstring); ``replied(event)``
      says whether an earlier run of the event already did;
    - ``gateway()``: a LINE gateway, made on first use;
    - ``after_batch(key, work)``: work to do once the claimed events are all marked (at most
      once per key), e.g. fetching profiles, so calls to LINE happen outside the ordered run
      of a user's events and only for what is still needed. Its failures are logged, not
      charged to the events.
    """

    gateway_factory: Callable[[], Gateway] = _default_gateway
    _gateway: Gateway | None = None
    _reply_gateway: Gateway | None = None
    _deferred: dict[str, Callable[[], object]] = field(default_factory=dict)
    _replies: dict[int, tuple[InboundEvent, list[dict[str, Any]]]] = field(default_factory=dict)
    _soon: list[int] = field(default_factory=list)

    def gateway(self) -> Gateway:
        if self._gateway is None:
            self._gateway = self.gateway_factory()
        return self._gateway

    def reply_gateway(self) -> Gateway:
        """A gateway that tries once per call (the outbox must know whether a reply token may
        have been used), made on first use."""
        if self._reply_gateway is None:
            self._reply_gateway = Gateway.from_settings(attempts=1)
        return self._reply_gateway

    # --- answers ------------------------------------------------------------------------------

    def reply(self, event: InboundEvent, messages: list[dict[str, Any]], *, first: bool = False) -> None:
        """Answer ``event`` with ``messages``, after what earlier handlers answered it with (before,
        with ``first``: e.g. the greeting that opens a conversation)."""
        if messages:
            given = self._replies.setdefault(event.pk, (event, []))[1]
            at = 0 if first else len(given)
            given[at:at] = messages

    @staticmethod
    def replied(event: InboundEvent) -> bool:
        """Whether an earlier run of ``event`` queued its answer (a first run cannot have: an
        event's answer commits with its state)."""
        from line_channel.models import OutboxItem

        if event.attempts <= 1:
            return False
        purpose = REPLY_PURPOSE + event.event_id
        return OutboxItem.objects.filter(Q(purpose=purpose) | Q(purpose__startswith=purpose + ":")).exists()

    def save_replies(self) -> None:
        """Insert the batch's answers (in its transaction); they are sent after it commits."""
        from line_channel.models import OutboxItem
        from line_channel.outbox import reply_items

        items = [
            item
            for event, messages in self._replies.values()
            for item in reply_items(
                reply_token=event.reply_token,
                user_id=event.user_id,
                messages=messages,
                purpose=REPLY_PURPOSE + event.event_id,
                received_at=event.occurred_at,
            )
        ]
        self._replies = {}
        if items:
            self._soon += [item.pk for item in OutboxItem.objects.bulk_create(items)]

    def drop_replies(self, event: InboundEvent) -> None:
        """Forget what the handlers of ``event`` answered (its handling failed and was undone)."""
        self._replies.pop(event.pk, None)

    def discard_batch(self) -> None:
        """Forget everything the batch's handlers asked for (its transaction was rolled back)."""
        self._replies, self._soon, self._deferred = {}, [], {}

    # --- after the batch ------------------------------------------------------------------------

    def after_batch(self, key: str, work: Callable[[], object]) -> None:
        self._deferred.setdefault(key, work)

    def run_deferred(self) -> None:
        """Send the batch's answers, then do the work left for after the batch."""
        soon, self._soon = self._soon, []
        if soon:
            from line_channel.outbox import send_now

            try:
                send_now(soon, gateway=self.gateway(), reply_gateway=self.reply_gateway())
            except Exception:
                log.exception("sending %d answer(s) failed; the outbox senders will send them", len(soon))
                self._wake_senders()
        deferred, self._deferred = self._deferred, {}
        for key, work in deferred.items():
            try:
                work()
            except Exception:
                log.exception("deferred webhook work %s failed", key)

    @staticmethod
    def _wake_senders() -> None:
        from line_channel.tasks_outbox import kick

        try:
            kick(force=True)
        except Exception:
            log.exception("the outbox senders could not be woken; the every-minute tick will send")

    def close(self) -> None:
        for gateway in (self._gateway, self._reply_gateway):
            if gateway is not None:
                gateway.close()
        self._gateway = self._reply_gateway = None
