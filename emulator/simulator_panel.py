"""The control page (``/control-panel/``): the emulator's world at a glance, and its switches.

Rendered on the server from ``templates/control.html`` so that every form works
without JavaScript (``static/simulator-control.js`` only refreshes the live
parts and adds copy buttons). Forms post to ``/control-panel/...`` and answer
303 back to the page with a ``done`` (or ``error``) key that names a fixed
Japanese message: nothing typed into a form is echoed back.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from emulator.control import NAMES
from emulator.endpoints import store_of
from emulator.state import Channel, Delivery, Fault, Store

TEMPLATE = Path(__file__).resolve().parent / "templates" / "control.html"
JST = timezone(timedelta(hours=9), "JST")
PATH = "/control-panel/"
BULK_MAX = 100_000  # followers one form submission creates (the control API allows more)
DELIVERY_ROWS = 50
WEBHOOK_ROWS = 5
USER_ROWS = 10
# Endpoint names for the fault form's suggestions, besides those of the rate-limit table.
KNOWN_ENDPOINTS = (
    "*",
    "reply",
    "push",
    "multicast",
    "broadcast",
    "narrowcast",
    "profile",
    "followers",
    "content",
    "loading",
    "quota",
    "info",
    "richmenu.create",
    "richmenu.image.upload",
    "richmenu.user.link",
    "richmenu.default.set",
    "webhook.test",
    "liff.sendMessages",
    "login.verify",
)

MESSAGES = {
    "webhook": "Webhook の設定を保存しました。",
    "followers": "友だちを一括で作成しました。",
    "settings": "設定を保存しました。",
    "fault": "障害の設定を保存しました。",
    "fault-removed": "障害の設定を解除しました。",
    "clock": "時計を進めました。",
    "clock-reset": "時計のずれを 0 に戻しました。",
    "reset": "エミュレーターをリセットしました。",
}
ERRORS = {
    "channel": "指定したチャネルがありません。",
    "webhook-url": "Webhook URL が正しくありません（https、またはローカルの http を指定してください）。",
    "count": f"作成する人数は 1〜{BULK_MAX:,} で指定してください。",
    "number": "数値の入力が正しくありません。",
    "fault": "障害の設定が正しくありません（エンドポイント名、発生率 0〜100%、ステータス 400〜599）。",
    "confirm": "リセットするには確認のチェックを入れてください。",
}


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def when(timestamp: float | None) -> str:
    """A ``<time>`` element in Japan time for an emulator-clock timestamp."""
    if timestamp is None:
        return "—"
    moment = datetime.fromtimestamp(timestamp, UTC)
    local = moment.astimezone(JST)
    return f'<time datetime="{moment.isoformat()}">{local:%Y-%m-%d %H:%M:%S}</time>'


def _form_values(raw: bytes) -> dict[str, str]:
    return dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))


def back(anchor: str, *, done: str | None = None, error: str | None = None) -> RedirectResponse:
    query = urlencode({k: v for k, v in (("done", done), ("error", error)) if v})
    return RedirectResponse(f"{PATH}?{query}#{anchor}", status_code=303)


# --- sections -----------------------------------------------------------------------------


def _secret_row(label: str, value: str) -> str:
    return (
        f"<tr><th scope='row'>{esc(label)}</th>"
        f"<td><code class='secret' data-copy>{esc(value)}</code></td></tr>"
    )


def _webhook_rows(channel: Channel) -> str:
    attempts = channel.webhook_log[-WEBHOOK_ROWS:]
    if not attempts:
        return "<p>まだ Webhook を送っていません。</p>"
    rows = []
    for attempt in reversed(attempts):
        events = attempt.get("body", {}).get("events", [])
        kinds = "、".join(str(e.get("type", "?")) for e in events) or "（検証：イベントなし）"
        status = attempt.get("status")
        ok = status is not None and 200 <= int(status) < 300
        result = (
            f"{esc(status)} {esc(attempt.get('reason'))}"
            if status is not None
            else esc(attempt.get("reason"))
        )
        badge = "ok" if ok else "ng"
        redelivery = "再送" if attempt.get("isRedelivery") else ""
        rows.append(
            "<tr>"
            f"<td>{when(attempt.get('at'))}</td>"
            f"<td><span class='badge badge-{badge}'>{'成功' if ok else '失敗'}</span> {result}</td>"
            f"<td>{esc(kinds)}</td>"
            f"<td>{esc(attempt.get('durationMs'))} ms</td>"
            f"<td>{redelivery}</td>"
            "</tr>"
        )
    return (
        "<table class='data'><caption>最近の Webhook 送信結果（新しい順）</caption>"
        "<thead><tr><th scope='col'>時刻</th><th scope='col'>結果</th><th scope='col'>イベント</th>"
        "<th scope='col'>所要時間</th><th scope='col'>再送</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def channel_section(channel: Channel) -> str:
    cid = esc(channel.channel_id)
    spec = channel.spec
    liff = (
        "".join(
            f"<li><code>{esc(liff_id)}</code> → <code>{esc(url)}</code></li>"
            for liff_id, url in channel.liff_apps.items()
        )
        or "<li>なし</li>"
    )
    checked = " checked" if channel.webhook_active else ""
    return f"""
