"""What the residents app does with LINE events (registered with ``line_channel.events.handles``)."""

from __future__ import annotations

from line_channel.events import HandlerContext, InboundEvent, handles
from line_channel.liff import liff_id
from line_channel.models import OutboxItem
from line_channel.outbox import enqueue_reply
from residents.models import MyPageSettings
from residents.services import sync_reachability

INVITE_PURPOSE = "residents.invite:"


@handles("follow")
def invite_to_mypage(event: InboundEvent, context: HandlerContext) -> None:
    """A new friend (or one who unblocked) gets マイページの案内: a button that opens My Page.

    Once per follow event: a second run of the same event finds the message queued already.
    """
    config = MyPageSettings.load()
    app_id = liff_id()
    if event.mode != "active" or not event.user_id or not app_id:
        return  # (in standby mode another bot answers; without a LIFF app there is no My Page)
    if not config.invite_on_follow or not config.invite_text.strip():
        return
    purpose = INVITE_PURPOSE + event.event_id
    if OutboxItem.objects.filter(purpose=purpose).exists():
        return
    enqueue_reply(
        reply_token=event.reply_token,
        user_id=event.user_id,
        messages=[config.invitation(app_id)],
        purpose=purpose,
        received_at=event.occurred_at,
    )


@handles("follow", "unfollow")
def follow_reachability(event: InboundEvent, context: HandlerContext) -> None:
    """The resident's 受信設定 index follows their friend status (segments read reachable entries)."""
    if event.user_id:
        sync_reachability(line_user_id=event.user_id)
