"""Which rich menu a user sees: the default menu, per-user links, bulk links and batch control.

LINE's order of priority (reference, "Link rich menu to user"): the per-user
menu set with the Messaging API, then the default menu set with the Messaging
API (then the one set in LINE Official Account Manager, which the emulator does
not play). ``Channel.menu_for`` applies it. Changing the default therefore does
not reach users who have a per-user link.

Links take effect only for friends: LINE answers 200 (or 202) for a user who
blocked the account, never added it or does not exist, and links nothing.
``GET /v2/bot/user/{userId}/richmenu`` returns the per-user link only; a user
who sees the default menu gets 404 "the user has no richmenu".

Bulk link/unlink and batch control are asynchronous on LINE (202). The emulator
applies them at once and records a ``Job`` under the request id (the
``x-line-request-id`` of the 202), which batch progress reports.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from emulator import richmenu_common as common
from emulator.endpoints import Call, line_endpoint
from emulator.errors import Detail, LineError, invalid_request
from emulator.richmenu_common import (
    RICH_MENU_ID,
    USER_ID,
    RichMenuError,
    check_details,
    check_user_id,
    invalid_parameter,
    invalid_property,
    iso_time,
    menu_or_404,
    must_upload_image,
)
from emulator.state import Channel, Job, RichMenu, Store, VirtualUser

BATCH_TYPES = ("link", "unlink", "unlinkAll")


def _linkable(user: VirtualUser | None) -> bool:
    """LINE links and unlinks menus only for users who are friends (not blocked)."""
    return user is not None and user.is_friend and not user.has_blocked


def _usable_menu(channel: Channel, rich_menu_id: str) -> RichMenu:
    menu = menu_or_404(channel, rich_menu_id)
    if menu.image is None:
        raise must_upload_image()
    return menu


def accepted() -> Response:
    """LINE's 202 with an empty JSON object (the frame adds the x-line-request-id to poll with)."""
    return JSONResponse({}, status_code=202)


# --- default rich menu ---------------------------------------------------------------


@line_endpoint("richmenu.default.set")
async def set_default(call: Call) -> dict[str, Any]:
    menu = _usable_menu(call.channel, call.path("richMenuId"))
    call.channel.default_rich_menu_id = menu.rich_menu_id
    return {}


@line_endpoint("richmenu.default.get")
async def get_default(call: Call) -> dict[str, Any]:
    rich_menu_id = call.channel.default_rich_menu_id
    if rich_menu_id is None or rich_menu_id not in call.channel.rich_menus:
        raise RichMenuError(404, "no default richmenu")
    return {"richMenuId": rich_menu_id}


@line_endpoint("richmenu.default.cancel")
async def cancel_default(call: Call) -> dict[str, Any]:
    call.channel.default_rich_menu_id = None
    return {}


# --- one user ----------------------------------------------------------------------------


@line_endpoint("richmenu.user.link")
async def link_user(call: Call) -> dict[str, Any]:
    user_id = call.path("userId")
    check_user_id(user_id)
    menu = _usable_menu(call.channel, call.path("richMenuId"))
    user = call.channel.users.get(user_id)
    if _linkable(user):
        assert user is not None
        user.linked_rich_menu_id = menu.rich_menu_id
    return {}


@line_endpoint("richmenu.user.get")
async def get_user_menu(call: Call) -> dict[str, Any]:
    user_id = call.path("userId")
    check_user_id(user_id)
    user = call.channel.users.get(user_id)
    linked = user.linked_rich_menu_id if user is not None and user.is_friend else None
    if linked is None or linked not in call.channel.rich_menus:
        raise RichMenuError(404, "the user has no richmenu")
    return {"richMenuId": linked}


@line_endpoint("richmenu.user.unlink")
async def unlink_user(call: Call) -> dict[str, Any]:
    user_id = call.path("userId")
    check_user_id(user_id)
    user = call.channel.users.get(user_id)
    if _linkable(user):
        assert user is not None
        user.linked_rich_menu_id = None
    return {}


# --- bulk ------------------------------------------------------------------------------------


def _user_ids(data: dict[str, Any]) -> list[str]:
    user_ids = data.get("userIds")
    if user_ids is None:
        raise invalid_request([Detail("must be specified", "userIds")])
    if not isinstance(user_ids, list):
        raise invalid_property("userIds")
    for index, user_id in enumerate(user_ids):
        if not isinstance(user_id, str) or not USER_ID.match(user_id):
            raise invalid_property(f"userIds[{index}]")
    if not 1 <= len(user_ids) <= common.MAX_BULK_USERS:
        raise invalid_request([Detail(f"size must be between 1 and {common.MAX_BULK_USERS}", "userIds")])
    return [str(u) for u in user_ids]


