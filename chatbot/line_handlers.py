"""What the chatbot does with LINE events (registered with ``line_channel.events.handles``):
a typed message, a tap naming a page (postback) and a new friend (the greeting page).

Each answer goes out through the outbox as the event's reply (``HandlerContext.reply``: a push once
the reply token has expired), once per event: a second run of the same event finds its answer
queued already. The worker that processed the event sends it as soon as the batch has committed.
"""

from __future__ import annotations

from chatbot import engine
from chatbot.actions import parse_postback
from line_channel.events import HandlerContext, InboundEvent, handles


def _ours(event: InboundEvent, context: HandlerContext) -> bool:
    """Events the bot answers: a user's, in active mode (in standby another bot answers)."""
    return event.mode == "active" and bool(event.user_id) and not context.replied(event)


def _send(
    event: InboundEvent, context: HandlerContext, answer: engine.Answer | None, *, first: bool = False
) -> None:
    if answer is not None:
        context.reply(event, answer.messages, first=first)


@handles("message")
def answer_message(event: InboundEvent, context: HandlerContext) -> None:
    message = event.section("message")
    if message.get("type") != "text" or not _ours(event, context):
        return
    _send(event, context, engine.answer_text(user_id=event.user_id, text=str(message.get("text") or "")))


@handles("postback")
def answer_postback(event: InboundEvent, context: HandlerContext) -> None:
    parsed = parse_postback(str(event.section("postback").get("data") or ""))
    if parsed is None or not _ours(event, context):
        return
    page_id, draft = parsed
    _send(event, context, engine.answer_tap(page_id, user_id=event.user_id, draft=draft))


@handles("follow")
def greet(event: InboundEvent, context: HandlerContext) -> None:
    if _ours(event, context):
        _send(event, context, engine.greeting(user_id=event.user_id), first=True)  # (before My Page's)
