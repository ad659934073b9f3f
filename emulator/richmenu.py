"""Rich menus: create, validate, get, list, delete, images, and the routes of the whole feature.

Endpoints follow LINE's OpenAPI file (``messaging-api.yml``) and reference. The
image endpoints live on the api-data host only (on the api host they are 404).
The default menu, per-user links, bulk and batch control are in
``emulator.richmenu_links``; aliases in ``emulator.richmenu_alias``; the rich
menu object's validation in ``emulator.richmenu_validation``.

Helpers other modules use (the phone simulator's taps): ``menu_json``,
``area_at`` and ``switch_by_alias``.

Rate-limit names: ``richmenu.create`` and ``richmenu.delete`` (100 per hour),
``richmenu.batch`` (3 per hour), ``richmenu.bulk``, ``richmenu.alias.delete``
and ``richmenu.progress`` (see ``emulator.config.DEFAULT_RATE_LIMITS``); every
other ``richmenu.*`` name has no entry and falls back to "default", each in its
own window.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator import richmenu_common as common
from emulator.control import ControlError, channel_of, control, user_of
from emulator.endpoints import Call, line_endpoint
from emulator.errors import LineError
from emulator.richmenu_alias import create_alias, delete_alias, get_alias, list_aliases, update_alias
from emulator.richmenu_common import (
    IMAGE_ALREADY_UPLOADED,
    IMAGE_NOT_ALLOWED,
    RichMenuError,
    area_at,
    menu_json,
    menu_or_404,
)
from emulator.richmenu_links import (
    batch,
    batch_progress,
    bulk_link,
    bulk_unlink,
    cancel_default,
    get_default,
    get_user_menu,
    link_user,
    set_default,
    switch_by_alias,
    unlink_user,
    validate_batch,
)
from emulator.richmenu_validation import validate_rich_menu
from emulator.state import Channel, RichMenu, new_token

__all__ = ["area_at", "menu_json", "switch_by_alias"]

IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG"}
FORMAT_TYPES = {fmt: mime for mime, fmt in IMAGE_TYPES.items()}


def new_rich_menu_id() -> str:
    return "richmenu-" + new_token(32)


# --- rich menu objects ------------------------------------------------------------------


@line_endpoint("richmenu.create")
async def create_menu(call: Call) -> dict[str, Any]:
    body = validate_rich_menu(await call.json_object())
    if len(call.channel.rich_menus) >= common.MAX_RICH_MENUS:
        raise RichMenuError(400, f"The number of rich menus has reached the limit ({common.MAX_RICH_MENUS})")
    menu = RichMenu(rich_menu_id=new_rich_menu_id(), body=body, created_at=call.store.now())
    call.channel.rich_menus[menu.rich_menu_id] = menu
    return {"richMenuId": menu.rich_menu_id}


@line_endpoint("richmenu.validate")
async def validate_menu(call: Call) -> dict[str, Any]:
    validate_rich_menu(await call.json_object())
    return {}


@line_endpoint("richmenu.get")
async def get_menu(call: Call) -> dict[str, Any]:
    return menu_json(menu_or_404(call.channel, call.path("richMenuId")))


@line_endpoint("richmenu.list")
async def list_menus(call: Call) -> dict[str, Any]:
    return {"richmenus": [menu_json(m) for m in call.channel.rich_menus.values()]}


def delete_rich_menu(channel: Channel, rich_menu_id: str) -> None:
    """Remove a menu; users stop seeing it (default and per-user links to it go), aliases stay."""
    del channel.rich_menus[rich_menu_id]
    if channel.default_rich_menu_id == rich_menu_id:
        channel.default_rich_menu_id = None
    for user in channel.users.values():
        if user.linked_rich_menu_id == rich_menu_id:
            user.linked_rich_menu_id = None


@line_endpoint("richmenu.delete")
async def delete_menu(call: Call) -> dict[str, Any]:
    menu = menu_or_404(call.channel, call.path("richMenuId"))
    delete_rich_menu(call.channel, menu.rich_menu_id)
    return {}


# --- images (api-data host) ---------------------------------------------------------------


def check_image(data: bytes, menu: RichMenu) -> str:
    """The MIME type of an acceptable image for ``menu``, or LINE's 400.

    LINE's requirements: JPEG or PNG, ≤ 1 MB, width 800–2500, height ≥ 250,
    width / height ≥ 1.45; the emulator also requires the image to have the
    menu's own ``size`` (the tap areas are defined in those pixels). The bytes
    are decoded, so a header that lies or a truncated file is refused too.
    """
    if not data or len(data) > common.MAX_IMAGE_BYTES:
        raise LineError(400, IMAGE_NOT_ALLOWED)
    size = menu.body["size"]
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in FORMAT_TYPES or image.size != (size["width"], size["height"]):
                raise LineError(400, IMAGE_NOT_ALLOWED)
            image.load()
            return FORMAT_TYPES[image.format]
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise LineError(400, IMAGE_NOT_ALLOWED) from exc


@line_endpoint("richmenu.image.upload")
async def upload_image(call: Call) -> dict[str, Any]:
    content_type = call.request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in IMAGE_TYPES:
        raise LineError(415, "Unsupported media type")
    menu = menu_or_404(call.channel, call.path("richMenuId"))
    if menu.image is not None:
        raise LineError(400, IMAGE_ALREADY_UPLOADED)
    data = await call.body()
    image_type = check_image(data, menu)
    menu.image, menu.image_type = data, image_type
    return {}


@line_endpoint("richmenu.image.download")
async def download_image(call: Call) -> Response:
    menu = menu_or_404(call.channel, call.path("richMenuId"))
    if menu.image is None:
        raise common.menu_not_found()
    return Response(menu.image, media_type=menu.image_type or "application/octet-stream")


# --- control API (simulator and tests) ---------------------------------------------------


def menu_detail(menu: RichMenu) -> dict[str, Any]:
    return {**menu_json(menu), "hasImage": menu.image is not None, "imageType": menu.image_type}


@control
async def control_menus(request: Request) -> dict[str, Any]:
    """The channel's rich menus (with whether each has its image), default menu and aliases."""
    channel = channel_of(request)
    return {
        "defaultRichMenuId": channel.default_rich_menu_id,
        "richMenus": [menu_detail(m) for m in channel.rich_menus.values()],
        "aliases": [
            {"richMenuAliasId": a.alias_id, "richMenuId": a.rich_menu_id} for a in channel.aliases.values()
        ],
    }


