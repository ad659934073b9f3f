"""The gateway's rich menu calls against the emulator: menus and images, the default menu,
aliases, per-user, bulk and batch links, and LINE's refusals with the details it names."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from emulator.client import EmulatorControl
from line_channel import ratelimit
from line_channel.gateway import Gateway, LineApiError

pytestmark = pytest.mark.django_db

WIDTH, HEIGHT = 2500, 1686
UNKNOWN_MENU = "richmenu-" + "0" * 32


def menu(name: str = "大船渡市メニュー", areas: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A large rich menu object with two tap areas (or ``areas``)."""
    half = WIDTH // 2
    return {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": True,
        "name": name,
        "chatBarText": "メニュー",
        "areas": areas
        if areas is not None
        else [
            {
                "bounds": {"x": 0, "y": 0, "width": half, "height": HEIGHT},
                "action": {"type": "postback", "data": "menu=news", "label": "お知らせ"},
            },
            {
                "bounds": {"x": half, "y": 0, "width": WIDTH - half, "height": HEIGHT},
                "action": {"type": "uri", "uri": "https://www.city.ofunato.iwate.jp/", "label": "市HP"},
            },
        ],
    }


def png(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (0, 120, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def ready_menu(gateway: Gateway, name: str = "大船渡市メニュー") -> str:
    """A created menu with its image uploaded."""
    rich_menu_id = gateway.create_rich_menu(menu=menu(name))
    gateway.upload_rich_menu_image(rich_menu_id=rich_menu_id, content=png(), content_type="image/png")
    return rich_menu_id


def eventually(condition: Callable[[], bool], *, timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``condition`` briefly: bulk and batch links are asynchronous on LINE."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def refusal(call: Callable[[], Any]) -> LineApiError:
    with pytest.raises(LineApiError) as excinfo:
        call()
    assert not excinfo.value.retryable
    return excinfo.value


def properties(error: LineApiError) -> set[str]:
    return {d.get("property", "") for d in error.details}


# --- menus, images and the default menu -----------------------------------------------------------


def test_create_validate_upload_and_default(line_channel: Any, emu: EmulatorControl) -> None:
    with Gateway.from_settings() as gateway:
        gateway.validate_rich_menu(menu=menu())
        rich_menu_id = gateway.create_rich_menu(menu=menu())
        assert rich_menu_id.startswith("richmenu-")

        outside = menu(
            areas=[
                {
                    "bounds": {"x": 2000, "y": 0, "width": 600, "height": 100},
                    "action": {"type": "message", "text": "外"},
                }
            ]
        )
        error = refusal(lambda: gateway.validate_rich_menu(menu=outside))
        assert error.status == 400 and "areas[0].bounds" in properties(error)
        too_many = menu(
            areas=[
                {
                    "bounds": {"x": i * 100, "y": 0, "width": 100, "height": 100},
                    "action": {"type": "message", "text": f"{i}"},
                }
                for i in range(21)
            ]
        )
        error = refusal(lambda: gateway.create_rich_menu(menu=too_many))
        assert error.status == 400 and "areas" in properties(error)
        # Sent as the JSON it is: LINE (not the SDK's model) says what is wrong.
        error = refusal(lambda: gateway.validate_rich_menu(menu={**menu(), "chatBarText": "あ" * 15}))
        assert error.status == 400 and "chatBarText" in properties(error)

        # Linking or setting as default needs the image first.
        error = refusal(lambda: gateway.set_default_rich_menu(rich_menu_id=rich_menu_id))
        assert error.status == 400 and "image" in error.message
        gateway.upload_rich_menu_image(rich_menu_id=rich_menu_id, content=png(), content_type="image/png")
        assert gateway.get_default_rich_menu() is None
        gateway.set_default_rich_menu(rich_menu_id=rich_menu_id)
        assert gateway.get_default_rich_menu() == rich_menu_id

        got = gateway.get_rich_menu(rich_menu_id=rich_menu_id)
        assert got is not None
        assert got["richMenuId"] == rich_menu_id and got["chatBarText"] == "メニュー"
        assert got["areas"][1]["action"]["uri"] == "https://www.city.ofunato.iwate.jp/"
        assert gateway.get_rich_menu(rich_menu_id=UNKNOWN_MENU) is None
        assert [m["richMenuId"] for m in gateway.list_rich_menus()] == [rich_menu_id]

        gateway.cancel_default_rich_menu()
        assert gateway.get_default_rich_menu() is None
    state = emu.rich_menus()
    assert state["defaultRichMenuId"] is None
    assert [m["hasImage"] for m in state["richMenus"]] == [True]
    assert emu.rich_menu_image(rich_menu_id) == png()


def test_image_of_the_wrong_size_or_type_is_refused(line_channel: Any, emu: EmulatorControl) -> None:
    with Gateway.from_settings() as gateway:
        rich_menu_id = gateway.create_rich_menu(menu=menu())
        # Wider than LINE allows (800-2,500 px), and too square (width / height under 1.45).
        for width, height in ((2600, 1686), (1200, 1000)):
            with pytest.raises(LineApiError) as excinfo:
                gateway.upload_rich_menu_image(
                    rich_menu_id=rich_menu_id, content=png(width, height), content_type="image/png"
                )
            assert excinfo.value.status == 400
        with pytest.raises(ValueError, match="content_type"):
            gateway.upload_rich_menu_image(rich_menu_id=rich_menu_id, content=png(), content_type="image/gif")
        assert emu.rich_menus()["richMenus"][0]["hasImage"] is False
        # A JPEG of the right size is fine.
        buffer = io.BytesIO()
        Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255)).save(buffer, format="JPEG")
        gateway.upload_rich_menu_image(
            rich_menu_id=rich_menu_id, content=buffer.getvalue(), content_type="image/jpeg"
        )
    assert emu.rich_menus()["richMenus"][0]["imageType"] == "image/jpeg"


def test_delete_is_idempotent(line_channel: Any, emu: EmulatorControl) -> None:
    user = emu.create_followers(1)[0]
    with Gateway.from_settings() as gateway:
        rich_menu_id = ready_menu(gateway)
        gateway.set_default_rich_menu(rich_menu_id=rich_menu_id)
        gateway.link_rich_menu(user_id=user, rich_menu_id=rich_menu_id)
        gateway.delete_rich_menu(rich_menu_id=rich_menu_id)
        gateway.delete_rich_menu(rich_menu_id=rich_menu_id)
        assert gateway.get_rich_menu(rich_menu_id=rich_menu_id) is None
        assert gateway.list_rich_menus() == []
        # Users stop seeing a deleted menu.
        assert gateway.get_default_rich_menu() is None
        assert gateway.get_user_rich_menu(user_id=user) is None


# --- aliases ------------------------------------------------------------------------------------------


def test_aliases(line_channel: Any, emu: EmulatorControl) -> None:
    with Gateway.from_settings() as gateway:
        first, second = ready_menu(gateway, "くらし"), ready_menu(gateway, "防災")
        assert gateway.list_rich_menu_aliases() == {}
        assert gateway.get_rich_menu_alias(alias_id="tab-kurashi") is None

        gateway.create_rich_menu_alias(alias_id="tab-kurashi", rich_menu_id=first)
        assert gateway.get_rich_menu_alias(alias_id="tab-kurashi") == first
        error = refusal(lambda: gateway.create_rich_menu_alias(alias_id="tab-kurashi", rich_menu_id=first))
        assert error.status == 400 and "conflict" in error.message
        gateway.update_rich_menu_alias(alias_id="tab-kurashi", rich_menu_id=second)
        assert gateway.get_rich_menu_alias(alias_id="tab-kurashi") == second
        error = refusal(lambda: gateway.update_rich_menu_alias(alias_id="tab-none", rich_menu_id=first))
        assert error.status == 404

        # Create or update, and safe to repeat.
        gateway.set_rich_menu_alias(alias_id="tab-bousai", rich_menu_id=second)
        gateway.set_rich_menu_alias(alias_id="tab-bousai", rich_menu_id=second)
        gateway.set_rich_menu_alias(alias_id="tab-kurashi", rich_menu_id=first)
        assert gateway.list_rich_menu_aliases() == {"tab-kurashi": first, "tab-bousai": second}
        # A menu without its image cannot be named.
        bare = gateway.create_rich_menu(menu=menu("画像なし"))
        assert refusal(lambda: gateway.set_rich_menu_alias(alias_id="tab-x", rich_menu_id=bare)).status == 400

        gateway.delete_rich_menu_alias(alias_id="tab-bousai")
        gateway.delete_rich_menu_alias(alias_id="tab-bousai")
        assert gateway.get_rich_menu_alias(alias_id="tab-bousai") is None
        assert gateway.list_rich_menu_aliases() == {"tab-kurashi": first}
    aliases = emu.rich_menus()["aliases"]
    assert aliases == [{"richMenuAliasId": "tab-kurashi", "richMenuId": first}]


# --- per user and bulk ---------------------------------------------------------------------------------


def test_link_and_unlink_one_user(line_channel: Any, emu: EmulatorControl) -> None:
    user = emu.create_followers(1)[0]
    with Gateway.from_settings() as gateway:
        default, own = ready_menu(gateway, "既定"), ready_menu(gateway, "個別")
        gateway.set_default_rich_menu(rich_menu_id=default)
        assert gateway.get_user_rich_menu(user_id=user) is None  # the default is not a per-user link
        gateway.link_rich_menu(user_id=user, rich_menu_id=own)
        assert gateway.get_user_rich_menu(user_id=user) == own
        assert emu.user_rich_menu(user)["source"] == "user"
        gateway.unlink_rich_menu(user_id=user)
        assert gateway.get_user_rich_menu(user_id=user) is None
    seen = emu.user_rich_menu(user)
    assert seen["source"] == "default" and seen["richMenu"]["richMenuId"] == default


def test_bulk_link_and_unlink(line_channel: Any, emu: EmulatorControl) -> None:
    users = emu.create_followers(3)
    with Gateway.from_settings() as gateway:
        rich_menu_id = ready_menu(gateway)
        gateway.bulk_link_rich_menu(rich_menu_id=rich_menu_id, user_ids=users)
        eventually(
            lambda: all(gateway.get_user_rich_menu(user_id=u) == rich_menu_id for u in users),
            what="the bulk link",
        )
        gateway.bulk_unlink_rich_menu(user_ids=users[:2])
        eventually(
            lambda: [gateway.get_user_rich_menu(user_id=u) for u in users] == [None, None, rich_menu_id],
            what="the bulk unlink",
        )
        too_many = [f"U{i:032x}" for i in range(501)]
        with pytest.raises(ValueError, match="500"):
            gateway.bulk_link_rich_menu(rich_menu_id=rich_menu_id, user_ids=too_many)
        with pytest.raises(ValueError, match="500"):
            gateway.bulk_unlink_rich_menu(user_ids=too_many)
        with pytest.raises(ValueError):
            gateway.bulk_unlink_rich_menu(user_ids=[])


# --- batch control -------------------------------------------------------------------------------------


def test_batch_moves_users_from_one_menu_to_another(line_channel: Any, emu: EmulatorControl) -> None:
    users = emu.create_followers(3)
    with Gateway.from_settings() as gateway:
        old, new, other = ready_menu(gateway, "旧"), ready_menu(gateway, "新"), ready_menu(gateway, "他")
        gateway.bulk_link_rich_menu(rich_menu_id=old, user_ids=users[:2])
        gateway.link_rich_menu(user_id=users[2], rich_menu_id=other)
        eventually(lambda: gateway.get_user_rich_menu(user_id=users[1]) == old, what="the bulk link")

        operations = [{"type": "link", "from": old, "to": new}]
        gateway.validate_rich_menu_batch(operations=operations, resume_request_key="kairan-switch-1")
        request_id = gateway.rich_menu_batch(operations=operations, resume_request_key="kairan-switch-1")
        assert request_id

        progress: dict[str, Any] = {}

        def done() -> bool:
            progress.update(gateway.rich_menu_batch_progress(request_id=request_id))
            return progress["phase"] != "ongoing"

        eventually(done, what="the batch")
        assert progress["phase"] == "succeeded"
        assert isinstance(progress["acceptedTime"], str) and progress["acceptedTime"].endswith("Z")
        assert isinstance(progress["completedTime"], str)
        assert [gateway.get_user_rich_menu(user_id=u) for u in users] == [new, new, other]

        error = refusal(lambda: gateway.rich_menu_batch_progress(request_id="unknown-request"))
        assert error.status == 404


def test_batch_validation_refuses_bad_operations(line_channel: Any, emu: EmulatorControl) -> None:
    with Gateway.from_settings() as gateway:
        rich_menu_id = ready_menu(gateway)
        # An unknown type and a link without "to": LINE lists both (the SDK's models would refuse
        # them before LINE could say why).
        error = refusal(
            lambda: gateway.validate_rich_menu_batch(
                operations=[{"type": "relink", "from": rich_menu_id}, {"type": "link", "from": UNKNOWN_MENU}]
            )
        )
        assert error.status == 400
        assert properties(error) == {"operations[0].type", "operations[1].to"}
        # A menu that does not exist.
        error = refusal(
            lambda: gateway.validate_rich_menu_batch(
                operations=[{"type": "link", "from": UNKNOWN_MENU, "to": rich_menu_id}]
            )
        )
        assert error.status == 404 and "operations[0].from" in properties(error)
        error = refusal(
            lambda: gateway.rich_menu_batch(operations=[{"type": "unlinkAll"}], resume_request_key="bad key!")
        )
        assert error.status == 400 and "resumeRequestKey" in properties(error)


# --- rate limits -----------------------------------------------------------------------------------------


def test_every_call_takes_its_endpoints_allowance(
    line_channel: Any, emu: EmulatorControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = emu.create_followers(1)[0]
    taken: list[str] = []
    acquire = ratelimit.acquire

    def recording(endpoint: str, **kwargs: Any) -> None:
        taken.append(endpoint)
        acquire(endpoint, **kwargs)

    monkeypatch.setattr(ratelimit, "acquire", recording)
    with Gateway.from_settings() as gateway:
        rich_menu_id = ready_menu(gateway)
        gateway.link_rich_menu(user_id=user, rich_menu_id=rich_menu_id)
        gateway.bulk_unlink_rich_menu(user_ids=[user])
        request_id = gateway.rich_menu_batch(operations=[{"type": "unlinkAll"}])
        gateway.rich_menu_batch_progress(request_id=request_id)
        gateway.delete_rich_menu_alias(alias_id="nothing")
        gateway.delete_rich_menu(rich_menu_id=rich_menu_id)
    assert taken == [
        "richmenu.create",
        "richmenu.image.upload",
        "richmenu.user.link",
        "richmenu.bulk.unlink",
        "richmenu.batch",
        "richmenu.progress",
        "richmenu.alias.delete",
        "richmenu.delete",
    ]


def test_hourly_limit_of_rich_menu_creation(line_channel: Any, emu: EmulatorControl, settings: Any) -> None:
    assert settings.KAIRAN_LINE_RATE_LIMITS["richmenu.create"] == (100, 3600)
    assert settings.KAIRAN_LINE_RATE_LIMITS["richmenu.batch"] == (3, 3600)
    settings.KAIRAN_LINE_RATE_LIMITS = {**settings.KAIRAN_LINE_RATE_LIMITS, "richmenu.create": (1, 3600)}
    with Gateway.from_settings() as gateway:
        gateway.create_rich_menu(menu=menu())
        with pytest.raises(ratelimit.RateLimited) as excinfo:
            gateway.create_rich_menu(menu=menu())
    assert excinfo.value.endpoint == "richmenu.create" and excinfo.value.retry_after > 0
    assert len(emu.rich_menus()["richMenus"]) == 1  # the second request never reached LINE
