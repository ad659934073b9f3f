"""Which menu a user sees, through the official SDK: per-user links beat the default, bulk
link/unlink, batch control with progress, aliases and the richmenuswitch helper."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from linebot.v3.messaging import (
    ApiException,
    CreateRichMenuAliasRequest,
    MessagingApi,
    MessagingApiBlob,
    RichMenuBatchLinkOperation,
    RichMenuBatchRequest,
    RichMenuBatchUnlinkAllOperation,
    RichMenuBatchUnlinkOperation,
    RichMenuBulkLinkRequest,
    RichMenuBulkUnlinkRequest,
    UpdateRichMenuAliasRequest,
)

from emulator import richmenu_common
from emulator.client import EmulatorControl
from emulator.richmenu import switch_by_alias
from emulator.server import RunningEmulator
from tests.emulator import openapi
from tests.emulator.test_richmenu import COMPACT, error_of, make_menu, properties, raw

UNKNOWN_MENU = "richmenu-" + "f" * 32


def sees(emu: EmulatorControl, user_id: str) -> str | None:
    """The menu the user's phone shows (per-user link, else the API default)."""
    menu = emu.user_rich_menu(user_id)["richMenu"]
    assert emu.user(user_id)["richMenuId"] == (menu["richMenuId"] if menu else None)
    return menu["richMenuId"] if menu else None


def linked(api: MessagingApi, user_id: str) -> str | None:
    """What LINE's "get rich menu ID of user" answers: the per-user link only."""
    try:
        return api.get_rich_menu_id_of_user(user_id).rich_menu_id
    except ApiException as exc:
        assert (exc.status, json.loads(exc.body)) == (
            404,
            {"message": "the user has no richmenu", "details": []},
        )
        return None


def alias(api: MessagingApi, alias_id: str, rich_menu_id: str) -> None:
    api.create_rich_menu_alias(
        CreateRichMenuAliasRequest(rich_menu_alias_id=alias_id, rich_menu_id=rich_menu_id)
    )


# --- the precedence rule ----------------------------------------------------------------------


def test_a_per_user_link_beats_the_default(
    api: MessagingApi, blob_api: MessagingApiBlob, emu: EmulatorControl, emulator: RunningEmulator
) -> None:
    menu_a, menu_b, menu_c = (make_menu(api, blob_api, name=n) for n in "ABC")
    x, y = emu.create_followers(2)
    api.set_default_rich_menu(menu_a)
    api.link_rich_menu_id_to_user(x, menu_b)
    assert sees(emu, x) == menu_b and sees(emu, y) == menu_a
    assert emu.user_rich_menu(x)["source"] == "user" and emu.user_rich_menu(y)["source"] == "default"
    # LINE's GET returns the per-user link only: a user on the default menu has "no richmenu".
    assert linked(api, x) == menu_b and linked(api, y) is None

    # The emergency-switch trap: a new default does not reach X.
    api.set_default_rich_menu(menu_c)
    assert sees(emu, x) == menu_b and sees(emu, y) == menu_c

    api.unlink_rich_menu_id_from_user(x)
    assert sees(emu, x) == menu_c and linked(api, x) is None

    # A richmenuswitch tap creates a per-user link, which a default change does not touch either.
    alias(api, "tab-b", menu_b)
    channel = emulator.store.default_channel()
    assert switch_by_alias(emulator.store, channel, channel.users[x], "tab-b") == "SUCCESS"
    assert linked(api, x) == menu_b
    api.set_default_rich_menu(menu_a)
    assert sees(emu, x) == menu_b and sees(emu, y) == menu_a


