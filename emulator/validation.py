"""Validation of message objects and sending requests, answered the way LINE answers.

LINE reports two kinds of 400:

* request-level problems (the ``messages`` array, a message's ``type``, ``text``, URLs of media
  messages, ``to``...): ``{"message": "The request body has N error(s)", "details": [...]}``
  with dotted property paths such as ``messages[0].text``, every problem listed;
* problems inside one message object (template, imagemap actions, quick reply, Flex): ``{"message":
  "A message (messages[i]) in the request body is invalid", "details": [...]}`` with slash paths
  relative to the message (``template/actions/0/uri``) or, for Flex, JSON pointers relative to the
  container (``/contents/1/body/contents/0/text``); only the first invalid message is reported, and
  only when the request has no request-level problem.

Text lengths count UTF-16 code units; action labels and template texts count grapheme clusters
(LINE Developers, "Character counting in a text").

Deviation from LINE (``config.local_http_media``, on by default): media URLs, which LINE takes
only as https (image, video and audio messages, imagemap ``baseUrl``, template thumbnails, Flex
images and icons, quick reply and sender icons), may also be http URLs on a local host
(``is_local_host``: loopback and private addresses, ``localhost``, single-label names), the same
allowance the webhook URL has: Kairan in development serves its images from
``http://127.0.0.1:8000`` without TLS. Other http URLs are refused as LINE refuses them
("invalid uri scheme"); with the flag off every http media URL is.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from emulator.errors import Detail, LineError, invalid_request

MESSAGE_TYPES = (
    "text",
    "image",
    "video",
    "audio",
    "location",
    "sticker",
    "template",
    "imagemap",
    "flex",
    "textV2",
    "coupon",
)
MAX_MESSAGES = 5
TEXT_MAX = 5000
URL_MAX = 2000
ALT_TEXT_MAX = 400
QUICK_REPLY_MAX = 13
LINK_SCHEMES = ("http", "https", "line", "tel")
QUOTABLE_TYPES = frozenset({"text", "textV2", "sticker", "image", "video"})


# --- counting -----------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as the Messaging API counts text."""
    return len(text.encode("utf-16-le")) // 2


def _extends(char: str, previous: str) -> bool:
    """Whether ``char`` continues the grapheme cluster that ``previous`` belongs to."""
    code = ord(char)
    if previous == "\r" and char == "\n":
        return True
    if previous == "\u200d":  # zero width joiner: the next pictograph joins the cluster
        return True
    if unicodedata.category(char) in ("Mn", "Me", "Mc") or char == "\u200d":
        return True
    return (
        0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
    )


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def grapheme_len(text: str) -> int:
    """Grapheme clusters (UAX #29, the cases that occur in messages: combining marks, emoji
    sequences with ZWJ, modifiers and variation selectors, flags, CR LF)."""
    count = 0
    previous = ""
    flag_open = False  # a regional indicator waiting for its pair
    for char in text:
        if previous and _extends(char, previous):
            previous = char
            continue
        if flag_open and _regional(char):
            flag_open = False
            previous = char
            continue
        count += 1
        flag_open = _regional(char)
        previous = char
    return count


