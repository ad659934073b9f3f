"""Shared pieces of the rich-menu endpoints: limits, id formats, LINE's error bodies, lookups.

The messages are the ones LINE documents in the Messaging API reference for
each endpoint ("Not found", "richmenu not found", "no default richmenu",
"the user has no richmenu", "must upload richmenu image before applying it to
user", "conflict richmenu alias id", ...). Several of them carry an empty
``details`` list on LINE, which the plain ``LineError`` body leaves out, so
they are raised as ``RichMenuError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulator.errors import Detail, LineError, invalid_request
from emulator.state import Channel, RichMenu

# Per channel, with the Messaging API (LINE: "up to 1000"). Module constants so that a
# test or a deployment can lower them; handlers read them at call time.
MAX_RICH_MENUS = 1000
MAX_ALIASES = 1000
MAX_AREAS = 20
MAX_BULK_USERS = 500
MAX_BATCH_OPERATIONS = 1000
MAX_IMAGE_BYTES = 1024 * 1024
RESUME_KEY_TTL = 14 * 24 * 3600.0  # a resumeRequestKey expires after 336 hours

RICH_MENU_ID = re.compile(r"^richmenu-[0-9a-f]{32}$")
# LINE's reference and OpenAPI file: half-width lower-case letters, digits, "_" and "-".
ALIAS_ID = re.compile(r"^[a-z0-9_-]{1,32}$")
USER_ID = re.compile(r"^U[0-9a-f]{32}$")
RESUME_KEY = re.compile(r"^[0-9a-zA-Z_-]{1,100}$")

MUST_UPLOAD_IMAGE = "must upload richmenu image before applying it to user"
IMAGE_NOT_ALLOWED = "The image size is not allowed for richmenu"
IMAGE_ALREADY_UPLOADED = "An image has already been uploaded to the richmenu"


@dataclass
class RichMenuError(LineError):
    """A LINE error whose body always has ``details`` (possibly empty), as LINE sends it."""

    def body(self) -> dict[str, object]:
        return {
            "message": self.message,
            "details": [{"message": d.message, "property": d.property} for d in self.details],
        }


def menu_not_found() -> LineError:
    """Unknown rich menu id in a path (get, delete, image, default, link): 404 "Not found"."""
    return LineError(404, "Not found")


def must_upload_image() -> RichMenuError:
    return RichMenuError(400, MUST_UPLOAD_IMAGE)


def invalid_parameter(name: str) -> LineError:
    """A path or query parameter LINE rejects, e.g. a user id that is not a user id."""
    return LineError(400, f"The value for the '{name}' parameter is invalid")


def invalid_property(path: str) -> LineError:
    """A JSON value of the wrong type: LINE answers from its deserialiser, without details."""
    return LineError(400, f"The property, '{path}', in the request body is invalid (line: -, column: -)")


def check_details(details: list[Detail]) -> None:
    if details:
        raise invalid_request(details)


def menu_or_404(channel: Channel, rich_menu_id: str) -> RichMenu:
    menu = channel.rich_menus.get(rich_menu_id)
    if menu is None:
        raise menu_not_found()
    return menu


def check_user_id(user_id: str) -> None:
    if not USER_ID.match(user_id):
        raise invalid_parameter("userId")


def menu_json(menu: RichMenu) -> dict[str, Any]:
    """The rich menu response object: the id, then the object as it was created."""
    body = menu.body
    return {
        "richMenuId": menu.rich_menu_id,
        "size": body["size"],
        "selected": body["selected"],
        "name": body["name"],
        "chatBarText": body["chatBarText"],
        "areas": body["areas"],
    }


def area_at(menu: RichMenu, x: int, y: int) -> int | None:
    """The index of the area under a tap at (x, y) in the menu's own pixel coordinates.

    An area covers ``[x, x + width)`` by ``[y, y + height)``. LINE does not document
    which of two overlapping areas takes a tap; the first one listed wins here.
    None when the point is outside the menu or in no area.
    """
    size = menu.body["size"]
    if not (0 <= x < size["width"] and 0 <= y < size["height"]):
        return None
    for index, area in enumerate(menu.body["areas"]):
        bounds = area["bounds"]
        if (
            bounds["x"] <= x < bounds["x"] + bounds["width"]
            and bounds["y"] <= y < bounds["y"] + bounds["height"]
        ):
            return index
    return None


def iso_time(timestamp: float) -> str:
    """LINE's time format in progress responses: ISO 8601, UTC, milliseconds (2023-06-08T10:15:30.121Z)."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
