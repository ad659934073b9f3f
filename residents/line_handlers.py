"""What the residents app does with LINE events (registered with ``line_channel.events.handles``)."""

from __future__ import annotations

from line_channel.events import HandlerContext, InboundEvent, handles
from line_channel.liff import liff_id
from residents.models import MyPageSettings
from residents.services import sync_reachability


@handles("follow")
def invite_to_mypage(event: InboundEvent, context: HandlerContext) -> None:
    """A new friend (or one who unblocked) gets マイページの案内: a button that opens My Page, in
    the same reply as the chatbot's greeting.

    Once per follow event: a second run of the same event finds the reply queued already.
    """
    config = MyPageSettings.load()
    app_id = liff_id()
    if event.mode != "active" or not event.user_id or not app_id:
        return  # (in standby mode another bot answers; without a LIFF app there is no My Page)
    if not config.invite_on_follow or not config.invite_text.strip() or context.replied(event):
        return
    context.reply(event, [config.invitation(app_id)])


@handles("follow", "unfollow")
def follow_reachability(event: InboundEvent, context: HandlerContext) -> None:
    """The resident's 受信設定 index follows their friend status (segments read reachable entries)."""
    if event.user_id:
        sync_reachability(line_user_id=event.user_id)