def _bulk_job(call: Call, kind: str, user_ids: list[str], target: str | None) -> Job:
    """Apply a bulk link (target = menu id) or unlink (target = None) and record it."""
    now = call.store.now()
    done = 0
    for user_id in user_ids:
        user = call.channel.users.get(user_id)
        if _linkable(user):
            assert user is not None
            user.linked_rich_menu_id = target
            done += 1
    job = Job(
        request_id=call.request_id,
        kind=kind,
        phase="succeeded",
        accepted_at=now,
        completed_at=now,
        target_count=len(user_ids),
        success_count=done,
        failure_count=len(user_ids) - done,
        detail={"richMenuId": target, "userIds": user_ids},
    )
    call.channel.jobs[job.request_id] = job
    return job


@line_endpoint("richmenu.bulk")
async def bulk_link(call: Call) -> Response:
    data = await call.json_object()
    rich_menu_id = data.get("richMenuId")
    if rich_menu_id is None:
        raise invalid_request([Detail("must be specified", "richMenuId")])
    if not isinstance(rich_menu_id, str):
        raise invalid_property("richMenuId")
    user_ids = _user_ids(data)
    if not RICH_MENU_ID.match(rich_menu_id):
        raise invalid_request([Detail("invalid richMenuId", "richMenuId")])
    menu = call.channel.rich_menus.get(rich_menu_id)
    if menu is None:
        raise RichMenuError(404, "richmenu not found")
    if menu.image is None:
        raise must_upload_image()
    _bulk_job(call, "richmenu.bulk.link", user_ids, menu.rich_menu_id)
    return accepted()


@line_endpoint("richmenu.bulk")
async def bulk_unlink(call: Call) -> Response:
    data = await call.json_object()
    _bulk_job(call, "richmenu.bulk.unlink", _user_ids(data), None)
    return accepted()


# --- batch control -----------------------------------------------------------------------


def _batch_operations(channel: Channel, data: dict[str, Any]) -> tuple[list[dict[str, str]], str | None]:
    """The checked operations and resume key, or LINE's 400/404 answer."""
    operations = data.get("operations")
    key = data.get("resumeRequestKey")
    if operations is None:
        raise invalid_request([Detail("must be specified", "operations")])
    if not isinstance(operations, list):
        raise invalid_property("operations")
    if key is not None and not isinstance(key, str):
        raise invalid_property("resumeRequestKey")
    details: list[Detail] = []
    if len(operations) > common.MAX_BATCH_OPERATIONS:
        details.append(Detail(f"size must be between 0 and {common.MAX_BATCH_OPERATIONS}", "operations"))
    if key is not None and not common.RESUME_KEY.match(key):
        details.append(Detail('must match "[0-9a-zA-Z\\-_]{1,100}"', "resumeRequestKey"))
    checked: list[dict[str, str]] = []
    for index, op in enumerate(operations):
        path = f"operations[{index}]"
        if not isinstance(op, dict):
            raise invalid_property(path)
        kind = op.get("type")
        if kind is None:
            details.append(Detail("must be specified", path + ".type"))
            continue
        if kind not in BATCH_TYPES:
            details.append(Detail(f"must be one of {', '.join(BATCH_TYPES)}", path + ".type"))
            continue
        item = {"type": str(kind)}
        needed = {"link": ("from", "to"), "unlink": ("from",), "unlinkAll": ()}[str(kind)]
        for name in needed:
            value = op.get(name)
            if value is None:
                details.append(Detail("must be specified", f"{path}.{name}"))
            elif not isinstance(value, str):
                raise invalid_property(f"{path}.{name}")
            elif not RICH_MENU_ID.match(value):
                details.append(Detail("invalid richMenuId", f"{path}.{name}"))
            else:
                item[name] = value
        checked.append(item)
    kinds = {op["type"] for op in checked}
    if "unlinkAll" in kinds and len(operations) > 1:
        details.append(Detail("'unlinkAll' type can't be combined with other type", "operations[].type"))
    seen: set[str] = set()
    for op in checked:
        source = op.get("from")
        if source is not None and source in seen:
            details.append(Detail(f"from richmenu ({source}) is duplicated", "operations[].from"))
        if source is not None:
            seen.add(source)
    check_details(details)
    _check_batch_menus(channel, checked)
    return checked, key


