"""Rich menus through the gateway: menus and their images, aliases, the default menu, per-user,
bulk and batch links.

A mixin of ``Gateway``: every call goes through its ``_call`` under the endpoint's rate-limit
name (``richmenu.create``, ``richmenu.delete``, ``richmenu.batch``... see
``KAIRAN_LINE_RATE_LIMITS``; names without an entry come under LINE's default).

Bodies the caller gives as dicts in LINE's JSON shape (a rich menu object, batch operations) go
as that JSON through the SDK's transport, like the sends: the SDK's models would refuse some
themselves (a 15-character ``chatBarText``, an action without ``type``, an unknown operation
type) before LINE could say why, and silently drop properties they do not know. Rich menu
objects and batch progress are returned as LINE's JSON for the same reason. The other calls
use the SDK's typed methods; images go to the api-data host (``MessagingApiBlob``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from linebot.v3.messaging import (
    CreateRichMenuAliasRequest,
    RichMenuBulkLinkRequest,
    RichMenuBulkUnlinkRequest,
    UpdateRichMenuAliasRequest,
)

if TYPE_CHECKING:
    from linebot.v3.messaging import ApiResponse, MessagingApi, MessagingApiBlob

T = TypeVar("T")

MAX_BULK_USERS = 500
IMAGE_TYPES = ("image/png", "image/jpeg")
_R = "/v2/bot/richmenu"


def _absent_on_404(operation: Callable[[], T]) -> T | None:
    """The operation's result, or None when LINE answers 404."""
    from line_channel.gateway import LineApiError  # the gateway module imports this one

    try:
        return operation()
    except LineApiError as error:
        if error.status == 404:
            return None
        raise


def _json(response: ApiResponse) -> Any:
    """The body of a response read without the SDK's models (``_preload_content=False``)."""
    return json.loads(response.raw_data or b"{}")


def _check_user_count(user_ids: list[str]) -> None:
    if not 1 <= len(user_ids) <= MAX_BULK_USERS:
        raise ValueError(f"bulk link and unlink take 1 to {MAX_BULK_USERS} user ids")