<article class="card channel" aria-labelledby="channel-{cid}">
<h3 id="channel-{cid}">{esc(spec.display_name)} <span class="muted">{esc(spec.basic_id)}</span></h3>
<table class="keyvalue">
<tr><th scope="row">チャネルID</th><td><code>{cid}</code></td></tr>
<tr><th scope="row">ベーシックID</th><td>{esc(spec.basic_id)}</td></tr>
<tr><th scope="row">ボットのユーザーID</th><td><code>{esc(spec.bot_user_id)}</code></td></tr>
{_secret_row("チャネルアクセストークン", spec.access_token)}
{_secret_row("チャネルシークレット", spec.channel_secret)}
<tr><th scope="row">LINE ログインチャネルID</th><td><code>{esc(spec.login_channel_id)}</code></td></tr>
<tr><th scope="row">LIFF アプリ</th><td><ul class="plain">{liff}</ul></td></tr>
</table>
<form method="post" action="{PATH}channels/{cid}/webhook" class="inline-form">
<label for="webhook-{cid}">Webhook URL</label>
<input type="url" id="webhook-{cid}" name="webhookUrl" value="{esc(channel.webhook_url)}"
  placeholder="https://example.jp/line/webhook" size="40">
<label class="check"><input type="checkbox" name="active" value="on"{checked}> Webhook を利用する</label>
<button type="submit">保存</button>
</form>
<div data-live="webhook-{cid}">{_webhook_rows(channel)}</div>
</article>"""


def user_stats(channel: Channel) -> str:
    """The live part of the users card: counts and the latest users."""
    total = len(channel.users)
    friends = sum(1 for u in channel.users.values() if u.is_friend)
    blocked = sum(1 for u in channel.users.values() if u.has_blocked)
    latest = list(channel.users.values())[-USER_ROWS:]
    rows = "".join(
        "<tr>"
        f"<td>{esc(u.display_name)}</td><td><code>{esc(u.user_id)}</code></td>"
        f"<td>{'ブロック中' if u.has_blocked else '友だち' if u.is_friend else '未登録'}</td>"
        f"<td>{when(u.created_at)}</td>"
        "</tr>"
        for u in reversed(latest)
    )
    table = (
        "<table class='data'><caption>最近作成したユーザー</caption><thead><tr>"
        "<th scope='col'>表示名</th><th scope='col'>ユーザーID</th><th scope='col'>状態</th>"
        f"<th scope='col'>作成日時</th></tr></thead><tbody>{rows}</tbody></table>"
        if latest
        else "<p>ユーザーはまだいません。</p>"
    )
    return f"""<dl class="stats">
<div><dt>ユーザー数</dt><dd data-stat="users">{total:,}</dd></div>
<div><dt>友だち</dt><dd data-stat="friends">{friends:,}</dd></div>
<div><dt>ブロック中</dt><dd data-stat="blocked">{blocked:,}</dd></div>
</dl>
{table}"""


def users_section(channel: Channel) -> str:
    cid = esc(channel.channel_id)
    return f"""
