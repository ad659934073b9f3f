"""Publishing a メニューセット to LINE, so residents never see a broken menu.

``publish(menu_set_id=, revision_id=)`` runs in Django-Q when Wagtail publishes a revision (and
may run twice: every step is recorded in ``PublishedMenu`` and skipped when done):

1. each tab becomes a new LINE rich menu with its image (recorded before the image goes, so a
   crash leaves nothing unknown on LINE);
2. the set's aliases (one per tab, stable across revisions) move to the new menus, and the
   default menu too when the set is the friends' default: from this moment every tab switch and
   every friend without a menu of their own sees the new revision;
3. ``retire`` then moves the friends still linked to an old menu (a tab switch links a friend to
   the menu they switched to) to the same tab of the new revision with LINE's batch control, and
   deletes the old menus once LINE says the batch succeeded. Batch control is limited (3 an hour):
   until it runs, the old menus stay on LINE, whole, and the minute tick tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import transaction
from wagtail.models import Revision

from line_channel.gateway import Gateway, LineApiError
from line_channel.ratelimit import RateLimited
from richmenus.line_menus import line_tabs, remember_image
from richmenus.models import MenuSet, PublishedMenu, SegmentMenuLink

log = logging.getLogger(__name__)
State = PublishedMenu.State


def publish(*, menu_set_id: int, revision_id: int) -> str:
    """Make revision ``revision_id`` of the set what LINE shows; return what happened."""
    menu_set = MenuSet.objects.filter(pk=menu_set_id).first()
    if menu_set is None or not menu_set.live or menu_set.live_revision_id != revision_id:
        return "superseded"  # a later revision was published (or the set unpublished) meanwhile
    revision = Revision.objects.get(pk=revision_id)
    tabs = line_tabs(revision.as_object())
    with Gateway.from_settings() as gateway:
        rows = {}
        for tab in tabs:
            row = PublishedMenu.objects.filter(
                revision_id=revision_id, tab=tab.number, state__in=(State.CREATED, State.LIVE)
            ).first()
            if row is not None and gateway.get_rich_menu(rich_menu_id=row.rich_menu_id) is None:
                PublishedMenu.objects.filter(pk=row.pk).update(state=State.DELETED)  # gone from LINE
                row = None
            if row is None:
                rich_menu_id = gateway.create_rich_menu(menu=tab.menu)
                row = PublishedMenu.objects.create(
                    menu_set=menu_set,
                    revision_id=revision_id,
                    tab=tab.number,
                    rich_menu_id=rich_menu_id,
                    alias_id=tab.alias_id,
                )
            if not row.image_uploaded:
                gateway.upload_rich_menu_image(
                    rich_menu_id=row.rich_menu_id, content=tab.image, content_type=tab.content_type
                )
                PublishedMenu.objects.filter(pk=row.pk).update(image_uploaded=True)
                remember_image(row.rich_menu_id, tab.image, tab.content_type)
            rows[tab.number] = row
        old = list(
            PublishedMenu.objects.filter(menu_set=menu_set, state=State.LIVE).exclude(revision_id=revision_id)
        )
        for row in rows.values():
            gateway.set_rich_menu_alias(alias_id=row.alias_id, rich_menu_id=row.rich_menu_id)
        for alias in {row.alias_id for row in old} - {row.alias_id for row in rows.values()}:
            gateway.delete_rich_menu_alias(alias_id=alias)  # a tab the new revision no longer has
        published = revision.as_object()
        _default_menu(gateway, is_default=published.is_default, new=rows[1], old=old)
        linked = _link_segment(gateway, published, rows[1]) if published.segment_id else 0
        with transaction.atomic():
            PublishedMenu.objects.filter(pk__in=[row.pk for row in rows.values()]).update(state=State.LIVE)
            PublishedMenu.objects.filter(pk__in=[row.pk for row in old]).update(state=State.RETIRED)
    retired = retire(menu_set_id=menu_set_id)
    segment = f"; {linked} friends of the segment linked" if linked else ""
    return f"published {len(rows)} tabs{segment}; {retired}"


def _link_segment(gateway: Gateway, menu_set: MenuSet, first: PublishedMenu) -> int:
    """Show the set to the friends of its 配信グループ: their first tab, linked per user in bulk
    (500 a request), remembered in ``SegmentMenuLink`` for ``sync_segment_links``."""
    linked = 0
    for user_ids in _members(menu_set):
        gateway.bulk_link_rich_menu(rich_menu_id=first.rich_menu_id, user_ids=user_ids)
        _remember(menu_set, user_ids)
        linked += len(user_ids)
    return linked


def _members(menu_set: MenuSet) -> Iterator[list[str]]:
    from deliveries import audience
    from deliveries.models import Segment

    segment = Segment.objects.filter(pk=menu_set.segment_id or 0).first()
    if segment is not None:
        yield from audience.recipients(segment.definition, chunk=500)


def _remember(menu_set: MenuSet, user_ids: list[str]) -> None:
    from line_channel.models import Follower

    followers = Follower.objects.filter(line_user_id__in=user_ids).values_list("pk", flat=True)
    SegmentMenuLink.objects.bulk_create(
        [SegmentMenuLink(menu_set=menu_set, follower_id=pk) for pk in followers], ignore_conflicts=True
    )


def sync_segment_links() -> str:
    """Daily: friends who joined a set's 配信グループ since it was published see the set; those
    who left it see the friends' default menu again. Not during 災害モード (the revert restores
    what the switch found)."""
    from line_channel.models import Follower
    from richmenus.emergency import active

    if active() is not None:
        return "災害モード中"
    joined = left = 0
    sets = MenuSet.objects.filter(live=True).exclude(segment=None)
    with Gateway.from_settings() as gateway:
        for menu_set in sets:
            first = PublishedMenu.objects.filter(menu_set=menu_set, state=State.LIVE, tab=1).first()
            if first is None:
                continue
            members = {user_id for chunk in _members(menu_set) for user_id in chunk}
            links = SegmentMenuLink.objects.filter(menu_set=menu_set)
            known = set(links.values_list("follower__line_user_id", flat=True))
            new = sorted(members - known)
            for start in range(0, len(new), 500):
                gateway.bulk_link_rich_menu(
                    rich_menu_id=first.rich_menu_id, user_ids=new[start : start + 500]
                )
                _remember(menu_set, new[start : start + 500])
            gone = sorted(known - members)
            following = set(
                Follower.objects.filter(line_user_id__in=gone, status=Follower.Status.FOLLOWING).values_list(
                    "line_user_id", flat=True
                )
            )
            leaving = [user_id for user_id in gone if user_id in following]
            for start in range(0, len(leaving), 500):
                gateway.bulk_unlink_rich_menu(user_ids=leaving[start : start + 500])
            links.filter(follower__line_user_id__in=gone).delete()
            joined, left = joined + len(new), left + len(gone)
    return f"{joined} joined, {left} left"


def unpublish(*, menu_set_id: int) -> str:
    """The set was unpublished in Wagtail: it stops being the default, its aliases go, and its
    menus are retired (friends linked to them are unlinked, then the menus deleted)."""
    menu_set = MenuSet.objects.filter(pk=menu_set_id).first()
    if menu_set is not None and menu_set.live:
        return "published again"
    rows = list(PublishedMenu.objects.filter(menu_set_id=menu_set_id, state=State.LIVE))
    if not rows:
        return "nothing on LINE"
    with Gateway.from_settings() as gateway:
        _default_menu(gateway, is_default=False, new=None, old=rows)
        for alias in sorted({row.alias_id for row in rows}):
            gateway.delete_rich_menu_alias(alias_id=alias)
        PublishedMenu.objects.filter(pk__in=[row.pk for row in rows]).update(state=State.RETIRED)
    SegmentMenuLink.objects.filter(menu_set_id=menu_set_id).delete()
    return f"unpublished; {retire(menu_set_id=menu_set_id)}"


def _default_menu(
    gateway: Gateway, *, is_default: bool, new: PublishedMenu | None, old: list[PublishedMenu]
) -> None:
    """Make the set's first tab the friends' default (or stop it being it). During 災害モード the
    default stays the emergency menu: the switch remembers the new one for its revert."""
    from richmenus.emergency import NO_DEFAULT, active

    switch = active()
    was_default = (switch.previous_default if switch else gateway.get_default_rich_menu()) in {
        row.rich_menu_id for row in old
    }
    target = new.rich_menu_id if is_default and new is not None else (NO_DEFAULT if was_default else None)
    if target is None:
        return
    if switch is not None:
        switch.previous_default = target
        switch.save(update_fields=["previous_default"])
    elif target == NO_DEFAULT:
        gateway.cancel_default_rich_menu()
    else:
        gateway.set_default_rich_menu(rich_menu_id=target)


def retire(*, menu_set_id: int | None = None) -> str:
    """Move friends off replaced menus (batch control), then delete those menus; idempotent."""
    retired = PublishedMenu.objects.filter(state=State.RETIRED)
    if menu_set_id is not None:
        retired = retired.filter(menu_set_id=menu_set_id)
    rows = list(retired)
    if not rows:
        return "nothing to retire"
    with Gateway.from_settings() as gateway:
        pending = {row.batch_request_id for row in rows if row.batch_request_id}
        for request_id in pending:
            phase = gateway.rich_menu_batch_progress(request_id=request_id).get("phase")
            if phase == "ongoing":
                return "waiting for LINE's batch"
            if phase == "failed":
                PublishedMenu.objects.filter(batch_request_id=request_id).update(batch_request_id="")
                return "LINE's batch failed; trying again later"
        unlinked = [row for row in rows if not row.batch_request_id]
        if unlinked:
            operations = []
            for row in unlinked:
                target = _replacement(row)
                if target is not None:
                    operations.append({"type": "link", "from": row.rich_menu_id, "to": target})
                else:
                    operations.append({"type": "unlink", "from": row.rich_menu_id})
            try:
                request_id = gateway.rich_menu_batch(operations=operations)
            except RateLimited:
                return "batch control is busy this hour; trying again later"
            PublishedMenu.objects.filter(pk__in=[row.pk for row in unlinked]).update(
                batch_request_id=request_id
            )
            if gateway.rich_menu_batch_progress(request_id=request_id).get("phase") != "succeeded":
                return "waiting for LINE's batch"
        for row in rows:
            try:
                gateway.delete_rich_menu(rich_menu_id=row.rich_menu_id)
            except LineApiError as error:
                log.warning("rich menu %s: not deleted (%s)", row.rich_menu_id, error)
                continue
            PublishedMenu.objects.filter(pk=row.pk).update(state=State.DELETED)
    return f"retired {len(rows)} menus"


def _replacement(row: PublishedMenu) -> str | None:
    """The live menu of the same tab of the same set (or its first tab), for a friend on ``row``."""
    live = PublishedMenu.objects.filter(menu_set_id=row.menu_set_id, state=State.LIVE)
    same = live.filter(tab=row.tab).first() or live.filter(tab=1).first()
    return same.rich_menu_id if same is not None else None