# --- the checker --------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class Checker:
    """Collects problems. ``nested`` selects LINE's wording and path style inside a message object;
    ``local_http_media`` the emulator's local-http allowance for media URLs (see the module)."""

    nested: bool = False
    details: list[Detail] = field(default_factory=list)
    local_http_media: bool = False

    def add(self, prop: str, message: str) -> None:
        self.details.append(Detail(message, prop or "/"))

    def key(self, path: str, name: str | int) -> str:
        if self.nested:
            return f"{path}/{name}"
        return f"{path}[{name}]" if isinstance(name, int) else (f"{path}.{name}" if path else name)

    # wording
    def missing_text(self) -> str:
        return "must be specified" if self.nested else "May not be empty"

    def empty_text(self) -> str:
        return "may not be empty" if self.nested else "May not be empty"

    def length_text(self, low: int, high: int) -> str:
        return (
            f"size must be between {low} and {high}"
            if self.nested
            else f"Length must be between {low} and {high}"
        )

    def size_text(self, low: int, high: int) -> str:
        return (
            f"size must be between {low} and {high}"
            if self.nested
            else f"Size must be between {low} and {high}"
        )

    def one_of(self, values: tuple[str, ...] | list[str]) -> str:
        text = "must be one of the following values: [" + ", ".join(values) + "]"
        return text if self.nested else text[0].upper() + text[1:]

    def wrong_type(self, kind: str) -> str:
        text = f"must be {kind}"
        return text if self.nested else text[0].upper() + text[1:]

    # checks
    def missing(self, path: str) -> None:
        self.add(path, self.missing_text())

    def obj(
        self, parent: dict[str, Any], name: str, path: str, *, required: bool = True
    ) -> dict[str, Any] | None:
        prop = self.key(path, name)
        value = parent.get(name)
        if value is None:
            if required:
                self.add(prop, self.missing_text() if self.nested else "May not be null")
            return None
        if not isinstance(value, dict):
            self.add(prop, self.wrong_type("an object"))
            return None
        return value

    def array(
        self, parent: dict[str, Any], name: str, path: str, low: int, high: int, *, required: bool = True
    ) -> list[Any] | None:
        prop = self.key(path, name)
        value = parent.get(name)
        if value is None:
            if required:
                self.add(prop, self.missing_text() if self.nested else "May not be empty")
            return None
        if not isinstance(value, list):
            self.add(prop, self.wrong_type("an array"))
            return None
        if not low <= len(value) <= high:
            self.add(prop, self.size_text(low, high))
            return None
        return value

    def string(
        self,
        parent: dict[str, Any],
        name: str,
        path: str,
        high: int | None = None,
        *,
        required: bool = True,
        count: Callable[[str], int] = utf16_len,
        low: int = 0,
        allow_empty: bool = False,
    ) -> str | None:
        prop = self.key(path, name)
        value = parent.get(name)
        if value is None:
            if required:
                self.add(prop, self.missing_text())
            return None
        if not isinstance(value, str):
            self.add(prop, self.wrong_type("a string"))
            return None
        if value == "" and required and not allow_empty:
            self.add(prop, self.empty_text())
            return None
        length = count(value)
        if (high is not None and length > high) or length < low:
            self.add(prop, self.length_text(low, high if high is not None else length))
            return None
        return value

    def enum(
        self, parent: dict[str, Any], name: str, path: str, values: tuple[str, ...], *, required: bool = False
    ) -> str | None:
        value = parent.get(name)
        if value is None:
            if required:
                self.add(self.key(path, name), self.missing_text())
            return None
        if value not in values:
            self.add(self.key(path, name), self.one_of(values))
            return None
        return str(value)

    def boolean(self, parent: dict[str, Any], name: str, path: str) -> None:
        value = parent.get(name)
        if value is not None and not isinstance(value, bool):
            self.add(self.key(path, name), self.wrong_type("a boolean"))

    def integer(
        self,
        parent: dict[str, Any],
        name: str,
        path: str,
        low: int,
        high: int | None = None,
        *,
        required: bool = True,
    ) -> int | None:
        prop = self.key(path, name)
        value = parent.get(name)
        if value is None:
            if required:
                self.add(prop, self.missing_text() if self.nested else "May not be null")
            return None
        if not _is_int(value):
            self.add(prop, self.wrong_type("an integer"))
            return None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"greater than or equal to {low}"
            self.add(prop, self.wrong_type(bound))
            return None
        return int(value)

    def url(
        self,
        parent: dict[str, Any],
        name: str,
        path: str,
        *,
        schemes: tuple[str, ...] = ("https",),
        high: int = URL_MAX,
        required: bool = True,
    ) -> str | None:
        value = self.string(parent, name, path, high, required=required)
        if value is None:
            return None
        if self.local_http_media and "https" in schemes and "http" not in schemes and local_http_url(value):
            schemes = (*schemes, "http")
        problem = url_problem(value, schemes)
        if problem:
            self.add(self.key(path, name), problem)
            return None
        return value