<article class="card" aria-labelledby="users-{cid}">
<h3 id="users-{cid}">{esc(channel.spec.display_name)} のユーザー</h3>
<div data-live="users-{cid}">{user_stats(channel)}</div>
<form method="post" action="{PATH}channels/{cid}/followers" class="inline-form">
<label for="bulk-{cid}">負荷試験用に友だちを一括作成（人数）</label>
<input type="number" id="bulk-{cid}" name="count" min="1" max="{BULK_MAX}" value="100" required>
<button type="submit">一括作成</button>
<p class="hint">作成したユーザーは Webhook を送らずに友だちになります。</p>
</form>
</article>"""


def _summary(delivery: Delivery) -> str:
    message = delivery.message
    kind = str(message.get("type", "?"))
    if kind == "text":
        text = str(message.get("text", ""))
        return f"テキスト: {text[:60]}{'…' if len(text) > 60 else ''}"
    if kind in ("template", "flex", "imagemap"):
        return f"{kind}: {str(message.get('altText', ''))[:60]}"
    return kind


def deliveries_section(channel: Channel) -> str:
    latest = channel.latest_deliveries(DELIVERY_ROWS)
    if not latest:
        return "<p>まだ配信はありません。</p>"
    rows = []
    for delivery in reversed(latest):
        user = channel.users.get(delivery.user_id)
        name = user.display_name if user else delivery.user_id
        rows.append(
            "<tr>"
            f"<td>{when(delivery.sent_at)}</td><td class='nowrap'>{esc(delivery.endpoint)}</td>"
            f"<td><code>{esc(delivery.request_id)}</code></td><td class='nowrap'>{esc(name)}</td>"
            f"<td>{esc(_summary(delivery))}</td>"
            "</tr>"
        )
    return (
        f"<table class='data'><caption>{esc(channel.spec.display_name)}：最新 {len(latest)} 件"
        f"（全 {channel.delivery_count:,} 件、新しい順）</caption><thead><tr>"
        "<th scope='col'>時刻</th><th scope='col'>エンドポイント</th><th scope='col'>リクエストID</th>"
        "<th scope='col'>受信者</th><th scope='col'>内容</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def settings_section(store: Store) -> str:
    config = store.config
    limits = "".join(
        f"<tr><td><code>{esc(name)}</code></td><td>{limit.count:,} 回 / {limit.seconds:g} 秒</td></tr>"
        for name, limit in sorted(config.rate_limits.items())
    )
    rate_checked = " checked" if config.rate_limits_enabled else ""
    redelivery_checked = " checked" if config.webhook_redelivery else ""
    return f"""
<form method="post" action="{PATH}settings" class="stack-form">
<label class="check"><input type="checkbox" name="rate_limits_enabled" value="on"{rate_checked}>
レート制限を有効にする（超えると 429）</label>
<label class="check"><input type="checkbox" name="webhook_redelivery" value="on"{redelivery_checked}>
Webhook の再送を有効にする</label>
<label for="reply-ttl">応答トークンの有効期間（秒）</label>
<input type="number" id="reply-ttl" name="reply_token_ttl" min="1" step="any"
  value="{config.reply_token_ttl:g}" required>
<label for="webhook-timeout">Webhook のタイムアウト（秒）</label>
<input type="number" id="webhook-timeout" name="webhook_timeout" min="0.1" step="any"
  value="{config.webhook_timeout:g}" required>
<button type="submit">設定を保存</button>
</form>
<details><summary>エンドポイントごとのレート制限</summary>
<table class="data"><thead><tr><th scope="col">名前</th><th scope="col">上限</th></tr></thead>
<tbody>{limits}</tbody></table></details>"""


def faults_section(store: Store) -> str:
    names = sorted(set(KNOWN_ENDPOINTS) | set(store.config.rate_limits) | set(store.faults))
    options = "".join(f'<option value="{esc(name)}"></option>' for name in names)
    rows = "".join(
        "<tr>"
        f"<td><code>{esc(name)}</code></td><td>{fault.error_rate * 100:g}%</td><td>{fault.status}</td>"
        f"<td>{fault.latency_ms} ms</td>"
        f"<td>{'タイムアウト' if fault.timeout else '切断' if fault.drop else 'エラー応答'}</td>"
        f"<td><form method='post' action='{PATH}faults/delete'>"
        f"<input type='hidden' name='endpoint' value='{esc(name)}'>"
        f"<button type='submit' class='secondary' aria-label='{esc(name)} の障害を解除'>解除</button>"
        "</form></td>"
        "</tr>"
        for name, fault in sorted(store.faults.items())
    )
    table = (
        "<table class='data'><caption>注入中の障害</caption><thead><tr><th scope='col'>エンドポイント</th>"
        "<th scope='col'>発生率</th><th scope='col'>ステータス</th><th scope='col'>遅延</th>"
        f"<th scope='col'>種類</th><th scope='col'>操作</th></tr></thead><tbody>{rows}</tbody></table>"
        if store.faults
        else "<p>障害は注入されていません。</p>"
    )
    return f"""
{table}
<form method="post" action="{PATH}faults" class="grid-form">
<div><label for="fault-endpoint">エンドポイント名（* はすべて）</label>
<input id="fault-endpoint" name="endpoint" list="fault-endpoints" required autocomplete="off" value="push">
<datalist id="fault-endpoints">{options}</datalist></div>
<div><label for="fault-rate">発生率（%）</label>
<input type="number" id="fault-rate" name="error_rate" min="0" max="100" step="any" value="100"
  required></div>