def test_links_need_an_image_a_friend_and_a_valid_user_id(
    api: MessagingApi, blob_api: MessagingApiBlob, emu: EmulatorControl
) -> None:
    with_image = make_menu(api, blob_api)
    bare = make_menu(api, blob_api, image=False)
    (friend,) = emu.create_followers(2)[:1]
    stranger = emu.create_user("未登録 太郎")["user_id"]

    with pytest.raises(ApiException) as no_image:
        api.link_rich_menu_id_to_user(friend, bare)
    assert error_of(no_image) == (
        400,
        {"message": "must upload richmenu image before applying it to user", "details": []},
    )
    with pytest.raises(ApiException) as unknown:
        api.link_rich_menu_id_to_user(friend, UNKNOWN_MENU)
    assert error_of(unknown) == (404, {"message": "Not found"})
    for call in (
        lambda: api.link_rich_menu_id_to_user("not-a-user", with_image),
        lambda: api.get_rich_menu_id_of_user("not-a-user"),
        lambda: api.unlink_rich_menu_id_from_user("not-a-user"),
    ):
        with pytest.raises(ApiException) as bad_user:
            call()
        assert error_of(bad_user) == (400, {"message": "The value for the 'userId' parameter is invalid"})

    # LINE answers 200 for a user who is not a friend, and links nothing.
    api.link_rich_menu_id_to_user(stranger, with_image)
    assert linked(api, stranger) is None and sees(emu, stranger) is None
    api.link_rich_menu_id_to_user(friend, with_image)
    assert linked(api, friend) == with_image


def test_deleting_a_menu_unlinks_its_users(
    api: MessagingApi, blob_api: MessagingApiBlob, emu: EmulatorControl
) -> None:
    menu_a, menu_b = make_menu(api, blob_api), make_menu(api, blob_api)
    x, y = emu.create_followers(2)
    api.set_default_rich_menu(menu_b)
    api.link_rich_menu_id_to_user(x, menu_a)
    api.delete_rich_menu(menu_a)
    assert linked(api, x) is None and sees(emu, x) == menu_b and sees(emu, y) == menu_b


# --- bulk -------------------------------------------------------------------------------------------


def test_bulk_link_and_unlink(api: MessagingApi, blob_api: MessagingApiBlob, emu: EmulatorControl) -> None:
    menu = make_menu(api, blob_api)
    followers = emu.create_followers(3)
    stranger = emu.create_user("未登録 花子")["user_id"]
    response = api.link_rich_menu_id_to_users_with_http_info(
        RichMenuBulkLinkRequest(rich_menu_id=menu, user_ids=[*followers, stranger])
    )
    assert response.status_code == 202 and response.headers["x-line-request-id"]
    assert [linked(api, u) for u in followers] == [menu] * 3 and linked(api, stranger) is None

    response = api.unlink_rich_menu_id_from_users_with_http_info(
        RichMenuBulkUnlinkRequest(user_ids=followers[:2])
    )
    assert response.status_code == 202
    assert [linked(api, u) for u in followers] == [None, None, menu]


def test_bulk_errors(
    api: MessagingApi, blob_api: MessagingApiBlob, emu: EmulatorControl, emulator: RunningEmulator
) -> None:
    menu = make_menu(api, blob_api)
    bare = make_menu(api, blob_api, image=False)
    (user,) = emu.create_followers(2)[:1]
    with pytest.raises(ApiException) as bad_user:
        api.link_rich_menu_id_to_users(RichMenuBulkLinkRequest(rich_menu_id=menu, user_ids=[user, "nobody"]))
    assert error_of(bad_user) == (
        400,
        {"message": "The property, 'userIds[1]', in the request body is invalid (line: -, column: -)"},
    )
    with pytest.raises(ApiException) as unknown:
        api.link_rich_menu_id_to_users(RichMenuBulkLinkRequest(rich_menu_id=UNKNOWN_MENU, user_ids=[user]))
    assert error_of(unknown) == (404, {"message": "richmenu not found", "details": []})
    with pytest.raises(ApiException) as malformed:
        api.link_rich_menu_id_to_users(RichMenuBulkLinkRequest(rich_menu_id="menu-1", user_ids=[user]))
    assert properties(error_of(malformed)[1]) == {"richMenuId": "invalid richMenuId"}
    with pytest.raises(ApiException) as no_image:
        api.link_rich_menu_id_to_users(RichMenuBulkLinkRequest(rich_menu_id=bare, user_ids=[user]))
    assert error_of(no_image)[1]["message"] == "must upload richmenu image before applying it to user"
    too_many = raw(
        emulator,
        "POST",
        "/v2/bot/richmenu/bulk/unlink",
        json={"userIds": ["U" + f"{n:032x}" for n in range(501)]},
    )
    assert too_many.status_code == 400 and set(properties(too_many.json())) == {"userIds"}
    assert linked(api, user) is None  # nothing was linked by a refused request


# --- batch control ----------------------------------------------------------------------------------


