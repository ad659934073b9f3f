"""Validation of rich menu objects (create and validate) as LINE does it.

A value of the wrong JSON type fails at once with LINE's deserialiser message
("The property, 'areas[0].bounds', in the request body is invalid ..."). Other
problems are collected and answered together as LINE does: 400
``{"message": "The request body has N error(s)", "details": [{"message", "property"}]}``
with property paths such as ``areas[0].bounds.x``.

Limits (LINE's reference, "Rich menu object", "Area object", "Action objects"):
size width 800–2500, height ≥ 250, width / height ≥ 1.45; ``selected`` boolean;
``name`` ≤ 300 characters; ``chatBarText`` ≤ 14; 1–20 areas whose bounds lie
inside the menu; an action on every area. Camera, camera roll and location
actions exist only in quick replies, so a rich menu area cannot use them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from emulator.errors import Detail, invalid_request
from emulator.richmenu_common import MAX_AREAS, check_details, invalid_property

MIN_WIDTH, MAX_WIDTH, MIN_HEIGHT, MIN_RATIO = 800, 2500, 250, 1.45
RICH_MENU_ACTIONS = ("postback", "message", "uri", "datetimepicker", "richmenuswitch", "clipboard")
URI_SCHEMES = ("http", "https", "line", "tel")
INPUT_OPTIONS = ("closeRichMenu", "openRichMenu", "openKeyboard", "openVoice")
PICKER_FORMATS = {
    "date": (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "%Y-%m-%d", "YYYY-MM-DD"),
    "time": (re.compile(r"^\d{2}:\d{2}$"), "%H:%M", "HH:mm"),
    "datetime": (re.compile(r"^\d{4}-\d{2}-\d{2}[tT]\d{2}:\d{2}$"), "%Y-%m-%dT%H:%M", "YYYY-MM-DDtHH:mm"),
}
PICKER_RANGE = {"date": ("1900-01-01", "2100-12-31"), "datetime": ("1900-01-01T00:00", "2100-12-31T23:59")}

MUST_BE_SPECIFIED = "must be specified"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Checker:
    """Collects detail messages; raises at once for values of the wrong JSON type."""

    def __init__(self) -> None:
        self.details: list[Detail] = []

    def add(self, prop: str, message: str) -> None:
        self.details.append(Detail(message, prop))

    def obj(self, parent: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        value = parent.get(key)
        if value is None:
            self.add(path, MUST_BE_SPECIFIED)
            return None
        if not isinstance(value, dict):
            raise invalid_property(path)
        return value

    def integer(self, parent: dict[str, Any], key: str, path: str, minimum: int) -> int | None:
        value = parent.get(key)
        if value is None:
            self.add(path, MUST_BE_SPECIFIED)
            return None
        if not _is_int(value):
            raise invalid_property(path)
        if value < minimum:
            self.add(path, f"must be greater than or equal to {minimum}")
            return None
        return int(value)

    def text(
        self,
        parent: dict[str, Any],
        key: str,
        path: str,
        *,
        max_len: int,
        min_len: int = 0,
        required: bool = True,
    ) -> str | None:
        value = parent.get(key)
        if value is None:
            if required:
                self.add(path, MUST_BE_SPECIFIED)
            return None
        if not isinstance(value, str):
            raise invalid_property(path)
        if not min_len <= len(value) <= max_len:
            self.add(path, f"size must be between {min_len} and {max_len}")
            return None
        return value


def validate_rich_menu(data: Any) -> dict[str, Any]:
    """The rich menu object as LINE stores it, or a LineError with LINE's answer."""
    if not isinstance(data, dict):
        raise invalid_property("")
    c = _Checker()
    size = _size(c, data)
    selected = data.get("selected")
    if selected is None:
        c.add("selected", MUST_BE_SPECIFIED)
    elif not isinstance(selected, bool):
        raise invalid_property("selected")
    name = c.text(data, "name", "name", max_len=300)
    chat_bar_text = c.text(data, "chatBarText", "chatBarText", max_len=14)
    areas = _areas(c, data, size)
    check_details(c.details)
    if size is None or name is None or chat_bar_text is None:  # each of these adds a detail
        raise invalid_request(c.details)
    return {
        "size": {"width": size[0], "height": size[1]},
        "selected": selected,
        "name": name,
        "chatBarText": chat_bar_text,
        "areas": areas,
    }


def _size(c: _Checker, data: dict[str, Any]) -> tuple[int, int] | None:
    size = c.obj(data, "size", "size")
    if size is None:
        return None
    width = c.integer(size, "width", "size.width", 1)
    height = c.integer(size, "height", "size.height", 1)
    if width is not None and not MIN_WIDTH <= width <= MAX_WIDTH:
        c.add("size.width", f"must be between {MIN_WIDTH} and {MAX_WIDTH}")
        width = None
    if height is not None and height < MIN_HEIGHT:
        c.add("size.height", f"must be greater than or equal to {MIN_HEIGHT}")
        height = None
    if width is None or height is None:
        return None
    if width / height < MIN_RATIO:
        c.add("size", f"the aspect ratio (width / height) must be at least {MIN_RATIO}")
        return None
    return width, height


