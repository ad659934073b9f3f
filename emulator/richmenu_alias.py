"""Rich menu aliases: the names ``richmenuswitch`` actions switch to (tabs).

LINE's rules (reference, "Create rich menu alias" and neighbours): the alias id
is 1–32 characters of ``a-z``, ``0-9``, ``_`` and ``-``, unique per channel; it
must point at a rich menu of the same channel that has its image; at most 1,000
aliases; a duplicate id is 400 "conflict richmenu alias id"; a menu that does
not exist or has no image is 400 "richmenu not found"; an unknown alias is 404
"richmenu alias not found". Deleting a rich menu leaves aliases that point at
it in place (a tap then reports ``RICHMENU_NOTFOUND``).
"""

from __future__ import annotations

from typing import Any

from emulator import richmenu_common as common
from emulator.endpoints import Call, line_endpoint
from emulator.errors import Detail, invalid_request
from emulator.richmenu_common import (
    ALIAS_ID,
    RICH_MENU_ID,
    RichMenuError,
    invalid_parameter,
    invalid_property,
)
from emulator.state import Alias, Channel


def alias_json(alias: Alias) -> dict[str, str]:
    return {"richMenuAliasId": alias.alias_id, "richMenuId": alias.rich_menu_id}


def _target_menu(channel: Channel, data: dict[str, Any]) -> str:
    """The checked ``richMenuId`` of a create or update request."""
    rich_menu_id = data.get("richMenuId")
    if rich_menu_id is None:
        raise invalid_request([Detail("must be specified", "richMenuId")])
    if not isinstance(rich_menu_id, str):
        raise invalid_property("richMenuId")
    if not RICH_MENU_ID.match(rich_menu_id):
        raise invalid_request([Detail("invalid richMenuId", "richMenuId")])
    menu = channel.rich_menus.get(rich_menu_id)
    if menu is None or menu.image is None:
        raise RichMenuError(400, "richmenu not found")
    return rich_menu_id


def _alias_or_404(call: Call) -> Alias:
    alias_id = call.path("richMenuAliasId")
    if not ALIAS_ID.match(alias_id):
        raise invalid_parameter("richMenuAliasId")
    alias = call.channel.aliases.get(alias_id)
    if alias is None:
        raise RichMenuError(404, "richmenu alias not found")
    return alias


@line_endpoint("richmenu.alias.create")
async def create_alias(call: Call) -> dict[str, Any]:
    data = await call.json_object()
    alias_id = data.get("richMenuAliasId")
    if alias_id is None:
        raise invalid_request([Detail("must be specified", "richMenuAliasId")])
    if not isinstance(alias_id, str):
        raise invalid_property("richMenuAliasId")
    if not ALIAS_ID.match(alias_id):
        raise invalid_request([Detail("invalid richMenuAliasId", "richMenuAliasId")])
    rich_menu_id = _target_menu(call.channel, data)
    if alias_id in call.channel.aliases:
        raise RichMenuError(400, "conflict richmenu alias id")
    if len(call.channel.aliases) >= common.MAX_ALIASES:
        raise RichMenuError(
            400, f"The number of rich menu aliases has reached the limit ({common.MAX_ALIASES})"
        )
    call.channel.aliases[alias_id] = Alias(alias_id=alias_id, rich_menu_id=rich_menu_id)
    return {}


@line_endpoint("richmenu.alias.update")
async def update_alias(call: Call) -> dict[str, Any]:
    alias = _alias_or_404(call)
    alias.rich_menu_id = _target_menu(call.channel, await call.json_object())
    return {}


@line_endpoint("richmenu.alias.get")
async def get_alias(call: Call) -> dict[str, str]:
    return alias_json(_alias_or_404(call))


@line_endpoint("richmenu.alias.list")
async def list_aliases(call: Call) -> dict[str, Any]:
    return {"aliases": [alias_json(a) for a in call.channel.aliases.values()]}


@line_endpoint("richmenu.alias.delete")
async def delete_alias(call: Call) -> dict[str, Any]:
    alias = _alias_or_404(call)
    del call.channel.aliases[alias.alias_id]
    return {}