def _check_batch_menus(channel: Channel, operations: list[dict[str, str]]) -> None:
    for index, op in enumerate(operations):
        for name in ("from", "to"):
            rich_menu_id = op.get(name)
            if rich_menu_id is None:
                continue
            menu = channel.rich_menus.get(rich_menu_id)
            prop = f"operations[{index}].{name}"
            if menu is None:
                raise LineError(
                    404,
                    "The request body has 1 error(s)",
                    [Detail(f"Richmenu ({rich_menu_id}) is not found", prop)],
                )
            if name == "to" and menu.image is None:
                raise invalid_request(
                    [Detail(f"'to' richmenu ({rich_menu_id}) must have image but it doesn't", prop)]
                )


def _resumed(store: Store, channel: Channel, key: str | None) -> Job | None:
    """The earlier batch with this resume key whose users are all done (within 14 days)."""
    if key is None:
        return None
    for job in channel.jobs.values():
        if (
            job.kind == "richmenu.batch"
            and job.detail.get("resumeRequestKey") == key
            and job.phase == "succeeded"
            and store.now() - job.accepted_at <= common.RESUME_KEY_TTL
        ):
            return job
    return None


def run_batch(store: Store, channel: Channel, operations: list[dict[str, str]]) -> int:
    """Apply batch operations to the links as they were before the request; return users changed.

    Operations are independent: with A → B and B → C, users of A end on B, not C.
    """
    before = {
        user.user_id: user.linked_rich_menu_id
        for user in channel.users.values()
        if user.linked_rich_menu_id is not None
    }
    unlink_all = any(op["type"] == "unlinkAll" for op in operations)
    by_source = {op["from"]: op for op in operations if "from" in op}
    changed = 0
    for user_id, linked in before.items():
        user = channel.users[user_id]
        if unlink_all:
            user.linked_rich_menu_id = None
            changed += 1
            continue
        op = by_source.get(linked or "")
        if op is None:
            continue
        user.linked_rich_menu_id = op["to"] if op["type"] == "link" else None
        changed += 1
    return changed


@line_endpoint("richmenu.batch")
async def batch(call: Call) -> Response:
    operations, key = _batch_operations(call.channel, await call.json_object())
    now = call.store.now()
    earlier = _resumed(call.store, call.channel, key)
    changed = 0 if earlier is not None else run_batch(call.store, call.channel, operations)
    detail: dict[str, Any] = {"operations": operations, "resumeRequestKey": key}
    if earlier is not None:
        detail["resumedFrom"] = earlier.request_id
    call.channel.jobs[call.request_id] = Job(
        request_id=call.request_id,
        kind="richmenu.batch",
        phase="succeeded",
        accepted_at=now,
        completed_at=now,
        target_count=changed,
        success_count=changed,
        detail=detail,
    )
    return accepted()


@line_endpoint("richmenu.batch.validate")
async def validate_batch(call: Call) -> dict[str, Any]:
    _batch_operations(call.channel, await call.json_object())
    return {}


@line_endpoint("richmenu.progress")
async def batch_progress(call: Call) -> dict[str, Any]:
    request_id = call.query("requestId")
    if not request_id:
        raise invalid_parameter("requestId")
    job = call.channel.jobs.get(request_id)
    if job is None or job.kind != "richmenu.batch":
        raise RichMenuError(404, "Not found")
    body = {"phase": job.phase, "acceptedTime": iso_time(job.accepted_at)}
    if job.completed_at is not None and job.phase in ("succeeded", "failed"):
        body["completedTime"] = iso_time(job.completed_at)
    return body


# --- richmenuswitch ------------------------------------------------------------------------


def switch_by_alias(store: Store, channel: Channel, user: VirtualUser, alias_id: str) -> str:
    """What a tap on a ``richmenuswitch`` area does: link the alias's menu to the user.

    Returns the ``status`` LINE puts in the postback event's ``params``:
    ``SUCCESS`` (the user now has a per-user link to the alias's menu),
    ``RICHMENU_ALIAS_ID_NOTFOUND`` (no such alias), ``RICHMENU_NOTFOUND`` (the
    alias points at a deleted menu) or ``FAILED`` (the user cannot get a link:
    not a friend, blocked, or the menu has no image). On LINE the event carries
    ``newRichMenuAliasId`` only with ``SUCCESS``.
    """
    with store.lock:
        alias = channel.aliases.get(alias_id)
        if alias is None:
            return "RICHMENU_ALIAS_ID_NOTFOUND"
        menu = channel.rich_menus.get(alias.rich_menu_id)
        if menu is None:
            return "RICHMENU_NOTFOUND"
        if not _linkable(channel.users.get(user.user_id)) or menu.image is None:
            return "FAILED"
        user.linked_rich_menu_id = menu.rich_menu_id
        return "SUCCESS"