def _areas(c: _Checker, data: dict[str, Any], size: tuple[int, int] | None) -> list[dict[str, Any]]:
    areas = data.get("areas")
    if areas is None:
        c.add("areas", MUST_BE_SPECIFIED)
        return []
    if not isinstance(areas, list):
        raise invalid_property("areas")
    if not 1 <= len(areas) <= MAX_AREAS:
        c.add("areas", f"size must be between 1 and {MAX_AREAS}")
    result = []
    for index, area in enumerate(areas):
        path = f"areas[{index}]"
        if not isinstance(area, dict):
            raise invalid_property(path)
        bounds = _bounds(c, area, path + ".bounds", size)
        action = c.obj(area, "action", path + ".action")
        if action is not None:
            validate_action(c, action, path + ".action")
        if bounds is not None and action is not None:
            result.append({"bounds": bounds, "action": action})
    return result


def _bounds(
    c: _Checker, area: dict[str, Any], path: str, size: tuple[int, int] | None
) -> dict[str, int] | None:
    bounds = c.obj(area, "bounds", path)
    if bounds is None:
        return None
    x = c.integer(bounds, "x", path + ".x", 0)
    y = c.integer(bounds, "y", path + ".y", 0)
    width = c.integer(bounds, "width", path + ".width", 1)
    height = c.integer(bounds, "height", path + ".height", 1)
    if x is None or y is None or width is None or height is None:
        return None
    if size is not None and (x + width > size[0] or y + height > size[1]):
        c.add(path, f"the area must be inside the rich menu ({size[0]} x {size[1]})")
        return None
    return {"x": x, "y": y, "width": width, "height": height}


def validate_action(c: _Checker, action: dict[str, Any], path: str) -> None:
    """An action object on a rich menu area."""
    kind = action.get("type")
    if kind is None:
        c.add(path + ".type", MUST_BE_SPECIFIED)
        return
    if not isinstance(kind, str):
        raise invalid_property(path + ".type")
    if kind not in RICH_MENU_ACTIONS:
        c.add(path + ".type", f"must be one of {', '.join(RICH_MENU_ACTIONS)} in a rich menu")
        return
    c.text(action, "label", path + ".label", max_len=20, required=False)
    if kind == "postback":
        c.text(action, "data", path + ".data", max_len=300)
        display = c.text(action, "displayText", path + ".displayText", max_len=300, required=False)
        text = c.text(action, "text", path + ".text", max_len=300, required=False)
        if display is not None and text is not None:
            c.add(path, "displayText and text cannot be specified at the same time")
        option = action.get("inputOption")
        if option is not None and option not in INPUT_OPTIONS:
            c.add(path + ".inputOption", f"must be one of {', '.join(INPUT_OPTIONS)}")
        c.text(action, "fillInText", path + ".fillInText", max_len=300, required=False)
    elif kind == "message":
        c.text(action, "text", path + ".text", max_len=300, min_len=1)
    elif kind == "uri":
        _uri(c, action, "uri", path + ".uri", required=True)
        alt = action.get("altUri")
        if alt is not None:
            if not isinstance(alt, dict):
                raise invalid_property(path + ".altUri")
            _uri(c, alt, "desktop", path + ".altUri.desktop", required=True)
    elif kind == "datetimepicker":
        c.text(action, "data", path + ".data", max_len=300)
        _picker(c, action, path)
    elif kind == "richmenuswitch":
        c.text(action, "richMenuAliasId", path + ".richMenuAliasId", max_len=32, min_len=1)
        c.text(action, "data", path + ".data", max_len=300)
    elif kind == "clipboard":
        c.text(action, "clipboardText", path + ".clipboardText", max_len=1000, min_len=1)


def _uri(c: _Checker, parent: dict[str, Any], key: str, path: str, *, required: bool) -> None:
    value = c.text(parent, key, path, max_len=1000, min_len=1, required=required)
    if value is None:
        return
    parts = urlsplit(value)
    bad_host = parts.scheme in ("http", "https") and not parts.netloc
    if parts.scheme not in URI_SCHEMES or bad_host or any(ch.isspace() for ch in value):
        c.add(path, "invalid uri")


def _picker(c: _Checker, action: dict[str, Any], path: str) -> None:
    mode = action.get("mode")
    if mode is None:
        c.add(path + ".mode", MUST_BE_SPECIFIED)
        return
    if mode not in PICKER_FORMATS:
        c.add(path + ".mode", "must be one of date, time, datetime")
        return
    values: dict[str, datetime] = {}
    pattern, fmt, shown = PICKER_FORMATS[mode]
    low, high = PICKER_RANGE.get(mode, ("00:00", "23:59"))
    for key in ("initial", "min", "max"):
        raw = c.text(action, key, f"{path}.{key}", max_len=16, required=False)
        if raw is None:
            continue
        try:
            if not pattern.match(raw):
                raise ValueError(raw)
            moment = datetime.strptime(raw.replace("t", "T"), fmt)
        except ValueError:
            c.add(f"{path}.{key}", f"must be in the format {shown}")
            continue
        if not datetime.strptime(low, fmt) <= moment <= datetime.strptime(high, fmt):
            c.add(f"{path}.{key}", f"must be between {low} and {high}")
            continue
        values[key] = moment
    if "min" in values and "max" in values and values["min"] >= values["max"]:
        c.add(path + ".max", "must be greater than min")
    if "initial" in values:
        if "min" in values and values["initial"] < values["min"]:
            c.add(path + ".initial", "must be greater than or equal to min")
        if "max" in values and values["initial"] > values["max"]:
            c.add(path + ".initial", "must be less than or equal to max")
