"""The staff request being served, so that log entries made deep inside
Wagtail or a signal handler still know who, from where and on which screen."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from django.http import HttpRequest


@dataclass
class RequestContext:
    request: HttpRequest
    # (object_type, object_id) of objects already logged in this request
    logged_objects: set[tuple[str, str]] = field(default_factory=set)
    # committed model writes not (yet) covered by a more specific entry
    pending_writes: list[tuple[str, str, str, str]] = field(default_factory=list)
    recorded: int = 0


_current: ContextVar[RequestContext | None] = ContextVar("kairan_oplog_request", default=None)


def current() -> RequestContext | None:
    return _current.get()


def activate(request: HttpRequest) -> object:
    return _current.set(RequestContext(request))


def deactivate(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