@control
async def control_user_menu(request: Request) -> dict[str, Any]:
    """The menu the user sees, and why: "user" (per-user link) or "default" (the API default)."""
    channel = channel_of(request)
    user = user_of(request, channel)
    rich_menu_id = channel.menu_for(user.user_id)
    if rich_menu_id is None:
        return {"richMenu": None, "source": None}
    source = "user" if user.linked_rich_menu_id == rich_menu_id else "default"
    return {"richMenu": menu_detail(channel.rich_menus[rich_menu_id]), "source": source}


@control
async def control_menu_audience(request: Request) -> dict[str, Any]:
    """How many friends see each rich menu, and how many by a per-user link (benches, tests)."""
    channel = channel_of(request)
    menus: dict[str, int] = {}
    per_user = nothing = 0
    for user_id in channel.friend_ids:
        rich_menu_id = channel.menu_for(user_id)
        if rich_menu_id is None:
            nothing += 1
            continue
        menus[rich_menu_id] = menus.get(rich_menu_id, 0) + 1
        user = channel.users.get(user_id)
        per_user += user is not None and user.linked_rich_menu_id == rich_menu_id
    return {"menus": menus, "perUser": per_user, "none": nothing}


async def control_menu_image(request: Request) -> Response:
    """The image of a rich menu, for the phone simulator to draw."""
    try:
        channel = channel_of(request)
    except ControlError as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    menu = channel.rich_menus.get(request.path_params["rich_menu_id"])
    if menu is None or menu.image is None:
        return JSONResponse({"error": "リッチメニューの画像がありません。"}, status_code=404)
    return Response(menu.image, media_type=menu.image_type or "application/octet-stream")


_R = "/v2/bot/richmenu"
api_routes = [
    Route(_R, create_menu, methods=["POST"]),
    Route(_R + "/validate", validate_menu, methods=["POST"]),
    Route(_R + "/validate/batch", validate_batch, methods=["POST"]),
    Route(_R + "/list", list_menus, methods=["GET"]),
    Route(_R + "/batch", batch, methods=["POST"]),
    Route(_R + "/progress/batch", batch_progress, methods=["GET"]),
    Route(_R + "/bulk/link", bulk_link, methods=["POST"]),
    Route(_R + "/bulk/unlink", bulk_unlink, methods=["POST"]),
    Route(_R + "/alias", create_alias, methods=["POST"]),
    Route(_R + "/alias/list", list_aliases, methods=["GET"]),
    Route(_R + "/alias/{richMenuAliasId}", get_alias, methods=["GET"]),
    Route(_R + "/alias/{richMenuAliasId}", update_alias, methods=["POST"]),
    Route(_R + "/alias/{richMenuAliasId}", delete_alias, methods=["DELETE"]),
    Route(_R + "/{richMenuId}", get_menu, methods=["GET"]),
    Route(_R + "/{richMenuId}", delete_menu, methods=["DELETE"]),
    Route("/v2/bot/user/all/richmenu", get_default, methods=["GET"]),
    Route("/v2/bot/user/all/richmenu", cancel_default, methods=["DELETE"]),
    Route("/v2/bot/user/all/richmenu/{richMenuId}", set_default, methods=["POST"]),
    Route("/v2/bot/user/{userId}/richmenu", get_user_menu, methods=["GET"]),
    Route("/v2/bot/user/{userId}/richmenu", unlink_user, methods=["DELETE"]),
    Route("/v2/bot/user/{userId}/richmenu/{richMenuId}", link_user, methods=["POST"]),
]

data_routes = [
    Route(_R + "/{richMenuId}/content", download_image, methods=["GET"]),
    Route(_R + "/{richMenuId}/content", upload_image, methods=["POST"]),
]

_C = "/channels/{channel_id}"
control_routes = [
    Route(_C + "/richmenus", control_menus, methods=["GET"]),
    Route(_C + "/richmenus/{rich_menu_id}/image", control_menu_image, methods=["GET"]),
    Route(_C + "/users/{user_id}/richmenu", control_user_menu, methods=["GET"]),
    Route(_C + "/richmenu-audience", control_menu_audience, methods=["GET"]),
]
