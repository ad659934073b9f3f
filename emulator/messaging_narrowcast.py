"""Who a narrowcast reaches: all friends, a redelivery of an earlier request, or friends chosen by
how long they have been friends (``subscriptionPeriod``, also combined with ``operator``).

Virtual users have no gender, age, area or app type and the emulator has no audiences, so those
filters and ``audience``/``operator`` recipients are answered with a 400 that says so, instead of
pretending to send to a made-up subset.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.state import Channel, Store, VirtualUser
from emulator.validation import Checker

DAY = 24 * 3600.0
PERIODS = {"day_7": 7, "day_30": 30, "day_90": 90, "day_180": 180, "day_365": 365}
UNSUPPORTED_DEMOGRAPHICS = ("age", "gender", "area", "appType")
Predicate = Callable[[VirtualUser], bool]


@dataclass
class NarrowcastPlan:
    targets: list[str] = field(default_factory=list)
    up_to_remaining_quota: bool = False
    forbid_partial_delivery: bool = False


def plan_narrowcast(store: Store, channel: Channel, body: dict[str, Any], c: Checker) -> NarrowcastPlan:
    """Check ``recipient``, ``filter`` and ``limit`` (problems go to ``c``) and choose the targets."""
    plan = NarrowcastPlan()
    before = len(c.details)
    candidates = _recipients(channel, body.get("recipient"), c)
    predicate = _filter(store, body.get("filter"), c)
    limit = body.get("limit")
    maximum: int | None = None
    if limit is not None:
        if not isinstance(limit, dict):
            c.add("limit", "Must be an object")
        else:
            maximum = c.integer(limit, "max", "limit", 1, required=False)
            c.boolean(limit, "upToRemainingQuota", "limit")
            c.boolean(limit, "forbidPartialDelivery", "limit")
            plan.up_to_remaining_quota = limit.get("upToRemainingQuota") is True
            plan.forbid_partial_delivery = limit.get("forbidPartialDelivery") is True
            if plan.forbid_partial_delivery and not plan.up_to_remaining_quota:
                c.add(
                    "limit.forbidPartialDelivery",
                    "Can be true only when limit.upToRemainingQuota is true",
                )
    if len(c.details) > before:
        return plan
    friends = [user for user in candidates if user.is_friend]
    if predicate is not None:
        friends = [user for user in friends if predicate(user)]
    targets = [user.user_id for user in friends]
    if maximum is not None and len(targets) > maximum:
        targets = random.sample(targets, maximum)
    plan.targets = targets
    return plan


def _recipients(channel: Channel, recipient: Any, c: Checker) -> list[VirtualUser]:
    if recipient is None:
        return list(channel.users.values())
    if not isinstance(recipient, dict):
        c.add("recipient", "Must be an object")
        return []
    kind = c.enum(recipient, "type", "recipient", ("operator", "audience", "redelivery"), required=True)
    if kind == "redelivery":
        request_id = c.string(recipient, "requestId", "recipient")
        if request_id is None:
            return []
        if request_id not in channel.requests and request_id not in channel.jobs:
            c.add("recipient.requestId", f"Request {request_id} not found")
            return []
        sent_to = dict.fromkeys(u for s in channel.request_sendings(request_id) for u in s.user_ids)
        return [channel.users[user_id] for user_id in sent_to if user_id in channel.users]
    if kind == "audience":
        c.add(
            "recipient.audienceGroupId",
            "Audience not found: the emulator has no audiences (the audience API is not played)",
        )
    elif kind == "operator":
        c.add(
            "recipient",
            "Recipient type 'operator' is not supported by the emulator: "
            "it combines audiences, and the emulator has none",
        )
    return []


def _filter(store: Store, value: Any, c: Checker) -> Predicate | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        c.add("filter", "Must be an object")
        return None
    demographic = value.get("demographic")
    if demographic is None:
        return None
    return _demographic(store, demographic, "filter.demographic", c)


def _demographic(store: Store, node: Any, path: str, c: Checker) -> Predicate | None:
    if not isinstance(node, dict):
        c.add(path, "Must be an object")
        return None
    kind = c.enum(
        node,
        "type",
        path,
        ("age", "appType", "area", "gender", "operator", "subscriptionPeriod"),
        required=True,
    )
    if kind in UNSUPPORTED_DEMOGRAPHICS:
        c.add(
            f"{path}.type",
            f"Demographic filter '{kind}' is not supported by the emulator: virtual users have no "
            "age, gender, area or app type (use subscriptionPeriod, or no filter)",
        )
        return None
    if kind == "subscriptionPeriod":
        return _period(store, node, path, c)
    if kind == "operator":
        return _operator(store, node, path, c)
    return None


def _period(store: Store, node: dict[str, Any], path: str, c: Checker) -> Predicate | None:
    values = tuple(PERIODS)
    gte = c.enum(node, "gte", path, values)
    lt = c.enum(node, "lt", path, values)
    if gte is None and lt is None:
        c.add(path, "Specify gte, lt or both")
        return None
    now = store.now()

    def friends_for(user: VirtualUser) -> float:
        since = user.followed_at if user.followed_at is not None else user.created_at
        return (now - since) / DAY

    def matches(user: VirtualUser) -> bool:
        days = friends_for(user)
        return (gte is None or days >= PERIODS[gte]) and (lt is None or days < PERIODS[lt])

    return matches


def _operator(store: Store, node: dict[str, Any], path: str, c: Checker) -> Predicate | None:
    parts = [name for name in ("and", "or", "not") if node.get(name) is not None]
    if len(parts) != 1:
        c.add(path, "Specify exactly one of and, or, not")
        return None
    name = parts[0]
    if name == "not":
        inner = _demographic(store, node["not"], f"{path}.not", c)
        return None if inner is None else (lambda user: not inner(user))
    items = node[name]
    if not isinstance(items, list) or not items:
        c.add(f"{path}.{name}", "Size must be between 1 and 10")
        return None
    predicates = [_demographic(store, item, f"{path}.{name}[{i}]", c) for i, item in enumerate(items)]
    if any(p is None for p in predicates):
        return None
    checks = [p for p in predicates if p is not None]
    if name == "and":
        return lambda user: all(p(user) for p in checks)
    return lambda user: any(p(user) for p in checks)