<div><label for="fault-status">ステータス</label>
<input type="number" id="fault-status" name="status" min="400" max="599" value="500" required></div>
<div><label for="fault-latency">遅延（ミリ秒）</label>
<input type="number" id="fault-latency" name="latency_ms" min="0" max="600000" value="0" required></div>
<fieldset><legend>種類</legend>
<label class="check"><input type="radio" name="kind" value="error" checked> エラー応答</label>
<label class="check"><input type="radio" name="kind" value="timeout"> タイムアウト（応答しない）</label>
<label class="check"><input type="radio" name="kind" value="drop"> 接続を切断</label>
</fieldset>
<div><button type="submit">障害を設定</button></div>
</form>"""


def clock_stats(store: Store) -> str:
    return f"""<dl class="stats">
<div><dt>エミュレーターの現在時刻</dt><dd>{when(store.now())}</dd></div>
<div><dt>実時間とのずれ</dt><dd>{store.clock_offset:+,.0f} 秒</dd></div>
</dl>"""


def clock_section(store: Store) -> str:
    return f"""
<div data-live="clock">{clock_stats(store)}</div>
<form method="post" action="{PATH}clock" class="inline-form">
<label for="clock-amount">時計を進める</label>
<input type="number" id="clock-amount" name="amount" min="0" step="any" value="30" required>
<label for="clock-unit" class="visually-hidden">単位</label>
<select id="clock-unit" name="unit">
<option value="1">秒</option><option value="60">分</option><option value="3600">時間</option>
<option value="86400">日</option></select>
<button type="submit">進める</button>
</form>
<form method="post" action="{PATH}clock" class="inline-form">
<input type="hidden" name="reset" value="on">
<button type="submit" class="secondary">ずれを 0 に戻す</button>
</form>"""


def render_page(store: Store, done: str | None, error: str | None) -> str:
    channels = list(store.channels.values())
    if error in ERRORS:
        flash = f'<div class="flash flash-error" role="alert">{esc(ERRORS[error])}</div>'
    elif done in MESSAGES:
        flash = f'<div class="flash" role="status">{esc(MESSAGES[done])}</div>'
    else:
        flash = ""
    text = TEMPLATE.read_text(encoding="utf-8")
    return Template(text).substitute(
        flash=flash,
        channels="".join(channel_section(c) for c in channels),
        users="".join(users_section(c) for c in channels),
        deliveries="".join(
            f'<div data-live="deliveries-{esc(c.channel_id)}">{deliveries_section(c)}</div>' for c in channels
        ),
        settings=settings_section(store),
        faults=faults_section(store),
        clock=clock_section(store),
        api_base=esc(store.config.api_base),
        data_base=esc(store.config.data_base),
    )


async def control_page(request: Request) -> HTMLResponse:
    store = store_of(request)
    with store.lock:
        body = render_page(store, request.query_params.get("done"), request.query_params.get("error"))
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})


# --- form handlers ---------------------------------------------------------------------------

FormHandler = Callable[[Store, Request, dict[str, str]], Response]


def form(handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        store = store_of(request)
        values = _form_values(await request.body())
        with store.lock:  # the handlers are synchronous: no await while the lock is held
            return handler(store, request, values)

    endpoint.__name__ = handler.__name__
    return endpoint


def _number(values: dict[str, str], name: str, low: float, high: float) -> float | None:
    try:
        number = float(values.get(name, ""))
    except ValueError:
        return None
    return number if low <= number <= high else None


@form
def save_webhook(store: Store, request: Request, values: dict[str, str]) -> Response:
    from emulator.webhook import endpoint_problem

    channel = store.channel(request.path_params["channel_id"])
    if channel is None:
        return back("channels", error="channel")
    url = values.get("webhookUrl", "").strip()
    if url and endpoint_problem(url):
        return back("channels", error="webhook-url")
    channel.webhook_url = url
    channel.webhook_active = values.get("active") == "on"
    return back("channels", done="webhook")


def bulk_followers(store: Store, channel: Channel, count: int) -> list[str]:
    """``count`` new virtual users who are friends already (no follow events, as the control API does)."""
    now = store.now()
    created = []
    start = len(channel.users)
    for n in range(count):
        name = f"{NAMES[(start + n) % len(NAMES)]} {start + n + 1}"
        user = store.create_user(channel, display_name=name)
        user.is_friend = True
        user.followed_at = now
        created.append(user.user_id)
    return created


@form
def create_followers(store: Store, request: Request, values: dict[str, str]) -> Response:
    channel = store.channel(request.path_params["channel_id"])
    if channel is None:
        return back("users", error="channel")
    count = _number(values, "count", 1, BULK_MAX)
    if count is None or count != int(count):
        return back("users", error="count")
    bulk_followers(store, channel, int(count))
    return back("users", done="followers")


@form
def save_settings(store: Store, request: Request, values: dict[str, str]) -> Response:
    ttl = _number(values, "reply_token_ttl", 1, 365 * 24 * 3600)
    timeout = _number(values, "webhook_timeout", 0.1, 3600)
    if ttl is None or timeout is None:
        return back("settings", error="number")
    config = store.config
    config.reply_token_ttl = ttl
    config.webhook_timeout = timeout
    config.rate_limits_enabled = values.get("rate_limits_enabled") == "on"
    config.webhook_redelivery = values.get("webhook_redelivery") == "on"
    for channel in store.channels.values():
        channel.rate_windows.clear()
    return back("settings", done="settings")


@form
def add_fault(store: Store, request: Request, values: dict[str, str]) -> Response:
    endpoint = values.get("endpoint", "").strip()
    rate = _number(values, "error_rate", 0, 100)
    status = _number(values, "status", 400, 599)
    latency = _number(values, "latency_ms", 0, 600_000)
    if not endpoint or len(endpoint) > 100 or rate is None or status is None or latency is None:
        return back("faults", error="fault")
    kind = values.get("kind", "error")
    store.faults[endpoint] = Fault(
        error_rate=rate / 100,
        status=int(status),
        latency_ms=int(latency),
        timeout=kind == "timeout",
        drop=kind == "drop",
    )
    return back("faults", done="fault")


@form
def remove_fault(store: Store, request: Request, values: dict[str, str]) -> Response:
    store.faults.pop(values.get("endpoint", ""), None)
    return back("faults", done="fault-removed")


@form
def move_clock(store: Store, request: Request, values: dict[str, str]) -> Response:
    if values.get("reset") == "on":
        store.advance_clock(-store.clock_offset)
        return back("clock", done="clock-reset")
    amount = _number(values, "amount", 0, 10**6)
    unit = _number(values, "unit", 1, 86400)
    if amount is None or unit is None:
        return back("clock", error="number")
    store.advance_clock(amount * unit)
    return back("clock", done="clock")


@form
def reset_world(store: Store, request: Request, values: dict[str, str]) -> Response:
    if values.get("confirm") != "on":
        return back("reset", error="confirm")
    store.reset()
    return back("top", done="reset")


async def panel_state(request: Request) -> Response:
    """The live parts of the page as JSON fragments (``data-live`` name -> HTML), for the refresher."""
    store = store_of(request)
    with store.lock:
        parts: dict[str, str] = {"clock": clock_stats(store)}
        for channel in store.channels.values():
            cid = channel.channel_id
            parts[f"webhook-{cid}"] = _webhook_rows(channel)
            parts[f"deliveries-{cid}"] = deliveries_section(channel)
            parts[f"users-{cid}"] = user_stats(channel)
        faults = {name: asdict(fault) for name, fault in store.faults.items()}
    return Response(
        json.dumps({"parts": parts, "faults": faults}, ensure_ascii=False),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


site_routes: list[BaseRoute] = [
    Route(PATH, control_page, methods=["GET"]),
    Route(PATH + "live", panel_state, methods=["GET"]),
    Route(PATH + "channels/{channel_id}/webhook", save_webhook, methods=["POST"]),
    Route(PATH + "channels/{channel_id}/followers", create_followers, methods=["POST"]),
    Route(PATH + "settings", save_settings, methods=["POST"]),
    Route(PATH + "faults", add_fault, methods=["POST"]),
    Route(PATH + "faults/delete", remove_fault, methods=["POST"]),
    Route(PATH + "clock", move_clock, methods=["POST"]),
    Route(PATH + "reset", reset_world, methods=["POST"]),
]