def url_problem(value: str, schemes: tuple[str, ...]) -> str | None:
    """LINE's words for a URL it refuses: a scheme it does not allow, or no URL at all."""
    if any(ch.isspace() for ch in value):
        return "invalid uri"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "invalid uri"
    if not parts.scheme:
        return "invalid uri"
    if parts.scheme.lower() not in schemes:
        return "invalid uri scheme"
    if parts.scheme.lower() in ("http", "https") and not parts.netloc:
        return "invalid uri"
    if parts.scheme.lower() == "tel" and not parts.path:
        return "invalid uri"
    return None


def is_local_host(host: str) -> bool:
    """Whether a URL's host is local to the machine or its network: loopback, private or link-local
    addresses, ``localhost`` (and ``*.localhost``), single-label names such as a compose service.
    Where the emulator lets http stand in for https (webhook URLs, media URLs)."""
    host = host.strip("[]").lower()
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host.endswith(".localhost") or "." not in host
    return address.is_loopback or address.is_private or address.is_link_local


def local_http_url(value: str) -> bool:
    """An http URL on a local host (``is_local_host``)."""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        return False
    return parts.scheme.lower() == "http" and is_local_host(host)


# --- actions (shared by templates, quick replies, Flex and imagemaps) ---------------------------

ACTION_TYPES: dict[str, tuple[str, ...]] = {
    "template": ("postback", "message", "uri", "datetimepicker", "clipboard"),
    "flex": ("postback", "message", "uri", "datetimepicker", "clipboard"),
    "quickReply": (
        "postback",
        "message",
        "uri",
        "datetimepicker",
        "camera",
        "cameraRoll",
        "location",
        "clipboard",
    ),
    "richmenu": ("postback", "message", "uri", "datetimepicker", "richmenuswitch", "clipboard"),
}
_PICKER_FORMATS = {"date": "%Y-%m-%d", "time": "%H:%M", "datetime": "%Y-%m-%dT%H:%M"}
_PICKER_RANGE = {"date": ("1900-01-01", "2100-12-31"), "datetime": ("1900-01-01T00:00", "2100-12-31T23:59")}


def check_action(
    c: Checker,
    action: Any,
    path: str,
    context: str,
    *,
    label_required: bool = False,
    label_max: int = 20,
) -> None:
    """One action object; ``context`` (template, flex, quickReply, richmenu) decides the allowed types."""
    if not isinstance(action, dict):
        c.add(path, c.wrong_type("an object"))
        return
    kind = c.enum(action, "type", path, ACTION_TYPES[context], required=True)
    c.string(action, "label", path, label_max, required=label_required, count=grapheme_len)
    if kind == "postback":
        c.string(action, "data", path, 300, count=grapheme_len, allow_empty=True)
        display = c.string(action, "displayText", path, 300, required=False, count=grapheme_len)
        text = c.string(action, "text", path, 300, required=False, count=grapheme_len)
        if display is not None and text is not None:
            c.add(c.key(path, "text"), "displayText and text cannot be specified at the same time")
        c.enum(action, "inputOption", path, ("closeRichMenu", "openRichMenu", "openKeyboard", "openVoice"))
        c.string(action, "fillInText", path, 300, required=False, count=grapheme_len)
    elif kind == "message":
        c.string(action, "text", path, 300, count=grapheme_len)
    elif kind == "uri":
        c.url(action, "uri", path, schemes=LINK_SCHEMES, high=1000)
        alt = c.obj(action, "altUri", path, required=False)
        if alt is not None:
            c.url(alt, "desktop", c.key(path, "altUri"), schemes=LINK_SCHEMES, high=1000)
    elif kind == "datetimepicker":
        c.string(action, "data", path, 300, allow_empty=True)
        mode = c.enum(action, "mode", path, ("date", "time", "datetime"), required=True)
        if mode is not None:
            _check_picker(c, action, path, mode)
    elif kind == "richmenuswitch":
        c.string(action, "richMenuAliasId", path, 32)
        c.string(action, "data", path, 300, allow_empty=True)
    elif kind == "clipboard":
        c.string(action, "clipboardText", path, 1000, low=1)


