"""災害モード: time to show the emergency menu to N friends, a share of them linked per user.

Usage: .venv/bin/python bench/emergency_switch.py [--friends N] [--linked 0.333] [--db sqlite|postgres]

Starts the LINE emulator (``python -m emulator``, LINE's default rate limits), makes N friends,
publishes Ofunato's demo menu sets (the everyday 2-tab set as the default, and the emergency set)
through ``richmenus.publish``, then links a share of the friends per user to the everyday set's
second tab, as a tab switch does (bulk link, 500 a request). Timed: ``emergency.switch_on`` and
the LINE work of ``emergency.apply`` (run in this process: the Django-Q hop is not counted), which
returns when LINE reports the batch done; then the emulator is asked how many friends do not see
an emergency menu. The same for the revert, checked against what every friend saw before.

``floor_seconds`` is the least time the API allows for the requests an exact switch has to make
(counted at the gateway): the larger of their count over LINE's per-second limit and the time
LINE (here the emulator) took to answer them, so ``ratio`` is what Kairan adds on top of LINE.
An exact switch needs, per menu a friend may be on, a copy of the emergency menu (create + image)
so that the revert can send each friend back; then the default and one batch-control request,
which does LINE's work for every friend, so neither the requests nor the floor grow with N.
LINE applies a batch asynchronously at a speed it does not publish; the emulator applies it at
once. Prints a detail line, then one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
from outbox_fanout import (  # (the helpers of the outbox bench)
    create_followers,
    free_port,
    product_env,
    read_ids,
    setup_django,
    start_emulator,
    tear_down,
    wait_for_emulator,
)


def audience(http: httpx.Client) -> dict[str, Any]:
    result: dict[str, Any] = http.get("/richmenu-audience").json()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--friends", type=int, default=3000, help="friends (default 3000)")
    parser.add_argument("--linked", type=float, default=1 / 3, help="share linked per user (default 1/3)")
    parser.add_argument(
        "--db",
        choices=["sqlite", "postgres"],
        default="postgres" if os.environ.get("DATABASE_URL") else "sqlite",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kairan-emergency-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = product_env(tmp, base, args.db)
    emulator = start_emulator(port, tmp / "emulator.log")
    try:
        channel = wait_for_emulator(base, emulator)
        ids_file = tmp / "friends.txt"
        create_followers(base, channel["channelId"], args.friends, ids_file)

        setup_django(channel)
        from django.contrib.auth.models import User
        from django.db import connection
        from django.utils import timezone

        from line_channel.gateway import Gateway
        from richmenus import emergency, publish
        from richmenus.demo import seed_rich_menus
        from richmenus.models import PublishedMenu

        staff = User.objects.create_superuser(username="bousai", email="bousai@example.jp", last_name="防災")
        with mock.patch("richmenus.signals.async_task"):
            sets = seed_rich_menus(publisher=staff)
        for menu_set in sets:
            menu_set.refresh_from_db()
            publish.publish(menu_set_id=menu_set.pk, revision_id=menu_set.live_revision_id)  # type: ignore[arg-type]
        everyday, special = sets
        tab2 = PublishedMenu.objects.get(menu_set=everyday, state="live", tab=2).rich_menu_id
        linked = [user for n, user in enumerate(read_ids(ids_file)) if n < args.friends * args.linked]
        with Gateway.from_settings() as gateway:
            for first in range(0, len(linked), 500):
                gateway.bulk_link_rich_menu(rich_menu_id=tab2, user_ids=linked[first : first + 500])
        control = httpx.Client(base_url=f"{base}/control/channels/{channel['channelId']}", timeout=300)
        before = audience(control)
        assert before["perUser"] == len(linked), before

        calls: list[tuple[str, float]] = []
        original = Gateway._call

        def counted(self: Gateway, endpoint: str, operation: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(self, endpoint, operation)
            finally:
                calls.append((endpoint, time.perf_counter() - began))

        began = time.perf_counter()
        with mock.patch("richmenus.emergency.async_task"), mock.patch.object(Gateway, "_call", counted):
            switch = emergency.switch_on(menu_set=special, user=staff, pause_deliveries=True)
            emergency.apply(switch.pk)
        seconds = time.perf_counter() - began  # apply returns once LINE reports the batch done
        switch.refresh_from_db()
        copies = {copy["to"] for copy in switch.copies}
        during = audience(control)
        not_switched = sum(n for menu, n in during["menus"].items() if menu not in copies) + during["none"]
        requests_made = len(calls)
        line_seconds = sum(elapsed for _, elapsed in calls)

        began = time.perf_counter()
        with mock.patch("richmenus.emergency.async_task"):
            emergency.switch_off(user=staff)
        emergency.revert(switch.pk)
        revert_seconds = time.perf_counter() - began
        after = audience(control)
        db = connection.vendor
        limit = 2000  # LINE's per-second limit of the calls the switch makes (create/upload/default/batch)
        connection.close()
    finally:
        tear_down(tmp, env, emulator)

    floor = max(max(requests_made, 1) / limit, line_seconds)
    print(
        json.dumps(
            {
                "detail": "emergency switch",
                "db": db,
                "menus_copied": len(copies),
                "api_requests": requests_made,
                "api_calls": [endpoint for endpoint, _ in calls],
                "line_seconds": round(line_seconds, 4),
                "revert_seconds": round(revert_seconds, 3),
                "restored_exactly": after == before,
                "at": timezone.now().isoformat(),
            },
            ensure_ascii=False,
        )
    )
    print(
        json.dumps(
            {
                "friends": args.friends,
                "per_user_linked": len(linked),
                "seconds": round(seconds, 3),
                "floor_seconds": round(floor, 4),
                "ratio": round(seconds / floor, 1),
                "users_not_switched": not_switched,
            }
        )
    )


if __name__ == "__main__":
    main()
