"""The one door to LINE: every call Kairan makes to the Messaging API goes through here.

Built on the official ``line-bot-sdk`` (v3). Base URLs come from settings
(``KAIRAN_LINE_API_BASE`` / ``KAIRAN_LINE_DATA_BASE``: LINE's hosts in
production, the emulator in development and tests); credentials from the
encrypted channel settings. Each call takes its endpoint's allowance from the
shared rate limiter and is retried with backoff on 429, 5xx, timeouts and lost
connections. Sending calls carry the caller's retry key, so a retry after a
lost answer is recognised by LINE (409) and never sends twice; a 409 counts as
sent. If LINE changes or ends an API (spec §9(1)), this module is what changes.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    SetWebhookEndpointRequest,
    TestWebhookEndpointRequest,
)
from urllib3.exceptions import HTTPError as TransportError

from line_channel import ratelimit
from line_channel.gateway_richmenu import RichMenuCalls

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRYABLE_STATUSES = {429, 500, 502, 503, 504}


@dataclass
class LineApiError(Exception):
    """LINE answered with an error (or could not be reached after the retries).

    ``details`` are the problems LINE listed in its error body, each ``{"message": ...,
    "property": ...}`` (e.g. ``messages[0].text``, or a path inside one message object such as
    ``/body/contents/0/size`` for Flex), so a caller can show which message and property is wrong.
    """

    status: int  # 0: no answer (timeout, connection)
    message: str
    details: list[dict[str, str]] = field(default_factory=list)
    request_id: str = ""
    accepted_request_id: str = ""  # on a 409: the request id of the send LINE accepted earlier

    def __str__(self) -> str:
        detail = "; ".join(f"{d.get('property', '')}: {d.get('message', '')}" for d in self.details)
        return f"LINE {self.status or 'no answer'}: {self.message}" + (f" ({detail})" if detail else "")

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status in RETRYABLE_STATUSES


@dataclass(frozen=True)
class Sent:
    """A send LINE accepted: now, or earlier under the same retry key (``duplicate``)."""

    request_id: str
    duplicate: bool = False
    sent_messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Quota:
    """This month's message allowance: LINE's target limit (``limited`` false: none set, so
    ``limit`` is None) and the messages counted so far (one per recipient of a push, multicast,
    broadcast or narrowcast; replies are free)."""

    limited: bool
    limit: int | None
    used: int

    @property
    def remaining(self) -> int | None:
        """Messages still allowed this month; None when there is no limit."""
        return None if self.limit is None else max(0, self.limit - self.used)


# The sending requests LINE validates without sending (POST /v2/bot/message/validate/{kind}).
# Each is its own endpoint for the rate limiter ("validate.push"...); like "quota" and
# "quota.consumption" they come under LINE's limit for other endpoints (the table's "default").
VALIDATE_KINDS = ("push", "multicast", "broadcast", "reply", "narrowcast")


@dataclass(frozen=True)
class Profile:
    user_id: str
    display_name: str
    picture_url: str
    language: str
    status_message: str


@dataclass(frozen=True)
class Credentials:
    access_token: str
    channel_secret: str
    channel_id: str = ""


def credentials() -> Credentials:
    """The channel's credentials from the encrypted LINE連携設定."""
    from line_channel.models import LineChannelSettings

    config = LineChannelSettings.load()
    return Credentials(config.access_token or "", config.channel_secret or "", config.channel_id or "")


def _details(raw: Any) -> list[dict[str, str]]:
    """LINE's ``details`` ([{"message", "property"}]) as plain strings; anything else is dropped."""
    if not isinstance(raw, list):
        return []
    return [
        {key: str(item[key]) for key in ("message", "property") if item.get(key) is not None}
        for item in raw
        if isinstance(item, dict)
    ]


def _error_from(exc: ApiException) -> LineApiError:
    body: dict[str, Any] = {}
    if exc.body:
        try:
            raw = exc.body.decode() if isinstance(exc.body, bytes) else str(exc.body)
            parsed = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            parsed = None
        body = parsed if isinstance(parsed, dict) else {"message": str(exc.body)[:500]}
    headers = exc.headers or {}
    return LineApiError(
        status=int(exc.status or 0),
        message=str(body.get("message") or exc.reason or "error"),
        details=_details(body.get("details")),
        request_id=str(headers.get("x-line-request-id", "")),
        accepted_request_id=str(headers.get("x-line-accepted-request-id", "")),
    )