def _check_picker(c: Checker, action: dict[str, Any], path: str, mode: str) -> None:
    pattern = _PICKER_FORMATS[mode]
    values: dict[str, datetime] = {}
    for name in ("initial", "max", "min"):
        raw = action.get(name)
        if raw is None:
            continue
        try:
            if not isinstance(raw, str):
                raise ValueError(raw)
            parsed = datetime.strptime(raw.replace("t", "T"), pattern)
        except ValueError:
            c.add(c.key(path, name), f"must be in the {mode} format")
            continue
        if mode in _PICKER_RANGE:
            low, high = _PICKER_RANGE[mode]
            if not datetime.strptime(low, pattern) <= parsed <= datetime.strptime(high, pattern):
                c.add(c.key(path, name), f"must be between {low} and {high}")
                continue
        values[name] = parsed
    low_value, high_value, initial = values.get("min"), values.get("max"), values.get("initial")
    if low_value is not None and high_value is not None and low_value >= high_value:
        c.add(c.key(path, "min"), "must be earlier than max")
    if initial is not None and (
        (low_value is not None and initial < low_value) or (high_value is not None and initial > high_value)
    ):
        c.add(c.key(path, "initial"), "must be between min and max")


# --- message objects ---------------------------------------------------------------------------


def _check_text(c: Checker, message: dict[str, Any], path: str) -> None:
    text = c.string(message, "text", path, TEXT_MAX)
    emojis = c.array(message, "emojis", path, 0, 20, required=False)
    if emojis is None:
        return
    units = text.encode("utf-16-le") if text is not None else b""
    for i, emoji in enumerate(emojis):
        where = c.key(c.key(path, "emojis"), i)
        if not isinstance(emoji, dict):
            c.add(where, "Must be an object")
            continue
        index = c.integer(emoji, "index", where, 0)
        c.string(emoji, "productId", where)
        c.string(emoji, "emojiId", where)
        if (
            index is not None
            and text is not None
            and units[index * 2 : index * 2 + 2] != "$".encode("utf-16-le")
        ):
            c.add(c.key(where, "index"), "Must point at a $ placeholder in text")


_SUBSTITUTION_KEY = re.compile(r"^[A-Za-z0-9_]{1,20}$")


def _check_text_v2(c: Checker, message: dict[str, Any], path: str) -> None:
    c.string(message, "text", path, TEXT_MAX)
    substitution = c.obj(message, "substitution", path, required=False)
    if substitution is None:
        return
    where = c.key(path, "substitution")
    if len(substitution) > 100:
        c.add(where, "Size must be between 0 and 100")
    for key, value in substitution.items():
        item = c.key(where, key)
        if not _SUBSTITUTION_KEY.match(key):
            c.add(item, "Key must match ^[A-Za-z0-9_]{1,20}$")
        if not isinstance(value, dict):
            c.add(item, "Must be an object")
            continue
        kind = c.enum(value, "type", item, ("mention", "emoji"), required=True)
        if kind == "mention":
            target = c.obj(value, "mentionee", item)
            if target is not None:
                target_kind = c.enum(target, "type", c.key(item, "mentionee"), ("user", "all"), required=True)
                if target_kind == "user":
                    c.string(target, "userId", c.key(item, "mentionee"))
        elif kind == "emoji":
            c.string(value, "productId", item)
            c.string(value, "emojiId", item)


def _check_media(c: Checker, message: dict[str, Any], path: str, kind: str) -> None:
    c.url(message, "originalContentUrl", path)
    if kind in ("image", "video"):
        c.url(message, "previewImageUrl", path)
    if kind == "video":
        c.string(message, "trackingId", path, 100, required=False)
    if kind == "audio":
        c.integer(message, "duration", path, 1)


def _check_location(c: Checker, message: dict[str, Any], path: str) -> None:
    c.string(message, "title", path, 100)
    c.string(message, "address", path, 100)
    for name, limit in (("latitude", 90), ("longitude", 180)):
        value = message.get(name)
        if value is None:
            c.add(c.key(path, name), "May not be null")
        elif not _is_number(value):
            c.add(c.key(path, name), "Must be a number")
        elif not -limit <= value <= limit:
            c.add(c.key(path, name), f"Must be between -{limit} and {limit}")