def test_batch_replaces_and_unlinks_with_progress(
    api: MessagingApi, blob_api: MessagingApiBlob, emu: EmulatorControl
) -> None:
    menu_a, menu_b, menu_c, menu_d = (make_menu(api, blob_api) for _ in range(4))
    u1, u2, u3, u4, u5 = emu.create_followers(5)
    api.set_default_rich_menu(menu_d)
    api.link_rich_menu_id_to_users(RichMenuBulkLinkRequest(rich_menu_id=menu_a, user_ids=[u1, u2]))
    api.link_rich_menu_id_to_user(u3, menu_b)
    api.link_rich_menu_id_to_user(u4, menu_c)
    request = RichMenuBatchRequest(
        operations=[
            RichMenuBatchLinkOperation(var_from=menu_a, to=menu_b),
            RichMenuBatchLinkOperation(var_from=menu_b, to=menu_c),
            RichMenuBatchUnlinkOperation(var_from=menu_c),
        ]
    )
    api.validate_rich_menu_batch_request(request)
    response = api.rich_menu_batch_with_http_info(request)
    assert response.status_code == 202
    request_id = response.headers["x-line-request-id"]
    # Operations are independent: A → B users stay on B, they do not go on to C.
    assert [linked(api, u) for u in (u1, u2, u3, u4, u5)] == [menu_b, menu_b, menu_c, None, None]
    assert sees(emu, u4) == menu_d  # unlinked users fall back to the default

    progress = api.get_rich_menu_batch_progress(request_id)
    assert progress.phase == "succeeded"
    assert progress.accepted_time is not None and progress.completed_time is not None
    assert progress.completed_time >= progress.accepted_time

    api.rich_menu_batch(RichMenuBatchRequest(operations=[RichMenuBatchUnlinkAllOperation()]))
    assert [linked(api, u) for u in (u1, u2, u3)] == [None, None, None]


def test_batch_progress_shape(
    api: MessagingApi, blob_api: MessagingApiBlob, emu: EmulatorControl, emulator: RunningEmulator
) -> None:
    menu = make_menu(api, blob_api)
    accepted = raw(
        emulator, "POST", "/v2/bot/richmenu/batch", json={"operations": [{"type": "unlink", "from": menu}]}
    )
    assert accepted.status_code == 202 and accepted.json() == {}
    request_id = accepted.headers["x-line-request-id"]
    body = raw(emulator, "GET", "/v2/bot/richmenu/progress/batch", params={"requestId": request_id}).json()
    stamp = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
    assert body["phase"] == "succeeded"
    assert re.fullmatch(stamp, body["acceptedTime"]) and re.fullmatch(stamp, body["completedTime"])
    if (openapi.SPEC_DIR / "messaging-api.yml").exists():
        assert openapi.schema_errors("messaging-api.yml", "RichMenuBatchProgressResponse", body) == []
    with pytest.raises(ApiException) as unknown:
        api.get_rich_menu_batch_progress("00000000-0000-0000-0000-000000000000")
    assert unknown.value.status == 404


def test_batch_errors(
    api: MessagingApi, blob_api: MessagingApiBlob, emu: EmulatorControl, emulator: RunningEmulator
) -> None:
    menu_a, menu_b = make_menu(api, blob_api), make_menu(api, blob_api)
    bare = make_menu(api, blob_api, image=False)

    def refused(
        operations: list[dict[str, str]], path: str = "/v2/bot/richmenu/validate/batch", **extra: str
    ) -> tuple[int, dict[str, object]]:
        # (the batch endpoint itself allows 3 requests an hour, refused ones included)
        answer = raw(emulator, "POST", path, json={"operations": operations, **extra})
        assert answer.status_code >= 400, answer.text
        return answer.status_code, answer.json()

    duplicated = [{"type": "link", "from": menu_a, "to": menu_b}, {"type": "unlink", "from": menu_a}]
    for path in ("/v2/bot/richmenu/validate/batch", "/v2/bot/richmenu/batch"):
        status, body = refused(duplicated, path)
        assert status == 400 and properties(body) == {
            "operations[].from": f"from richmenu ({menu_a}) is duplicated"
        }
    status, body = refused([{"type": "unlinkAll"}, {"type": "unlink", "from": menu_a}])
    assert properties(body) == {"operations[].type": "'unlinkAll' type can't be combined with other type"}
    status, body = refused([{"type": "link", "from": menu_a, "to": bare}])
    assert status == 400
    assert properties(body) == {"operations[0].to": f"'to' richmenu ({bare}) must have image but it doesn't"}
    status, body = refused([{"type": "link", "from": menu_a, "to": UNKNOWN_MENU}])
    assert status == 404 and properties(body) == {
        "operations[0].to": f"Richmenu ({UNKNOWN_MENU}) is not found"
    }
    status, body = refused([{"type": "unlink", "from": "richmenu-1"}])
    assert properties(body) == {"operations[0].from": "invalid richMenuId"}
    status, body = refused([{"type": "unlink", "from": menu_a}], resumeRequestKey="not valid!")
    assert set(properties(body)) == {"resumeRequestKey"}
    status, body = refused([{"type": "unlink", "from": menu_a}] * 1001)
    assert status == 400 and "operations" in properties(body)
    # Through the SDK too: validate answers the same as the batch itself would.
    with pytest.raises(ApiException) as excinfo:
        api.validate_rich_menu_batch_request(
            RichMenuBatchRequest(operations=[RichMenuBatchLinkOperation(var_from=menu_a, to=bare)])
        )
    assert excinfo.value.status == 400