class Gateway(RichMenuCalls):
    def __init__(
        self,
        *,
        access_token: str,
        api_base: str | None = None,
        data_base: str | None = None,
        timeout: float | None = None,
        attempts: int | None = None,
        backoff: float | None = None,
    ) -> None:
        self.api_base = (api_base or settings.KAIRAN_LINE_API_BASE).rstrip("/")
        self.data_base = (data_base or settings.KAIRAN_LINE_DATA_BASE).rstrip("/")
        self.timeout = timeout if timeout is not None else settings.KAIRAN_LINE_TIMEOUT
        self.attempts = attempts if attempts is not None else settings.KAIRAN_LINE_ATTEMPTS
        self.backoff = backoff if backoff is not None else settings.KAIRAN_LINE_BACKOFF
        self._token = access_token
        self._api = ApiClient(Configuration(host=self.api_base, access_token=access_token))
        self._data = ApiClient(Configuration(host=self.data_base, access_token=access_token))
        self.messaging = MessagingApi(self._api)
        self.blob = MessagingApiBlob(self._data)

    @classmethod
    def from_settings(cls, **kwargs: Any) -> Gateway:
        return cls(access_token=credentials().access_token, **kwargs)

    def close(self) -> None:
        self._api.close()
        self._data.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the retry loop ----------------------------------------------------------------
    def _call(self, endpoint: str, operation: Callable[[], T]) -> T:
        delay = self.backoff
        last: LineApiError | None = None
        for attempt in range(1, self.attempts + 1):
            ratelimit.acquire(endpoint)
            try:
                return operation()
            except ApiException as exc:
                last = _error_from(exc)
            except (TransportError, TimeoutError, OSError) as exc:
                last = LineApiError(0, f"{type(exc).__name__}: {exc}")
            if not last.retryable or attempt == self.attempts:
                break
            log.warning("LINE %s attempt %d failed (%s); retrying", endpoint, attempt, last)
            time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not security
            delay *= 2
        assert last is not None
        raise last

    def _post(self, endpoint: str, path: str, body: dict[str, Any], retry_key: str | None = None) -> Any:
        """POST a JSON body as it is through the SDK's transport (with ``_call``'s rate limit and
        retries); the raw response."""
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self._token}"}
        if retry_key:
            headers["X-Line-Retry-Key"] = retry_key
        url = self.api_base + path

        def post() -> Any:
            return self._api.rest_client.request(
                "POST", url, headers=headers, body=body, _request_timeout=self.timeout
            )

        return self._call(endpoint, post)

    def _send(self, endpoint: str, path: str, body: dict[str, Any], retry_key: str | None = None) -> Sent:
        """POST a send request through the SDK's transport.

        The message objects are sent as the JSON they already are (LINE validates them and
        answers 400 with details): building the SDK's models for 500 recipients costs more
        than the request itself, and fan-out makes thousands of these.
        """
        try:
            response = self._post(endpoint, path, body, retry_key)
        except LineApiError as error:
            if error.status == 409:
                # Accepted before under this retry key (our earlier answer was lost): already sent.
                return Sent(request_id=error.accepted_request_id or error.request_id, duplicate=True)
            raise
        data = json.loads(response.data or b"{}")
        request_id = str(response.getheader("x-line-request-id") or "")
        return Sent(request_id=request_id, sent_messages=list(data.get("sentMessages") or []))

    @staticmethod
    def _message_body(
        messages: list[dict[str, Any]], notification_disabled: bool, aggregation_unit: str = ""
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": messages, "notificationDisabled": notification_disabled}
        if aggregation_unit:
            body["customAggregationUnits"] = [aggregation_unit]
        return body

    # --- sending -------------------------------------------------------------------------
    def reply(
        self, *, reply_token: str, messages: list[dict[str, Any]], notification_disabled: bool = False
    ) -> Sent:
        body = {"replyToken": reply_token, **self._message_body(messages, notification_disabled)}
        return self._send("reply", "/v2/bot/message/reply", body)

    def push(
        self,
        *,
        to: str,
        messages: list[dict[str, Any]],
        retry_key: str,
        notification_disabled: bool = False,
        aggregation_unit: str = "",
    ) -> Sent:
        body = {"to": to, **self._message_body(messages, notification_disabled, aggregation_unit)}
        return self._send("push", "/v2/bot/message/push", body, retry_key)

    def multicast(
        self,
        *,
        to: list[str],
        messages: list[dict[str, Any]],
        retry_key: str,
        notification_disabled: bool = False,
        aggregation_unit: str = "",
    ) -> Sent:
        if not 1 <= len(to) <= 500:
            raise ValueError("multicast takes 1 to 500 recipients")
        body = {"to": to, **self._message_body(messages, notification_disabled, aggregation_unit)}
        return self._send("multicast", "/v2/bot/message/multicast", body, retry_key)

    def broadcast(
        self, *, messages: list[dict[str, Any]], retry_key: str, notification_disabled: bool = False
    ) -> Sent:
        return self._send(
            "broadcast",
            "/v2/bot/message/broadcast",
            self._message_body(messages, notification_disabled),
            retry_key,
        )

    def validate_messages(self, *, kind: str, messages: list[dict[str, Any]]) -> None:
        """Have LINE check message objects for a ``kind`` of send without sending anything.

        Returns when LINE accepts them; raises ``LineApiError`` (400, with LINE's ``details``
        naming the message and property, e.g. ``messages[0].text``) when it refuses. The
        messages go as the JSON they are, like sends: the SDK's ``ValidateMessageRequest``
        would refuse some invalid lists itself (more than 5 messages) before LINE could say why.
        """
        if kind not in VALIDATE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(VALIDATE_KINDS)}")
        self._post(f"validate.{kind}", f"/v2/bot/message/validate/{kind}", {"messages": messages})

    # --- reading ---------------------------------------------------------------------------
    def quota(self) -> Quota:
        """This month's target limit (GET /v2/bot/message/quota) and the messages counted so far
        (GET /v2/bot/message/quota/consumption)."""
        target = self._call("quota", lambda: self.messaging.get_message_quota(_request_timeout=self.timeout))
        usage = self._call(
            "quota.consumption",
            lambda: self.messaging.get_message_quota_consumption(_request_timeout=self.timeout),
        )
        limited = str(getattr(target.type, "value", target.type)) == "limited"
        return Quota(
            limited=limited,
            limit=int(target.value) if limited and target.value is not None else None,
            used=int(usage.total_usage),
        )

    def profile(self, user_id: str) -> Profile | None:
        """A friend's profile; None when LINE does not know them as a friend (404)."""
        try:
            data = self._call(
                "profile", lambda: self.messaging.get_profile(user_id, _request_timeout=self.timeout)
            )
        except LineApiError as error:
            if error.status == 404:
                return None
            raise
        return Profile(
            user_id=data.user_id,
            display_name=data.display_name or "",
            picture_url=data.picture_url or "",
            language=data.language or "",
            status_message=data.status_message or "",
        )

    def bot_info(self) -> dict[str, Any]:
        data = self._call("info", lambda: self.messaging.get_bot_info(_request_timeout=self.timeout))
        result: dict[str, Any] = data.to_dict()
        return result

    def message_content(self, message_id: str) -> bytes:
        """What a user sent (image etc.), from the api-data host; fetch it promptly, LINE keeps it briefly."""
        data = self._call(
            "content", lambda: self.blob.get_message_content(message_id, _request_timeout=self.timeout)
        )
        return bytes(data)

    # --- webhook endpoint --------------------------------------------------------------------
    def set_webhook_endpoint(self, url: str) -> None:
        request = SetWebhookEndpointRequest(endpoint=url)
        self._call(
            "webhook", lambda: self.messaging.set_webhook_endpoint(request, _request_timeout=self.timeout)
        )

    def webhook_endpoint(self) -> dict[str, Any]:
        data = self._call(
            "webhook", lambda: self.messaging.get_webhook_endpoint(_request_timeout=self.timeout)
        )
        result: dict[str, Any] = data.to_dict()
        return result

    def test_webhook_endpoint(self, url: str | None = None) -> dict[str, Any]:
        request = TestWebhookEndpointRequest(endpoint=url) if url else TestWebhookEndpointRequest()
        data = self._call(
            "webhook", lambda: self.messaging.test_webhook_endpoint(request, _request_timeout=self.timeout)
        )
        result: dict[str, Any] = data.to_dict()
        return result