def _check_imagemap_top(c: Checker, message: dict[str, Any], path: str) -> None:
    c.url(message, "baseUrl", path)
    c.string(message, "altText", path, 1500)
    size = c.obj(message, "baseSize", path)
    if size is not None:
        where = c.key(path, "baseSize")
        width = c.integer(size, "width", where, 1)
        if width is not None and width != 1040:
            c.add(c.key(where, "width"), "Must be 1040")
        c.integer(size, "height", where, 1)
    c.array(message, "actions", path, 0, 50)


def _check_sender(c: Checker, message: dict[str, Any], path: str) -> None:
    sender = c.obj(message, "sender", path, required=False)
    if sender is None:
        return
    where = c.key(path, "sender")
    name = c.string(sender, "name", where, 20, required=False)
    if name is not None and re.search(r"line", name, re.IGNORECASE):
        c.add(c.key(where, "name"), "Must not contain the word LINE")
    c.url(sender, "iconUrl", where, required=False)


def check_message(c: Checker, message: Any, path: str) -> str | None:
    """Request-level checks of one message object; returns its type when it is known."""
    if not isinstance(message, dict):
        c.add(path, "Must be an object")
        return None
    kind = message.get("type")
    if kind is None or kind == "":
        c.add(c.key(path, "type"), "May not be empty")
        return None
    if kind not in MESSAGE_TYPES:
        c.add(c.key(path, "type"), c.one_of(MESSAGE_TYPES))
        return None
    if kind == "text":
        _check_text(c, message, path)
    elif kind == "textV2":
        _check_text_v2(c, message, path)
    elif kind == "sticker":
        c.string(message, "packageId", path)
        c.string(message, "stickerId", path)
    elif kind in ("image", "video", "audio"):
        _check_media(c, message, path, kind)
    elif kind == "location":
        _check_location(c, message, path)
    elif kind == "imagemap":
        _check_imagemap_top(c, message, path)
    elif kind in ("template", "flex"):
        c.string(message, "altText", path, ALT_TEXT_MAX)
        c.obj(message, "template" if kind == "template" else "contents", path)
    elif kind == "coupon":
        c.string(message, "couponId", path)
        if isinstance(message.get("couponId"), str) and message["couponId"]:
            # The emulator issues no coupons (the coupon API is not played), so none can be found.
            c.add(c.key(path, "couponId"), "Coupon not found")
    if kind in ("text", "textV2", "sticker") and "quoteToken" in message:
        c.string(message, "quoteToken", path, required=False)
    if "quickReply" in message and not isinstance(message["quickReply"], dict):
        c.add(c.key(path, "quickReply"), "Must be an object")
    _check_sender(c, message, path)
    return str(kind)


def _message_contents(message: dict[str, Any], *, local_http_media: bool = False) -> list[Detail]:
    """Problems inside one message object (template, imagemap actions, quick reply, Flex)."""
    from emulator.validation_content import (
        check_flex,
        check_imagemap_actions,
        check_quick_reply,
        check_template,
    )

    c = Checker(nested=True, local_http_media=local_http_media)
    kind = message.get("type")
    if kind == "template":
        check_template(c, message["template"])
    elif kind == "imagemap":
        check_imagemap_actions(c, message)
    elif kind == "flex":
        check_flex(c, message["contents"])
    if isinstance(message.get("quickReply"), dict):
        check_quick_reply(c, message["quickReply"])
    return c.details


def validate_messages(
    body: dict[str, Any], c: Checker | None = None, *, name: str = "messages"
) -> list[dict[str, Any]]:
    """The request's message objects, or a LineError as LINE would answer.

    ``c`` may already hold the endpoint's own request-level problems (``to``...); they are
    reported together with those of the messages.
    """
    c = c or Checker()
    messages = c.array(body, name, "", 1, MAX_MESSAGES)
    if messages is not None:
        for index, message in enumerate(messages):
            check_message(c, message, c.key(name, index))
    if c.details:
        raise invalid_request(c.details)
    assert messages is not None
    for index, message in enumerate(messages):
        details = _message_contents(message, local_http_media=c.local_http_media)
        if details:
            raise LineError(400, f"A message ({name}[{index}]) in the request body is invalid", details)
    return messages