def test_batch_is_three_per_hour(api: MessagingApi, blob_api: MessagingApiBlob, emu: EmulatorControl) -> None:
    request = RichMenuBatchRequest(operations=[RichMenuBatchUnlinkAllOperation()])
    for _ in range(3):
        api.rich_menu_batch(request)
    with pytest.raises(ApiException) as excinfo:
        api.rich_menu_batch(request)
    assert excinfo.value.status == 429
    api.validate_rich_menu_batch_request(request)  # validation is not counted against the batch limit
    emu.advance_clock(3600)
    api.rich_menu_batch(request)


def test_resume_request_key_does_not_redo_finished_users(
    api: MessagingApi, blob_api: MessagingApiBlob, emu: EmulatorControl
) -> None:
    menu_a, menu_b = make_menu(api, blob_api), make_menu(api, blob_api)
    x, y = emu.create_followers(2)
    api.link_rich_menu_id_to_user(x, menu_a)
    request = RichMenuBatchRequest(
        operations=[RichMenuBatchLinkOperation(var_from=menu_a, to=menu_b)], resume_request_key="switch-2024"
    )
    api.rich_menu_batch(request)
    assert linked(api, x) == menu_b
    api.link_rich_menu_id_to_user(y, menu_a)
    api.rich_menu_batch(request)  # the same key: the earlier request had finished every user
    assert linked(api, y) == menu_a
    emu.advance_clock(15 * 24 * 3600)  # the key has expired: a new request
    api.rich_menu_batch(request)
    assert linked(api, y) == menu_b


# --- aliases -------------------------------------------------------------------------------------------


def test_alias_lifecycle(api: MessagingApi, blob_api: MessagingApiBlob) -> None:
    menu_a, menu_b = make_menu(api, blob_api), make_menu(api, blob_api, COMPACT)
    alias(api, "tab-a", menu_a)
    alias(api, "tab_b-2", menu_b)
    got = api.get_rich_menu_alias("tab-a")
    assert (got.rich_menu_alias_id, got.rich_menu_id) == ("tab-a", menu_a)
    listed = api.get_rich_menu_alias_list().aliases
    assert [(a.rich_menu_alias_id, a.rich_menu_id) for a in listed] == [
        ("tab-a", menu_a),
        ("tab_b-2", menu_b),
    ]
    api.update_rich_menu_alias("tab-a", UpdateRichMenuAliasRequest(rich_menu_id=menu_b))
    assert api.get_rich_menu_alias("tab-a").rich_menu_id == menu_b
    api.delete_rich_menu_alias("tab-a")
    with pytest.raises(ApiException) as excinfo:
        api.get_rich_menu_alias("tab-a")
    assert error_of(excinfo) == (404, {"message": "richmenu alias not found", "details": []})
    for call in (
        lambda: api.delete_rich_menu_alias("tab-a"),
        lambda: api.update_rich_menu_alias("tab-a", UpdateRichMenuAliasRequest(rich_menu_id=menu_a)),
    ):
        with pytest.raises(ApiException) as missing:
            call()
        assert missing.value.status == 404


