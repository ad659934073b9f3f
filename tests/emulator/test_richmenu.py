"""Rich menus through the official SDK: create/validate/get/list/delete, images on the api-data
host, the default menu, LINE's validation answers, rate limits and the helpers for taps."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from linebot.v3.messaging import (
    ApiException,
    DatetimePickerAction,
    MessageAction,
    MessagingApi,
    MessagingApiBlob,
    PostbackAction,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
    RichMenuSwitchAction,
    URIAction,
)
from PIL import Image

from emulator import richmenu_common
from emulator.client import EmulatorControl
from emulator.richmenu import area_at, menu_json
from emulator.server import RunningEmulator
from emulator.state import RichMenu
from tests.emulator import openapi

LARGE = (2500, 1686)
COMPACT = (2500, 843)


# --- helpers (also used by test_richmenu_links) ----------------------------------------------


def image_bytes(size: tuple[int, int] = LARGE, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (6, 199, 85)).save(buffer, format=fmt)
    return buffer.getvalue()


def menu_request(
    size: tuple[int, int] = LARGE, *, name: str = "大船渡市メニュー", chat_bar_text: str = "メニュー"
) -> RichMenuRequest:
    """A 2-area menu: left half a postback, right half a message."""
    width, height = size
    half = width // 2
    return RichMenuRequest(
        size=RichMenuSize(width=width, height=height),
        selected=True,
        name=name,
        chat_bar_text=chat_bar_text,
        areas=[
            RichMenuArea(
                bounds=RichMenuBounds(x=0, y=0, width=half, height=height),
                action=PostbackAction(data="action=garbage", display_text="ごみの日"),
            ),
            RichMenuArea(
                bounds=RichMenuBounds(x=half, y=0, width=width - half, height=height),
                action=MessageAction(text="防災情報"),
            ),
        ],
    )


def upload(
    blob_api: MessagingApiBlob, rich_menu_id: str, data: bytes, content_type: str = "image/png"
) -> None:
    blob_api.set_rich_menu_image(rich_menu_id, data, _headers={"Content-Type": content_type})


def make_menu(
    api: MessagingApi,
    blob_api: MessagingApiBlob,
    size: tuple[int, int] = LARGE,
    *,
    name: str = "メニュー",
    image: bool = True,
) -> str:
    rich_menu_id = api.create_rich_menu(menu_request(size, name=name)).rich_menu_id
    if image:
        upload(blob_api, rich_menu_id, image_bytes(size))
    return rich_menu_id


def error_of(excinfo: pytest.ExceptionInfo[ApiException]) -> tuple[int, dict[str, Any]]:
    body = excinfo.value.body
    return excinfo.value.status, json.loads(body) if body else {}


def properties(body: dict[str, Any]) -> dict[str, str]:
    return {d["property"]: d["message"] for d in body.get("details", [])}


def raw(emulator: RunningEmulator, method: str, path: str, **kwargs: Any) -> httpx.Response:
    token = emulator.config.channels[0].access_token
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return httpx.request(method, emulator.config.api_base + path, headers=headers, **kwargs)


# --- create, get, list, delete -----------------------------------------------------------


def test_create_get_list_delete(api: MessagingApi, blob_api: MessagingApiBlob) -> None:
    created = api.create_rich_menu(menu_request())
    assert re.fullmatch(r"richmenu-[0-9a-f]{32}", created.rich_menu_id)
    menu = api.get_rich_menu(created.rich_menu_id)
    assert menu.rich_menu_id == created.rich_menu_id
    assert (menu.size.width, menu.size.height) == LARGE
    assert menu.selected is True and menu.name == "大船渡市メニュー" and menu.chat_bar_text == "メニュー"
    action = menu.areas[0].action
    assert isinstance(action, PostbackAction) and action.data == "action=garbage"
    assert isinstance(menu.areas[1].action, MessageAction)
    assert [m.rich_menu_id for m in api.get_rich_menu_list().richmenus] == [created.rich_menu_id]
    api.delete_rich_menu(created.rich_menu_id)
    assert api.get_rich_menu_list().richmenus == []
    with pytest.raises(ApiException) as excinfo:
        api.get_rich_menu(created.rich_menu_id)
    assert error_of(excinfo) == (404, {"message": "Not found"})


def test_unknown_ids_are_404(api: MessagingApi, blob_api: MessagingApiBlob) -> None:
    unknown = "richmenu-" + "0" * 32
    for call in (
        lambda: api.get_rich_menu(unknown),
        lambda: api.delete_rich_menu(unknown),
        lambda: api.set_default_rich_menu(unknown),
        lambda: blob_api.get_rich_menu_image(unknown),
        lambda: upload(blob_api, unknown, image_bytes()),
    ):
        with pytest.raises(ApiException) as excinfo:
            call()
        assert error_of(excinfo) == (404, {"message": "Not found"})


def test_validate_accepts_a_good_object_and_creates_nothing(api: MessagingApi) -> None:
    api.validate_rich_menu_object(menu_request(COMPACT))
    assert api.get_rich_menu_list().richmenus == []


def _invalid(**changes: Any) -> RichMenuRequest:
    """A request the SDK would refuse to build, sent anyway (construct skips its checks)."""
    good = menu_request(LARGE)
    values = {
        "size": good.size,
        "selected": True,
        "name": "n",
        "chat_bar_text": "メニュー",
        "areas": good.areas,
        **changes,
    }
    return RichMenuRequest.construct(**values)


def _area(x: int, y: int, width: int, height: int, action: Any = None) -> RichMenuArea:
    return RichMenuArea.construct(
        bounds=RichMenuBounds.construct(x=x, y=y, width=width, height=height),
        action=action or PostbackAction(data="a"),
    )


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        (_invalid(size=RichMenuSize(width=2500, height=1800)), {"size"}),
        (_invalid(size=RichMenuSize(width=799, height=250)), {"size.width"}),
        (_invalid(size=RichMenuSize(width=2501, height=1686)), {"size.width"}),
        (_invalid(size=RichMenuSize(width=1200, height=249)), {"size.height"}),
        (_invalid(chat_bar_text="あ" * 15), {"chatBarText"}),
        (_invalid(name="n" * 301), {"name"}),
        (_invalid(areas=[_area(0, 0, 100, 100) for _ in range(21)]), {"areas"}),
        (_invalid(areas=[]), {"areas"}),
        (_invalid(areas=[_area(2000, 0, 501, 100)]), {"areas[0].bounds"}),
        (_invalid(areas=[_area(0, 1600, 100, 87)]), {"areas[0].bounds"}),
        (_invalid(areas=[_area(-1, 0, 100, 100)]), {"areas[0].bounds.x"}),
        (_invalid(areas=[_area(0, 0, 0, 100)]), {"areas[0].bounds.width"}),
        (
            _invalid(areas=[_area(0, 0, 10, 10, PostbackAction.construct(type="postback", data="d" * 301))]),
            {"areas[0].action.data"},
        ),
        (
            _invalid(areas=[_area(0, 0, 10, 10, URIAction.construct(type="uri", uri="ftp://example.jp/"))]),
            {"areas[0].action.uri"},
        ),
        (
            _invalid(areas=[_area(0, 0, 10, 10, MessageAction.construct(type="message"))]),
            {"areas[0].action.text"},
        ),
        (
            _invalid(
                areas=[
                    _area(
                        0,
                        0,
                        10,
                        10,
                        DatetimePickerAction.construct(type="datetimepicker", data="d", mode="week"),
                    )
                ]
            ),
            {"areas[0].action.mode"},
        ),
        (
            _invalid(
                areas=[
                    _area(
                        0,
                        0,
                        10,
                        10,
                        DatetimePickerAction(data="d", mode="date", initial="2024-13-01", min="2024-01-01"),
                    )
                ]
            ),
            {"areas[0].action.initial"},
        ),
        (
            _invalid(
                areas=[
                    _area(
                        0,
                        0,
                        10,
                        10,
                        RichMenuSwitchAction.construct(type="richmenuswitch", rich_menu_alias_id="tab-b"),
                    )
                ]
            ),
            {"areas[0].action.data"},
        ),
        (_invalid(selected=None), {"selected"}),
    ],
)
def test_lines_validation_answers(
    api: MessagingApi, request_body: RichMenuRequest, expected: set[str]
) -> None:
    for call in (api.create_rich_menu, api.validate_rich_menu_object):
        with pytest.raises(ApiException) as excinfo:
            call(request_body)
        status, body = error_of(excinfo)
        assert status == 400
        assert set(properties(body)) == expected, body
        assert body["message"] == f"The request body has {len(body['details'])} error(s)"
    assert api.get_rich_menu_list().richmenus == []


def test_several_problems_are_reported_together(api: MessagingApi) -> None:
    with pytest.raises(ApiException) as excinfo:
        api.create_rich_menu(
            _invalid(chat_bar_text="x" * 15, areas=[_area(0, 0, 3000, 10), _area(-5, 0, 1, 1)])
        )
    status, body = error_of(excinfo)
    assert status == 400 and body["message"] == "The request body has 3 error(s)"
    assert set(properties(body)) == {"chatBarText", "areas[0].bounds", "areas[1].bounds.x"}


def test_missing_keys_and_wrong_types(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    missing = raw(emulator, "POST", "/v2/bot/richmenu", json={"selected": False})
    assert missing.status_code == 400
    assert properties(missing.json()) == {
        "size": "must be specified",
        "name": "must be specified",
        "chatBarText": "must be specified",
        "areas": "must be specified",
    }
    body = menu_request().to_dict()
    body["selected"] = "yes"
    wrong = raw(emulator, "POST", "/v2/bot/richmenu", json=body)
    assert wrong.status_code == 400
    assert wrong.json() == {
        "message": "The property, 'selected', in the request body is invalid (line: -, column: -)"
    }
    body = menu_request().to_dict()
    body["areas"][0]["action"] = {"type": "camera", "label": "カメラ"}
    camera = raw(emulator, "POST", "/v2/bot/richmenu/validate", json=body)
    assert camera.status_code == 400 and set(properties(camera.json())) == {"areas[0].action.type"}
    assert len(emu.rich_menus()["richMenus"]) == 0


def test_at_most_max_rich_menus(api: MessagingApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(richmenu_common, "MAX_RICH_MENUS", 2)
    first = api.create_rich_menu(menu_request()).rich_menu_id
    api.create_rich_menu(menu_request())
    with pytest.raises(ApiException) as excinfo:
        api.create_rich_menu(menu_request())
    assert excinfo.value.status == 400
    api.delete_rich_menu(first)
    api.create_rich_menu(menu_request())


# --- images -------------------------------------------------------------------------------


def test_image_round_trip_on_the_data_host(
    api: MessagingApi, blob_api: MessagingApiBlob, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    rich_menu_id = api.create_rich_menu(menu_request(COMPACT)).rich_menu_id
    jpeg = image_bytes(COMPACT, "JPEG")
    upload(blob_api, rich_menu_id, jpeg, "image/jpeg")
    response = blob_api.get_rich_menu_image_with_http_info(rich_menu_id)
    assert bytes(response.data) == jpeg
    assert response.headers["Content-Type"] == "image/jpeg"
    assert emu.rich_menu_image(rich_menu_id) == jpeg
    assert emu.rich_menus()["richMenus"][0]["hasImage"] is True
    # The image endpoints are 404 on the api host, and the api endpoints on the data host.
    token = emulator.config.channels[0].access_token
    auth = {"Authorization": f"Bearer {token}"}
    assert (
        httpx.get(
            f"{emulator.config.api_base}/v2/bot/richmenu/{rich_menu_id}/content", headers=auth
        ).status_code
        == 404
    )
    assert (
        httpx.get(f"{emulator.config.data_base}/v2/bot/richmenu/{rich_menu_id}", headers=auth).status_code
        == 404
    )


def test_image_can_be_uploaded_only_once(api: MessagingApi, blob_api: MessagingApiBlob) -> None:
    rich_menu_id = make_menu(api, blob_api)
    with pytest.raises(ApiException) as excinfo:
        upload(blob_api, rich_menu_id, image_bytes())
    assert error_of(excinfo) == (400, {"message": "An image has already been uploaded to the richmenu"})


def _noise_png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(
        buffer, format="PNG", compress_level=0
    )
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (image_bytes(COMPACT), "image/png"),  # a compact image for a large menu
        (image_bytes((2400, 1686)), "image/png"),
        (_noise_png(LARGE), "image/png"),  # over 1 MB
        (image_bytes(LARGE, "GIF"), "image/png"),  # a GIF that claims to be a PNG
        (b"this is not an image at all", "image/jpeg"),
        (image_bytes(LARGE)[:5000], "image/png"),  # truncated
        (b"", "image/png"),
    ],
    ids=["wrong-size", "wrong-width", "over-1MB", "gif-as-png", "not-an-image", "truncated", "empty"],
)
def test_images_lines_rules_refuse(
    api: MessagingApi, blob_api: MessagingApiBlob, data: bytes, content_type: str
) -> None:
    rich_menu_id = api.create_rich_menu(menu_request(LARGE)).rich_menu_id
    with pytest.raises(ApiException) as excinfo:
        upload(blob_api, rich_menu_id, data, content_type)
    assert error_of(excinfo) == (400, {"message": "The image size is not allowed for richmenu"})
    with pytest.raises(ApiException) as missing:
        blob_api.get_rich_menu_image(rich_menu_id)
    assert missing.value.status == 404
    upload(blob_api, rich_menu_id, image_bytes(LARGE))  # a refused upload does not use up the one upload


def test_unsupported_content_type_is_415(api: MessagingApi, blob_api: MessagingApiBlob) -> None:
    rich_menu_id = api.create_rich_menu(menu_request()).rich_menu_id
    with pytest.raises(ApiException) as excinfo:
        upload(blob_api, rich_menu_id, image_bytes(LARGE, "GIF"), "image/gif")
    assert excinfo.value.status == 415


# --- default rich menu ----------------------------------------------------------------------


def test_default_menu_needs_an_image(api: MessagingApi, blob_api: MessagingApiBlob) -> None:
    bare = make_menu(api, blob_api, image=False)
    with pytest.raises(ApiException) as excinfo:
        api.set_default_rich_menu(bare)
    assert error_of(excinfo) == (
        400,
        {"message": "must upload richmenu image before applying it to user", "details": []},
    )
    with pytest.raises(ApiException) as none:
        api.get_default_rich_menu_id()
    assert error_of(none) == (404, {"message": "no default richmenu", "details": []})

    upload(blob_api, bare, image_bytes())
    api.set_default_rich_menu(bare)
    assert api.get_default_rich_menu_id().rich_menu_id == bare
    other = make_menu(api, blob_api, COMPACT)
    api.set_default_rich_menu(other)  # replaces the default
    assert api.get_default_rich_menu_id().rich_menu_id == other
    api.cancel_default_rich_menu()
    with pytest.raises(ApiException):
        api.get_default_rich_menu_id()


def test_deleting_the_default_menu_clears_it(api: MessagingApi, blob_api: MessagingApiBlob) -> None:
    rich_menu_id = make_menu(api, blob_api)
    api.set_default_rich_menu(rich_menu_id)
    api.delete_rich_menu(rich_menu_id)
    with pytest.raises(ApiException) as excinfo:
        api.get_default_rich_menu_id()
    assert excinfo.value.status == 404


# --- auth and rate limits ---------------------------------------------------------------------


def test_bad_token_is_401(bad_token_api: MessagingApi) -> None:
    with pytest.raises(ApiException) as excinfo:
        bad_token_api.get_rich_menu_list()
    assert excinfo.value.status == 401


@pytest.fixture
def tiny_create_limit(emu: EmulatorControl) -> Iterator[None]:
    before = emu.settings()["rate_limits"]["richmenu.create"]
    emu.settings(rate_limits={"richmenu.create": {"count": 2, "seconds": 3600}})
    yield
    emu.settings(rate_limits={"richmenu.create": before})


def test_create_is_rate_limited_in_its_own_window(
    api: MessagingApi, tiny_create_limit: None, emu: EmulatorControl
) -> None:
    first = api.create_rich_menu(menu_request()).rich_menu_id
    api.create_rich_menu(menu_request())
    with pytest.raises(ApiException) as excinfo:
        api.create_rich_menu(menu_request())
    assert excinfo.value.status == 429
    assert "rate limit" in json.loads(excinfo.value.body)["message"]
    # The other rich menu endpoints do not share the create window.
    for _ in range(3):
        api.get_rich_menu(first)
        api.get_rich_menu_list()
        api.validate_rich_menu_object(menu_request())
    api.delete_rich_menu(first)
    emu.advance_clock(3601)
    api.create_rich_menu(menu_request())


def test_lines_hourly_limits_are_in_the_table(emu: EmulatorControl) -> None:
    limits = emu.settings()["rate_limits"]
    for name in ("richmenu.create", "richmenu.delete", "richmenu.alias.delete", "richmenu.progress"):
        assert limits[name] == {"count": 100, "seconds": 3600}
    assert limits["richmenu.batch"] == {"count": 3, "seconds": 3600}


# --- OpenAPI conformance ------------------------------------------------------------------------


def test_responses_match_lines_openapi(
    api: MessagingApi, blob_api: MessagingApiBlob, emulator: RunningEmulator
) -> None:
    openapi.require_specs()
    rich_menu_id = make_menu(api, blob_api)
    api.set_default_rich_menu(rich_menu_id)
    for path in (f"/v2/bot/richmenu/{rich_menu_id}", "/v2/bot/user/all/richmenu"):
        response = raw(emulator, "GET", path)
        assert openapi.response_errors("messaging-api.yml", "GET", path, 200, response.json()) == []
    # (openapi.operation would take "/list" for a {richMenuId}: check the list by its schema name)
    listed = raw(emulator, "GET", "/v2/bot/richmenu/list").json()
    assert openapi.schema_errors("messaging-api.yml", "RichMenuListResponse", listed) == []
    created = raw(emulator, "POST", "/v2/bot/richmenu", json=menu_request().to_dict())
    assert openapi.response_errors("messaging-api.yml", "POST", "/v2/bot/richmenu", 200, created.json()) == []


# --- helpers for taps ------------------------------------------------------------------------------


def _menu(areas: list[tuple[int, int, int, int]]) -> RichMenu:
    body = {
        "size": {"width": 2500, "height": 843},
        "selected": False,
        "name": "n",
        "chatBarText": "c",
        "areas": [
            {
                "bounds": {"x": x, "y": y, "width": w, "height": h},
                "action": {"type": "postback", "data": str(i)},
            }
            for i, (x, y, w, h) in enumerate(areas)
        ],
    }
    return RichMenu(rich_menu_id="richmenu-" + "a" * 32, body=body, created_at=0.0)


def test_area_at_finds_the_tapped_area() -> None:
    menu = _menu([(0, 0, 1250, 843), (1250, 0, 1250, 843), (1000, 0, 500, 400)])
    assert area_at(menu, 0, 0) == 0
    assert area_at(menu, 1249, 842) == 0
    assert area_at(menu, 1250, 0) == 1  # right and bottom edges belong to the next area
    assert area_at(menu, 1100, 100) == 0  # overlap: the first listed area wins
    assert area_at(menu, 1300, 100) == 1
    assert (
        area_at(menu, 2500, 10) is None and area_at(menu, -1, 10) is None and area_at(menu, 10, 843) is None
    )
    assert area_at(_menu([(0, 0, 100, 100)]), 500, 500) is None


def test_menu_json_is_the_rich_menu_response_object() -> None:
    menu = _menu([(0, 0, 100, 100)])
    data = menu_json(menu)
    assert list(data) == ["richMenuId", "size", "selected", "name", "chatBarText", "areas"]
    assert data["richMenuId"] == menu.rich_menu_id and data["areas"][0]["action"]["data"] == "0"
