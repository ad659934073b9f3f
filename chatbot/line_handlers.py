"""What the chatbot does with LINE events (registered with ``line_channel.events.handles``):
a typed message, a tap naming a page (postback) and a new friend (the greeting page).

Each answer goes out through the outbox as a reply (a push once the reply token has expired), once
per event: a second run of the same event finds its answer queued already. The worker that
processed the event sends it right after (``HandlerContext.send_soon``), so an answer does not
wait for an outbox sender; the outbox's claim keeps it sent once either way.
"""

from __future__ import annotations

from chatbot import engine
from chatbot.actions import parse_postback
from line_channel.events import HandlerContext, InboundEvent, handles
from line_channel.models import OutboxItem
from line_channel.outbox import enqueue_reply

PURPOSE = "chatbot:"


def _send(event: InboundEvent, context: HandlerContext, answer: engine.Answer | None) -> None:
    if answer is None or not answer.messages:
        return
    item = enqueue_reply(
        reply_token=event.reply_token,
        user_id=event.user_id,
        messages=answer.messages,
        purpose=PURPOSE + event.event_id,
        received_at=event.occurred_at,
    )
    context.send_soon(item.pk)  # (this worker sends it as soon as the events are marked)


def _answered(event: InboundEvent) -> bool:
    return OutboxItem.objects.filter(purpose=PURPOSE + event.event_id).exists()


def _ours(event: InboundEvent) -> bool:
    """Events the bot answers: a user's, in active mode (in standby another bot answers)."""
    return event.mode == "active" and bool(event.user_id) and not _answered(event)


@handles("message")
def answer_message(event: InboundEvent, context: HandlerContext) -> None:
    message = event.section("message")
    if message.get("type") != "text" or not _ours(event):
        return
    _send(event, context, engine.answer_text(user_id=event.user_id, text=str(message.get("text") or "")))


@handles("postback")
def answer_postback(event: InboundEvent, context: HandlerContext) -> None:
    parsed = parse_postback(str(event.section("postback").get("data") or ""))
    if parsed is None or not _ours(event):
        return
    page_id, draft = parsed
    _send(event, context, engine.answer_tap(page_id, user_id=event.user_id, draft=draft))


@handles("follow")
def greet(event: InboundEvent, context: HandlerContext) -> None:
    if _ours(event):
        _send(event, context, engine.greeting(user_id=event.user_id))