def test_alias_errors(
    api: MessagingApi, blob_api: MessagingApiBlob, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    menu = make_menu(api, blob_api)
    bare = make_menu(api, blob_api, image=False)
    alias(api, "main", menu)
    with pytest.raises(ApiException) as duplicate:
        alias(api, "main", menu)
    assert error_of(duplicate) == (400, {"message": "conflict richmenu alias id", "details": []})
    for rich_menu_id in (bare, UNKNOWN_MENU):
        with pytest.raises(ApiException) as not_usable:
            alias(api, "other", rich_menu_id)
        assert error_of(not_usable) == (400, {"message": "richmenu not found", "details": []})
    with pytest.raises(ApiException) as malformed:
        alias(api, "other", "menu-1")
    assert properties(error_of(malformed)[1]) == {"richMenuId": "invalid richMenuId"}
    with pytest.raises(ApiException) as update_bare:
        api.update_rich_menu_alias("main", UpdateRichMenuAliasRequest(rich_menu_id=bare))
    assert error_of(update_bare)[0] == 400
    # LINE's alias ids are lower-case letters, digits, "_" and "-", at most 32.
    for bad in ("Main", "tab a", "x" * 33, ""):
        answer = raw(
            emulator, "POST", "/v2/bot/richmenu/alias", json={"richMenuAliasId": bad, "richMenuId": menu}
        )
        assert answer.status_code == 400 and set(properties(answer.json())) == {"richMenuAliasId"}, bad
    assert raw(emulator, "GET", "/v2/bot/richmenu/alias/Main").status_code == 400
    monkeypatch.setattr(richmenu_common, "MAX_ALIASES", 1)
    with pytest.raises(ApiException) as limit:
        alias(api, "second", menu)
    assert limit.value.status == 400
    assert [a.rich_menu_alias_id for a in api.get_rich_menu_alias_list().aliases] == ["main"]


# --- richmenuswitch ----------------------------------------------------------------------------------


def test_switch_by_alias_statuses(
    api: MessagingApi, blob_api: MessagingApiBlob, emu: EmulatorControl, emulator: RunningEmulator
) -> None:
    menu_a, menu_b = make_menu(api, blob_api), make_menu(api, blob_api)
    (x,) = emu.create_followers(2)[:1]
    stranger = emu.create_user("未登録 次郎")["user_id"]
    alias(api, "tab-a", menu_a)
    alias(api, "tab-b", menu_b)
    store = emulator.store
    channel = store.default_channel()
    user = channel.users[x]
    assert switch_by_alias(store, channel, user, "no-such-tab") == "RICHMENU_ALIAS_ID_NOTFOUND"
    assert switch_by_alias(store, channel, channel.users[stranger], "tab-a") == "FAILED"
    assert linked(api, stranger) is None
    assert switch_by_alias(store, channel, user, "tab-a") == "SUCCESS" and linked(api, x) == menu_a
    # Deleting a menu leaves its alias; a tap on it then finds no menu and keeps the user's menu.
    api.delete_rich_menu(menu_b)
    assert api.get_rich_menu_alias("tab-b").rich_menu_id == menu_b
    assert switch_by_alias(store, channel, user, "tab-b") == "RICHMENU_NOTFOUND"
    assert linked(api, x) == menu_a


@pytest.fixture
def control_http(emulator: RunningEmulator, emu: EmulatorControl) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url + "/control") as client:
        yield client


def test_control_views_for_the_simulator(
    api: MessagingApi, blob_api: MessagingApiBlob, emu: EmulatorControl, control_http: httpx.Client
) -> None:
    menu = make_menu(api, blob_api)
    bare = make_menu(api, blob_api, image=False)
    alias(api, "main", menu)
    api.set_default_rich_menu(menu)
    (user,) = emu.create_followers(2)[:1]
    overview = emu.rich_menus()
    assert overview["defaultRichMenuId"] == menu
    assert {m["richMenuId"]: m["hasImage"] for m in overview["richMenus"]} == {menu: True, bare: False}
    assert overview["aliases"] == [{"richMenuAliasId": "main", "richMenuId": menu}]
    seen = emu.user_rich_menu(user)
    assert seen["source"] == "default" and seen["richMenu"]["chatBarText"] == "メニュー"
    missing = control_http.get(f"/channels/{emu.channel_id}/richmenus/{bare}/image")
    assert missing.status_code == 404 and "画像" in json.loads(missing.text)["error"]
    assert control_http.get(f"/channels/{emu.channel_id}/users/U{'0' * 32}/richmenu").status_code == 404