class RichMenuCalls:
    """LINE's rich menu endpoints, for ``Gateway``."""

    messaging: MessagingApi
    blob: MessagingApiBlob
    timeout: float

    if TYPE_CHECKING:

        def _call(self, endpoint: str, operation: Callable[[], T]) -> T: ...

        def _post(
            self, endpoint: str, path: str, body: dict[str, Any], retry_key: str | None = None
        ) -> Any: ...

    # --- rich menu objects ---------------------------------------------------------------
    def create_rich_menu(self, *, menu: dict[str, Any]) -> str:
        """Create a rich menu (LINE validates it: 400 with ``details``); its id. 100 per hour."""
        response = self._post("richmenu.create", _R, menu)
        return str(json.loads(response.data or b"{}")["richMenuId"])

    def validate_rich_menu(self, *, menu: dict[str, Any]) -> None:
        """Have LINE check a rich menu object without creating it; ``LineApiError`` (400, with
        LINE's ``details`` such as ``areas[0].bounds``) when it refuses."""
        self._post("richmenu.validate", _R + "/validate", menu)

    def upload_rich_menu_image(self, *, rich_menu_id: str, content: bytes, content_type: str) -> None:
        """Attach the menu's image (api-data host): PNG or JPEG of the menu's size, ≤ 1 MB; once."""
        if content_type not in IMAGE_TYPES:
            raise ValueError(f"content_type must be one of {', '.join(IMAGE_TYPES)}")
        self._call(
            "richmenu.image.upload",
            lambda: self.blob.set_rich_menu_image(
                rich_menu_id,
                content,
                _headers={"Content-Type": content_type},
                _request_timeout=self.timeout,
            ),
        )

    def get_rich_menu(self, *, rich_menu_id: str) -> dict[str, Any] | None:
        """The rich menu object as LINE returns it (with ``richMenuId``); None when unknown."""
        response = _absent_on_404(
            lambda: self._call(
                "richmenu.get",
                lambda: self.messaging.get_rich_menu_with_http_info(
                    rich_menu_id, _preload_content=False, _request_timeout=self.timeout
                ),
            )
        )
        if response is None:
            return None
        result: dict[str, Any] = _json(response)
        return result

    def list_rich_menus(self) -> list[dict[str, Any]]:
        """Every rich menu of the channel, as LINE returns them."""
        response = self._call(
            "richmenu.list",
            lambda: self.messaging.get_rich_menu_list_with_http_info(
                _preload_content=False, _request_timeout=self.timeout
            ),
        )
        return list(_json(response).get("richmenus") or [])

    def delete_rich_menu(self, *, rich_menu_id: str) -> None:
        """Delete a rich menu (users linked to it lose it); an unknown id is not an error. 100 per hour."""
        _absent_on_404(
            lambda: self._call(
                "richmenu.delete",
                lambda: self.messaging.delete_rich_menu(rich_menu_id, _request_timeout=self.timeout),
            )
        )

    # --- aliases -------------------------------------------------------------------------------
    def create_rich_menu_alias(self, *, alias_id: str, rich_menu_id: str) -> None:
        """Name a menu for ``richmenuswitch`` actions; the menu must have its image. An id the
        SDK refuses (empty, over 32 characters) is a ``ValueError``."""
        request = CreateRichMenuAliasRequest(richMenuAliasId=alias_id, richMenuId=rich_menu_id)
        self._call(
            "richmenu.alias.create",
            lambda: self.messaging.create_rich_menu_alias(request, _request_timeout=self.timeout),
        )

    def update_rich_menu_alias(self, *, alias_id: str, rich_menu_id: str) -> None:
        """Point an existing alias at another menu (404 ``LineApiError`` for an unknown alias)."""
        request = UpdateRichMenuAliasRequest(richMenuId=rich_menu_id)
        self._call(
            "richmenu.alias.update",
            lambda: self.messaging.update_rich_menu_alias(alias_id, request, _request_timeout=self.timeout),
        )

    def set_rich_menu_alias(self, *, alias_id: str, rich_menu_id: str) -> None:
        """Point the alias at the menu, creating it when missing; safe to repeat."""
        from line_channel.gateway import LineApiError

        try:
            self.update_rich_menu_alias(alias_id=alias_id, rich_menu_id=rich_menu_id)
            return
        except LineApiError as error:
            if error.status != 404:
                raise
        try:
            self.create_rich_menu_alias(alias_id=alias_id, rich_menu_id=rich_menu_id)
        except LineApiError as error:
            if error.status != 400 or "conflict" not in error.message.lower():
                raise
            # Created meanwhile by another caller: point it at this menu.
            self.update_rich_menu_alias(alias_id=alias_id, rich_menu_id=rich_menu_id)

    def delete_rich_menu_alias(self, *, alias_id: str) -> None:
        """Delete an alias; an unknown one is not an error. 100 per hour."""
        _absent_on_404(
            lambda: self._call(
                "richmenu.alias.delete",
                lambda: self.messaging.delete_rich_menu_alias(alias_id, _request_timeout=self.timeout),
            )
        )

    def get_rich_menu_alias(self, *, alias_id: str) -> str | None:
        """The id of the menu the alias points at; None when there is no such alias."""
        data = _absent_on_404(
            lambda: self._call(
                "richmenu.alias.get",
                lambda: self.messaging.get_rich_menu_alias(alias_id, _request_timeout=self.timeout),
            )
        )
        return None if data is None else str(data.rich_menu_id)

    def list_rich_menu_aliases(self) -> dict[str, str]:
        """Every alias of the channel: alias id → rich menu id."""
        data = self._call(
            "richmenu.alias.list",
            lambda: self.messaging.get_rich_menu_alias_list(_request_timeout=self.timeout),
        )
        return {str(a.rich_menu_alias_id): str(a.rich_menu_id) for a in data.aliases or []}

    # --- default menu --------------------------------------------------------------------------
    def set_default_rich_menu(self, *, rich_menu_id: str) -> None:
        """Show this menu to users without a per-user link (it must have its image)."""
        self._call(
            "richmenu.default.set",
            lambda: self.messaging.set_default_rich_menu(rich_menu_id, _request_timeout=self.timeout),
        )

    def get_default_rich_menu(self) -> str | None:
        """The default menu set with the API; None when there is none."""
        data = _absent_on_404(
            lambda: self._call(
                "richmenu.default.get",
                lambda: self.messaging.get_default_rich_menu_id(_request_timeout=self.timeout),
            )
        )
        return None if data is None else str(data.rich_menu_id)

    def cancel_default_rich_menu(self) -> None:
        """Clear the default menu set with the API (per-user links stay)."""
        self._call(
            "richmenu.default.cancel",
            lambda: self.messaging.cancel_default_rich_menu(_request_timeout=self.timeout),
        )

    # --- one user ------------------------------------------------------------------------------
    def link_rich_menu(self, *, user_id: str, rich_menu_id: str) -> None:
        """Link a menu to one user; it wins over the default menu."""
        self._call(
            "richmenu.user.link",
            lambda: self.messaging.link_rich_menu_id_to_user(
                user_id, rich_menu_id, _request_timeout=self.timeout
            ),
        )

    def unlink_rich_menu(self, *, user_id: str) -> None:
        """Remove the user's per-user link (they see the default menu again)."""
        self._call(
            "richmenu.user.unlink",
            lambda: self.messaging.unlink_rich_menu_id_from_user(user_id, _request_timeout=self.timeout),
        )

    def get_user_rich_menu(self, *, user_id: str) -> str | None:
        """The menu linked to the user; None when they have no per-user link (the default is not
        reported here)."""
        data = _absent_on_404(
            lambda: self._call(
                "richmenu.user.get",
                lambda: self.messaging.get_rich_menu_id_of_user(user_id, _request_timeout=self.timeout),
            )
        )
        return None if data is None else str(data.rich_menu_id)

    # --- bulk and batch --------------------------------------------------------------------------
    def bulk_link_rich_menu(self, *, rich_menu_id: str, user_ids: list[str]) -> None:
        """Link a menu to 1–500 users; LINE applies it asynchronously after answering 202."""
        _check_user_count(user_ids)
        request = RichMenuBulkLinkRequest(richMenuId=rich_menu_id, userIds=list(user_ids))
        self._call(
            "richmenu.bulk.link",
            lambda: self.messaging.link_rich_menu_id_to_users(request, _request_timeout=self.timeout),
        )

    def bulk_unlink_rich_menu(self, *, user_ids: list[str]) -> None:
        """Remove the per-user links of 1–500 users, asynchronously."""
        _check_user_count(user_ids)
        request = RichMenuBulkUnlinkRequest(userIds=list(user_ids))
        self._call(
            "richmenu.bulk.unlink",
            lambda: self.messaging.unlink_rich_menu_id_from_users(request, _request_timeout=self.timeout),
        )

    @staticmethod
    def _batch_body(operations: list[dict[str, Any]], resume_request_key: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"operations": operations}
        if resume_request_key is not None:
            body["resumeRequestKey"] = resume_request_key
        return body

    def rich_menu_batch(
        self, *, operations: list[dict[str, Any]], resume_request_key: str | None = None
    ) -> str:
        """Relink or unlink every user of some menus (``{"type": "link", "from": A, "to": B}``,
        ``unlink``, ``unlinkAll``), asynchronously; the request id to follow it with
        ``rich_menu_batch_progress``. 3 per hour: pass a ``resume_request_key`` so a failed batch
        can be resumed."""
        response = self._post(
            "richmenu.batch", _R + "/batch", self._batch_body(operations, resume_request_key)
        )
        return str(response.getheader("x-line-request-id") or "")

    def validate_rich_menu_batch(
        self, *, operations: list[dict[str, Any]], resume_request_key: str | None = None
    ) -> None:
        """Have LINE check a batch without running it; ``LineApiError`` with its details when not."""
        self._post(
            "richmenu.batch.validate",
            _R + "/validate/batch",
            self._batch_body(operations, resume_request_key),
        )

    def rich_menu_batch_progress(self, *, request_id: str) -> dict[str, Any]:
        """A batch's ``phase`` (ongoing, succeeded, failed), ``acceptedTime`` and, once done,
        ``completedTime``, as LINE returns them. 100 per hour: poll sparingly."""
        response = self._call(
            "richmenu.progress",
            lambda: self.messaging.get_rich_menu_batch_progress_with_http_info(
                request_id, _preload_content=False, _request_timeout=self.timeout
            ),
        )
        result: dict[str, Any] = _json(response)
        return result
